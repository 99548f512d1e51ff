"""The streaming parsers: every format, gzip, encodings, broken files and constant memory."""

import csv
import gzip
import io
import json
import random
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from ingest.parsers import BadRow, DecompressionLimit, PlainBlock, Row, iter_rows
from ingest.parsers.delimited import _malformed_csv_row
from ingest.parsers.rows import fields_row
from ingest.parsers.streams import CHUNK_BYTES, MAX_FIELD_CHARS, MIN_BLANK_STRETCH
from ingest.types import FileFailed, ParsedRow


class Trickle:
    """A stream that hands out a few bytes per read, to cut the input at every position."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self._data = io.BytesIO(data)
        self._random = random.Random(seed)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, self._random.randint(1, 7)))


class Generated:
    """A file-like object whose bytes are produced lazily and never held whole."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._pending = b""
        self.largest_read = 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "the parser must read in chunks, never the whole stream"
        self.largest_read = max(self.largest_read, size)
        while len(self._pending) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk


def parse(data: bytes | str, file_format: str = "csv", **options: Any) -> list[Row]:
    raw = data.encode() if isinstance(data, str) else data
    return list(iter_rows(io.BytesIO(raw), file_format=file_format, **options))


def failure(data: bytes | str, file_format: str = "csv", **options: Any) -> str:
    with pytest.raises(FileFailed) as caught:
        parse(data, file_format, **options)
    return str(caught.value)


def lines_and_values(rows: list[Row]) -> list[tuple[int, dict[str, Any]]]:
    return [(row.line, row.values) for row in rows]


# --- CSV and TSV ----------------------------------------------------------------------------


def test_csv_rows_are_dicts_keyed_by_the_header() -> None:
    rows = parse("id,name\n1,Ada\n2,Alan\n")
    assert rows == [
        ParsedRow(2, {"id": "1", "name": "Ada"}),
        ParsedRow(3, {"id": "2", "name": "Alan"}),
    ]


def test_a_utf8_bom_is_dropped_and_text_decoded() -> None:
    rows = parse("\ufeffid,name\n1,Zoë 😀\n".encode())
    assert lines_and_values(rows) == [(2, {"id": "1", "name": "Zoë 😀"})]


def test_quoted_fields_may_span_lines_and_rows_keep_their_starting_line() -> None:
    data = 'id,note\n1,"first\nsecond\nthird"\n2,"say ""hi"", then, go"\n3,"a\r\nb"\n4,x\n'
    assert lines_and_values(parse(data)) == [
        (2, {"id": "1", "note": "first\nsecond\nthird"}),
        (5, {"id": "2", "note": 'say "hi", then, go'}),
        (6, {"id": "3", "note": "a\r\nb"}),
        (8, {"id": "4", "note": "x"}),
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_any_line_ending_works(newline: str) -> None:
    data = newline.join(["id,name", "1,Ada", "2,Alan"]) + newline
    assert [row.line for row in parse(data)] == [2, 3]


def test_a_last_line_without_newline_is_read() -> None:
    assert lines_and_values(parse("id\n1\n2")) == [(2, {"id": "1"}), (3, {"id": "2"})]


def test_blank_lines_are_skipped_but_counted() -> None:
    rows = parse("id,name\n\n1,Ada\n\n\n2,Alan\n\n\n")
    assert [row.line for row in rows] == [3, 6]


def test_tsv_uses_tabs_whatever_the_delimiter_setting() -> None:
    rows = parse("id\tname\n1\tAda, Countess\n", "tsv", delimiter=",")
    assert rows[0].values == {"id": "1", "name": "Ada, Countess"}


def test_the_configured_delimiter_is_used() -> None:
    assert parse("id;name\n1;Ada\n", delimiter=";")[0].values == {"id": "1", "name": "Ada"}


@pytest.mark.parametrize("delimiter", ['"', "\n", ",,"])
def test_an_unusable_delimiter_fails(delimiter: str) -> None:
    assert "delimiter" in failure("id\n1\n", delimiter=delimiter)


def test_header_names_are_trimmed() -> None:
    assert parse(" id , name \n1,Ada\n")[0].values == {"id": "1", "name": "Ada"}


def test_ragged_rows_are_bad_rows_that_say_what_is_wrong() -> None:
    rows = parse("a,b,c\n1,2,3\n1,2\n1,2,3,4\n5,6,7\n")
    assert rows[0] == ParsedRow(2, {"a": "1", "b": "2", "c": "3"})
    assert rows[1] == BadRow(3, "expected 3 fields, found 2", {"a": "1", "b": "2"})
    assert rows[2] == BadRow(4, "expected 3 fields, found 4", {"a": "1", "b": "2", "c": "3"})
    assert rows[3] == ParsedRow(5, {"a": "5", "b": "6", "c": "7"})


def test_a_stray_quote_is_a_bad_row_and_reading_goes_on() -> None:
    rows = parse('id,name\n1,"Ada"x\n2,Alan\n')
    assert isinstance(rows[0], BadRow) and rows[0].line == 2
    assert 'write a " inside a quoted value as ""' in rows[0].reason
    assert rows[1] == ParsedRow(3, {"id": "2", "name": "Alan"})


def test_an_unterminated_quote_fails_the_file_naming_the_line() -> None:
    message = failure('id,name\n1,Ada\n2,"Alan\n3,Grace\n')
    assert message.startswith("unterminated quoted field in the row starting on line 3")


def test_an_empty_file_fails() -> None:
    assert failure(b"") == "the file is empty"


def test_a_file_of_blank_lines_has_no_header() -> None:
    assert failure("\n\n") == "the file has no header row"


def test_a_header_only_file_has_no_rows() -> None:
    assert parse("id,name\n") == []
    assert parse("id,name") == []


WIDE = 100_000


def wide_header(names: list[str]) -> str:
    return ",".join(names) + "\n" + ",".join(str(i) for i in range(len(names))) + "\n"


def test_a_header_of_a_hundred_thousand_columns_is_read() -> None:
    names = [f"column{i}" for i in range(WIDE)]
    (row,) = parse(wide_header(names))
    assert len(row.values) == WIDE and row.values["column99999"] == "99999"


def test_a_name_repeated_among_a_hundred_thousand_columns_is_named() -> None:
    names = [f"column{i}" for i in range(WIDE)]
    names[WIDE - 1] = names[WIDE - 2] = "same"
    names[7] = "column3"
    message = failure(wide_header(names))
    assert "repeats the column name(s) 'column3', 'same'; names must be unique" in message


def test_duplicate_header_names_fail_the_file() -> None:
    message = failure("id,email,name,email,id\n1,a,b,c,d\n")
    assert "repeats the column name(s) 'email', 'id'" in message


def test_a_blank_header_name_fails_the_file() -> None:
    assert failure("id,,name\n1,2,3\n").startswith("column 2 of the header row has no name")


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


def test_a_10_mb_value_is_read() -> None:
    big = "x" * (10 * 1024 * 1024)
    rows = parse(f"id,blob\n1,{big}\n2,small\n")
    assert rows[0].values["blob"] == big and rows[1] == ParsedRow(3, {"id": "2", "blob": "small"})


def test_a_value_over_the_limit_fails_the_file() -> None:
    big = "x" * (MAX_FIELD_CHARS + 1)
    assert "has a value longer than" in failure(f'id,blob\n1,"{big}"\n')


def test_a_line_too_long_to_hold_fails_the_file() -> None:
    parts = iter([b"id\n", *([b"x" * CHUNK_BYTES] * (2 * MAX_FIELD_CHARS // CHUNK_BYTES + 2))])
    with pytest.raises(FileFailed, match="line 2 is longer than"):
        list(iter_rows(Generated(parts), file_format="csv"))


def test_a_nul_character_does_not_break_reading() -> None:
    assert parse("id,name\n1,a\x00b\n")[0].values["name"] == "a\x00b"


def test_csv_parses_the_same_whatever_the_read_sizes() -> None:
    data = 'id,note\r\n1,"multi\r\nline, ""quoted"""\r\n2,é😀\r\n\r\n3,"x"\r'.encode()
    assert parse(data) == list(iter_rows(Trickle(data), file_format="csv"))


def csv_module_rows(text: str) -> list[Row]:
    """What csv.reader makes of the whole text at once: the reference for the streaming parser,
    which reads plain lines without it."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] = []
    while not header:
        header = [name.strip() for name in next(reader)]
    rows: list[Row] = []
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return rows
        except csv.Error as exc:
            rows.append(_malformed_csv_row(exc, start))
            continue
        if fields:
            rows.append(fields_row(start, tuple(header), fields))


def random_csv(generator: random.Random, lines: int) -> str:
    pieces = ["a", "b c", "", " ", "é", "1.5", '"q"', '"x, y"', '"two\nlines"', '"say ""hi"""']
    newline = generator.choice(["\n", "\r\n", "\n"])
    out = [""] * generator.choice([0, 0, 2, 40]) + ["id,name,note"]  # blank lines first
    for _ in range(lines):
        kind = generator.random()
        if kind < 0.05:
            out.append("")  # blank
        elif kind < 0.06:
            out += [""] * generator.randint(MIN_BLANK_STRETCH - 1, 60)  # many blank
        elif kind < 0.1:
            out.append(
                ",".join(generator.choice(pieces[:6]) for _ in range(generator.randint(1, 5)))
            )
        elif kind < 0.2:
            out.append(",".join(generator.choice(pieces) for _ in range(3)))
        elif kind < 0.22:
            out.append("x,y\rz,w")  # a lone carriage return ends a line
        else:
            out.append(",".join(generator.choice(pieces[:6]) for _ in range(3)))
    return newline.join(out) + generator.choice([newline, ""])


@pytest.mark.parametrize("seed", range(40))
def test_plain_lines_parse_as_csv_reader_parses_them(seed: int) -> None:
    generator = random.Random(seed)
    text = random_csv(generator, generator.choice([5, 50, 400]))
    data = text.encode()
    expected = csv_module_rows(text)
    assert list(iter_rows(Trickle(data, seed), file_format="csv")) == expected
    assert parse(data) == expected
    blocks = 0
    for stream in (io.BytesIO(data), Trickle(data, seed)):
        items = list(iter_rows(stream, file_format="csv", plain_blocks=True))
        blocks += sum(isinstance(item, PlainBlock) for item in items)
        expanded = [r for i in items for r in (i.expanded() if isinstance(i, PlainBlock) else [i])]
        assert expanded == expected
    assert blocks, "plain lines must come as blocks"


def test_long_stretches_of_blank_lines_are_counted_not_split_into_rows() -> None:
    """A file of blank lines (a gzip of them is a thousandth of their size) must cost what
    decompressing it does: a stretch of them is stepped over, and no block holds it."""
    blanks = "\n" * 100_000
    text = f"{blanks}id,name\n1,Ada\n{blanks}2,Alan\n" + '3,"Grace"\n' + blanks + "4,Kay\n"
    items = list(iter_rows(io.BytesIO(text.encode()), file_format="csv", plain_blocks=True))
    assert sum(len(i.rows) for i in items if isinstance(i, PlainBlock)) < 4 * 16
    expanded = [r for i in items for r in (i.expanded() if isinstance(i, PlainBlock) else [i])]
    assert lines_and_values(expanded) == [
        (100_002, {"id": "1", "name": "Ada"}),
        (200_003, {"id": "2", "name": "Alan"}),
        (200_004, {"id": "3", "name": "Grace"}),
        (300_005, {"id": "4", "name": "Kay"}),
    ]


def test_blank_lines_before_the_header_are_skipped_whatever_their_endings() -> None:
    text = "\r\n" * 50_000 + "\r" * 20 + "\n" * 30 + "id,name\r\n\r\n1,Ada\r\n"
    rows = parse(text)
    assert lines_and_values(rows) == [(50_052, {"id": "1", "name": "Ada"})]  # \r\n is one
    assert rows == csv_module_rows(text)
    assert failure("\n" * 300_000) == "the file has no header row"


def test_plain_lines_come_as_blocks_and_quoted_ones_as_rows() -> None:
    text = 'id,name\r\n1,Ada\r\n\r\n2,Alan\r\n3,"Grace\r\nHopper"\r\n4,Kay\r\n'
    items = list(iter_rows(io.BytesIO(text.encode()), file_format="csv", plain_blocks=True))
    assert items[0] == PlainBlock(2, ("id", "name"), [["1", "Ada"], [""], ["2", "Alan"]], True)
    assert items[1:] == [
        ParsedRow(5, {"id": "3", "name": "Grace\r\nHopper"}),
        ParsedRow(7, {"id": "4", "name": "Kay"}),
    ]


@pytest.mark.parametrize(
    ("value", "clean"),
    [("Ada", True), ("Zoë", False), ("back\\slash", False), ("tab\there", False), ("\x00", False)],
)
def test_a_block_says_whether_its_text_needs_escaping(value: str, clean: bool) -> None:
    (block,) = iter_rows(
        io.BytesIO(f"id,name\n1,{value}\n".encode()), file_format="csv", plain_blocks=True
    )
    assert block.rows == [["1", value]] and block.clean is clean


def test_a_tsv_block_of_plain_text_is_clean() -> None:
    items = list(iter_rows(io.BytesIO(b"id\tname\n1\tAda\n"), file_format="tsv", plain_blocks=True))
    assert items == [PlainBlock(2, ("id", "name"), [["1", "Ada"]], clean=True)]


def test_an_unquoted_value_over_the_limit_fails_the_file() -> None:
    big = "x" * (MAX_FIELD_CHARS + 1)
    assert "has a value longer than" in failure(f"id,blob\n1,{big}\n")


def test_unsupported_format_fails() -> None:
    assert failure("id\n", "xml") == "unsupported file format 'xml'"


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


def test_the_decompression_limit_is_sized_by_the_compressed_size() -> None:
    def limit(compressed: int, ratio: int = 100) -> int:
        return DecompressionLimit.for_file(
            compressed, ratio=ratio, floor=64 * 1024**2, ceiling=20 * 1024**3
        ).max_bytes

    assert limit(300 * 1024) == 64 * 1024**2  # the floor: small files are not held to 100x
    assert limit(10 * 1024**2) == 1000 * 1024**2  # 100 times the compressed size
    assert limit(1024**3) == 20 * 1024**3  # never past the absolute limit
    assert limit(300 * 1024, ratio=0) == 20 * 1024**3  # ratio 0: the absolute limit only


def test_a_gzip_bomb_fails_at_its_size_limit_saying_how_that_is_set() -> None:
    bomb = gzip.compress(b"id\n" + b"\n" * (5 * 1024 * 1024), 9)
    limit = DecompressionLimit.for_file(len(bomb), ratio=100, floor=1024**2, ceiling=1024**3)
    message = failure(bomb, decompression_limit=limit)
    assert message.startswith(
        f"the file decompresses to more than 1,048,576 bytes, the most Loadbay reads from a "
        f"gzip file of {len(bomb):,} bytes: it reads at most 100 times a file's compressed size "
        "(and at least 1,048,576 bytes)"
    )
    assert "INGEST_DECOMPRESSION_RATIO" in message


def test_gzip_of_nothing_is_an_empty_file() -> None:
    assert failure(gzip.compress(b"")) == "the file is empty"


def test_gzipped_json_is_read() -> None:
    assert parse(gzip.compress(b'[{"id": 1}]'), "json") == [ParsedRow(1, {"id": 1})]


# --- JSON array -----------------------------------------------------------------------------


def test_json_array_elements_are_rows_numbered_by_position() -> None:
    rows = parse('[{"id": "p1", "points": 10, "ok": true}, {"id": "p2", "score": 1.10}]', "json")
    assert rows == [
        ParsedRow(1, {"id": "p1", "points": 10, "ok": True}),
        ParsedRow(2, {"id": "p2", "score": Decimal("1.10")}),
    ]


def test_json_keeps_nested_values_for_the_writer_to_reject() -> None:
    rows = parse('[{"id": "p1", "tags": ["a"], "address": {"city": "Paris"}}]', "json")
    assert rows[0].values["tags"] == ["a"] and rows[0].values["address"] == {"city": "Paris"}


def test_an_empty_json_array_has_no_rows() -> None:
    assert parse(" [\n ] \n", "json") == []


def test_a_json_element_that_is_not_an_object_is_a_bad_row() -> None:
    rows = parse('[{"id": 1}, [1, 2], "text", 3, null, {"id": 2}]', "json")
    assert [type(row).__name__ for row in rows] == [
        "ParsedRow",
        "BadRow",
        "BadRow",
        "BadRow",
        "BadRow",
        "ParsedRow",
    ]
    assert rows[1] == BadRow(2, "element 2 is an array, not an object")
    assert rows[3].reason == "element 4 is a number, not an object"


def test_a_json_object_at_top_level_fails_and_suggests_ndjson() -> None:
    message = failure('{"id": 1}', "json")
    assert "not an array of objects" in message and "NDJSON" in message


def test_a_json_file_of_something_else_fails() -> None:
    assert failure("id,name\n", "json") == (
        "the file must hold a JSON array of objects; it starts with 'i'"
    )


def test_invalid_json_fails_with_the_element_and_position() -> None:
    message = failure('[\n  {"id": 1},\n  {"id": tru}\n]', "json")
    assert message == (
        "invalid JSON in element 2 at line 3, column 10 (byte offset 24): Expecting value"
    )


def test_a_missing_comma_fails() -> None:
    message = failure('[{"id": 1} {"id": 2}]', "json")
    assert message == "expected ',' or ']' after element 1 at line 1, column 12 (byte offset 11)"


def test_a_trailing_comma_fails() -> None:
    assert "invalid JSON in element 2" in failure('[{"id": 1},]', "json")


def test_a_truncated_json_array_fails() -> None:
    assert "before the array is closed" in failure('[{"id": 1}', "json")
    assert "invalid JSON in element 2" in failure('[{"id": 1}, {"id": "ab', "json")


def test_text_after_the_array_fails() -> None:
    assert failure('[{"id": 1}] []', "json").startswith("unexpected text after the end")


def test_json_with_a_bom_is_read() -> None:
    assert parse('\ufeff[{"id": 1}]'.encode(), "json") == [ParsedRow(1, {"id": 1})]


def test_json_parses_the_same_whatever_the_read_sizes() -> None:
    generator = random.Random(7)
    tricky = ['"', "\\", "]", "}", "[", "{", ",", "é", "😀", "\n", " "]
    elements: list[Any] = []
    for number in range(300):
        text = "".join(generator.choice(tricky) for _ in range(generator.randint(0, 12)))
        elements.append({"n": number, "text": text, "x": 12.5e3, "nested": {"list": [text, 1]}})
        elements.append(generator.choice([1234567, 1.5, True, None, "s", [text]]))
    data = json.dumps(elements, indent=generator.choice([None, 2])).encode()
    expected = json.loads(data, parse_float=Decimal)
    for seed in range(3):
        rows = list(iter_rows(Trickle(data, seed), file_format="json"))
        assert [row.values for row in rows if isinstance(row, ParsedRow)] == expected[::2]
        assert [row.line for row in rows] == list(range(1, len(expected) + 1))


def test_a_json_element_larger_than_the_limit_fails() -> None:
    huge = b"x" * CHUNK_BYTES
    count = 2 * MAX_FIELD_CHARS // CHUNK_BYTES + 2
    parts = iter([b'[{"id": "', *([huge] * count), b'"}]'])
    with pytest.raises(FileFailed, match="element 1 is longer than"):
        list(iter_rows(Generated(parts), file_format="json"))


DEEP = 100_000


def test_a_json_element_nested_a_hundred_thousand_levels_deep_is_a_bad_row() -> None:
    deep = "[" * DEEP + "]" * DEEP
    data = f'[{{"id": 1}}, {deep},\n {{"id": 3, "tags": {{"a": {deep}}}}}, {{"id": 4}}]'
    assert data.index('{"id": 3') < CHUNK_BYTES < len(data)  # element 3 spans two reads
    rows = parse(data, "json")
    assert [row.line for row in rows] == [1, 2, 3, 4]
    assert rows[0] == ParsedRow(1, {"id": 1}) and rows[3] == ParsedRow(4, {"id": 4})
    for row in rows[1:3]:
        assert isinstance(row, BadRow)
        assert row.reason.startswith(
            f"element {row.line} nests arrays or objects too deeply to be read (more than "
        )


def test_a_json_element_too_deep_and_cut_short_fails_the_file() -> None:
    message = failure('[{"id": 1}, ' + "[" * DEEP, "json")
    assert message == "the file ends inside element 2, before the array is closed"


def test_an_ndjson_line_nested_a_hundred_thousand_levels_deep_is_a_bad_row() -> None:
    deep = '{"a": ' * DEEP + "1" + "}" * DEEP
    rows = parse(f'{{"id": 1}}\n{deep}\n{{"id": 3}}\n', "ndjson")
    assert rows[0] == ParsedRow(1, {"id": 1}) and rows[2] == ParsedRow(3, {"id": 3})
    assert isinstance(rows[1], BadRow) and rows[1].line == 2
    assert rows[1].reason.startswith("the line nests arrays or objects too deeply to be read")


# --- NDJSON ---------------------------------------------------------------------------------


def test_ndjson_lines_are_rows_and_blank_lines_are_skipped() -> None:
    rows = parse('{"id": 1}\n\n  \r\n{"id": 2, "name": "Zoë"}\r\n{"id": 3}', "ndjson")
    assert lines_and_values(rows) == [(1, {"id": 1}), (4, {"id": 2, "name": "Zoë"}), (5, {"id": 3})]


def test_ndjson_lines_keep_their_numbers_across_long_stretches_of_blank_lines() -> None:
    blanks = "\n" * 70_000
    text = f'{blanks}{{"id": 1}}\r\n{blanks}\r\n \n{{"id": 2}}\r{blanks}{{"id": 3}}\r\r{{"id": 4}}'
    data = text.encode()
    for stream in (io.BytesIO(data), Trickle(data)):
        rows = list(iter_rows(stream, file_format="ndjson"))
        assert lines_and_values(rows) == [
            (70_001, {"id": 1}),
            (140_004, {"id": 2}),  # its \r and the next \n are one line ending
            (210_004, {"id": 3}),
            (210_006, {"id": 4}),
        ]


def test_a_bad_ndjson_line_is_a_bad_row_not_a_failed_file() -> None:
    rows = parse('{"id": 1}\n{"id": \n[1]\n"x"\n{"id": 5}\n', "ndjson")
    assert rows[1] == BadRow(2, "invalid JSON: Expecting value (column 8)")
    assert rows[2] == BadRow(3, "the line holds an array, not a JSON object")
    assert rows[3] == BadRow(4, "the line holds a string, not a JSON object")
    assert rows[4] == ParsedRow(5, {"id": 5})


# --- constant memory ------------------------------------------------------------------------

MEMORY_BOUND = 5 * 1024 * 1024


def in_blocks(rows: int, row: Any, block: int = 1000) -> Iterator[bytes]:
    for first in range(0, rows, block):
        yield b"".join(row(number) for number in range(first, min(first + block, rows)))


def generated_csv(rows: int) -> Iterator[bytes]:
    yield b"profile_id,first_name,last_name,email,note\n"
    yield from in_blocks(
        rows, lambda n: b'p%d,First%d,Last%d,u%d@example.com,"a, ""quoted""\nnote"\n' % ((n,) * 4)
    )


def generated_json(rows: int) -> Iterator[bytes]:
    yield b'[\n{"first": true}'
    yield from in_blocks(
        rows - 1,
        lambda n: b',{"profile_id": "p%d", "email": "u%d@example.com", "n": %d}\n' % ((n,) * 3),
    )
    yield b"]\n"


def generated_ndjson(rows: int) -> Iterator[bytes]:
    yield from in_blocks(
        rows, lambda n: b'{"profile_id": "p%d", "email": "u%d@example.com"}\n' % (n, n)
    )


def counted(parts: Iterator[bytes], size: list[int]) -> Iterator[bytes]:
    for part in parts:
        size[0] += len(part)
        yield part


def gzipped(parts: Iterator[bytes]) -> Iterator[bytes]:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as compressor:
        for part in parts:
            compressor.write(part)
            if buffer.tell():
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@pytest.mark.parametrize(
    ("file_format", "make", "compress"),
    [
        ("csv", generated_csv, False),
        ("csv", generated_csv, True),
        ("json", generated_json, False),
        ("ndjson", generated_ndjson, False),
    ],
)
def test_memory_stays_small_whatever_the_file_size(
    file_format: str, make: Any, compress: bool
) -> None:
    rows = 200_000
    size = [0]
    parts = counted(make(rows), size)
    stream = Generated(gzipped(parts) if compress else parts)
    tracemalloc.start()
    try:
        key = "big.gz" if compress else "big"
        count = sum(1 for _ in iter_rows(stream, file_format=file_format, key=key))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    assert stream.largest_read <= CHUNK_BYTES
    assert size[0] > 2 * MEMORY_BOUND  # holding the file would break the bound
    assert peak < MEMORY_BOUND, f"peak {peak:,} bytes"


def test_an_unusable_format_or_delimiter_fails_when_the_rows_are_read() -> None:
    """Not before: the writer, which reads the rows, makes every FileFailed the file's
    outcome."""
    rows = iter_rows(io.BytesIO(b"id\n1\n"), file_format="xml")
    with pytest.raises(FileFailed, match="unsupported file format 'xml'"):
        next(rows)
    rows = iter_rows(io.BytesIO(b"id\n1\n"), file_format="csv", delimiter='"')
    with pytest.raises(FileFailed, match="cannot be used"):
        next(rows)
