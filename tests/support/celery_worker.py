"""A real Celery worker process for the integration tier (Redis broker, PostgreSQL)."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def integration_env(moto_url: str) -> dict[str, str]:
    """The worker sees the test database, the test broker and moto."""
    if connection.vendor != "postgresql":
        raise RuntimeError(
            "The integration tier needs PostgreSQL: run it through `make test` or set "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/loadbay."
        )
    if not settings.REDIS_URL:
        raise RuntimeError("The integration tier needs Redis: set REDIS_URL (make test does).")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "S3_ALLOWED_ENDPOINTS": moto_url,
        "LOADBAY_STS_ENDPOINT_URL": moto_url,
        "PYTHONUNBUFFERED": "1",
    }


def flush_broker() -> None:
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@contextmanager
def celery_worker(
    moto_url: str,
    *,
    name: str = "w1",
    concurrency: int = 2,
    log: Path | None = None,
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `celery worker`; wait until it answers a ping; stop it afterwards."""
    env = {**integration_env(moto_url), **(extra_env or {})}
    log_path = log or Path(f"/tmp/loadbay-worker-{name}-{os.getpid()}.log")
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "info",
                "-c",
                str(concurrency),
                "-P",
                pool,
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, f"{name}@", log_path)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], name: str, log_path: Path) -> None:
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"celery worker exited; see {log_path}:\n{log_path.read_text()[-3000:]}"
            )
        replies = app.control.ping(timeout=0.5) or []
        if any(name in next(iter(reply)) for reply in replies):
            return
    raise RuntimeError(f"celery worker did not become ready; see {log_path}")


def wait_for(condition: Callable[[], bool], *, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
