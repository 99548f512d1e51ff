"""InFlight: one task on a thread sharing the caller's connection, its result or its error
handed back on the caller's thread, and the connection no longer shared once it is closed."""

import threading

import pytest
from django.db import connection

from ingest.writing.inflight import InFlight

pytestmark = pytest.mark.django_db


def test_a_task_uses_the_callers_connection_and_gives_its_result_back() -> None:
    in_flight: InFlight[tuple[int, str]] = InFlight(connection)
    assert in_flight.idle

    def task() -> tuple[int, str]:
        with in_flight.db.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0], threading.current_thread().name

    in_flight.start(task)
    assert not in_flight.idle and connection.allow_thread_sharing
    result = in_flight.wait()
    assert result is not None
    value, thread = result
    assert value == 1 and thread.startswith("ingest-writer")
    assert in_flight.wait() is None  # nothing in flight any more
    in_flight.close()
    assert not connection.allow_thread_sharing


def test_a_tasks_error_is_raised_on_the_callers_thread() -> None:
    in_flight: InFlight[None] = InFlight(connection)

    def task() -> None:
        raise ValueError("the writer thread failed")

    in_flight.start(task)
    with pytest.raises(ValueError, match="the writer thread failed"):
        in_flight.wait()
    in_flight.close()


def test_closing_waits_for_the_task_whatever_it_raises() -> None:
    in_flight: InFlight[None] = InFlight(connection)
    release, done = threading.Event(), threading.Event()

    def task() -> None:
        release.wait(10)
        done.set()
        raise RuntimeError("ignored: the caller is raising already")

    in_flight.start(task)
    with pytest.raises(RuntimeError, match="in flight already"):
        in_flight.start(task)
    threading.Timer(0.2, release.set).start()
    in_flight.close()
    assert done.is_set() and not connection.allow_thread_sharing
