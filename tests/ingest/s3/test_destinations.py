"""Destination names: the path inside the source directory under the target directory, a
suffix when the name is taken, and always within S3's 1,024-byte limit for a key."""

import pytest

from ingest.s3.destinations import (
    MAX_KEY_BYTES,
    REPORT_SUFFIX,
    DestinationTooLong,
    candidates,
    destination_for,
    split_extension,
)


def size(key: str) -> int:
    return len(key.encode())


def test_it_keeps_the_path_inside_the_source_directory() -> None:
    assert destination_for("in/2024/a.csv", "in/", "done/", 7, 0) == "done/2024/a.csv"
    assert destination_for("in/2024/a.csv", "in/", "done/", 7, 1) == "done/2024/a-7.csv"
    assert destination_for("in/2024/a.csv", "in/", "done/", 7, 2) == "done/2024/a-7-2.csv"


@pytest.mark.parametrize(
    ("name", "renamed"),
    [
        ("report.csv", "report-7.csv"),
        ("report.csv.gz", "report-7.csv.gz"),
        ("backup.tar.gz", "backup-7.tar.gz"),
        ("export.2024-01-05.csv", "export.2024-01-05-7.csv"),
        ("v1.2.json", "v1.2-7.json"),
        ("README", "README-7"),
        (".hidden", "-7.hidden"),
        ("odd.", "odd.-7"),
    ],
)
def test_the_suffix_goes_before_the_extension(name: str, renamed: str) -> None:
    assert destination_for(f"in/{name}", "in/", "done/", 7, 1) == f"done/{renamed}"


def test_a_name_that_fits_is_not_shortened() -> None:
    key = "in/" + "n" * (MAX_KEY_BYTES - len("in/") - len(".csv")) + ".csv"
    assert destination_for(key, "in/", "ok/", 7, 0) == "ok/" + key[3:]


def test_a_suffixed_name_past_the_limit_has_its_stem_shortened() -> None:
    key = "incoming/" + "n" * (MAX_KEY_BYTES - 9 - 4) + ".csv"  # exactly 1,024 bytes
    renamed = destination_for(key, "incoming/", "done/", 123456, 1)
    assert size(renamed) == MAX_KEY_BYTES
    assert renamed.startswith("done/nnnn") and renamed.endswith("n-123456.csv")


def test_a_failed_files_name_leaves_room_for_its_report() -> None:
    key = "incoming/" + "n" * (MAX_KEY_BYTES - 9 - 4) + ".csv"
    renamed = destination_for(key, "incoming/", "failed/", 5, 0, with_report=True)
    assert size(renamed + REPORT_SUFFIX) == MAX_KEY_BYTES
    assert renamed.endswith("n.csv")


def test_it_never_cuts_a_character_in_two() -> None:
    key = "in/" + "é" * 509 + ".csv.gz"  # 2 bytes each: 1,028 bytes
    renamed = destination_for(key, "in/", "done/", 7, 1)
    assert size(renamed) <= MAX_KEY_BYTES
    assert renamed == "done/" + "é" * ((MAX_KEY_BYTES - 5 - 2 - 7) // 2) + "-7.csv.gz"
    emoji = destination_for("in/" + "😀" * 254 + ".csv", "in/", "done/", 7, 1)
    assert size(emoji) <= MAX_KEY_BYTES and emoji.endswith("😀-7.csv")


def test_a_long_name_made_of_dotted_parts_keeps_its_last_extension() -> None:
    name = ".".join(["part"] * 250) + ".csv"  # 1,253 bytes
    renamed = destination_for(f"in/{name}", "in/", "done/", 7, 0)
    assert size(renamed) <= MAX_KEY_BYTES and renamed.endswith(".csv")
    assert not renamed.endswith("..csv")  # a cut that ends at a dot drops it


def test_when_the_directories_leave_no_room_it_says_so() -> None:
    directory = "d" * 1000
    key = f"in/{directory}/a.csv"
    assert destination_for(key, "in/", "done/", 7, 0).endswith("/a.csv")
    with pytest.raises(DestinationTooLong, match="longer than S3's limit of 1,024 bytes"):
        destination_for(key, "in/", "processed/files/done/", 7, 0)
    with pytest.raises(DestinationTooLong, match="error report"):
        list(candidates(key, "in/", "done/" + "x" * 15 + "/", 7, with_report=True))


def test_every_candidate_fits() -> None:
    key = "in/" + "ü" * 505 + ".ndjson.gz"
    names = list(candidates(key, "in/", "failed/", 987654321, with_report=True))
    assert len(names) == len(set(names)) == 100
    assert all(size(name + REPORT_SUFFIX) <= MAX_KEY_BYTES for name in names)


def test_split_extension() -> None:
    assert split_extension("a.csv.gz") == ("a", ".csv.gz")
    assert split_extension("a.b.c") == ("a.b", ".c")
    assert split_extension("a.this-is-no-extension") == ("a.this-is-no-extension", "")
    assert split_extension("x.gz") == ("x", ".gz")
