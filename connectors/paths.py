"""S3 "directory" paths: key prefixes normalised to no leading slash and one trailing slash."""

import posixpath

PROBE_PREFIX = ".loadbay-probe-"


class InvalidPath(ValueError):
    pass


def normalize_dir(raw: str) -> str:
    """'/a//b' -> 'a/b/'; '' or '/' -> '' (the bucket root)."""
    text = (raw or "").strip().replace("\\", "/")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidPath("Paths cannot contain control characters.")
    parts = [part for part in text.split("/") if part]
    if any(part in {".", ".."} for part in parts):
        raise InvalidPath("Paths cannot contain '.' or '..' segments.")
    joined = "/".join(parts)
    if len(joined.encode()) > 900:
        raise InvalidPath("Paths can be at most 900 bytes long (S3 keys are limited to 1024).")
    return f"{joined}/" if joined else ""


def is_inside(child: str, parent: str) -> bool:
    """True when directory `child` lies within directory `parent` (both normalised)."""
    return child != parent and child.startswith(parent)


def relative_key(key: str, source_dir: str) -> str:
    return key[len(source_dir) :] if key.startswith(source_dir) else key


def is_probe_key(key: str) -> bool:
    return posixpath.basename(key).startswith(PROBE_PREFIX)
