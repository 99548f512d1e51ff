"""Fixtures of the alerts tests: Celery tasks run at once (retries too, without waiting),
on-commit callbacks run, a connector with a failed run, a resolver the tests control, and a
webhook receiver on loopback."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from alerts import targets
from config.celery import app
from ingest.models import Run, RunStatus
from tests.support.factories import make_connector
from tests.support.webhook_receiver import Receiver, webhook_receiver

BASE_URL = "https://loadbay.example.com"


@pytest.fixture(autouse=True)
def eager_tasks(settings: Any) -> Iterator[None]:
    """Tasks run in the test's thread, as .apply() does: a retry runs again at once (errors
    are not propagated, or Celery raises the retry instead of running it)."""
    settings.LOADBAY_BASE_URL = BASE_URL
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def connector(alice: Any) -> Any:
    """alice's connector (its bucket is never reached by these tests)."""
    return make_connector(alice, bucket="acme-data", endpoint="")


@pytest.fixture
def failed_run(connector: Any) -> Callable[..., Run]:
    """A run of the connector, finished as failed (as fail_run leaves it)."""

    def make(error: str = "Listing the source directory failed: AccessDenied") -> Run:
        return Run.objects.create(
            connector=connector,
            trigger="manual",
            status=RunStatus.FAILED,
            error=error,
            started_at=timezone.now(),
            listed_at=timezone.now(),
            finished_at=timezone.now(),
        )

    return make


@pytest.fixture
def resolves(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host name → the addresses it resolves to (anything else: not found)."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"no such host {host}")
        return table[host]

    monkeypatch.setattr(targets, "resolve", resolve)
    return table


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running
