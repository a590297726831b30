"""Building one expanded case's :class:`~harness.result.CaseResult`: what is known before it
runs (:func:`start`), and its verdict from the judges' checks (:func:`finish`)."""
from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from harness import impls
from harness.expand import Expanded
from harness.result import CaseResult, is_value_check


REPRO_REPORT_DIR = "reports/repro"
"""Where a repro command writes its report: not ``reports/``, which holds the last full run."""


def repro_command(path: str, case_id: str | None = None) -> str:
    """The command that reruns one case (``path::id``) or one file, in-process (``-n 0``: one
    case needs no workers, and each would import TF again) and into its own report directory."""
    target = f"{path}::{case_id}" if case_id else str(path)
    return f"python -m harness verify {shlex.quote(target)} --report-dir {REPRO_REPORT_DIR} -n 0"


def failure_text(case: CaseResult | Mapping[str, Any]) -> str:
    """What a failed or error case reports, in the terminal (pytest's report of its item) and
    in ``junit.xml``: for a case that ran, ``file:line: id (op, dtype)``, its message and its
    repro command; for one that did not run (invalid input, a harness error, a crash or a
    timeout), its message, which names the file and line itself. ``case``: a result or its
    ``results.json`` entry."""
    if isinstance(case, Mapping):
        get, ran = case.get, "checks" in case
    else:
        get, ran = (lambda key: getattr(case, key, None)), case.ran
    if not ran:
        return get("message") or ""
    return (f"{get('file')}:{get('line')}: {get('id')} ({get('op')}, {get('dtype')})\n{get('message')}\n"
            f"repro: {get('repro')}")


def impl_name(exp: Expanded) -> str | None:
    """The name of the case's implementation under test (None: TF alone)."""
    return None if exp.impl is None or exp.case.data.get("reference", True) is False else impls.name_of(exp.impl)


def start(exp: Expanded) -> CaseResult:
    """The case as written: ids, place, op, dtype, tolerance, description; no verdict yet."""
    data = exp.case.data
    return CaseResult(
        id=exp.id, base_id=exp.case.id, params=exp.params, file=exp.case.display_path, line=exp.case.line,
        op=exp.op.name, dtype=exp.dtype, impl=impl_name(exp), rtol=exp.tolerance.rtol, atol=exp.tolerance.atol,
        ulp=exp.tolerance.ulp, tolerance_reason=exp.tolerance.reason, repro=repro_command(exp.case.display_path, exp.id),
        description=data.get("description"),
        source=data.get("source"), xfail_reason=data.get("xfail"), warnings=list(exp.warnings), diff=None)


def verdict(checks: list[dict], xfail: str | None) -> tuple[str, str]:
    """``(status, message)``: passed when every check passed; with ``xfail``, xfailed/xpassed."""
    ok = all(c["ok"] for c in checks)
    message = "\n\n".join(c["message"] for c in checks if not c["ok"])
    if xfail:
        return ("xpassed" if ok else "xfailed"), message or f"expected to fail ({xfail}) but passed"
    return ("passed" if ok else "failed"), message


def decisive_check(checks: list[dict]) -> dict | None:
    """The check whose errors the case reports: ``reference vs tf`` (``torch vs tf``: the
    implementation under test against TF) unless it passed and another check with element
    errors failed (a wrong ``expect``: its error, not 0)."""
    main = next((c for c in checks if is_value_check(c["name"])), None)
    if main is not None and not main["ok"]:
        return main
    return next((c for c in checks if not c["ok"] and c.get("max_abs_err") is not None), main)


def finish(result: CaseResult, status: str, message: str, checks: list[dict], cost: dict) -> CaseResult:
    """Set the verdict, the cost and the checks as written (the :func:`decisive_check`'s
    error statistics become the case's)."""
    result.cost, result.status, result.message = cost, status, message
    decisive = decisive_check(checks)
    if decisive is not None:
        result.max_abs_err, result.max_rel_err, result.max_ulp = (decisive.get(k) for k in ("max_abs_err", "max_rel_err", "max_ulp"))
    result.checks = [{k: list(v) if k == "worst_index" and isinstance(v, tuple) else v
                      for k, v in c.items() if not k.startswith("_")} for c in checks]
    return result
