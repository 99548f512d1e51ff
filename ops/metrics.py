"""/metrics: Loadbay's Prometheus metrics, computed from the database and the broker when scraped,
and the token that protects them.

Why computed at scrape time (a custom prometheus-client Collector) rather than counted as work
happens: runs are carried out by Celery worker processes (prefork children, other machines),
not by the web process that answers the scrape. Counters kept in process memory would show
only the web process's own work; prometheus-client's multiprocess mode shares them through
files in PROMETHEUS_MULTIPROC_DIR, which holds only for processes on one machine sharing that
folder, must be wiped at every start, and loses nothing only while no process dies midway.
The database already holds every run's outcome and counters (ingest.models.Run, updated by
whichever worker did the work) and the ledger of files waiting to move, so reading them when
scraped includes what every worker on every machine did, by construction, and agrees with the
pages. django-prometheus measures HTTP requests and database calls of the process it runs in;
it offers nothing for runs, so it is not used.

Counters are per connector (label `connector`, its id): a connector's runs are deleted only
with the connector, so each series only grows until it disappears with its connector (never a
false counter reset). `loadbay_connector_info` maps ids to names for dashboards.

The queries are aggregates over runs (one row per run, not per file) and an indexed count of the
ledger's files waiting to move, so a scrape costs a few milliseconds for thousands of runs.
"""

import hashlib
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from kombu import Connection
from kombu.exceptions import OperationalError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from redis.exceptions import RedisError

from config.celery import app as celery_app
from connectors.models import Connector
from ingest.models import FileState, Run, RunStatus, SourceFile

logger = logging.getLogger(__name__)

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED = tuple(status for status in RunStatus if status not in ACTIVE)
# Upper bounds (seconds) of the run duration histogram's buckets: a second to six hours.
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
# Seconds to wait for the broker when reading queue depth; past that the gauge is left out.
BROKER_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Refusal:
    """Why a scrape is refused: the HTTP status and a sentence."""

    status: int
    message: str


def refusal(authorization: str) -> Refusal | None:
    """Whether a request with this Authorization header may read /metrics: None if it may.
    The token is compared in constant time (both sides hashed first, so not even its length
    shows)."""
    token: str = settings.LOADBAY_METRICS_TOKEN
    if not token:
        return Refusal(404, "Metrics are off: LOADBAY_METRICS_TOKEN is not set.")
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return Refusal(401, "Send the metrics token: Authorization: Bearer <token>.")
    if not hmac.compare_digest(_digest(given.strip()), _digest(token)):
        return Refusal(401, "The metrics token is wrong.")
    return None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class LoadbayCollector:
    """Every metric, read from the database and the broker at each scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from run_metrics()
        yield run_durations()
        yield files_waiting_to_move()
        yield connector_info()
        depth = queue_depth()
        if depth is not None:
            yield depth


def run_metrics() -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "loadbay_runs_finished",
        "Runs finished, by connector and outcome (status).",
        labels=["connector", "status"],
    )
    active = GaugeMetricFamily(
        "loadbay_runs_active", "Runs queued or running now.", labels=["status"]
    )
    active_counts = dict.fromkeys(ACTIVE, 0)
    for row in Run.objects.values("connector_id", "status").annotate(n=Count("id")):
        if row["status"] in active_counts:
            active_counts[row["status"]] += row["n"]
        else:
            runs.add_metric([str(row["connector_id"]), row["status"]], row["n"])
    for status, count in active_counts.items():
        active.add_metric([status], count)
    yield runs
    yield active

    files = CounterMetricFamily(
        "loadbay_files",
        "Files ingested by runs, by connector and outcome (succeeded, failed).",
        labels=["connector", "outcome"],
    )
    records = CounterMetricFamily(
        "loadbay_records_written",
        "Records written by runs, by connector and action (created, updated, deleted).",
        labels=["connector", "action"],
    )
    sums = Run.objects.values("connector_id").annotate(
        succeeded=Sum("files_succeeded"),
        failed=Sum("files_failed"),
        created=Sum("records_created"),
        updated=Sum("records_updated"),
        deleted=Sum("records_deleted"),
    )
    for row in sums.order_by("connector_id"):
        connector = str(row["connector_id"])
        for outcome in ("succeeded", "failed"):
            files.add_metric([connector, outcome], row[outcome] or 0)
        for action in ("created", "updated", "deleted"):
            records.add_metric([connector, action], row[action] or 0)
    yield files
    yield records


def run_durations() -> Metric:
    """A histogram of finished runs' durations (started to finished)."""
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    finished = Run.objects.filter(finished_at__isnull=False, started_at__isnull=False).annotate(
        took=duration
    )
    counts = {
        f"le_{bound}": Count("id", filter=Q(took__lte=timedelta(seconds=bound)))
        for bound in DURATION_BUCKETS
    }
    totals = finished.aggregate(count=Count("id"), total=Sum("took"), **counts)
    total: timedelta | None = totals["total"]
    buckets = [(f"{float(bound)}", totals[f"le_{bound}"]) for bound in DURATION_BUCKETS]
    buckets.append(("+Inf", totals["count"]))
    return HistogramMetricFamily(
        "loadbay_run_duration_seconds",
        "How long finished runs took, from start to finish.",
        buckets=buckets,
        sum_value=total.total_seconds() if total is not None else 0.0,
    )


def files_waiting_to_move() -> Metric:
    """Files ingested but not yet where the rules put them (the ledger's INGESTED files: moves
    in progress or retried on every run), by connector."""
    gauge = GaugeMetricFamily(
        "loadbay_files_waiting_to_move",
        "Files ingested and not yet moved or deleted (retried on every run), by connector.",
        labels=["connector"],
    )
    waiting = SourceFile.objects.filter(state=FileState.INGESTED).values("connector_id")
    for row in waiting.annotate(n=Count("id")).order_by("connector_id"):
        gauge.add_metric([str(row["connector_id"])], row["n"])
    return gauge


def connector_info() -> Metric:
    info = InfoMetricFamily(
        "loadbay_connector",
        "Each connector's name, entity and whether it is enabled, by id (for joins).",
        labels=["connector"],
    )
    for row in Connector.objects.values("id", "name", "entity_type__name", "enabled"):
        info.add_metric(
            [str(row["id"])],
            {
                "name": row["name"],
                "entity": row["entity_type__name"],
                "enabled": "true" if row["enabled"] else "false",
            },
        )
    return info


def queue_depth() -> Metric | None:
    """Messages waiting in Celery's queue on the broker (settings.CELERY_BROKER_URL), read
    through kombu as Celery reads it (Redis lists, or the filesystem transport's files); None
    if the broker does not answer, so a scrape still shows the rest."""
    queue = celery_app.conf.task_default_queue
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options={
                **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
                "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                "socket_timeout": BROKER_TIMEOUT_SECONDS,
            },
            connect_timeout=BROKER_TIMEOUT_SECONDS,
        ) as connection:
            connection.ensure_connection(max_retries=0)  # one try, no waiting
            declared = connection.default_channel.queue_declare(queue=queue, passive=False)
    except (OperationalError, RedisError, OSError) as exc:
        logger.warning("Metrics: the broker did not answer (%s); queue depth left out", exc)
        return None
    gauge = GaugeMetricFamily(
        "loadbay_queue_depth",
        "Celery tasks waiting in the broker's queue (not yet taken by a worker).",
        labels=["queue"],
    )
    gauge.add_metric([queue], declared.message_count)
    return gauge


REGISTRY = CollectorRegistry()
REGISTRY.register(LoadbayCollector())


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
