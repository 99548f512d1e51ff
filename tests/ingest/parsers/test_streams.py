"""Bytes to text: UTF-8 only (a BOM dropped; other encodings named, with the line and byte
offset of the first bad byte), gzip found by its magic bytes and read within its limit, lines
cut the same whatever the read sizes, and no line longer than can be held."""

import gzip
import io

import pytest

from ingest.parsers import DecompressionLimit, iter_rows
from ingest.parsers.streams import CHUNK_BYTES, MAX_FIELD_CHARS, gunzip_head
from ingest.types import FileFailed, ParsedRow
from tests.support.parsing import Generated, Trickle, failure, lines_and_values, parse


def test_a_utf8_bom_is_dropped_and_text_decoded() -> None:
    rows = parse("\ufeffid,name\n1,Zoë 😀\n".encode())
    assert lines_and_values(rows) == [(2, {"id": "1", "name": "Zoë 😀"})]


def test_json_with_a_bom_is_read() -> None:
    assert parse('\ufeff[{"id": 1}]'.encode(), "json") == [ParsedRow(1, {"id": 1})]


def test_an_empty_file_fails() -> None:
    assert failure(b"") == "the file is empty"


def test_latin1_text_fails_with_its_line_and_offset() -> None:
    message = failure("id,name\n1,Ada\n2,Zoë\n".encode("latin-1"))
    assert "byte 0xEB on line 3 (byte offset 18)" in message
    assert "Save it as UTF-8" in message


def test_invalid_utf8_at_the_end_of_a_chunk_has_the_right_offset() -> None:
    data = b"id\n" + b"x" * (CHUNK_BYTES - 4) + b"\n" + b"ok\xc3\n"
    message = failure(data)
    assert f"on line 3 (byte offset {len(data) - 2:,})" in message


def test_utf8_cut_short_at_the_end_fails() -> None:
    assert "is not valid UTF-8" in failure(b"id\nab\xc3")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_text_is_named(encoding: str) -> None:
    assert (
        failure("id,name\n1,Ada\n".encode(encoding)) == "the file is UTF-16 text; save it as UTF-8"
    )


def test_a_line_too_long_to_hold_fails_the_file() -> None:
    parts = iter([b"id\n", *([b"x" * CHUNK_BYTES] * (2 * MAX_FIELD_CHARS // CHUNK_BYTES + 2))])
    with pytest.raises(FileFailed, match="line 2 is longer than"):
        list(iter_rows(Generated(parts), file_format="csv"))


def test_csv_parses_the_same_whatever_the_read_sizes() -> None:
    data = 'id,note\r\n1,"multi\r\nline, ""quoted"""\r\n2,é😀\r\n\r\n3,"x"\r'.encode()
    assert parse(data) == list(iter_rows(Trickle(data), file_format="csv"))


# --- gzip -----------------------------------------------------------------------------------


def test_gzip_is_detected_by_its_magic_bytes() -> None:
    rows = parse(gzip.compress(b"id,name\n1,Ada\n"), key="incoming/profiles.csv")
    assert rows == [ParsedRow(2, {"id": "1", "name": "Ada"})]


def test_gzip_is_read_through_a_trickling_stream() -> None:
    data = gzip.compress(b"id,name\n" + b"".join(b"%d,n%d\n" % (i, i) for i in range(5000)))
    rows = list(iter_rows(Trickle(data), file_format="csv", key="a.csv.gz"))
    assert len(rows) == 5000 and rows[-1] == ParsedRow(5001, {"id": "4999", "name": "n4999"})


def test_concatenated_gzip_members_are_all_read() -> None:
    data = gzip.compress(b"id\n1\n") + gzip.compress(b"2\n")
    assert [row.values["id"] for row in parse(data)] == ["1", "2"]


def test_a_gz_name_without_gzip_data_fails() -> None:
    assert "not valid gzip data" in failure("id\n1\n", key="profiles.csv.gz")


def test_truncated_gzip_fails() -> None:
    data = gzip.compress(b"id,name\n" + b"1,Ada\n" * 1000)
    assert "gzip data is truncated" in failure(data[: len(data) // 2])


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"id\n" + b"0" * (50 * 1024 * 1024))
    assert len(bomb) < 100_000
    message = failure(bomb, decompression_limit=DecompressionLimit(1024 * 1024))
    assert message.startswith("the file decompresses to more than 1,048,576 bytes")


def test_gzip_of_nothing_is_an_empty_file() -> None:
    assert failure(gzip.compress(b"")) == "the file is empty"


def test_gzipped_json_is_read() -> None:
    assert parse(gzip.compress(b'[{"id": 1}]'), "json") == [ParsedRow(1, {"id": 1})]


# --- gunzip_head: the start of gzip data cut short (a sample's first bytes) ----------------


def test_gunzip_head_of_whole_data_is_all_of_it() -> None:
    text = b"id\n" + b"".join(b"%d\n" % n for n in range(1000))
    assert gunzip_head(gzip.compress(text), 1024**2) == (text, True)


def test_gunzip_head_of_data_cut_short_is_its_start() -> None:
    text = b"".join(b"row %d\n" % n for n in range(100_000))
    packed = gzip.compress(text)
    head, whole = gunzip_head(packed[: len(packed) // 3], 10 * len(text))
    assert not whole and head and text.startswith(head)


def test_gunzip_head_stops_at_its_limit() -> None:
    text = b"\n" * 1_000_000  # a thousand times smaller compressed
    head, whole = gunzip_head(gzip.compress(text), 4096)
    assert (head, whole) == (b"\n" * 4096, False)


def test_gunzip_head_reads_members_one_after_another() -> None:
    packed = gzip.compress(b"a\n") + gzip.compress(b"b\n")
    assert gunzip_head(packed, 100) == (b"a\nb\n", True)


def test_gunzip_head_of_invalid_data_fails_as_a_run_does() -> None:
    with pytest.raises(FileFailed, match="the file is not valid gzip data"):
        gunzip_head(b"\x1f\x8b\x08\x00garbage garbage", 100)
    with pytest.raises(FileFailed, match="the file is not valid gzip data"):
        list(iter_rows(io.BytesIO(b"\x1f\x8b\x08\x00garbage garbage"), file_format="csv"))
