"""CSV and TSV: rows keyed by the header, quoted values across lines, line numbers kept, bad
rows that say what is wrong, headers that cannot name the columns, and plain lines read in
blocks exactly as csv.reader reads them (the differential test)."""

import csv
import io
import random

import pytest

from ingest.parsers import BadRow, PlainBlock, Row, iter_rows
from ingest.parsers.delimited import _malformed_csv_row
from ingest.parsers.rows import fields_row
from ingest.parsers.streams import MAX_FIELD_CHARS, MIN_BLANK_STRETCH
from ingest.types import ParsedRow
from tests.support.parsing import Trickle, failure, lines_and_values, parse


def test_csv_rows_are_dicts_keyed_by_the_header() -> None:
    rows = parse("id,name\n1,Ada\n2,Alan\n")
    assert rows == [
        ParsedRow(2, {"id": "1", "name": "Ada"}),
        ParsedRow(3, {"id": "2", "name": "Alan"}),
    ]


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


def test_the_configured_delimiter_is_used() -> None:
    assert parse("id;name\n1;Ada\n", delimiter=";")[0].values == {"id": "1", "name": "Ada"}


@pytest.mark.parametrize("delimiter", ['"', "\n", ",,"])
def test_an_unusable_delimiter_fails(delimiter: str) -> None:
    assert "delimiter" in failure("id\n1\n", delimiter=delimiter)


def test_header_names_are_trimmed() -> None:
    assert parse(" id , name \n1,Ada\n")[0].values == {"id": "1", "name": "Ada"}


def test_a_stray_quote_is_a_bad_row_and_reading_goes_on() -> None:
    rows = parse('id,name\n1,"Ada"x\n2,Alan\n')
    assert isinstance(rows[0], BadRow) and rows[0].line == 2
    assert 'write a " inside a quoted value as ""' in rows[0].reason
    assert rows[1] == ParsedRow(3, {"id": "2", "name": "Alan"})


def test_an_unterminated_quote_fails_the_file_naming_the_line() -> None:
    message = failure('id,name\n1,Ada\n2,"Alan\n3,Grace\n')
    assert message.startswith("unterminated quoted field in the row starting on line 3")


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


def test_a_10_mb_value_is_read() -> None:
    big = "x" * (10 * 1024 * 1024)
    rows = parse(f"id,blob\n1,{big}\n2,small\n")
    assert rows[0].values["blob"] == big and rows[1] == ParsedRow(3, {"id": "2", "blob": "small"})


def test_a_value_over_the_limit_fails_the_file() -> None:
    big = "x" * (MAX_FIELD_CHARS + 1)
    assert "has a value longer than" in failure(f'id,blob\n1,"{big}"\n')


def test_an_unquoted_value_over_the_limit_fails_the_file() -> None:
    big = "x" * (MAX_FIELD_CHARS + 1)
    assert "has a value longer than" in failure(f"id,blob\n1,{big}\n")


def test_a_nul_character_does_not_break_reading() -> None:
    assert parse("id,name\n1,a\x00b\n")[0].values["name"] == "a\x00b"


# --- plain lines in blocks, held to csv.reader ----------------------------------------------


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
