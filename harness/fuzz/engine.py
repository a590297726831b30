"""The fuzz loop: hypothesis draws examples for one op, each is judged, and the first
failure is shrunk to a minimal example.

Runs are reproducible: hypothesis is seeded (``@seed``) and uses no example database, so
the same ``--seed`` draws the same examples in the same order (for the same code:
hypothesis also mixes in literals found in the project's imported modules). ``report_multiple_bugs`` is
off, so the example hypothesis replays last is the single shrunk one; its verdict is kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hypothesis import HealthCheck, Phase, given, reject, seed as hypothesis_seed, settings, strategies as st
from hypothesis.errors import Unsatisfiable

from harness.fuzz import recipes
from harness.fuzz.judge import Verdict, judge
from harness.fuzz.strategies import FUZZ_DTYPES, Example, dtypes_for
from harness.registry import OpSpec


class ParityFailure(AssertionError):
    """Raised inside the hypothesis test for a failing example (hypothesis shrinks it)."""


@dataclass
class OpResult:
    op: str
    status: str
    """``passed``, ``failed``, ``skipped`` or ``unsatisfiable``."""
    examples: int = 0
    reason: str = ""
    example: Example | None = None
    verdict: Verdict | None = None
    counts: dict = field(default_factory=dict)
    """Verdict statuses of every judged example (``passed``, ``agreed-error``, ...)."""


def hypothesis_settings(examples: int, shrink: bool = True) -> settings:
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    return settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                    report_multiple_bugs=False, print_blob=False, suppress_health_check=list(HealthCheck),
                    phases=phases)


def search(strategy: st.SearchStrategy, check: Callable[[object], Verdict], *, examples: int, seed: int,
           shrink: bool = True):
    """Run ``check`` on up to ``examples`` draws; returns ``(counts, failing example, verdict)``,
    the last two ``None`` when nothing failed. A verdict ``invalid`` is rejected (redrawn).
    Without ``shrink`` the first failing example is returned as drawn."""
    counts: dict[str, int] = {}
    last: dict = {}

    @hypothesis_settings(examples, shrink)
    @hypothesis_seed(seed)
    @given(strategy)
    def test(example):
        verdict = check(example)
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
        if verdict.status == "invalid":
            reject()
        if not verdict.ok:
            last["example"], last["verdict"] = example, verdict
            raise ParityFailure(verdict.message)

    try:
        test()
    except ParityFailure:
        return counts, last["example"], last["verdict"]
    return counts, None, None


def fuzz_op(op: OpSpec, *, examples: int, seed: int, nan: bool = False, subnormal: bool = False,
            dtypes=FUZZ_DTYPES, shrink: bool = True) -> OpResult:
    """Fuzz one op; a failure comes back shrunk (unless ``shrink`` is off), with the case
    that reproduces it."""
    skip = recipes.skip_reason(op)
    if skip:
        return OpResult(op.name, "skipped", reason=skip)
    wanted = dtypes_for(op, dtypes)
    if not wanted:
        return OpResult(op.name, "skipped", reason=f"supports none of the fuzzed dtypes {', '.join(dtypes)}")
    strategy = recipes.examples_for(op, wanted, nan=nan, subnormal=subnormal)
    try:
        counts, example, verdict = search(strategy, lambda ex: judge(ex.case_data()), examples=examples,
                                          seed=seed, shrink=shrink)
    except Unsatisfiable as exc:
        return OpResult(op.name, "unsatisfiable", reason=f"no valid example drawn: {exc}")
    if verdict is None:
        return OpResult(op.name, "passed", examples=sum(counts.values()), counts=counts)
    return OpResult(op.name, "failed", examples=sum(counts.values()), example=example, verdict=verdict, counts=counts)
