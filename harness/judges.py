"""The judges of one expanded case: each turns both sides' results into checks.

A check is the mapping written to ``results.json`` (``name``, ``ok``, ``message`` and, by
kind, ``max_abs_err``, ``max_rel_err``, ``max_ulp``, ``worst_index``, ``kind``, ``leaf``,
``error``). Every comparison goes through :func:`harness.compare.compare`, so through the one
pass rule (:meth:`harness.tolerances.Tolerance.within`).

* :func:`judge_error`    ``expect_error``: both sides raise the named class;
* :func:`judge_value`    ``reference vs tf``, at :func:`value_tolerance`;
* :func:`judge_expect`   ``expect`` against TF's output and the reference's;
* :func:`judge_related`  each ``same_as`` / ``differs_from`` computation, on both sides;
* :func:`judge_gradients` the reference's gradients against TF's.
"""
from __future__ import annotations

import re
import traceback
from typing import Any

import numpy as np

from harness.compare import Comparison, common_dtype, compare
from harness.outputs import MAX_REPORTED_ELEMENTS, jsonable, leaves
from harness.precision import gradient_precision, result_precision
from harness.sides import NOT_RUN, Raised
from harness.tolerances import Tolerance, default_tolerance, grad_tolerance, resolve_tolerance
from harness.vocab import MODES

MAX_DIFF_ELEMENTS = 2500


def by_mode(spec: Any, mode: str) -> Any:
    """The part of an ``expect`` / ``expect_error`` that applies to ``mode``: a mode-keyed
    mapping gives its entry for the mode (None when absent); anything else applies to all."""
    keyed = mode_keyed(spec)
    return spec if keyed is None else keyed.get(mode)


def mode_keyed(spec: Any) -> dict | None:
    """``{eager: ..., xla: ...}`` (keys all execution modes) or None."""
    if isinstance(spec, dict) and spec and set(spec) <= set(MODES):
        return spec
    return None


def compare_trees(name: str, actual: Any, desired: Any, tol: Tolerance, *, check_dtype: bool,
                  names: tuple[str, str]) -> dict:
    """Compare two output trees leaf by leaf; the check of the worst leaf. A failed check
    keeps the failing pair under ``_arrays`` (for :func:`diff_grid`; not written)."""
    la, ld = leaves(actual), leaves(desired)
    if [p for p, _ in la] != [p for p, _ in ld]:
        return {"name": name, "ok": False, "kind": "structure",
                "message": f"{name}\nOutputs differ in structure: {names[0]} has {len(la)} outputs, {names[1]} has {len(ld)}"}
    check: dict = {"name": name, "ok": True, "message": "", "max_abs_err": None, "max_rel_err": None, "max_ulp": None,
                   "worst_index": None}
    desired_at = dict(ld)
    compared = 0  # elements compared by value: finite on both sides
    for path, a in la:
        header = f"{name}{' output ' + path if path else ''}"
        c: Comparison = compare(a, desired_at[path], tol, check_dtype=check_dtype, names=names, header=header)
        compared += c.n_total if c.max_abs_err is not None else 0
        for key in ("max_abs_err", "max_rel_err", "max_ulp"):
            v = getattr(c, key)
            if v is not None and (check[key] is None or v > check[key]):
                check[key] = float(v)
        if not c.ok and check["ok"]:
            check.update(ok=False, kind=c.kind, message=c.message, leaf=path,
                         worst_index=list(c.worst_index) if c.worst_index is not None else None,
                         _arrays=(a, desired_at[path]))
    if check["ok"] and not compared and any(a.size for _, a in la):
        check["positions_only"] = True  # every element NaN/inf on both sides, at the same places
    return check


def diff_grid(check: dict, tol: Tolerance) -> dict | None:
    """Element grids for the HTML diff view of a failed 1-D/2-D comparison: each element's
    error, its allowed error and whether it fails (:meth:`Tolerance.passes`)."""
    if "_arrays" not in check:
        return None
    a, d = check["_arrays"]
    if a.shape != d.shape or a.ndim not in (1, 2) or a.size > MAX_DIFF_ELEMENTS:
        return None
    wd = d.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a.astype(np.float64) - wd)
        allowed = tol.allowed(wd)
    bad = ~tol.passes(a, d, common_dtype(a.dtype, d.dtype))
    return {"abs_err": jsonable(err), "allowed": jsonable(allowed), "mismatch": bad.tolist(),
            "worst_index": check.get("worst_index"), "leaf": check.get("leaf", "")}


def shown(value: Any) -> Any:
    """A side's result as written to ``outputs``: its values, or the error it raised."""
    return str(value) if isinstance(value, Raised) else jsonable(value)


def judge_error(spec: Any, ref: Any, out: Any, side_name: str = "reference") -> list[dict]:
    """``expect_error`` (a class name, or ``{type, match}``): each side must raise that class;
    TF's message must match ``match``. ``side_name`` names the implementation under test."""
    name, pattern = (spec, None) if isinstance(spec, str) else (spec["type"], spec.get("match"))
    checks = []
    for key, value in (("tf", out), ("reference", ref)):
        if value is NOT_RUN:
            continue
        side = "tf" if key == "tf" else side_name
        check = {"name": f"{key} raises {name}", "ok": False}
        if not isinstance(value, Raised):
            check["message"] = f"expect_error: {side} did not raise {name}; it returned {jsonable(leaves(value)[0][1], 10)}"
        elif name not in value.names:
            check["message"] = f"expect_error: {side} raised {value} (not a {name})"
        elif key == "tf" and pattern and not re.search(pattern, str(value.exc)):
            check["message"] = f"expect_error: tf raised {name} but its message does not match {pattern!r}: {value}"
        else:
            check.update(ok=True, message="", error=str(value))
        checks.append(check)
    return checks


def value_tolerance(tol: Tolerance, dtype: str, out: Any) -> tuple[Tolerance, str | None]:
    """The tolerance ``reference vs tf`` is judged at, and a warning when it is not ``tol``: a
    default tolerance follows the precision TF's result carries when that differs from the
    case dtype (:func:`harness.precision.result_precision`); an override is kept."""
    if tol.source != "default":
        return tol, None
    precision = result_precision(dtype, out)
    if precision == dtype:
        return tol, None
    return default_tolerance(precision), f"TF returns {precision} for {dtype} inputs: compared at {precision}'s tolerance"


def judge_value(ref: Any, out: Any, tol: Tolerance, side: str = "reference") -> dict:
    """``reference vs tf`` (``side vs tf``: the implementation under test against TF): shape,
    dtype, NaN/inf positions, then the tolerance, leaf by leaf."""
    return compare_trees(f"{side} vs tf", ref, out, tol, check_dtype=True, names=(side, "tf"))


def reference_raised(ref: Raised, side: str = "reference") -> dict:
    detail = "".join(traceback.format_exception_only(type(ref.exc), ref.exc)).strip()
    return {"name": f"{side} runs", "ok": False, "message": f"{side} raised {detail[:800]}"}


def pair_expect(expect: Any, output: Any) -> Any:
    """Give a published value the structure of the output (lists for tuple outputs)."""
    if isinstance(output, (list, tuple)):
        if not isinstance(expect, list) or len(expect) != len(output):
            raise ValueError(f"expect must be a list of {len(output)} items matching the op's outputs")
        return type(output)(pair_expect(e, o) for e, o in zip(expect, output))
    return np.asarray(expect, dtype=np.float64)


def judge_expect(spec: Any, ref: Any, out: Any, tol: Tolerance, dtype: str,
                 side: str = "reference") -> tuple[list[dict], Any, Tolerance]:
    """``expect`` (a value, or ``{value, tolerance}``) against TF's output and the reference's
    (dtype not checked) at ``tol`` (the value tolerance) or its own; returns the checks, the
    expected value as written (None when it does not fit the output) and the tolerance."""
    value = spec
    if isinstance(spec, dict):
        value = spec["value"]
        if spec.get("tolerance") is not None:
            tol = resolve_tolerance(spec["tolerance"], dtype, field="expect.tolerance")
    try:
        expected = pair_expect(value, out)
    except ValueError as exc:
        return [{"name": "expect", "ok": False, "message": f"expect: {exc}"}], None, tol
    checks = [compare_trees(f"expect vs {key}", got, expected, tol, check_dtype=False,
                            names=("tf" if key == "tf" else side, "expect"))
              for key, got in (("tf", out), ("reference", ref)) if not isinstance(got, Raised)]
    return checks, jsonable(expected), tol


def positions_only(checks: list[dict], strict: bool) -> list[str]:
    """A check whose outputs are NaN or ±inf everywhere on both sides compared positions only,
    no value (``numpy.testing`` passes NaN against NaN too): the warnings, or with ``strict``
    the check fails."""
    warnings = []
    for check in checks:
        if not check.get("positions_only"):
            continue
        text = (f"{check['name']}: every output element is NaN or ±inf on both sides, so only their positions "
                "were compared, no value (draw the inputs from the op's domain, or pin the result with expect)")
        if strict:
            check.update(ok=False, kind="positions", message=f"{text}; --strict makes this a failure")
        else:
            warnings.append(f"{text}; --strict makes this a failure")
    return warnings


def related_label(key: str, j: int, spec: dict, op_name: str) -> str:
    then = spec.get("then")
    return (f"{key}[{j}] {op_name}" + (f" then {then}" if then else "")
            + (f" x {spec['scale']:g}" if spec.get("scale") is not None else ""))


def _reduced(spec: dict, theirs: Any) -> Any:
    """The other computation's result after ``then`` (mean/sum) and ``scale``, in its dtype."""
    reduce = {"mean": np.mean, "sum": np.sum, None: None}[spec.get("then")]
    if reduce is not None:
        theirs = np.asarray(reduce(theirs)).astype(np.asarray(theirs).dtype)
    if spec.get("scale") is not None:
        theirs = (np.asarray(theirs) * spec["scale"]).astype(np.asarray(theirs).dtype)
    return theirs


def judge_related(key: str, label: str, spec: dict, mine: dict[str, Any], theirs: dict[str, Any],
                  tol: Tolerance, side_name: str = "reference") -> list[dict]:
    """``same_as`` (``key``) or ``differs_from``: on each side (``mine`` and ``theirs`` map
    ``tf``/``reference`` to this case's and the other computation's result), they must agree
    (differ) within ``tol``."""
    checks = []
    for side in ("tf", "reference"):
        if mine[side] is NOT_RUN:
            continue
        name = f"{label} ({side if side == 'tf' else side_name})"
        other = theirs[side]
        if isinstance(other, Raised):
            checks.append({"name": name, "ok": False, "message": f"{name}: raised {other}"})
            continue
        check = compare_trees(name, mine[side], _reduced(spec, other), tol, check_dtype=False,
                              names=("this case", "other"))
        if key == "differs_from":
            check = {"name": name, "ok": not check["ok"],
                     "message": "" if not check["ok"] else f"{name}: expected the results to differ, but they agree within "
                     f"{tol.describe()} (max abs difference {check['max_abs_err']:.3g})",
                     "max_abs_err": check["max_abs_err"]}
        checks.append(check)
    return checks


def gradient_tolerance(dtype: str, out: Any, method: str) -> tuple[Tolerance, str | None]:
    """The gradient tolerance at :func:`harness.precision.gradient_precision`, and a warning
    when that is not the case dtype."""
    precision = gradient_precision(dtype, out)
    warning = None
    if precision != dtype:
        warning = (f"TF computes this op in {precision} for {dtype} inputs: "
                   f"gradients compared at {precision}'s gradient tolerance")
    return grad_tolerance(precision, method), warning


def judge_gradients(ref_grads: dict, tf_grads: dict, wrt: tuple[str, ...], tol: Tolerance,
                    method: str, side: str = "reference") -> list[dict]:
    """Each differentiated argument's gradient by the implementation under test (``side``) against TF's."""
    return [compare_trees(f"grad {name}: {side} ({method}) vs tf", ref_grads[name], tf_grads[name], tol,
                          check_dtype=False, names=(side, "tf")) for name in wrt]


def output_facts(out: Any) -> tuple[list | None, bool]:
    """``(output_shape, truncated)``: the shape of a single output, and whether any output
    has more elements than the record shows."""
    out_leaves = leaves(out)
    shape = list(out_leaves[0][1].shape) if len(out_leaves) == 1 else None
    return shape, any(a.size > MAX_REPORTED_ELEMENTS for _, a in out_leaves)

