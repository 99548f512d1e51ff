"""Fault injection for the reliability suite: kill this process at a named point of a file's
processing. Does nothing unless INGEST_FAULT_POINT names the point (never set in production).
With INGEST_FAULT_MARKER set, it fires once: the marker file records that it did."""

import os
import signal
from pathlib import Path

from django.conf import settings

POINTS = ("after_claim", "mid_parse", "after_commit", "after_copy", "after_delete")


def checkpoint(name: str) -> None:
    if name != settings.INGEST_FAULT_POINT:
        return
    marker = settings.INGEST_FAULT_MARKER
    if marker:
        if Path(marker).exists():
            return
        Path(marker).write_text(name)
    os.kill(os.getpid(), signal.SIGKILL)
