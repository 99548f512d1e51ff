"""What Test connection reports: one Check per thing it tried, for every source alike."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of a Test connection result."""

    name: str
    ok: bool
    detail: str
    permission: str = ""
    skipped: bool = False
