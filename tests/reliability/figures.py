"""Figures the reliability suite measures, written to var/reliability-figures.json at the end
of the session (see tests/reliability/conftest.py) and copied into RELIABILITY.md."""

from collections import defaultdict
from typing import Any

FIGURES: dict[str, dict[str, Any]] = defaultdict(dict)


def record(group: str, case: str, **facts: Any) -> None:
    FIGURES[group][case] = facts
