"""Names a moved file and its error report get: the file's path relative to the source
directory, under the target directory, with a `-<file id>` suffix when the name is taken, and
always within S3's limit of 1,024 UTF-8 bytes for a key. A name too long for that has its stem
shortened (whole characters only); its extension (`.csv`, `.csv.gz`) and its directories are
kept. A failed file's name leaves room for its report's (`<name>.errors.txt`)."""

import posixpath
import re
from collections.abc import Iterator

from connectors.paths import relative_key

MAX_KEY_BYTES = 1024  # S3's limit; AWS refuses a longer key with KeyTooLongError
REPORT_SUFFIX = ".errors.txt"  # the error report of a failed file is named <file>.errors.txt
MAX_ATTEMPTS = 100  # names tried for one destination: the key, then with suffixes
_EXTENSION_PART = re.compile(r"[A-Za-z0-9]{1,10}")
_COMPRESSION = frozenset({"gz", "bz2", "xz", "zst", "zip", "lz4", "br", "z"})


class DestinationTooLong(ValueError):
    """No name under the target directory fits S3's key limit: the file cannot be moved there."""


def destination_for(
    key: str,
    source_dir: str,
    target_dir: str,
    file_id: int,
    attempt: int,
    *,
    with_report: bool = False,
) -> str:
    """The `attempt`th name for `key` under `target_dir`: 0 is the key's own name, later ones
    carry the suffix. Raises DestinationTooLong if not even a one-character stem fits."""
    directory, name = posixpath.split(relative_key(key, source_dir))
    stem, extension = split_extension(name)
    suffix = "" if attempt == 0 else f"-{file_id}" if attempt == 1 else f"-{file_id}-{attempt}"
    head = target_dir + (f"{directory}/" if directory else "")
    room = MAX_KEY_BYTES - len((head + suffix + extension).encode())
    if with_report:
        room -= len(REPORT_SUFFIX.encode())
    kept = _cut_to_bytes(stem, room)
    if room < 0 or (stem and not kept):
        raise DestinationTooLong(_too_long_message(target_dir, directory, with_report))
    return head + kept + suffix + extension


def candidates(
    key: str, source_dir: str, target_dir: str, file_id: int, *, with_report: bool = False
) -> Iterator[str]:
    """The names a move tries, in order."""
    for attempt in range(MAX_ATTEMPTS):
        yield destination_for(
            key, source_dir, target_dir, file_id, attempt, with_report=with_report
        )


def report_key(destination: str) -> str:
    return destination + REPORT_SUFFIX


def split_extension(name: str) -> tuple[str, str]:
    """(stem, extension): the extension is the name's last dotted part if it looks like one
    (1-10 letters or digits), with the part before it when the last is a compression's
    (`.csv.gz`, `.tar.gz`); everything else is the stem. `.hidden` is all extension."""
    parts = name.split(".")
    taken = 0
    for part in reversed(parts[1:]):
        if not _EXTENSION_PART.fullmatch(part):
            break
        taken += 1
        if taken == 2 or part.lower() not in _COMPRESSION:
            break
    if taken == 0:
        return name, ""
    return ".".join(parts[:-taken]), "." + ".".join(parts[-taken:])


def _cut_to_bytes(text: str, limit: int) -> str:
    """The longest start of `text` that is at most `limit` bytes of UTF-8, never cutting a
    character in two (nor ending at a dot, which the extension would double)."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: max(limit, 0)].decode(errors="ignore").rstrip(".")


def _too_long_message(target_dir: str, directory: str, with_report: bool) -> str:
    where = f"{target_dir}{directory}/" if directory else target_dir
    report = f" and its error report's ({REPORT_SUFFIX} added)" if with_report else ""
    return (
        f"Its name in {where} would be longer than S3's limit of "
        f"{MAX_KEY_BYTES:,} bytes for a key{report}, even with the file name shortened, "
        "because the directories alone take nearly all of it. It stays in the source "
        "directory and is not ingested again; move or rename it yourself, or choose a "
        "shorter directory for the connector."
    )
