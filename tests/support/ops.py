"""Operators' endpoints in tests: a port nothing listens on, the database pointed at nothing,
and /metrics scraped and parsed."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "test-metrics-token-0123456789abcdef"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database_unreachable(port: int) -> Iterator[None]:
    """New connections to the default database (those of other threads, such as the health
    check's) reach nothing: PostgreSQL at a closed port, SQLite at a file that cannot be
    opened. The test's own connection, already open, is untouched."""
    settings_dict = connections["default"].settings_dict
    saved = dict(settings_dict)
    if connections["default"].vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-loadbay-dir/db.sqlite3"
    else:
        settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    try:
        yield
    finally:
        settings_dict.clear()
        settings_dict.update(saved)


def scrape(token: str | None = METRICS_TOKEN) -> Any:
    """GET /metrics with the token (none: no Authorization header)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client().get("/metrics", headers=headers)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, metric: str, **labels: str) -> float | None:
    """One sample's value, None if absent."""
    return samples(text).get((metric, frozenset(labels.items())))
