import json
from pathlib import Path
from typing import Any

from tests.reliability.figures import FIGURES

OUT = Path(__file__).resolve().parents[2] / "var" / "reliability-figures.json"


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    if FIGURES:
        OUT.parent.mkdir(exist_ok=True)
        summary = {
            group: {"cases": len(cases), "detail": cases} for group, cases in FIGURES.items()
        }
        OUT.write_text(json.dumps(summary, indent=2, default=str))
