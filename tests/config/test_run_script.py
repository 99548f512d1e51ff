"""`make run`'s script stops every process it started, promptly and quietly."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.moto_server import free_port

ROOT = Path(__file__).resolve().parents[2]
STOP_LIMIT_SECONDS = 10


def script_env(var: Path, web_port: int, s3_port: int) -> dict[str, str]:
    """What `make run` writes to .env, with ports and local state of the test's own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_", "REDIS_", "S3_", "LOADBAY_", "CELERY_"))
    }
    return {
        **env,
        "DEBUG": "true",
        "SECRET_KEY": "run-script-test-secret-key-0123456789",
        "LOADBAY_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "LOADBAY_DEMO": "true",
        "LOADBAY_DEMO_S3_URL": f"http://127.0.0.1:{s3_port}",
        "LOADBAY_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'loadbay.sqlite3'}",
        "REDIS_URL": "",
        "RUN_ADDRESS": f"127.0.0.1:{web_port}",
    }


def wait_for_page(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the script exited before the app answered"
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 (http://127.0.0.1)
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (services in sessions of their own included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.integration
@pytest.mark.parametrize(
    "how", ["ctrl-c on the terminal", "sigterm to the script"], ids=["ctrl-c", "sigterm"]
)
def test_stopping_make_run_stops_every_process_with_one_line(tmp_path: Path, how: str) -> None:
    web_port, s3_port = free_port(), free_port()
    output = tmp_path / "output.txt"
    with output.open("wb") as out:
        script = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=script_env(tmp_path / "var", web_port, s3_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal gives `make run`
        )
    try:
        wait_for_page(f"http://127.0.0.1:{web_port}/accounts/login/", script)
        time.sleep(3)  # the worker's pool processes are up too
        started = descendants(script.pid)
        assert len(started) >= 4, started  # web server, worker (and its pool), beat, demo S3
        before = output.read_bytes()
        stop_at = time.monotonic()
        if how == "ctrl-c on the terminal":
            os.killpg(script.pid, signal.SIGINT)  # the terminal signals the foreground group
        else:
            script.send_signal(signal.SIGTERM)
        script.wait(timeout=STOP_LIMIT_SECONDS)
        while any(is_alive(pid) for pid in started) and time.monotonic() - stop_at < 15:
            time.sleep(0.1)
        took = time.monotonic() - stop_at
    finally:
        for pid in descendants(script.pid) | {script.pid}:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    left = sorted(pid for pid in started if is_alive(pid))
    assert not left, f"still running: {left}"
    assert took < STOP_LIMIT_SECONDS, f"stopping took {took:.1f} s"
    assert script.returncode == 0
    said = output.read_bytes()[len(before) :].decode().splitlines()
    assert said == ["Loadbay stopped (web server, worker, beat, demo S3 endpoint)."], said
    worker_log = (tmp_path / "var" / "log" / "worker.log").read_text()
    assert worker_log.count("Warm shutdown") <= 1, "the worker was told to stop more than once"
    print(f"{how}: {len(started)} processes stopped in {took:.1f} s", file=sys.stderr)
