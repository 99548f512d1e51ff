"""JSON arrays of objects and NDJSON: rows numbered by element or line; an element or line that
is not an object, or nests too deeply to read, is a bad row; JSON that breaks off fails the
file. Through a run, a file nested 100,000 levels deep fails and the next is ingested."""

import io
import json
import random
from decimal import Decimal
from typing import Any

import pytest

from entities.models import Record
from ingest.models import FileState, RunStatus, SourceFile
from ingest.parsers import BadRow, iter_rows
from ingest.parsers.streams import CHUNK_BYTES, MAX_FIELD_CHARS
from ingest.types import FileFailed, ParsedRow
from tests.support.factories import DEEP, DEEP_JSON, keys, make_connector, put, run_now
from tests.support.parsing import Generated, Trickle, failure, lines_and_values, parse

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


# --- through a run: a file nested too deep fails, the next is ingested ----------------------


DEEP_NDJSON = '{"profile_id": ' * DEEP + '"p0"' + "}" * DEEP + "\n"


GOOD_JSON = '[{"profile_id": "p1", "first_name": "Ada"}, {"profile_id": "p2"}]'


GOOD_NDJSON = '{"profile_id": "p1", "first_name": "Ada"}\n{"profile_id": "p2"}\n'


@pytest.mark.parametrize(
    ("file_format", "deep", "good", "reason"),
    [
        ("json", DEEP_JSON, GOOD_JSON, "element 1 nests arrays or objects too deeply"),
        ("ndjson", DEEP_NDJSON, GOOD_NDJSON, "the line nests arrays or objects too deeply"),
    ],
)
def test_a_file_nested_a_hundred_thousand_levels_deep_fails_and_the_next_is_ingested(
    alice, bucket, s3_endpoint, s3_client, file_format, deep, good, reason
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, file_format=file_format)
    put(s3_client, bucket, f"incoming/a-deep.{file_format}", deep)
    put(s3_client, bucket, f"incoming/b-good.{file_format}", good)

    run = run_now(connector)

    assert (run.status, run.files_succeeded, run.files_failed) == (RunStatus.PARTIAL, 1, 1)
    failed = SourceFile.objects.get(key=f"incoming/a-deep.{file_format}")
    assert failed.state == FileState.MOVED and failed.outcome == "failed"
    assert "1 of 1 rows is invalid" in failed.failure_reason
    assert reason in failed.row_errors.get().reason
    assert keys(s3_client, bucket) == [
        f"done/b-good.{file_format}",
        f"failed/a-deep.{file_format}",
        f"failed/a-deep.{file_format}.errors.txt",
    ]
    assert set(Record.objects.values_list("external_id", flat=True)) == {"p1", "p2"}
