"""Overlap: one task at a time on a background thread that shares the caller's connection.

On PostgreSQL a file's batches are written this way (ingest.writing.files): the database
server, on another core, writes batch n while this process reads and cleans batch n + 1
(BENCHMARKS.md). The thread uses the caller's Django connection, so its statements belong to
the caller's transaction and go through Django's cursor wrapper like any other; Django allows
that once told (inc_thread_sharing). Only one of the two threads uses the connection at a
time: the caller waits for the task before it sends a statement of its own.
"""

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from django.db.backends.base.base import BaseDatabaseWrapper

T = TypeVar("T")


class InFlight(Generic[T]):
    """At most one task in flight; its result (or its exception) is taken by wait()."""

    def __init__(self, db: BaseDatabaseWrapper) -> None:
        self.db = db
        self.executor: ThreadPoolExecutor | None = None
        self.pending: Future[T] | None = None

    @property
    def idle(self) -> bool:
        """No task has been started yet."""
        return self.executor is None

    def start(self, task: Callable[[], T]) -> None:
        """Run `task` on the thread; the previous one must have been waited for."""
        if self.pending is not None:
            raise RuntimeError("a task is in flight already")
        if self.executor is None:
            self.db.inc_thread_sharing()
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        self.pending = self.executor.submit(task)

    def wait(self) -> T | None:
        """The result of the task in flight (None if there is none); its exception is raised
        here, on the caller's thread."""
        if self.pending is None:
            return None
        pending, self.pending = self.pending, None
        return pending.result()

    def close(self) -> None:
        """Wait for a task still running (the caller may be about to roll back), whatever it
        raises: the caller is raising already, or has taken its result."""
        if self.pending is not None:
            try:
                self.pending.exception()
            finally:
                self.pending = None
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None
            self.db.dec_thread_sharing()
