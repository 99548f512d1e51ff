"""The integration tier: a real Celery worker on Redis, PostgreSQL, and moto over HTTP."""

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.celery_worker import celery_worker, flush_broker

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def worker(django_db_setup: Any, moto_url: str) -> Iterator[Any]:
    flush_broker()
    with celery_worker(moto_url, name="w1") as process:
        yield process


def wait_for(condition: Callable[[], bool], *, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
