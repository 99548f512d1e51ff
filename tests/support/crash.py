"""A worker dying at one of ingest's fault points, in this process (so that the test can go
on): for tests of what the next run makes of what it left."""

import pytest

from ingest import faults


class Crash(BaseException):
    """The worker dying at a fault point (in-process, so the test can go on; a BaseException
    as nothing in a dying process catches its death)."""


def crash_once_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    fired: list[str] = []

    def checkpoint(name: str) -> None:
        if name == point and not fired:
            fired.append(name)
            raise Crash(name)

    monkeypatch.setattr(faults, "checkpoint", checkpoint)
