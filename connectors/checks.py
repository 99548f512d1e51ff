"""What Test connection reports: one Check per thing it tried, for every source alike, and the
overall verdict a page shows first."""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of a Test connection result. `permission` names what the check needs;
    `denied` says that it failed for want of that permission (and not, say, because the
    bucket does not exist)."""

    name: str
    ok: bool
    detail: str
    permission: str = ""
    skipped: bool = False
    denied: bool = False


@dataclass(frozen=True)
class Verdict:
    """Test connection's result in one line: whether every check passed, and what failed."""

    ok: bool
    text: str


def verdict(checks: Sequence[Check]) -> Verdict:
    """The overall result of `checks`: passed when none failed (skipped ones count as passed,
    and are said to be skipped); otherwise the failure, or how many failed and which."""
    failed = [check for check in checks if not check.ok]
    if len(failed) == 1:
        (check,) = failed
        text = f"Test connection failed: {_sentence(check.detail)}"
        if check.denied:
            text += f" Missing permission: {check.permission}."
        return Verdict(ok=False, text=text)
    if failed:
        names = "; ".join(check.name for check in failed)
        return Verdict(
            ok=False,
            text=f"Test connection failed: {len(failed)} of {len(checks)} checks failed ({names}).",
        )
    skipped = sum(1 for check in checks if check.skipped)
    text = f"Test connection passed: {_count(len(checks) - skipped, 'check')} succeeded"
    if skipped:
        text += f", {_count(skipped, 'check')} could not be tried yet (see below)"
    return Verdict(ok=True, text=text + ".")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."
