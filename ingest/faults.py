"""Fault injection for the reliability suite: at a named point of a file's processing, kill
this process, or raise an exception nothing expects. Does nothing unless INGEST_FAULT_POINT
names the point (never set in production).

INGEST_FAULT_ACTION is "kill" (SIGKILL, the default) or "raise" (InjectedFault).
INGEST_FAULT_KEY, if set, limits the fault to files whose key contains it. With
INGEST_FAULT_MARKER set, the fault fires once: the marker file records that it did."""

import os
import signal
from pathlib import Path

from django.conf import settings

POINTS = ("after_claim", "mid_parse", "after_commit", "after_copy", "after_delete")
ACTIONS = ("kill", "raise")


class InjectedFault(Exception):
    """Stands for any error the code does not expect (a bug, MemoryError, RecursionError)."""


def checkpoint(name: str, *, key: str = "") -> None:
    if name != settings.INGEST_FAULT_POINT:
        return
    if settings.INGEST_FAULT_KEY and settings.INGEST_FAULT_KEY not in key:
        return
    marker = settings.INGEST_FAULT_MARKER
    if marker:
        if Path(marker).exists():
            return
        Path(marker).write_text(name)
    if settings.INGEST_FAULT_ACTION == "raise":
        raise InjectedFault(f"fault injected at {name} (INGEST_FAULT_POINT, tests only)")
    os.kill(os.getpid(), signal.SIGKILL)
