"""Comparing a run with an earlier ``results.json``: what is new, fixed or still failing.

Each case gets ``baseline``: ``new-failure`` (passed before, fails now), ``fixed`` (failed
before, passes now), ``still-failing``, ``unchanged`` (passed both times) or ``new-case``
(not in the baseline). With ``--fail-on new`` only new failures (and new cases that fail)
decide the exit status, so a known-bad suite can gate CI on regressions alone.
"""
from __future__ import annotations

import json
from pathlib import Path

from harness.result import CaseResult
from harness.vocab import BAD_STATUSES

BAD = BAD_STATUSES
LABELS = ("new-failure", "fixed", "still-failing", "new-case", "unchanged")


class BaselineError(ValueError):
    pass


def load(path: Path) -> dict[str, str]:
    """``{expanded id: status}`` of a results.json."""
    try:
        data = json.loads(Path(path).read_text())
        return {c["id"]: c["status"] for c in data["cases"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BaselineError(f"{path}: not a readable results.json ({type(exc).__name__}: {exc})") from None


def label(status: str, before: str | None) -> str:
    if before is None:
        return "new-case"
    if status in BAD:
        return "still-failing" if before in BAD else "new-failure"
    return "fixed" if before in BAD else "unchanged"


def classify(cases: list[CaseResult], before: dict[str, str]) -> dict[str, int]:
    """Set each case's ``baseline`` label; the count of each label."""
    counts = dict.fromkeys(LABELS, 0)
    for case in cases:
        case.baseline = label(case.status, before.get(case.id))
        counts[case.baseline] += 1
    return counts


def exit_code(cases: list[CaseResult], fail_on: str = "any") -> int:
    """2 when input was invalid (always: a baseline does not make bad input acceptable),
    1 when a case failed, else 0; with ``fail_on="new"`` only cases that are bad and new
    (``new-failure``, or a ``new-case`` that fails) count as failed."""
    if any(c.status == "error" for c in cases):
        return 2
    counted = [c for c in cases if c.status in BAD]
    if fail_on == "new":
        counted = [c for c in counted if c.baseline in ("new-failure", "new-case")]
    return 1 if counted else 0
