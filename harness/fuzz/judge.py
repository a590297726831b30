"""Judging one example: the example becomes an in-memory case and goes through the
runner (:func:`harness.runner.run_expanded`), so the fuzzer and the regression file it may
write are judged by the same code, with the dtype's default tolerance.

Outcomes: a pass; both sides raising errors of the same class name (agreement: TF rejects
the input and so does the reference); or a failure, carried with the case that reproduces
it. Whenever TF raises, the case is rerun with ``expect_error: <TF's class>``: it passes
when the reference raises the same class, and otherwise it is the regression case.

The tolerance is the runner's: a default one follows the precision TF's result carries
(:mod:`harness.precision`: an op that computes in float32 inside, as Keras loss classes and
the v1 losses' reduction do, is judged at float32's tolerance in a float64 example).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.expand import expand
from harness.loader import Case
from harness.registry import get_op
from harness.result import CaseResult
from harness.runner import run_expanded

PROBE_ID = "fuzz-probe"
PROBE_PATH = Path("cases/regressions/fuzz-probe.yaml")


@dataclass
class Verdict:
    status: str
    """``passed``, ``agreed-error`` (both raised the same class), ``invalid`` (the op's
    pre-flight check rejects the input) or ``failed``."""
    message: str
    case: dict
    """The case mapping (without ``id``) that reproduces the outcome."""

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "agreed-error")


def probe_case(data: dict) -> Case:
    """An in-memory case for the case mapping ``data`` (``op``, ``dtypes``, ``args``, ``init``; no ``id``)."""
    data = {"id": PROBE_ID, **data}
    return Case(id=PROBE_ID, op=get_op(data["op"]), data=data, path=PROBE_PATH, display_path=str(PROBE_PATH), line=1)


def run_case(data: dict) -> CaseResult:
    """The runner's record for one in-memory case mapping (one dtype)."""
    [expanded] = expand(probe_case(data))
    return run_expanded(expanded, timing_repeats=0)


def _failed(record: CaseResult, name: str) -> dict | None:
    return next((c for c in record.checks if c["name"] == name and not c["ok"]), None)


def _tf_error_class(record: CaseResult) -> str:
    """The class name of TF's exception, from the runner's ``Class: message`` output."""
    return str(record.outputs["tf"]).split(":", 1)[0].strip()


def judge(data: dict) -> Verdict:
    """Run the case mapping ``data`` (``op``, ``dtypes``, ``args``, ``init``) and judge it."""
    record = run_case(data)
    if record.status == "error":
        return Verdict("invalid", record.message, data)
    if record.status == "passed":
        return Verdict("passed", "", data)
    if _failed(record, "tf runs"):
        with_error = {**data, "expect_error": _tf_error_class(record)}
        rerun = run_case(with_error)
        if rerun.status == "passed":
            return Verdict("agreed-error", "", with_error)
        return Verdict("failed", rerun.message, with_error)
    return Verdict("failed", record.message, data)
