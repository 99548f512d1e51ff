"""`make bench`: the project against the baselines users would pick, on the same data, in one
run, as ratios. Writes bench/results/latest.json and prints a table.

Knobs (environment): BENCH_ROWS (1,000,000), BENCH_MILLION_ROUNDS (3), BENCH_NAIVE_ROWS (20,000),
BENCH_BIG_GB (2),
BENCH_SMALL_FILES (1,000), BENCH_SMALL_ROUNDS (5), BENCH_LIST_KEYS (200,000),
BENCH_WORKER_FILES (200), BENCH_WIDE_COLUMNS (100,000), BENCH_BOMB_KB (300),
BENCH_PG (postgres://postgres@127.0.0.1:5432/loadbay_bench), BENCH_REDIS (redis://127.0.0.1:6379/13),
BENCH_ONLY (comma-separated workload numbers, e.g. "1,3").
"""

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig

from tests.support.moto_server import moto_server

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
BUCKET = "bench"
HEADER = "customer_id,first_name,last_name,email,phone,city,country,signup_date,score,balance\n"
CITIES = ["Lisbon", "Oslo", "Lima", "Osaka", "Accra", "Quito", "Perth", "Turin"]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def rows_text(start: int, count: int) -> str:
    rnd = random.Random(start)
    return "".join(
        f"C{i:09d},First{i % 9973},Last{i % 7919},user{i}@example.com,+1 555 {i % 10000:04d},"
        f"{CITIES[i % 8]},PT,20{10 + i % 15:02d}-0{1 + i % 9}-1{i % 9},{rnd.randint(0, 999)},"
        f"{rnd.randint(0, 99999)}.{i % 100:02d}\n"
        for i in range(start, start + count)
    )


def small_file(i: int) -> bytes:
    """About 1 KB: a header and the file's own records (files that all updated the same
    records would queue on their row locks, one file at a time, by design)."""
    text = (HEADER + rows_text(i * 10, 10)).encode()[:1024]
    return text[: text.rfind(b"\n") + 1]


def write_csv(path: Path, *, rows: int = 0, target_bytes: int = 0) -> int:
    """Stream a CSV to disk in chunks; returns the row count."""
    written = 0
    with path.open("w") as out:
        out.write(HEADER)
        while (rows and written < rows) or (target_bytes and out.tell() < target_bytes):
            chunk = min(50_000, rows - written) if rows else 50_000
            out.write(rows_text(written, chunk))
            written += chunk
    return written


def write_blank_line_bomb(path: Path, header: str, compressed_bytes: int) -> None:
    """A gzip (level 9) of a header row, then blank lines until it is about `compressed_bytes`
    long: about 1,000 times that once decompressed."""
    block = b"\n" * (16 * 1024**2)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(packer.compress(header.encode()))
        while out.tell() < compressed_bytes:
            out.write(packer.compress(block))
        out.write(packer.flush())


def job(
    name: str, args: dict[str, Any], *, database: str, redis: str = "", root: Path = ROOT
) -> dict[str, Any]:
    """Run bench.job `name` in a process of its own, in the tree at `root`."""
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
    }
    if redis:
        env["REDIS_URL"] = redis
    else:
        env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "bench.job", name, json.dumps(args)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench job {name} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def upload(client: Any, path: Path, key: str) -> None:
    config = TransferConfig(multipart_threshold=64 * 1024**2, multipart_chunksize=64 * 1024**2)
    client.upload_file(str(path), BUCKET, key, Config=config)


def recreate_pg(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Bench:
    def __init__(self, endpoint: str, work: Path) -> None:
        self.endpoint = endpoint
        self.work = work
        self.client = s3(endpoint)
        self.pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/loadbay_bench")
        self.sqlite = f"sqlite:///{work / 'bench.sqlite3'}"
        self.redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/13")
        self.results: dict[str, Any] = {}

    def args(self, **extra: Any) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "bucket": BUCKET, **extra}

    def prepare_databases(self) -> None:
        recreate_pg(self.pg)
        for database in (self.pg, self.sqlite):
            job("setup", {}, database=database)

    def connector(self, database: str, name: str, prefix: str, **extra: Any) -> int:
        return job("connector", self.args(name=name, prefix=prefix, **extra), database=database)[
            "connector_id"
        ]

    # 1 ---------------------------------------------------------------------------------------
    def upsert_million(self) -> None:
        rows = env_int("BENCH_ROWS", 1_000_000)
        path = self.work / "million.csv"
        write_csv(path, rows=rows)
        upload(self.client, path, "data/million.csv")
        size_mb = path.stat().st_size / 1024**2
        out: dict[str, Any] = {"rows": rows, "file_mb": round(size_mb, 1)}
        for label, database in (("postgresql", self.pg), ("sqlite", self.sqlite)):
            connector_id = self.connector(database, "million", "w1/")
            rounds = []
            for _ in range(env_int("BENCH_MILLION_ROUNDS", 3)):
                job("reset_records", {}, database=database)
                upload(self.client, path, "w1/incoming/million.csv")
                rounds.append(job("ingest", {"connector_id": connector_id}, database=database))
            ours = {
                **sorted(rounds, key=lambda r: r["seconds"])[(len(rounds) - 1) // 2],  # median
                "rounds_seconds": [round(r["seconds"], 2) for r in rounds],
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
            }
            # The same file delivered again onto the last round's records: every row an update.
            upload(self.client, path, "w1/incoming/million.csv")
            again = job("ingest", {"connector_id": connector_id}, database=database)
            job("reset_records", {}, database=database)
            bulk = job("bulk", self.args(key="data/million.csv"), database=database)
            job("reset_records", {}, database=database)
            naive = job(
                "naive",
                self.args(key="data/million.csv", limit=env_int("BENCH_NAIVE_ROWS", 20_000)),
                database=database,
            )
            out[label] = {
                "ours": ours,
                "ours_again": again,
                "bulk_create": bulk,
                "update_or_create": naive,
            }
            if label == "postgresql":
                job("reset_records", {}, database=database)
                out[label]["copy_ceiling"] = job(
                    "copy_ceiling", {"path": str(path)}, database=database
                )
        path.unlink()
        self.results["1_upsert_million"] = out

    # 2 ---------------------------------------------------------------------------------------
    def big_file(self) -> None:
        gigabytes = env_float("BENCH_BIG_GB", 2)
        path = self.work / "big.csv"
        rows = write_csv(path, target_bytes=int(gigabytes * 1024**3))
        upload(self.client, path, "w2/incoming/big.csv")
        size_mb = path.stat().st_size / 1024**2
        path.unlink()
        connector_id = self.connector(self.pg, "big", "w2/")
        job("reset_records", {}, database=self.pg)
        ours = job("ingest", {"connector_id": connector_id}, database=self.pg)
        self.results["2_big_file"] = {"file_mb": round(size_mb), "rows": rows, "ours": ours}

    # 3 ---------------------------------------------------------------------------------------
    def small_files(self) -> None:
        """Rounds of ours and the CLI on fresh copies of the same files, taking turns at going
        first: the two are close, and this machine's speed drifts by more than the gap."""
        count = env_int("BENCH_SMALL_FILES", 1000)
        rounds = []
        for number in range(env_int("BENCH_SMALL_ROUNDS", 5)):
            ours_prefix, cli_prefix = f"w3-{number}/", f"cli-{number}/"
            self.put_small_files(count, [f"{ours_prefix}incoming/", f"{cli_prefix}src/"])
            connector_id = self.connector(self.pg, f"small-{number}", ours_prefix)
            job("reset_records", {}, database=self.pg)
            parallel = env_int("BENCH_SMALL_PARALLEL", 4)
            args = {"connector_id": connector_id, "parallel": parallel}
            first = "ours" if number % 2 == 0 else "cli"
            if first == "cli":
                cli = self.aws_cli_move(cli_prefix)
            ours = job("ingest", args, database=self.pg)
            if first == "ours":
                cli = self.aws_cli_move(cli_prefix)
            rounds.append({"first": first, "ours": ours, "aws_s3_mv": cli})
        self.results["3_small_files"] = {
            "files": count,
            "file_bytes": len(small_file(0)),
            "rounds": rounds,
        }

    def put_small_files(self, count: int, prefixes: list[str]) -> None:
        def put(i: int) -> None:
            for prefix in prefixes:
                key = f"{prefix}f{i:05d}.csv"
                self.client.put_object(Bucket=BUCKET, Key=key, Body=small_file(i))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put, range(count)))

    def aws_cli_move(self, prefix: str) -> dict[str, Any]:
        aws = os.environ.get("BENCH_AWS_CLI", str(ROOT / "bench" / ".venv-awscli" / "bin" / "aws"))
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        started = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [
                aws,
                "s3",
                "mv",
                "--recursive",
                "--only-show-errors",
                f"s3://{BUCKET}/{prefix}src/",
                f"s3://{BUCKET}/{prefix}dst/",
                "--endpoint-url",
                self.endpoint,
            ],
            env=env,
            check=True,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        return {"seconds": seconds, "cpu_seconds": round(cpu, 2)}

    # 4 ---------------------------------------------------------------------------------------
    def many_keys(self) -> None:
        count = env_int("BENCH_LIST_KEYS", 200_000)

        # A bucket of its own: moto's listing cost grows with every key in the bucket, and
        # these would slow the workloads after this one.
        bucket = f"{BUCKET}-listing"
        self.client.create_bucket(Bucket=bucket)

        def put(i: int) -> None:
            self.client.put_object(Bucket=bucket, Key=f"w4/incoming/k{i:07d}.tmp", Body=b"x")

        started = time.perf_counter()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(count)))
        seed_seconds = time.perf_counter() - started
        connector_id = self.connector(self.pg, "many", "w4/", pattern="*.csv", bucket=bucket)
        ours = job("ingest", {"connector_id": connector_id}, database=self.pg)
        baseline = job(
            "list_all", self.args(prefix="w4/incoming/", bucket=bucket), database=self.pg
        )
        self.results["4_listing"] = {
            "keys": count,
            "seed_seconds": round(seed_seconds, 1),
            "ours": ours,
            "list_into_memory": baseline,
        }

    # 5 ---------------------------------------------------------------------------------------
    def two_workers(self) -> None:
        files = env_int("BENCH_WORKER_FILES", 200)
        out: dict[str, Any] = {"files": files, "rows_per_file": 2000}
        for workers in (1, 2):
            prefix = f"w5-{workers}/"
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda i, p=prefix: self.client.put_object(
                            Bucket=BUCKET,
                            Key=f"{p}incoming/f{i:04d}.csv",
                            Body=(HEADER + rows_text(i * 2000, 2000)).encode(),
                        ),
                        range(files),
                    )
                )
            connector_id = self.connector(self.pg, f"workers-{workers}", prefix)
            job("reset_records", {}, database=self.pg)
            with self.celery_workers(workers):
                run = job(
                    "start_run", {"connector_id": connector_id}, database=self.pg, redis=self.redis
                )
                out[f"{workers}_worker"] = job("wait_run", run, database=self.pg, redis=self.redis)
        self.results["5_workers"] = out

    # 6 ---------------------------------------------------------------------------------------
    def hostile_shapes(self) -> None:
        """Files shaped to cost a worker time: a 100,000-column header, and a ~300 KB gzip of
        blank lines. The parser alone next to the least any reader must do (csv.reader of the
        header; zlib decompressing the bomb up to where ours stops), then a whole run of each."""
        columns = env_int("BENCH_WIDE_COLUMNS", 100_000)
        header = self.work / "wide.csv"
        names = ["customer_id", *(f"c{i}" for i in range(1, columns))]
        header.write_text(",".join(names) + "\n" + "C1" + "," * (columns - 1) + "\n")
        bomb = self.work / "bomb.csv.gz"
        write_blank_line_bomb(bomb, HEADER, env_int("BENCH_BOMB_KB", 300) * 1024)
        upload(self.client, header, "w6h/incoming/wide.csv")
        upload(self.client, bomb, "w6b/incoming/bomb.csv.gz")
        parser = job("hostile", {"header": str(header), "bomb": str(bomb)}, database=self.pg)
        wide = self.connector(self.pg, "wide", "w6h/")
        bombed = self.connector(self.pg, "bomb", "w6b/")
        job("reset_records", {}, database=self.pg)
        runs = {
            "header": job("ingest", {"connector_id": wide}, database=self.pg),
            "bomb": job(
                "ingest",
                {"connector_id": bombed, "expect": os.environ.get("BENCH_BOMB_EXPECT", "partial")},
                database=self.pg,
            ),
        }
        header.unlink()
        bomb.unlink()
        self.results["6_hostile_shapes"] = {"parser": parser, "runs": runs}

    @contextmanager
    def celery_workers(self, count: int) -> Iterator[None]:
        import redis

        redis.Redis.from_url(self.redis).flushdb()
        env = {
            **os.environ,
            "DATABASE_URL": self.pg,
            "REDIS_URL": self.redis,
            "S3_ALLOWED_ENDPOINTS": self.endpoint,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
        }
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-c",
                    "1",
                    "-n",
                    f"bench{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "-l",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(count)
        ]
        try:
            time.sleep(4)
            yield
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def main() -> None:
    only = {w.strip() for w in os.environ.get("BENCH_ONLY", "1,2,3,4,5,6").split(",")}
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="loadbay-bench-"))
    try:
        with moto_server() as endpoint:
            os.environ["S3_ALLOWED_ENDPOINTS"] = endpoint  # for every job process
            bench = Bench(endpoint, work)
            bench.client.create_bucket(Bucket=BUCKET)
            bench.prepare_databases()
            steps = {
                "1": bench.upsert_million,
                "2": bench.big_file,
                "3": bench.small_files,
                "4": bench.many_keys,
                "5": bench.two_workers,
                "6": bench.hostile_shapes,
            }
            for number, step in steps.items():
                if number in only:
                    print(f"running workload {number}...", flush=True)
                    step()
                    # Written after every workload, so a late failure keeps the earlier figures.
                    (RESULTS / "latest.json").write_text(json.dumps(bench.results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from bench.report import table

    print(table(json.loads((RESULTS / "latest.json").read_text())))


if __name__ == "__main__":
    main()
