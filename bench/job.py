"""One measured job, run in a fresh process so its peak memory is its own.

python -m bench.job <name> '<json args>'   ->  prints one JSON line with the result
"""

import csv
import io
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
django.setup()

import boto3  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from connectors import crypto  # noqa: E402
from connectors import services as connector_services  # noqa: E402
from connectors.models import Connector  # noqa: E402
from entities.models import EntityAccess, EntityField, EntityRight, EntityType, Record  # noqa: E402
from ingest import ingestion, inline, runs  # noqa: E402
from ingest.models import FileState, Run, SourceFile  # noqa: E402

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FIELDS = [
    ("customer_id", "text", True),
    ("first_name", "text", False),
    ("last_name", "text", False),
    ("email", "email", False),
    ("phone", "phone", False),
    ("city", "text", False),
    ("country", "text", False),
    ("signup_date", "date", False),
    ("score", "integer", False),
    ("balance", "decimal", False),
]


def peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM). Not ru_maxrss: Linux carries that across
    exec, so a job would report the size of the bench process that started it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def entity() -> EntityType:
    bench, created = EntityType.objects.get_or_create(
        name="Bench customer", defaults={"category": "custom"}
    )
    if created:
        for position, (name, field_type, unique) in enumerate(FIELDS):
            EntityField.objects.create(
                entity_type=bench,
                name=name,
                field_type=field_type,
                is_unique_identifier=unique,
                position=position,
            )
    return bench


def setup(args: dict[str, Any]) -> dict[str, Any]:
    call_command("migrate", verbosity=0)
    bench, _ = User.objects.get_or_create(username="bench")
    EntityAccess.objects.update_or_create(
        entity_type=entity(), user=bench, defaults={"level": EntityRight.DELETE}
    )
    return {}


def connector(args: dict[str, Any]) -> dict[str, Any]:
    """Create (or replace) a connector named args['name'] over args['prefix']."""
    Connector.objects.filter(name=args["name"]).delete()
    bench = entity()
    prefix = args["prefix"]
    saved = connector_services.save_connector(
        owner=User.objects.get(username="bench"),
        connector=None,
        entity_type=bench,
        entity_settings={
            "integration_type": "upsert",
            "file_format": "csv",
            "csv_delimiter": ",",
            "file_pattern": args.get("pattern", ""),
            "error_tolerance": "0",
            "sync_delete_limit_percent": 10,
            "field_mapping": {name: name for name, _, _ in FIELDS},
            "schedule_active": False,
            "poll_interval_minutes": 30,
        },
        source={"entity_source": "s3", "name": args["name"], "description": ""},
        source_settings={
            "bucket": args["bucket"],
            "auth_type": "access_key",
            "access_key_id": KEY_ID,
            "access_key_secret": crypto.encrypt(SECRET),
            "iam_role_arn": "",
            "region": "",
            "endpoint_url": args["endpoint"],
            "source_path": f"{prefix}incoming/",
            "success_path": f"{prefix}done/",
            "failed_path": f"{prefix}failed/",
        },
    )
    return {"connector_id": saved.pk}


def reset_records(args: dict[str, Any]) -> dict[str, Any]:
    """Empty the records and the ledger. On PostgreSQL the records table is truncated, so each
    measurement starts from a table as new as the first one's (a DELETE leaves a million dead
    rows and their index entries for the next load to step over)."""
    entity()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {Record._meta.db_table}")
        else:
            Record.objects.all().delete()
        SourceFile.objects.all().delete()
        Run.objects.all().delete()
    return {}


def ingest(args: dict[str, Any]) -> dict[str, Any]:
    """Our whole path: list, download, parse, validate, write, move (set up as the
    run_connector command sets itself up)."""
    from ingest.runtime import tune_garbage_collector

    target = Connector.objects.get(pk=args["connector_id"])
    tune_garbage_collector()
    started, cpu_started = time.perf_counter(), time.process_time()
    with _profiled(f"{target.name}-{connection.vendor}"):
        run = inline.run_inline(
            runs.start_run(target, trigger="command"), parallel=args.get("parallel", 1)
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    rows = run.records_created + run.records_updated
    if run.status != args.get("expect", "succeeded"):
        raise SystemExit(f"run {run.pk} ended {run.status}: {run.error} {run.notes[:3]}")
    moved = SourceFile.objects.filter(run=run, state=FileState.MOVED).count()
    return {
        "seconds": elapsed,
        "cpu_seconds": round(cpu, 2),  # this process's, all threads
        "rows": rows,
        "files": run.files_seen,
        "moved": moved,
        "status": run.status,
        "keys_listed": run.keys_listed,
        "notes": run.notes[:3],
        "failures": list(
            SourceFile.objects.filter(run=run)
            .exclude(failure_reason="")
            .values_list("failure_reason", flat=True)[:3]
        ),
    }


@contextmanager
def _profiled(label: str) -> Iterator[None]:
    """With BENCH_PROFILE=1, sample the job with pyinstrument and keep the call tree in
    bench/results/profile-<label>.txt (the profiler slows the job: figures are not kept)."""
    if not os.environ.get("BENCH_PROFILE"):
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.005)
    with profiler:
        yield
    out = Path(__file__).resolve().parent / "results" / f"profile-{label}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(profiler.output_text(unicode=False, show_all=False))


def _stream_rows(endpoint: str, bucket: str, key: str) -> Any:
    body = s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"]
    return csv.DictReader(io.TextIOWrapper(body, encoding="utf-8", newline=""))


def naive(args: dict[str, Any]) -> dict[str, Any]:
    """Baseline: one ORM update_or_create per row."""
    bench = entity()
    started = time.perf_counter()
    count = 0
    for row in _stream_rows(args["endpoint"], args["bucket"], args["key"]):
        Record.objects.update_or_create(
            entity_type=bench, external_id=row["customer_id"], defaults={"data": row}
        )
        count += 1
        if count >= args["limit"]:
            break
    return {"seconds": time.perf_counter() - started, "rows": count}


def bulk(args: dict[str, Any]) -> dict[str, Any]:
    """Baseline: bulk_create(update_conflicts=True) in batches of 5,000."""
    bench = entity()
    started = time.perf_counter()
    count = 0
    batch: list[Record] = []
    for row in _stream_rows(args["endpoint"], args["bucket"], args["key"]):
        batch.append(Record(entity_type=bench, external_id=row["customer_id"], data=row))
        if len(batch) >= 5000:
            count += _flush(batch)
            batch = []
    count += _flush(batch)
    return {"seconds": time.perf_counter() - started, "rows": count}


def _flush(batch: list[Record]) -> int:
    if batch:
        Record.objects.bulk_create(
            batch,
            update_conflicts=True,
            unique_fields=["entity_type", "external_id"],
            update_fields=["data", "updated_at"],
        )
    return len(batch)


def copy_ceiling(args: dict[str, Any]) -> dict[str, Any]:
    """Not a loader a user would pick but the bound of any: PostgreSQL alone taking workload 1's
    records, already in COPY's format (made untimed from the local CSV by our own cleaner), into
    the same table, in one transaction. No download, parsing, validation or ledger."""
    import tempfile

    from ingest.parsers import PlainBlock, iter_rows
    from ingest.writing.compiled import block_cleaner
    from ingest.writing.plan import plan_for
    from ingest.writing.postgres import PostgresStatements

    if connection.vendor != "postgresql":
        raise SystemExit("the COPY ceiling is measured on PostgreSQL only")
    config = ingestion.ingest_config(Connector.objects.get(name="million"), file_id=0)
    plan, statements = plan_for(config), PostgresStatements(config, timezone.now())
    with tempfile.TemporaryFile("w+") as text, open(args["path"], "rb") as source:
        rows = 0
        for block in iter_rows(source, file_format="csv", plain_blocks=True):
            assert isinstance(block, PlainBlock) and block.clean
            clean = block_cleaner(plan, block.header, True, True)
            assert clean is not None
            out: list[Any] = []
            assert clean(block.rows, 0, len(block.rows), block.first_line, out) == len(block.rows)
            text.write(statements.copy_text(out))
            rows += len(out)
        text.seek(0)
        started = time.perf_counter()
        statement = statements.COPY.format(**statements.names)  # the writer's own COPY
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(statement) as copy,
        ):
            while chunk := text.read(1024 * 1024):
                copy.write(chunk)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows}


def list_all(args: dict[str, Any]) -> dict[str, Any]:
    """Baseline for the listing: collect every key in memory, as a simple poller would."""
    started = time.perf_counter()
    paginator = s3(args["endpoint"]).get_paginator("list_objects_v2")
    everything = [
        item
        for page in paginator.paginate(Bucket=args["bucket"], Prefix=args["prefix"])
        for item in page.get("Contents", [])
    ]
    return {"seconds": time.perf_counter() - started, "keys": len(everything)}


def hostile(args: dict[str, Any]) -> dict[str, Any]:
    """Workload 6, the parser alone: a 100,000-column header (ours, then csv.reader) and a gzip
    bomb of blank lines read until it fails (ours, then zlib alone up to the same bytes)."""
    from ingest.runtime import tune_garbage_collector

    tune_garbage_collector()
    return {"header": _wide_header(Path(args["header"])), "bomb": _bomb(Path(args["bomb"]))}


def _wide_header(path: Path) -> dict[str, Any]:
    from ingest.parsers import iter_rows

    with path.open("rb") as body:
        started = time.perf_counter()
        first = next(iter_rows(body, file_format="csv", plain_blocks=True))
        ours = time.perf_counter() - started
    with path.open(newline="", encoding="utf-8") as text:
        started = time.perf_counter()
        columns = len(next(csv.reader(text)))
        baseline = time.perf_counter() - started
    return {
        "columns": columns,
        "ours_seconds": ours,
        "csv_reader_seconds": baseline,
        "first_item": type(first).__name__,
    }


def _bomb(path: Path) -> dict[str, Any]:
    """Ours: decompress, decode and split the lines until the limit fails the file (or the
    file ends); zlib: decompress the same bytes up to the same count, nothing else."""
    import zlib

    from ingest.parsers import iter_rows
    from ingest.types import FileFailed

    size = path.stat().st_size
    limit = ingestion.decompression_limit(size)  # the limit a run sets for a file this size
    started = time.perf_counter()
    failure = ""
    with path.open("rb") as body:
        try:
            for _ in iter_rows(
                body,
                file_format="csv",
                key=path.name,
                decompression_limit=limit,
                plain_blocks=True,
            ):
                pass
        except FileFailed as exc:
            failure = str(exc)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    inflater, produced, pending = zlib.decompressobj(wbits=47), 0, path.read_bytes()
    while produced <= limit.max_bytes and not inflater.eof:  # the bomb is a whole gzip
        produced += len(inflater.decompress(pending, 256 * 1024))
        pending = inflater.unconsumed_tail
    baseline = time.perf_counter() - started
    return {
        "compressed_bytes": size,
        "limit_bytes": limit.max_bytes,
        "decompressed_bytes": produced,
        "ours_seconds": ours,
        "zlib_seconds": baseline,
        "failure": failure,
    }


def start_run(args: dict[str, Any]) -> dict[str, Any]:
    from ingest import tasks

    target = Connector.objects.get(pk=args["connector_id"])
    run = runs.start_run(target, trigger="manual")
    tasks.run_connector.delay(run.pk)
    return {"run_id": run.pk}


def wait_run(args: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + args.get("timeout", 1800)
    while time.monotonic() < deadline:
        done = Run.objects.filter(pk=args["run_id"], finished_at__isnull=False).exists()
        pending = SourceFile.objects.exclude(state__in=[FileState.MOVED]).count()
        if done and pending == 0:
            break
        time.sleep(0.2)
        connection.close()
    run = Run.objects.get(pk=args["run_id"])
    return {
        "status": run.status,
        "files": SourceFile.objects.count(),
        "moved": SourceFile.objects.filter(state=FileState.MOVED).count(),
        "succeeded": run.files_succeeded,
        "records": Record.objects.count(),
        "seconds": (run.finished_at - run.started_at).total_seconds(),
    }


JOBS = {
    f.__name__: f
    for f in (
        setup,
        connector,
        reset_records,
        ingest,
        naive,
        bulk,
        copy_ceiling,
        list_all,
        hostile,
        start_run,
        wait_run,
    )
}

if __name__ == "__main__":
    result = JOBS[sys.argv[1]](json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result, default=str))
