"""Forty-odd bad (and oddly named) files: each gets a clear reason on the run page, is routed
by the spec's rules, and leaves no partial writes behind."""

import gzip
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from entities.models import Record
from ingest import inline, runs
from ingest.models import SourceFile
from tests.reliability.figures import record
from tests.support.factories import keys, make_connector, put

H = "profile_id,first_name,last_name,email,loyalty_points\n"
OK_ROW = "p1,Ada,Lovelace,ada@example.com,10\n"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    reason: str = ""  # expected words in the failure reason; "" means the file succeeds
    key: str = "file.csv"
    file_format: str = "csv"
    records: int = 0  # records expected after a success


def csv(text: str) -> bytes:
    return text.encode()


BIG_FIELD = "x" * (10 * 1024 * 1024)
DEEP = 100_000
WIDE = [f"extra{i}" for i in range(100_000)]
CASES = [
    Case("unbalanced quote", csv(H + 'p1,"Ada,Lovelace,a@example.com,1\n'), "unterminated quoted"),
    Case(
        "ragged row, too many fields",
        csv(H + "p1,Ada,L,a@example.com,1,extra\n"),
        "expected 5 fields",
    ),
    Case("ragged row, too few fields", csv(H + "p1,Ada\n"), "expected 5 fields"),
    Case("missing header", b"", "empty"),
    Case(
        "duplicate headers",
        csv("profile_id,email,email\np1,a@example.com,b@example.com\n"),
        "repeats",
    ),
    Case("blank header name", csv("profile_id,,email\np1,x,a@example.com\n"), "has no name"),
    Case("wrong delimiter", csv(H.replace(",", ";") + OK_ROW.replace(",", ";")), "profile_id"),
    Case("latin-1 text", "profile_id,first_name\np1,Jos\xe9\n".encode("latin-1"), "UTF-8"),
    Case("utf-16 text", "profile_id,first_name\np1,Ada\n".encode("utf-16"), "UTF-16"),
    Case("bom is fine", b"\xef\xbb\xbf" + csv(H + OK_ROW), records=1),
    Case("zero-byte file", b"", "empty"),
    Case("whitespace only", b"\n\n\n", "header"),
    Case("header only", csv(H), records=0),
    Case(
        "10 MB single field", csv(H + f"p1,{BIG_FIELD},L,a@example.com,1\n"), "at most 100 allowed"
    ),
    Case("value of the wrong type", csv(H + "p1,Ada,L,a@example.com,lots\n"), "invalid"),
    Case("bad email", csv(H + "p1,Ada,L,not-an-email,1\n"), "invalid"),
    Case("missing unique id", csv(H + ",Ada,L,a@example.com,1\n"), "invalid"),
    Case("unique id column absent", csv("first_name,email\nAda,a@example.com\n"), "no column"),
    Case("duplicate ids in one file", csv(H + OK_ROW + OK_ROW), "invalid"),
    Case("unknown columns are ignored", csv("profile_id,shoe_size\np1,42\n"), records=1),
    Case("NUL byte in a value", csv(H + "p1,A\x00da,L,a@example.com,1\n"), "invalid"),
    Case(
        "formula-looking value is data",
        csv(H + "p1,=cmd|' /C calc'!A0,L,a@example.com,1\n"),
        records=1,
    ),
    Case("very long unique id", csv(H + ("p" * 300) + ",Ada,L,a@example.com,1\n"), "invalid"),
    Case("invalid json", b'[{"profile_id": "p1",', "JSON", key="f.json", file_format="json"),
    Case("json not an array", b'{"profile_id": "p1"}', "array", key="f.json", file_format="json"),
    Case("json array of numbers", b"[1, 2, 3]", "invalid", key="f.json", file_format="json"),
    Case(
        "json nested value",
        b'[{"profile_id": "p1", "first_name": {"a": 1}}]',
        "invalid",
        key="f.json",
        file_format="json",
    ),
    Case(
        "json fine",
        b'[{"profile_id": "p1", "loyalty_points": 3}]',
        records=1,
        key="f.json",
        file_format="json",
    ),
    Case(
        "ndjson bad line",
        b'{"profile_id": "p1"}\n{oops}\n',
        "invalid",
        key="f.ndjson",
        file_format="ndjson",
    ),
    Case(
        "ndjson non-object",
        b'{"profile_id": "p1"}\n[1]\n',
        "invalid",
        key="f.ndjson",
        file_format="ndjson",
    ),
    Case(
        "json nested 100,000 levels",
        ("[" + "[" * DEEP + "]" * DEEP + "]").encode(),
        "nests arrays or objects too deeply",
        key="f.json",
        file_format="json",
    ),
    Case(
        "ndjson line nested 100,000 levels",
        ('{"a": ' * DEEP + "1" + "}" * DEEP + "\n").encode(),
        "nests arrays or objects too deeply",
        key="f.ndjson",
        file_format="ndjson",
    ),
    Case(
        "a header of 100,000 columns",
        csv(",".join(["profile_id", *WIDE]) + "\np1" + "," * len(WIDE) + "\n"),
        records=1,
    ),
    Case(
        "a name repeated among 100,000 columns",
        csv(",".join(["profile_id", *WIDE, "extra5"]) + "\np1" + "," * (len(WIDE) + 1) + "\n"),
        "repeats the column name(s) 'extra5'",
    ),
    Case(
        "gzip of blank lines, 1,000 times its size",
        gzip.compress(csv(H + OK_ROW) + b"\n" * 2_000_000, 9),
        "times a file's compressed size",
        key="blank.csv.gz",
    ),
    Case("truncated gzip", gzip.compress(csv(H + OK_ROW * 50))[:40], "gzip", key="f.csv.gz"),
    Case(
        "gzip bomb",
        gzip.compress(csv(H + OK_ROW) + b"\n" * 5_000_000),
        "decompresses to more than",
        key="bomb.csv.gz",
    ),
    Case(".gz name without gzip data", csv(H + OK_ROW), "gzip", key="plain.csv.gz"),
    Case("gzip fine", gzip.compress(csv(H + OK_ROW)), records=1, key="ok.csv.gz"),
    Case("key with spaces", csv(H + OK_ROW), records=1, key="my file (1).csv"),
    Case("unicode key", csv(H + OK_ROW), records=1, key="données-été-数据.csv"),
    Case("plus in key", csv(H + OK_ROW), records=1, key="a+b.csv"),
    Case("percent in key", csv(H + OK_ROW), records=1, key="100%25 done%.csv"),
    Case("very long key", csv(H + OK_ROW), records=1, key=("k" * 200) + ".csv"),
    Case("key in a sub-directory", csv(H + OK_ROW), records=1, key="2026/11/24/f.csv"),
    Case("invalid date", csv("profile_id,birth_date\np1,2026-02-30\n"), "invalid"),
    Case("crlf line endings", csv((H + OK_ROW).replace("\n", "\r\n")), records=1),
]


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_bad_file_is_explained_routed_and_leaves_nothing_half_written(
    case: Case, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any, settings: Any
) -> None:
    settings.INGEST_MAX_DECOMPRESSED_BYTES = 1024 * 1024
    settings.INGEST_DECOMPRESSION_FLOOR_BYTES = 256 * 1024  # the ratio's limit within that
    mapping = {
        "profile_id": "profile_id",
        "first_name": "first_name",
        "last_name": "last_name",
        "email": "email",
        "loyalty_points": "loyalty_points",
        "birth_date": "birth_date",
    }
    connector = make_connector(
        alice, bucket=bucket, endpoint=s3_endpoint, mapping=mapping, file_format=case.file_format
    )
    if case.name == "10 MB single field":
        connector.entity_type.fields.filter(name="first_name").update(max_length=100)
    source_key = f"incoming/{case.key}"
    put(s3_client, bucket, source_key, case.body)

    run = inline.run_inline(runs.start_run(connector, trigger="manual"))
    source_file = SourceFile.objects.get(run=run)
    page = _run_page(alice, run.get_absolute_url())

    everything = keys(s3_client, bucket)
    if case.reason:
        assert source_file.outcome == "failed", source_file.failure_reason[:500]
        reason = source_file.failure_reason + " ".join(
            e.reason for e in source_file.row_errors.all()
        )
        assert case.reason.lower() in reason.lower(), reason[:500]
        assert _escaped(source_file.failure_reason[:40]) in page
        assert everything == sorted([f"failed/{case.key}", f"failed/{case.key}.errors.txt"])
        assert Record.objects.count() == 0
    else:
        assert source_file.outcome == "succeeded", source_file.failure_reason
        assert everything == [f"done/{case.key}"]
        assert Record.objects.count() == case.records
    record("bad_input_cases", case.name, outcome=source_file.outcome)


def _run_page(user: Any, url: str) -> str:
    client = Client()
    client.force_login(user)
    return client.get(url).content.decode()


def _escaped(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


def test_a_directory_marker_is_never_taken_as_a_file(alice, bucket, s3_endpoint, s3_client) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/", b"")
    put(s3_client, bucket, "incoming/empty-dir/", b"")
    run = inline.run_inline(runs.start_run(connector, trigger="manual"))
    assert run.files_seen == 0 and run.status == "succeeded"
    assert keys(s3_client, bucket) == ["incoming/", "incoming/empty-dir/"]
    record("bad_input_cases", "directory markers", outcome="skipped")


def test_json_cases_are_real_json_where_they_should_be() -> None:
    json.loads(next(c for c in CASES if c.name == "json fine").body)
