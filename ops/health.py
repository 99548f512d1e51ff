"""/healthz: whether the database and the Celery broker answer, by django-health-check's checks.

The checks are the library's own: `health_check.checks.Database` (SELECT 1 on a new
connection) and, for a Redis broker, `health_check.contrib.redis.Redis` (a PING), both run by
the library's `HealthCheck.get_result` (its time limit, its logging, its error messages). Two
things the library does not do, and this module does:

- Loadbay's broker without REDIS_URL is kombu's filesystem transport (`make run` needs no
  server); the library has no check for it, so `FilesystemBroker` (a `HealthCheck` of the
  library's kind) checks that its folders are there and writable.
- The library's view answers 500 and shows every check's repr (host, port, database) and
  error to anyone. Loadbay answers 503 naming what is down, and shows the details only to
  signed-in staff: anonymous callers (load balancers, uptime robots) learn up or down per
  component and nothing else.
"""

import asyncio
import dataclasses
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings
from health_check.base import HealthCheck, HealthCheckResult
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from redis.asyncio import Redis as RedisClient

# Seconds the broker check waits for Redis to connect and answer.
BROKER_TIMEOUT_SECONDS = 2


@dataclasses.dataclass
class FilesystemBroker(HealthCheck):
    """kombu's filesystem transport: its folders exist and this process may write to them."""

    folders: tuple[str, ...] = ()

    def run(self) -> None:
        for folder in self.folders:
            if not os.path.isdir(folder):
                raise ServiceUnavailable("A broker folder is missing.")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ServiceUnavailable("A broker folder is not writable.")


def broker_check() -> HealthCheck:
    """The check for the broker Celery uses (settings.CELERY_BROKER_URL)."""
    url = settings.CELERY_BROKER_URL
    if urlsplit(url).scheme == "filesystem":
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        names = ("data_folder_in", "data_folder_out", "control_folder")
        return FilesystemBroker(folders=tuple(str(options[n]) for n in names if n in options))

    def client() -> RedisClient:
        return RedisClient.from_url(
            url,
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
        )

    return Redis(client_factory=client)


def components() -> dict[str, HealthCheck]:
    """What /healthz checks, by the name it reports."""
    return {"database": Database(alias="default"), "broker": broker_check()}


async def run_checks(checks: Mapping[str, HealthCheck]) -> dict[str, HealthCheckResult]:
    """Run the checks at once (each within its own time limit), by name."""
    results = await asyncio.gather(*(check.get_result() for check in checks.values()))
    return dict(zip(checks, results, strict=True))


def report(
    results: Mapping[str, HealthCheckResult], *, details: bool
) -> tuple[int, dict[str, object]]:
    """The HTTP status and JSON body for the checks' results: 200 when every component is up,
    503 naming those down. `details` (staff only) adds each check's target and error."""
    down = [name for name, result in results.items() if result.error is not None]
    body: dict[str, object] = {
        "status": "down" if down else "up",
        "components": {
            name: "down" if result.error is not None else "up" for name, result in results.items()
        },
    }
    if down:
        body["down"] = down
    if details:
        body["details"] = {
            name: {
                "check": repr(result.check),
                "error": str(result.error) if result.error is not None else None,
                "seconds": round(result.time_taken, 3),
            }
            for name, result in results.items()
        }
    return (503 if down else 200), body
