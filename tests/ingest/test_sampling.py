"""Samples for the wizard's Field Mapping: the files a connector would take (first page,
newest first), the first bytes of one by a ranged GET (read no further when a server ignores
the range), gunzipped, cut after the last whole row, and parsed as a run parses: every format,
columns and the first rows, and the parser's own message for a sample it cannot read."""

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from django.core.files.uploadedfile import SimpleUploadedFile

from connectors.aws import S3AccessError
from ingest import sampling
from ingest.models import SourceFile
from ingest.parsers import BadRow
from ingest.s3.keys import Layout, Listed
from ingest.sampling import (
    Head,
    Listing,
    head_of_upload,
    matching_files,
    newest_first,
    read_head,
    sample_of,
)
from ingest.types import FileFailed
from tests.support.factories import keys, put
from tests.support.fault_proxy import fault_proxy

CSV = (
    "profile_id,first_name,email\n"
    "p1,Ada,ada@example.com\n"
    "p2,Alan,alan@example.com\n"
    "p3,Grace,grace@example.com\n"
)


def layout(bucket: str, pattern: str = "", **dirs: str) -> Layout:
    return Layout(
        bucket=bucket,
        source=dirs.get("source", "incoming/"),
        success=dirs.get("success", ""),
        failed=dirs.get("failed", ""),
        pattern=pattern,
    )


def sample(text: str | bytes, file_format: str = "csv", *, name: str = "f.csv", **kw: Any) -> Any:
    data = text.encode() if isinstance(text, str) else text
    head = Head(data, complete=kw.pop("complete", True))
    return sample_of(
        head,
        name=name,
        file_format=file_format,
        delimiter=kw.pop("delimiter", ","),
        limit=kw.pop("limit", 1024**2),
    )


@pytest.fixture
def ranges(s3_client: Any) -> list[str | None]:
    """The Range header of every GetObject the test client sends."""
    seen: list[str | None] = []

    def record(request: Any, **kwargs: Any) -> None:
        value = request.headers.get("Range")
        seen.append(value.decode() if isinstance(value, bytes) else value)

    s3_client.meta.events.register("before-send.s3.GetObject", record)
    return seen


@pytest.fixture
def bytes_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many bytes of response bodies were read, read by read."""
    counted: list[int] = []
    original = StreamingBody.read

    def read(self: StreamingBody, amt: int | None = None) -> bytes:
        data = original(self, amt)
        counted.append(len(data))
        return data

    monkeypatch.setattr(StreamingBody, "read", read)
    return counted


# --- which files ----------------------------------------------------------------------------


def test_the_files_a_connector_would_take_are_listed_newest_first(bucket, s3_client) -> None:
    for key in (
        "incoming/profiles_1.csv",
        "incoming/done/profiles_0.csv",
        "incoming/.loadbay-probe-1",
        "incoming/other.csv",
        "elsewhere/profiles_9.csv",
    ):
        put(s3_client, bucket, key, CSV)
    put(s3_client, bucket, "incoming/profiles_2.csv", CSV)
    listing = matching_files(s3_client, layout(bucket, "profiles_*", success="incoming/done/"))
    assert [f.key for f in listing.files] == ["incoming/profiles_2.csv", "incoming/profiles_1.csv"]
    assert listing.newest is not None and listing.newest.size == len(CSV)
    assert not listing.more


def test_only_the_first_page_is_listed(bucket, s3_client, monkeypatch) -> None:
    monkeypatch.setattr(sampling, "LIST_PAGE", 2)
    for number in range(3):
        put(s3_client, bucket, f"incoming/f{number}.csv", CSV)
    listing = matching_files(s3_client, layout(bucket))
    assert len(listing.files) == 2 and listing.more


def test_newest_first_breaks_ties_by_the_last_key() -> None:
    when = datetime(2026, 11, 1, tzinfo=UTC)
    files = [
        Listed("b.csv", "e", when, 1),
        Listed("a.csv", "e", when + timedelta(seconds=1), 1),
        Listed("c.csv", "e", when, 1),
    ]
    listing = Listing(newest_first(files), more=False)
    assert [f.key for f in listing.files] == ["a.csv", "c.csv", "b.csv"]
    assert listing.get("c.csv") is files[2] and listing.get("nope") is None


def test_a_listing_refused_says_why(s3_client) -> None:
    with pytest.raises(
        S3AccessError, match="Listing the Source Files Directory: The bucket does not"
    ):
        matching_files(s3_client, layout("no-such-bucket-loadbay"))


# --- the first bytes ------------------------------------------------------------------------


def test_only_the_first_bytes_are_asked_for_and_read(bucket, s3_client, ranges, bytes_read) -> None:
    body = CSV + "".join(f"p{n},Name{n},p{n}@example.com\n" for n in range(4, 5000))
    put(s3_client, bucket, "incoming/big.csv", body)
    head = read_head(s3_client, bucket, "incoming/big.csv", 4096)
    assert ranges == ["bytes=0-4095"]
    assert head.data == body.encode()[:4096] and not head.complete
    assert sum(bytes_read) == 4096


def test_a_file_smaller_than_the_limit_is_read_whole(bucket, s3_client, ranges) -> None:
    put(s3_client, bucket, "incoming/small.csv", CSV)
    head = read_head(s3_client, bucket, "incoming/small.csv", 4096)
    assert ranges == ["bytes=0-4095"]
    assert head == Head(CSV.encode(), complete=True)


def test_a_file_of_exactly_the_limit_is_whole(bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/exact.csv", CSV)
    assert read_head(s3_client, bucket, "incoming/exact.csv", len(CSV)).complete


def test_an_empty_file_has_no_range_to_send_and_says_it_is_empty(bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/empty.csv", b"")
    head = read_head(s3_client, bucket, "incoming/empty.csv", 4096)
    assert head == Head(b"", complete=True)
    assert sample(head.data).preview().error == "the file is empty"


def test_a_server_that_ignores_the_range_is_read_no_further(
    bucket, s3_client, moto_url, bytes_read
) -> None:
    body = ("x" * 99 + "\n") * 2000  # 200 kB
    put(s3_client, bucket, "incoming/big.csv", body)
    with fault_proxy(moto_url) as proxy:
        proxy.drop_headers = {"range"}  # the whole object comes back, with 200
        client = boto3.client(
            "s3",
            endpoint_url=proxy.url,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        head = read_head(client, bucket, "incoming/big.csv", 4096)
    assert head.data == body.encode()[:4096] and not head.complete
    assert sum(bytes_read) == 4096


def test_a_missing_object_says_so(bucket, s3_client) -> None:
    with pytest.raises(S3AccessError, match=r"Reading incoming/gone.csv: .*NoSuchKey"):
        read_head(s3_client, bucket, "incoming/gone.csv", 4096)


def test_an_upload_is_read_to_the_limit() -> None:
    upload = SimpleUploadedFile("mine.csv", CSV.encode())
    assert head_of_upload(upload, 4096) == Head(CSV.encode(), complete=True)
    upload = SimpleUploadedFile("mine.csv", CSV.encode())
    assert head_of_upload(upload, 10) == Head(CSV.encode()[:10], complete=False)


def test_nothing_is_claimed_moved_or_recorded(bucket, s3_client, db) -> None:
    put(s3_client, bucket, "incoming/a.csv", CSV)
    listing = matching_files(s3_client, layout(bucket))
    head = read_head(s3_client, bucket, "incoming/a.csv", 4096)
    sample(head.data).preview()
    assert [f.key for f in listing.files] == ["incoming/a.csv"]
    assert keys(s3_client, bucket) == ["incoming/a.csv"]
    assert not SourceFile.objects.exists()


# --- the rows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_format", "delimiter", "text"),
    [
        ("csv", ",", CSV),
        ("csv", ";", CSV.replace(",", ";")),
        ("csv", "|", CSV.replace(",", "|")),
        ("tsv", ",", CSV.replace(",", "\t")),
        (
            "json",
            ",",
            json.dumps(
                [
                    {"profile_id": "p1", "first_name": "Ada", "email": "ada@example.com"},
                    {"profile_id": "p2", "first_name": "Alan", "email": "alan@example.com"},
                    {"profile_id": "p3", "first_name": "Grace", "email": "grace@example.com"},
                ]
            ),
        ),
        (
            "ndjson",
            ",",
            "".join(
                json.dumps(
                    {"profile_id": f"p{n}", "first_name": name, "email": f"{mail}@example.com"}
                )
                + "\n"
                for n, name, mail in ((1, "Ada", "ada"), (2, "Alan", "alan"), (3, "Grace", "grace"))
            ),
        ),
    ],
)
def test_every_format_shows_its_columns_and_rows(
    file_format: str, delimiter: str, text: str
) -> None:
    preview = sample(text, file_format, delimiter=delimiter).preview()
    assert preview.error is None
    assert preview.columns == ["profile_id", "first_name", "email"]
    assert preview.rows_read == 3
    assert [row.cells for row in preview.rows][:2] == [
        ["p1", "Ada", "ada@example.com"],
        ["p2", "Alan", "alan@example.com"],
    ]


def test_the_preview_shows_the_first_twenty_rows_and_counts_them_all() -> None:
    text = "id\n" + "".join(f"r{n}\n" for n in range(50))
    preview = sample(text).preview()
    assert len(preview.rows) == 20 and preview.rows_read == 50
    assert preview.rows[0].line == 2 and preview.rows[0].cells == ["r0"]


def test_a_header_without_rows_still_names_the_columns() -> None:
    preview = sample("profile_id,email\n").preview()
    assert preview.columns == ["profile_id", "email"] and preview.rows == []


def test_json_columns_are_every_key_in_the_order_they_first_appear() -> None:
    text = '{"a": 1, "b": {"x": true}}\n{"c": null, "a": 2.5}\n[1]\n'
    preview = sample(text, "ndjson").preview()
    assert preview.columns == ["a", "b", "c"]
    assert [row.cells for row in preview.rows] == [
        ["1", '{"x": true}', ""],
        ["2.5", "", ""],
        ["", "", ""],
    ]
    assert preview.rows[2].problem == "the line holds an array, not a JSON object"


def test_a_bad_row_is_shown_with_the_parsers_reason() -> None:
    preview = sample(CSV + "p4,Bad\n").preview()
    (bad,) = [row for row in preview.rows if row.problem]
    assert bad.line == 5 and bad.problem == "expected 3 fields, found 2"


@pytest.mark.parametrize(
    ("data", "file_format", "message"),
    [
        ("caf\xe9,x\n1,2\n".encode("latin-1"), "csv", "the file is not UTF-8 text: byte 0xE9"),
        (b"", "csv", "the file is empty"),
        (b"a,,b\n1,2,3\n", "csv", "column 2 of the header row has no name"),
        (b'{"a": 1}', "json", "the file holds a JSON object, not an array of objects"),
        (b"\xff\xfea\x00", "csv", "the file is UTF-16 text; save it as UTF-8"),
    ],
)
def test_a_sample_that_cannot_be_read_gives_the_parsers_own_message(
    data: bytes, file_format: str, message: str
) -> None:
    preview = sample(data, file_format).preview()
    assert preview.error is not None and preview.error.startswith(message), preview.error
    with pytest.raises(FileFailed, match=message[:20]):
        list(sample(data, file_format).rows())


def test_invalid_gzip_gives_the_parsers_message() -> None:
    with pytest.raises(FileFailed, match="the file is not valid gzip data"):
        sample(b"\x1f\x8bnot gzip at all", name="f.csv.gz")


# --- cut short ------------------------------------------------------------------------------


def test_a_row_cut_short_is_left_out_not_reported_bad() -> None:
    data = CSV.encode()[: CSV.index("p3") + 5]  # "p3,Gr"
    cut = sample(data, complete=False)
    rows = list(cut.rows())
    assert [row.values["profile_id"] for row in rows] == ["p1", "p2"]
    assert not any(isinstance(row, BadRow) for row in rows)
    assert cut.cut_short and cut.preview().error is None


def test_a_quoted_value_cut_short_ends_the_rows_there() -> None:
    text = 'id,note\n1,plain\n2,"a note\nthat goes on\nfor lines'
    rows = list(sample(text, complete=False).rows())
    assert [row.values["id"] for row in rows] == ["1"]


def test_a_json_array_cut_short_ends_at_its_last_whole_element() -> None:
    text = json.dumps([{"id": n, "name": f"row {n}"} for n in range(10)])
    cut = sample(text[:60], "json", complete=False)
    preview = cut.preview()
    assert preview.error is None and preview.rows_read >= 1
    assert [row.values["id"] for row in cut.rows()] == list(range(preview.rows_read))


def test_the_first_element_cut_short_says_so() -> None:
    preview = sample('[{"id": 1, "name": "lon', "json", complete=False).preview()
    assert preview.error is not None and "only the first 23 bytes" in preview.error


def test_gzip_is_read_as_far_as_its_first_bytes_go(bucket, s3_client, ranges) -> None:
    body = "id,name\n" + "".join(f"{n},name {n}\n" for n in range(100_000))
    put(s3_client, bucket, "incoming/big.csv.gz", gzip.compress(body.encode()))
    head = read_head(s3_client, bucket, "incoming/big.csv.gz", 8192)
    assert ranges == ["bytes=0-8191"] and not head.complete
    cut = sample_of(head, name="incoming/big.csv.gz", file_format="csv", delimiter=",", limit=8192)
    rows = list(cut.rows())
    assert cut.cut_short and len(rows) > 100
    assert [row.values for row in rows] == [
        {"id": str(n), "name": f"name {n}"} for n in range(len(rows))
    ]


def test_gzip_text_is_kept_within_the_limit_once_decompressed() -> None:
    body = "id\n" + "".join(f"{n}\n" for n in range(100_000))
    cut = sample(gzip.compress(body.encode()), name="f.csv.gz", limit=1000)
    assert cut.cut_short and len(cut.text) <= 1000 and cut.text.endswith(b"\n")


def test_a_whole_gzip_file_is_read_whole_and_its_magic_bytes_suffice() -> None:
    whole = sample(gzip.compress(CSV.encode()), name="no-extension")
    assert not whole.cut_short and whole.preview().rows_read == 3


def test_a_whole_gzip_file_that_ends_early_is_reported_as_a_run_reports_it() -> None:
    truncated = gzip.compress(CSV.encode())[:-12]
    with pytest.raises(FileFailed, match="the gzip data is truncated"):
        sample(truncated, name="f.csv.gz")


def test_a_sample_read_whole_is_never_cut() -> None:
    no_newline_at_end = CSV + "p4,Last,last@example.com"
    assert sample(no_newline_at_end).preview().rows_read == 4


def test_text_cut_short_keeps_whole_lines_only() -> None:
    cut = sample(io.BytesIO(CSV.encode()).read(30), complete=False)
    assert cut.text == b"profile_id,first_name,email\n"
