"""/metrics: refused without the token, and after real runs (moto over HTTP) the runs, files,
records, durations, files waiting to move and queue depth the database and broker hold."""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Connection

from ingest.models import FileState, Run, RunStatus, SourceFile
from ops import metrics
from tests.support.celery_worker import flush_broker
from tests.support.factories import BAD_CSV, GOOD_CSV, make_connector, put, run_now
from tests.support.ops import METRICS_TOKEN, closed_port, scrape, value

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(settings) -> str:
    settings.LOADBAY_METRICS_TOKEN = METRICS_TOKEN
    return METRICS_TOKEN


def test_metrics_are_off_and_say_why_while_no_token_is_set(settings) -> None:
    settings.LOADBAY_METRICS_TOKEN = ""

    response = scrape(METRICS_TOKEN)

    assert response.status_code == 404
    assert response.content.decode() == "Metrics are off: LOADBAY_METRICS_TOKEN is not set."


def test_metrics_are_refused_without_the_token(token) -> None:
    response = scrape(None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"loadbay_" not in response.content


@pytest.mark.parametrize(
    "given", [METRICS_TOKEN[:-1], METRICS_TOKEN + "x", "", METRICS_TOKEN.upper()]
)
def test_metrics_are_refused_with_a_wrong_token(token, given) -> None:
    response = scrape(given)

    assert response.status_code == 401
    assert b"loadbay_" not in response.content


def test_only_a_bearer_token_is_accepted(token) -> None:
    assert metrics.refusal(f"Basic {METRICS_TOKEN}") is not None
    assert metrics.refusal(f"bearer {METRICS_TOKEN}") is None


def test_a_scrape_after_a_run_shows_its_outcome_files_and_records(
    token, alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run = run_now(connector, user=alice)
    assert run.status == RunStatus.PARTIAL

    response = scrape()

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    c = str(connector.pk)
    assert value(text, "loadbay_runs_finished_total", connector=c, status="partial") == 1
    assert value(text, "loadbay_runs_active", status="running") == 0
    assert value(text, "loadbay_files_total", connector=c, outcome="succeeded") == 1
    assert value(text, "loadbay_files_total", connector=c, outcome="failed") == 1
    assert value(text, "loadbay_records_written_total", connector=c, action="created") == 2
    assert value(text, "loadbay_records_written_total", connector=c, action="updated") == 0
    assert value(text, "loadbay_run_duration_seconds_count") == 1
    assert value(text, "loadbay_run_duration_seconds_bucket", le="+Inf") == 1
    info = {"connector": c, "name": "Profiles", "entity": "Profile", "enabled": "true"}
    assert value(text, "loadbay_connector_info", **info) == 1

    put(s3_client, bucket, "incoming/more.csv", GOOD_CSV.replace("p1", "p5"))
    run_now(connector, user=alice)

    text = scrape().content.decode()
    assert value(text, "loadbay_runs_finished_total", connector=c, status="partial") == 1
    assert value(text, "loadbay_runs_finished_total", connector=c, status="succeeded") == 1
    assert value(text, "loadbay_records_written_total", connector=c, action="created") == 3
    assert value(text, "loadbay_records_written_total", connector=c, action="updated") == 1


def test_run_durations_fall_into_their_buckets(token, alice, bucket, s3_endpoint) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    now = timezone.now()
    for seconds in (0.5, 20, 4000):
        Run.objects.create(
            connector=connector,
            trigger="manual",
            status=RunStatus.SUCCEEDED,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now,
        )
    Run.objects.create(connector=connector, trigger="manual", status=RunStatus.QUEUED)

    text = scrape().content.decode()

    bucket_value = {
        le: value(text, "loadbay_run_duration_seconds_bucket", le=le)
        for le in ("1.0", "15.0", "30.0", "3600.0", "7200.0", "+Inf")
    }
    assert bucket_value == {"1.0": 1, "15.0": 1, "30.0": 2, "3600.0": 2, "7200.0": 3, "+Inf": 3}
    assert value(text, "loadbay_run_duration_seconds_sum") == pytest.approx(4020.5)
    assert value(text, "loadbay_runs_active", status="queued") == 1


def test_files_waiting_to_move_are_counted_from_the_ledger(
    token, alice, bucket, s3_endpoint
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    for number, state in enumerate([FileState.INGESTED, FileState.INGESTED, FileState.MOVED]):
        SourceFile.objects.create(
            connector=connector,
            key=f"incoming/{number}.csv",
            etag=f"e{number}",
            last_modified=timezone.now(),
            state=state,
        )

    text = scrape().content.decode()

    assert value(text, "loadbay_files_waiting_to_move", connector=str(connector.pk)) == 2


def _publish(url: str, options: dict[str, object], count: int) -> None:
    with Connection(url, transport_options=options) as connection:
        queue = connection.SimpleQueue("celery")
        for number in range(count):
            queue.put({"task": "nothing", "number": number})
        queue.close()


def test_queue_depth_counts_the_tasks_waiting_in_redis(token, settings) -> None:
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL (make test does)")
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    flush_broker()
    try:
        _publish(settings.REDIS_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS, 3)
        text = scrape().content.decode()
    finally:
        flush_broker()

    assert value(text, "loadbay_queue_depth", queue="celery") == 3


def test_queue_depth_counts_the_tasks_waiting_in_the_filesystem_broker(
    token, settings, tmp_path
) -> None:
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path),
    }
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    _publish("filesystem://", options, 2)

    text = scrape().content.decode()

    assert value(text, "loadbay_queue_depth", queue="celery") == 2


def test_a_broker_that_does_not_answer_leaves_out_queue_depth_only(token, settings) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = scrape()

    text = response.content.decode()
    assert response.status_code == 200
    assert "loadbay_queue_depth" not in text
    assert value(text, "loadbay_runs_active", status="queued") == 0
