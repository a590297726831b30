"""What a failing case's detail shows about its elements: which comparison failed, the
headline (the worst element and by how much), the element diff grid and the error histograms.

A case can fail on its value (``reference vs tf``) or, with ``grad:``, on a gradient
(``grad logits: reference (analytic) vs tf``). The runner stores the element diff of the
first of these that failed; :func:`diff_source` finds the same comparison, so the grid,
headline and histograms describe one pair of arrays with one tolerance (the case tolerance
for values, ``grad_tolerance`` for gradients).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from harness.report import svg
from harness.report.fmt import depth, fmt_num, fmt_value, index_text
from harness.report.ledger import Errors, as_float, element_errors, leaves
from harness.result import CaseResult, as_result, is_value_check
from harness.tolerances import Tolerance

GRID_MAX_ROWS = 64
GRID_MAX_COLS = 32
GRID_1D_WIDTH = 16
"""1-D diffs are wrapped into rows of this many elements."""

_GRAD_CHECK = re.compile(r"grad (\S+?): ")
_LEAF = re.compile(r"\[(\d+)\]")


@dataclass
class DiffSource:
    """The comparison a failing case is about: both sides and the tolerance that judged them."""

    what: str  # "output", "gradient of logits" or "output against the published value"
    reference: Any
    tf: Any
    check: Mapping[str, Any] | None
    rtol: float | None
    atol: float | None
    ulp: int | None
    names: tuple[str, str] = ("reference", "TF")
    histogram: bool = True  # False when the tolerance that judged the pair is not in the results


def _ulp(ulp: Any) -> int | None:
    """A ULP tolerance as written in the results (None when there is none)."""
    return int(ulp) if isinstance(ulp, (int, float)) and not isinstance(ulp, bool) else None


def diff_source(case: CaseResult | Mapping[str, Any]) -> DiffSource:
    case = as_result(case)
    outputs = case.outputs if isinstance(case.outputs, Mapping) else {}
    checks = [c for c in case.checks or [] if isinstance(c, Mapping)]
    failing = [c for c in checks if c.get("ok") is False]
    value = DiffSource("output", outputs.get("reference"), outputs.get("tf"), None, as_float(case.rtol),
                       as_float(case.atol), _ulp(case.ulp))
    grads = outputs.get("grads") if isinstance(outputs.get("grads"), Mapping) else {}
    grad_tol = case.grad_tolerance if isinstance(case.grad_tolerance, Mapping) else {}
    for check in failing:
        name = str(check.get("name", ""))
        if is_value_check(name):
            value.check = check
            return value
        match = _GRAD_CHECK.match(name)
        if match and isinstance(grads.get(match.group(1)), Mapping):
            pair = grads[match.group(1)]
            return DiffSource(f"gradient of {match.group(1)}", pair.get("reference"), pair.get("tf"), check,
                              as_float(grad_tol.get("rtol")), as_float(grad_tol.get("atol")), None)
        if name in ("expect vs tf", "expect vs reference") and "expect" in outputs:
            side = name.split()[-1]
            tol = case.expect_tolerance  # the tolerance that judged it (older results lack it)
            rtol, atol, ulp = ((as_float(tol.get("rtol")), as_float(tol.get("atol")), _ulp(tol.get("ulp")))
                               if isinstance(tol, Mapping) else (value.rtol, value.atol, value.ulp))
            return DiffSource("output against the published value", outputs.get(side), outputs.get("expect"), check,
                              rtol, atol, ulp, names=("TF" if side == "tf" else side, "expected"),
                              histogram=isinstance(tol, Mapping))
    value.check = failing[0] if failing else None
    return value


def _leaf_prefix(leaf: Any) -> tuple[int, ...]:
    return tuple(int(i) for i in _LEAF.findall(leaf)) if isinstance(leaf, str) else ()


def _at(node: Any, index: Iterable[int]) -> Any:
    for i in index:
        if not isinstance(node, list) or not 0 <= i < len(node):
            return None
        node = node[i]
    return node


def value_at(tree: Any, prefix: tuple[int, ...], index: tuple[int, ...], shape: tuple[int, ...] | None) -> Any:
    """The element at ``index`` of the output leaf at ``prefix``; a truncated (flattened) leaf is
    indexed in C order when its ``shape`` is known."""
    return _indexer(tree, prefix, len(index), shape)(index)


def _indexer(tree: Any, prefix: tuple[int, ...], ndim: int,
             shape: tuple[int, ...] | None) -> Callable[[tuple[int, ...]], Any]:
    """:func:`value_at` for many indices of ``ndim`` dimensions: the leaf is found once."""
    node = _at(tree, prefix)
    if node is None:
        return lambda index: None
    if not ndim:
        return lambda index: node if not isinstance(node, list) else None
    node_ndim = depth(node)
    if node_ndim == ndim:
        return lambda index: _at(node, index)
    if node_ndim == 1 and shape and len(shape) == ndim:
        strides = [math.prod(shape[k + 1:]) for k in range(ndim)]

        def flat(index: tuple[int, ...]) -> Any:
            if not all(0 <= i < s for i, s in zip(index, shape)):
                return None
            position = sum(i * stride for i, stride in zip(index, strides))  # C order
            return node[position] if position < len(node) else None

        return flat
    return lambda index: None


def _shape(node: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(node, list):
        shape.append(len(node))
        node = node[0] if node else None
    return tuple(shape)


def _bucket(abs_err: float | None, share: float | None, mismatch: bool) -> str:
    """Colour class of a diff cell by the share of its tolerance it uses: ``z`` exact,
    ``c1`` < 1%, ``c2`` < 10%, ``c3`` < 50%, ``c4`` ≤ 100%, ``c5`` over (or a mismatch)."""
    if abs_err is None:
        return "na"
    if math.isnan(abs_err):
        return "c5"
    if abs_err == 0:
        return "c5" if mismatch else "z"
    if share is None or math.isnan(share):
        return "c5" if mismatch or math.isinf(abs_err) else "c3"
    if mismatch or share > 1:
        return "c5"
    if share < 0.01:
        return "c1"
    if share < 0.1:
        return "c2"
    if share < 0.5:
        return "c3"
    return "c4"


def _window(size: int, limit: int, focus: int | None) -> tuple[int, int]:
    """A ``[start, stop)`` of at most ``limit`` indices, centred on ``focus`` if given."""
    if size <= limit:
        return 0, size
    centre = focus if focus is not None and 0 <= focus < size else 0
    start = min(max(0, centre - limit // 2), size - limit)
    return start, start + limit


class _Cells:
    """The cells of one diff grid: each element's error, its share of the tolerance and the
    title that spells both out."""

    def __init__(self, diff: Mapping[str, Any], source: DiffSource, dtype: Any, ndim: int,
                 worst: tuple[int, ...] | None) -> None:
        self.abs_err, self.mismatch, self.allowed = diff.get("abs_err"), diff.get("mismatch"), diff.get("allowed")
        self.source, self.dtype, self.worst = source, dtype, worst
        prefix, shape = _leaf_prefix(diff.get("leaf")), _shape(self.abs_err)
        self.reference_at = _indexer(source.reference, prefix, ndim, shape)
        self.tf_at = _indexer(source.tf, prefix, ndim, shape)

    def _share(self, index: tuple[int, ...], err: float | None, ref_value: Any, tf_value: Any) -> tuple[float | None, str]:
        """The share of its tolerance the element uses, and the tolerance's words."""
        source = self.source
        if source.ulp is not None:
            pair = element_errors(ref_value, tf_value, self.dtype)
            ulp = pair.ulp if pair is not None else None
            if ulp is None:
                return None, ""
            share = float(ulp[0]) / source.ulp if source.ulp else (0.0 if ulp[0] == 0 else math.inf)
            return share, f"{fmt_num(float(ulp[0]))} ULP of {source.ulp} allowed"
        tol = as_float(_at(self.allowed, index)) if self.allowed is not None else None
        if tol is None and (source.atol is not None or source.rtol is not None):
            f = as_float(tf_value)
            tol = Tolerance(source.rtol or 0.0, source.atol or 0.0).allowed(f if f is not None and math.isfinite(f) else 0.0)
        if not tol or err is None:
            return None, ""
        share = err / tol
        return share, f"tolerance {fmt_num(tol)} ({fmt_num(share, 2)}× tol)"

    def __call__(self, index: tuple[int, ...]) -> dict:
        err = as_float(_at(self.abs_err, index))
        bad = bool(_at(self.mismatch, index))
        ref_value, tf_value = self.reference_at(index), self.tf_at(index)
        is_worst = index == self.worst
        share, tolerance = self._share(index, err, ref_value, tf_value)
        title = [("worst " if is_worst else "") + index_text(index), f"abs err {fmt_num(err)}"]
        title += [tolerance] if tolerance else []
        title += [f"reference {fmt_value(ref_value, self.dtype)}", f"tf {fmt_value(tf_value, self.dtype)}"]
        title += ["MISMATCH"] if bad else []
        classes = [_bucket(err, share, bad)] + (["mm"] if bad else []) + (["worst"] if is_worst else [])
        return {"text": "0" if err == 0 else fmt_num(err, 2), "cls": " ".join(classes), "title": " · ".join(title)}


def _rows_1d(n: int, cell: Callable, worst: tuple[int, ...] | None) -> dict:
    """A 1-D diff wrapped into rows of :data:`GRID_1D_WIDTH`, windowed on the worst element."""
    width = min(n, GRID_1D_WIDTH)
    n_rows = -(-n // width)
    r0, r1 = _window(n_rows, GRID_MAX_ROWS, worst[0] // width if worst else None)
    rows = [{"label": str(r * width) if width < n else "",
             "cells": [cell((i,)) if i < n else None for i in range(r * width, r * width + width)]} for r in range(r0, r1)]
    notes = [f"elements {r0 * width}–{min(n, r1 * width) - 1} shown of {n}"] if (r0, r1) != (0, n_rows) else []
    return {"columns": [str(j) for j in range(width)], "rows": rows, "notes": notes,
            "shown": f"{min(n, r1 * width) - r0 * width} of {n}", "corner": "+j" if width < n else ""}


def _rows_2d(abs_err: list, cell: Callable, worst: tuple[int, ...] | None) -> dict:
    """A 2-D diff, windowed on the worst element."""
    n_rows = len(abs_err)
    n_cols = max((len(r) for r in abs_err if isinstance(r, list)), default=0)
    r0, r1 = _window(n_rows, GRID_MAX_ROWS, worst[0] if worst else None)
    c0, c1 = _window(n_cols, GRID_MAX_COLS, worst[1] if worst else None)
    notes = ([f"rows {r0}–{r1 - 1} of {n_rows}, columns {c0}–{c1 - 1} of {n_cols} shown"]
             if (r0, r1, c0, c1) != (0, n_rows, 0, n_cols) else [])
    return {"columns": [str(j) for j in range(c0, c1)],
            "rows": [{"label": str(i), "cells": [cell((i, j)) for j in range(c0, c1)]} for i in range(r0, r1)],
            "notes": notes, "shown": f"{(r1 - r0) * (c1 - c0)} of {n_rows * n_cols}", "corner": "i \\ j"}


def build_grid(case: CaseResult | Mapping[str, Any], source: DiffSource | None = None) -> dict | None:
    """The element diff as rows of cells, or ``None`` when there is no 1-D/2-D diff.

    Each cell's tolerance is that element's allowed error (``diff.allowed`` when the runner
    wrote it, else :meth:`Tolerance.allowed <harness.tolerances.Tolerance.allowed>` of TF's
    value), so the colour tells how close it came to failing.
    """
    case = as_result(case)
    diff = case.diff
    if not isinstance(diff, Mapping):
        return None
    abs_err = diff.get("abs_err")
    ndim = depth(abs_err)
    if ndim not in (1, 2) or not abs_err or not any(True for _ in leaves(abs_err)):
        return None
    source = source or diff_source(case)
    worst = diff.get("worst_index")
    worst = tuple(worst) if isinstance(worst, list) and len(worst) == ndim else None
    cell = _Cells(diff, source, case.dtype, ndim, worst)
    grid = _rows_1d(len(abs_err), cell, worst) if ndim == 1 else _rows_2d(abs_err, cell, worst)
    mismatch = diff.get("mismatch")
    n_bad = sum(1 for v in leaves(mismatch) if v is True) if isinstance(mismatch, list) else None
    what = source.what + (f" {diff['leaf']}" if _leaf_prefix(diff.get("leaf")) else "")
    return {**grid, "ndim": ndim, "worst": index_text(worst) if worst else None, "mismatches": n_bad, "what": what}


_MISMATCHED = re.compile(r"Mismatched elements: ([^\n]+)")


def headline(case: CaseResult | Mapping[str, Any], source: DiffSource) -> dict:
    """The failure in one line: the worst element, both values and by how much.

    ``element`` is ``None`` when the failure is not about an element (TF raised, shapes
    differ, an identity check failed); ``summary`` then carries the first line of the message.
    """
    case = as_result(case)
    dtype = case.dtype
    check = source.check or {}
    diff = case.diff if isinstance(case.diff, Mapping) else {}
    worst = diff.get("worst_index") if diff else None
    if not isinstance(worst, list):
        worst = check.get("worst_index")
    leaf = diff.get("leaf") or check.get("leaf") or ""
    prefix = _leaf_prefix(leaf)
    message = str(check.get("message") or case.message or "")
    count = _MISMATCHED.search(message)
    out = {"what": source.what + (f" {leaf}" if prefix else ""), "check": str(check.get("name") or ""),
           "names": source.names,
           "element": None, "reference": None, "tf": None, "abs": None, "rel": None, "ulp": None,
           "times": None, "allowed": None, "mismatched": count.group(1) if count else None,
           "summary": _first_line(message)}
    if not isinstance(worst, list):
        return out
    index = tuple(int(i) for i in worst)
    shape = _shape(diff.get("abs_err")) if diff.get("abs_err") is not None else None
    ref, tf = value_at(source.reference, prefix, index, shape), value_at(source.tf, prefix, index, shape)
    out["element"] = index_text(index) if index else "(scalar)"
    if ref is None and tf is None:
        return out
    out["reference"], out["tf"] = fmt_value(ref, dtype), fmt_value(tf, dtype)
    errors = element_errors(ref, tf, dtype)
    if errors is not None:
        abs_err, rel_err = float(errors.abs[0]), float(errors.rel[0])
        ulp = float(errors.ulp[0]) if errors.ulp is not None else None
        out["abs"], out["rel"] = fmt_num(abs_err), fmt_num(rel_err)
        out["ulp"] = fmt_num(int(ulp) if ulp is not None and math.isfinite(ulp) else ulp)
        if source.ulp is not None:
            out["allowed"] = f"{source.ulp} ULP"
            if ulp is not None and source.ulp > 0:
                out["times"] = fmt_num(ulp / source.ulp)
        elif source.rtol is not None or source.atol is not None:
            allowed = float(errors.allowed(source.rtol or 0.0, source.atol or 0.0)[0])
            out["allowed"] = fmt_num(allowed)
            if allowed > 0 and math.isfinite(abs_err):
                out["times"] = fmt_num(abs_err / allowed)
    return out


def _first_line(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return ""


def histogram(case: CaseResult | Mapping[str, Any], source: DiffSource, salt: str) -> Markup:
    """Abs, rel and ULP histograms of the source's elements (empty when they do not pair)."""
    case = as_result(case)
    if not source.histogram:
        return Markup("")
    errors: Errors | None = element_errors(source.reference, source.tf, case.dtype)
    if errors is None or errors.abs.size == 0:
        return Markup("")
    bad = errors.mismatch(source.rtol, source.atol, source.ulp)
    panels = [
        {"title": "|reference − tf|", "values": errors.abs, "bad": bad, "xlabel": "absolute error",
         "limit": source.atol if source.ulp is None else None,
         "limit_label": f"atol {source.atol:g}" if source.atol is not None else ""},
        {"title": "|reference − tf| / |tf|", "values": errors.rel, "bad": bad, "xlabel": "relative error",
         "limit": source.rtol if source.ulp is None else None,
         "limit_label": f"rtol {source.rtol:g}" if source.rtol is not None else ""},
    ]
    ulp = errors.ulp
    if ulp is not None:
        panels.append({"title": "ULP distance", "values": ulp, "bad": bad, "xlabel": "ULP", "integer": True,
                       "limit": float(source.ulp) if source.ulp is not None else None,
                       "limit_label": f"ulp {source.ulp}" if source.ulp is not None else ""})
    return svg.error_histograms(panels, salt=salt)
