"""Two commits taking turns at workloads 1 and 3 of `make bench`: whether a change lost speed.

    .venv/bin/python -m bench.ab OLD NEW [ROUNDS]      (make bench-ab OLD=... NEW=... ROUNDS=...)

Each commit is checked out into a temporary worktree and measured by its own `bench.job`
against its own PostgreSQL database, on the same moto server and the same files. Each round
measures both, taking turns at going first (old then new, then new then old, ...), so that a
drift of the machine's speed falls on both alike:
- workload 1: the million-row CSV upserted into an empty (truncated) records table;
- workload 3: 1,000 small files ingested and moved, four batches at a time.
Before every measurement the side's database is vacuumed and PostgreSQL checkpointed, so that
neither side pays for cleaning up after the other. Every round is printed and written to
bench/results/ab.json, with the medians and the verdict of issue 15's rule: the new median is
no slower than the old side's slowest round, for each workload.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.run import (
    BUCKET,
    RESULTS,
    ROOT,
    Bench,
    env_int,
    job,
    recreate_pg,
    upload,
    write_csv,
)
from tests.support.moto_server import moto_server

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/loadbay_bench")


@contextmanager
def checked_out(commit: str, into: Path) -> Iterator[Path]:
    """A worktree of `commit` that uses this checkout's virtualenv."""
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(into), commit], cwd=ROOT, check=True
    )
    try:
        (into / ".venv").symlink_to(ROOT / ".venv")
        yield into
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(into)], cwd=ROOT, check=False)


def short_sha(commit: str) -> str:
    named = ["git", "rev-parse", "--short", f"{commit}^{{commit}}"]
    return subprocess.run(
        named, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


class Side:
    """One commit's tree and database, and its measurements."""

    def __init__(self, label: str, commit: str, tree: Path, endpoint: str) -> None:
        self.label, self.commit, self.tree, self.endpoint = label, commit, tree, endpoint
        self.database = f"{PG.rsplit('/', 1)[0]}/loadbay_ab_{label}"
        self.million: list[dict[str, Any]] = []
        self.small: list[dict[str, Any]] = []

    def job(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return job(name, args, database=self.database, root=self.tree)
        except RuntimeError as exc:
            raise RuntimeError(f"{self.label} ({self.commit}): {exc}") from None

    def connector(self, name: str, prefix: str) -> int:
        args = {"endpoint": self.endpoint, "bucket": BUCKET, "name": name, "prefix": prefix}
        connector_id: int = self.job("connector", args)["connector_id"]
        return connector_id

    def prepare(self) -> None:
        recreate_pg(self.database)
        self.job("setup", {})
        self.million_id = self.connector("million", f"w1-{self.label}/")

    def quiet(self) -> None:
        """Vacuum this side's database and checkpoint the server: what the last measurement
        left to clean up is cleaned before this one starts."""
        import psycopg

        with psycopg.connect(self.database, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")


def measure_million(side: Side, bench: Bench, path: Path) -> dict[str, Any]:
    side.job("reset_records", {})
    upload(bench.client, path, f"w1-{side.label}/incoming/million.csv")
    side.quiet()
    result = side.job("ingest", {"connector_id": side.million_id})
    result["rows_per_second"] = result["rows"] / result["seconds"]
    return result


def measure_small(side: Side, number: int, prefix: str) -> dict[str, Any]:
    connector_id = side.connector(f"small-{number}", prefix)
    side.job("reset_records", {})
    side.quiet()
    parallel = env_int("BENCH_SMALL_PARALLEL", 4)
    return side.job("ingest", {"connector_id": connector_id, "parallel": parallel})


def run_rounds(sides: list[Side], bench: Bench, work: Path, rounds: int) -> None:
    path = work / "million.csv"
    write_csv(path, rows=env_int("BENCH_ROWS", 1_000_000))
    small_files = env_int("BENCH_SMALL_FILES", 1000)
    for number in range(rounds):
        order = sides if number % 2 == 0 else sides[::-1]
        for side in order:
            side.million.append(measure_million(side, bench, path))
            report_line(number, "workload 1", side, side.million[-1])
        prefixes = {side.label: f"w3-{side.label}-{number}/" for side in sides}
        bench.put_small_files(small_files, [f"{p}incoming/" for p in prefixes.values()])
        for side in order:
            side.small.append(measure_small(side, number, prefixes[side.label]))
            report_line(number, "workload 3", side, side.small[-1])


def report_line(number: int, workload: str, side: Side, result: dict[str, Any]) -> None:
    rate = f"{result['rows'] / result['seconds']:,.0f} rows/s"
    print(
        f"round {number + 1}, {workload}, {side.label} ({side.commit}): {result['seconds']:.2f} s,"
        f" {rate}, {result['files']} files, CPU {result['cpu_seconds']} s,"
        f" peak {result['peak_rss_mb']} MB",
        flush=True,
    )


def verdict(old: Side, new: Side) -> dict[str, Any]:
    """Issue 15's rule: the new median no lower than the old rounds' lowest."""
    out: dict[str, Any] = {}
    for workload in ("million", "small"):
        old_rates = [r["rows"] / r["seconds"] for r in getattr(old, workload)]
        new_rates = [r["rows"] / r["seconds"] for r in getattr(new, workload)]
        out[workload] = {
            "old_rows_per_second": [round(x) for x in old_rates],
            "new_rows_per_second": [round(x) for x in new_rates],
            "old_median": round(statistics.median(old_rates)),
            "new_median": round(statistics.median(new_rates)),
            "old_lowest": round(min(old_rates)),
            "holds": statistics.median(new_rates) >= min(old_rates),
        }
    return out


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    commits = {"old": short_sha(sys.argv[1]), "new": short_sha(sys.argv[2])}
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="loadbay-ab-"))
    try:
        with (
            moto_server() as endpoint,
            checked_out(commits["old"], work / "old") as old_tree,
            checked_out(commits["new"], work / "new") as new_tree,
        ):
            os.environ["S3_ALLOWED_ENDPOINTS"] = endpoint  # for every job process
            bench = Bench(endpoint, work)
            bench.client.create_bucket(Bucket=BUCKET)
            old = Side("old", commits["old"], old_tree, endpoint)
            new = Side("new", commits["new"], new_tree, endpoint)
            for side in (old, new):
                side.prepare()
            run_rounds([old, new], bench, work, rounds)
            result = {
                "commits": commits,
                "rounds": rounds,
                "verdict": verdict(old, new),
                "old": {"million": old.million, "small": old.small},
                "new": {"million": new.million, "small": new.small},
            }
            (RESULTS / "ab.json").write_text(json.dumps(result, indent=2))
            print(json.dumps(result["verdict"], indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
