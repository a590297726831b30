"""The one comparison engine: reference result vs TensorFlow result, in the manner of
``numpy.testing.assert_array_compare``.

Checks, in order (the first failing one decides ``Comparison.kind``):

1. ``shape``: exact equality (a 0-d scalar ``()`` differs from ``(1,)``);
2. ``dtype``: dtype names (``float32`` vs ``float64``), when ``check_dtype``;
3. ``nan``: NaN positions must match;
4. ``inf``: ``+inf`` and ``-inf`` positions (and signs) must match;
5. ``tolerance``: on the finite rest, :meth:`Tolerance.within <harness.tolerances.Tolerance.within>`
   (``b`` = desired = TF).

Errors are computed in float64. ``rel_err = |a - b| / |b|``; where ``b == 0`` it is ``0`` if
``a == b`` and ``inf`` otherwise. The ``max_*`` statistics cover every element finite on both sides
(so a passing comparison reports its margin too); ``worst_index`` and ``mismatches`` cover the
failing elements only.

Number formatting in messages (one rule per kind of number):

* array values: the shortest ``%g`` string that round-trips in the value's own dtype
  (``0.3265626`` for float32, ``0.3262`` for bfloat16, ``0.1`` for float64 ``0.1``);
* absolute / relative errors: ``%.7g``; ULP distances: integers; tolerances: ``%g``;
* percentages as ``numpy.testing``: ``%.3g`` of ``100 * k / n`` (``50%``, ``33.3%``, ``0.01%``).
"""
from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np

from harness.tolerances import Tolerance, ulp_distance
from harness.vocab import FLOAT_DTYPES

MAX_MISMATCHES = 20


@dataclass
class Mismatch:
    index: tuple[int, ...]
    actual: float
    desired: float
    abs_err: float
    rel_err: float
    ulp: float


@dataclass
class Comparison:
    ok: bool
    kind: str
    message: str
    n_mismatch: int
    n_total: int
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    max_ulp: float | None = None
    worst_index: tuple[int, ...] | None = None
    mismatches: list[Mismatch] = field(default_factory=list)


def compare(actual: Any, desired: Any, tol: Tolerance, *, check_dtype: bool = True,
            names: tuple[str, str] = ("reference", "tf"), header: str = "", fast: bool = True) -> Comparison:
    """Compare ``actual`` (reference) with ``desired`` (TF); see the module docstring.

    ``fast=False`` skips :func:`_finite_pass` (tests check both paths give the same numbers)."""
    a, b = np.asarray(actual), np.asarray(desired)
    report = _Report(a, b, names, header)
    if a.shape != b.shape:
        return report.fail("shape", f"Shapes differ: {names[0]} {a.shape} vs {names[1]} {b.shape}",
                           n_mismatch=max(a.size, b.size), n_total=max(a.size, b.size))
    if check_dtype and a.dtype != b.dtype and a.dtype.name != b.dtype.name:
        return report.fail("dtype", f"Dtypes differ: {names[0]} {a.dtype.name} vs {names[1]} {b.dtype.name}",
                           n_mismatch=a.size, n_total=a.size)
    if fast and a.dtype in _ORDERED_INTS and b.dtype in _ORDERED_INTS and a.size:
        passed = _finite_pass(a, b, tol)
        if passed is not None:
            return passed
    dtype = common_dtype(a.dtype, b.dtype)
    wa, wb = a.astype(np.float64), b.astype(np.float64)
    finite = np.isfinite(wa) & np.isfinite(wb)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        same_nonfinite = (np.isnan(wa) & np.isnan(wb)) | (~finite & (wa == wb))
        abs_err = np.where(finite, np.abs(wa - wb), np.where(same_nonfinite, 0.0, np.inf))
        rel_err = np.where(abs_err == 0, 0.0, np.where(finite & (wb != 0), abs_err / np.abs(wb), np.inf))
    ulp = ulp_distance(a, b, dtype) if dtype.name in FLOAT_DTYPES else None
    stats = _stats(finite, abs_err, rel_err, ulp)

    for kind, label, differs in (
        ("nan", "NaN", np.isnan(wa) != np.isnan(wb)),
        ("inf", "Inf", ((wa == np.inf) != (wb == np.inf)) | ((wa == -np.inf) != (wb == -np.inf))),
    ):
        if differs.any():
            return report.positions(kind, label, differs, (wa, wb, abs_err, rel_err, ulp), stats)

    if tol.ulp is not None:
        if ulp is None:
            raise TypeError(f"a ULP tolerance needs a float dtype, got {dtype.name}")
        score = np.where(finite, ulp, 0.0)
        bad = ~tol.within(abs_err, wb, score)
    else:
        score = abs_err
        bad = finite & ~tol.within(abs_err, wb)
    n_bad = int(bad.sum())
    if n_bad == 0:
        return Comparison(True, "ok", "", 0, a.size, **stats)
    flat_bad = np.flatnonzero(bad)
    order = flat_bad[np.argsort(-score.ravel()[flat_bad], kind="stable")]
    worst = _index(order[0], a.shape)
    lines = [f"Not equal to tolerance {tol.describe()} ({dtype.name})",
             f"Mismatched elements: {_count(n_bad, a.size)}",
             f"Max absolute difference: {stats['max_abs_err']:.7g}",
             f"Max relative difference: {stats['max_rel_err']:.7g}"]
    if ulp is not None:
        lines.append(f"Max ULP difference: {_format_ulp(stats['max_ulp'])}")
    lines.append(f"Worst index: {worst}")
    return report.fail("tolerance", "\n".join(lines), n_mismatch=n_bad, n_total=a.size, worst_index=worst,
                       mismatches=_mismatches(order, a.shape, wa, wb, abs_err, rel_err, ulp), **stats)


_ORDERED_INTS = {np.dtype(np.float16): (np.int16, 0x7FFF), np.dtype(ml_dtypes.bfloat16): (np.int16, 0x7FFF),
                 np.dtype(np.float32): (np.int32, 0x7FFFFFFF), np.dtype(np.float64): (np.int64, 0x7FFFFFFFFFFFFFFF)}


def _finite_pass(a: np.ndarray, b: np.ndarray, tol: Tolerance) -> Comparison | None:
    """The common case in few array operations: float dtypes, every element finite on both
    sides and within tolerance. Returns the passing :class:`Comparison` (with the same
    statistics the general path computes) or None, and the general path decides.

    ULP distances use the integer view: a float's bits as a signed integer, negative floats
    mirrored (``-(bits & magnitude_mask)``), put adjacent floats 1 apart and ``+0``/``-0``
    at the same place; float64 pairs of opposite sign are left to :func:`ulp_distance`
    (their distance can overflow int64). Of two float dtypes (``expect``'s float64 against an
    output), ULPs are counted in the coarser one, as the general path counts them: both
    arrays cast to it (left to the general path if that overflows)."""
    ua, ub = a, b
    if a.dtype != b.dtype:
        dtype = common_dtype(a.dtype, b.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            ua, ub = a.astype(dtype), b.astype(dtype)
        if not (np.isfinite(ua).all() and np.isfinite(ub).all()):
            return None
    if a.size == 1:
        return _finite_pass_one(a, b, tol, ua, ub)
    if a.dtype == b.dtype and (a == b).all() and np.isfinite(a).all():
        # Equal values (most checks): every error and ULP distance is 0 (+0 and -0 are 0 ULP apart).
        return Comparison(True, "ok", "", 0, a.size, max_abs_err=0.0, max_rel_err=0.0, max_ulp=0.0)
    if a.size <= PASS_CHUNK:
        stats = _finite_stats(a, b, ua, ub, tol)
    else:  # a large output: chunk by chunk, each chunk's float64 temporaries in cache; maxima are exact
        flat = [x.reshape(-1) for x in (a, b, ua, ub)]
        stats = (0.0, 0.0, math.nan, 0)
        for start in range(0, a.size, PASS_CHUNK):
            part = _finite_stats(*(x[start:start + PASS_CHUNK] for x in flat), tol)
            if part is None:
                return None
            stats = (max(stats[0], part[0]), max(stats[1], part[1]), float(np.fmax(stats[2], part[2])),  # fmax passes NaN over
                     stats[3] + part[3])
    if stats is None:
        return None
    max_abs_err, max_ulp, max_rel_err, n_finite = stats
    if not n_finite:  # NaN and ±inf at the same places on both sides, nothing else: no statistics
        return Comparison(True, "ok", "", 0, a.size, max_abs_err=None, max_rel_err=None, max_ulp=None)
    if tol.ulp is not None and not tol.within(None, None, max_ulp):
        return None
    return Comparison(True, "ok", "", 0, a.size, max_abs_err=max_abs_err,
                      max_rel_err=0.0 if math.isnan(max_rel_err) else max_rel_err, max_ulp=max_ulp)


PASS_CHUNK = 1 << 16
"""Elements per chunk of :func:`_finite_pass` on a large output (its float64 and int64
temporaries, 512 KiB each, stay in cache: about 3× faster on 4 MB outputs)."""


def _finite_stats(a: np.ndarray, b: np.ndarray, ua: np.ndarray, ub: np.ndarray,
                  tol: Tolerance) -> tuple[float, float, float, int] | None:
    """Max absolute error, max ULP distance and max relative error (NaN when every error is
    0/0) of the finite elements, and their count; None when an element is beyond an
    ``rtol``/``atol`` tolerance or is not finite on one side only (the general path's
    business): :func:`_finite_pass`'s arithmetic on one part of the arrays. NaN against NaN
    and an infinity against the same infinity are left out, as the general path leaves them
    out of its statistics (arrays of two dtypes reach here only when finite)."""
    wa, wb = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        abs_err = np.abs(wa - wb)
    magnitude = np.abs(wb)
    max_abs_err = float(abs_err.max())  # NaN or inf when an element is not finite on both sides
    if not (math.isfinite(max_abs_err) and math.isfinite(magnitude.max())):
        finite = np.isfinite(wa) & np.isfinite(wb)
        if not (finite | (wa == wb) | (np.isnan(wa) & np.isnan(wb))).all():
            return None
        if not finite.any():
            return 0.0, 0.0, math.nan, 0
        return _finite_stats(a[finite], b[finite], ua[finite], ub[finite], tol)
    if tol.ulp is None and not (abs_err <= tol.allowed(magnitude)).all():  # Tolerance.within on finite errors
        return None
    int_type, mask = _ORDERED_INTS[ua.dtype]
    ia, ib = ua.view(int_type).astype(np.int64), ub.view(int_type).astype(np.int64)
    if int_type is np.int64 and ((ia ^ ib) < 0).any():
        ulp = ulp_distance(ua, ub, ua.dtype)
    else:
        ulp = np.abs(np.where(ia < 0, -(ia & mask), ia) - np.where(ib < 0, -(ib & mask), ib))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # x / 0 is inf; 0 / 0 is NaN where the error is 0
        max_rel_err = float(np.fmax.reduce(abs_err / magnitude, axis=None))  # fmax passes over the NaNs
    return max_abs_err, float(ulp.max()), max_rel_err, a.size


def _finite_pass_one(a: np.ndarray, b: np.ndarray, tol: Tolerance, ua: np.ndarray, ub: np.ndarray) -> Comparison | None:
    """:func:`_finite_pass` of one element (a scalar loss: most checks), in Python floats,
    which are float64 as the array path is: the same statistics (``ua``/``ub``: both in the
    dtype ULPs are counted in)."""
    x, y = float(a.reshape(-1)[0]), float(b.reshape(-1)[0])
    diff = x - y
    if not (math.isfinite(diff) and math.isfinite(y)):
        return None
    abs_err = abs(diff)
    if tol.ulp is None and not abs_err <= tol.atol + tol.rtol * abs(y):
        return None
    int_type, mask = _ORDERED_INTS[ua.dtype]
    ia, ib = int(ua.view(int_type).reshape(-1)[0]), int(ub.view(int_type).reshape(-1)[0])
    if int_type is np.int64 and (ia ^ ib) < 0:
        ulp = float(ulp_distance(ua, ub, ua.dtype).max())
    else:
        ulp = float(abs((-(ia & mask) if ia < 0 else ia) - (-(ib & mask) if ib < 0 else ib)))
    if tol.ulp is not None and not ulp <= tol.ulp:
        return None
    rel_err = 0.0 if abs_err == 0 else abs_err / abs(y) if y != 0 else math.inf
    return Comparison(True, "ok", "", 0, a.size, max_abs_err=abs_err, max_rel_err=rel_err, max_ulp=ulp)


class _Report:
    """Builds failing :class:`Comparison` objects: header, the check's text, then both arrays."""

    def __init__(self, a: np.ndarray, b: np.ndarray, names: tuple[str, str], header: str) -> None:
        self.arrays = ((names[0], a), (names[1], b))
        self.header = header

    def positions(self, kind: str, label: str, differs: np.ndarray, errors: tuple, stats: dict) -> Comparison:
        """The failure of NaN (``kind="nan"``) or inf positions that differ where ``differs``."""
        (_, a), (_, b) = self.arrays
        names = (self.arrays[0][0], self.arrays[1][0])
        first = _index(np.flatnonzero(differs)[0], a.shape)
        text = (f"{label} positions differ: {_count(differs.sum(), a.size)} elements, first at index {first}: "
                f"{names[0]} {_format_value(a[first], a.dtype)} vs {names[1]} {_format_value(b[first], b.dtype)}")
        return self.fail(kind, text, n_mismatch=int(differs.sum()), n_total=a.size, worst_index=first,
                         mismatches=_mismatches(np.flatnonzero(differs), a.shape, *errors), **stats)

    def fail(self, kind: str, text: str, **fields: Any) -> Comparison:
        lines = ([self.header] if self.header else []) + [text]
        lines += [f" {name}: {_format_array(x, f' {name}: ')}" for name, x in self.arrays]
        return Comparison(False, kind, "\n".join(lines), **fields)


def common_dtype(x: np.dtype, y: np.dtype) -> np.dtype:
    """The coarser float dtype of the two (ULP distances and the message use it); float64 if neither is a float."""
    floats = [d for d in (x, y) if d.name in FLOAT_DTYPES]
    if not floats:
        return np.dtype(np.float64) if x.kind == "f" or y.kind == "f" else x
    return max(floats, key=lambda d: float(ml_dtypes.finfo(d).eps))


def _stats(finite: np.ndarray, abs_err: np.ndarray, rel_err: np.ndarray, ulp: np.ndarray | None) -> dict:
    if not finite.any():
        return {"max_abs_err": None, "max_rel_err": None, "max_ulp": None}
    return {"max_abs_err": float(abs_err[finite].max()), "max_rel_err": float(rel_err[finite].max()),
            "max_ulp": None if ulp is None else float(ulp[finite].max())}


def _mismatches(order, shape, wa, wb, abs_err, rel_err, ulp) -> list[Mismatch]:
    flat = [arr.ravel() for arr in (wa, wb, abs_err, rel_err)]
    ulp_flat = None if ulp is None else ulp.ravel()
    return [Mismatch(_index(i, shape), float(flat[0][i]), float(flat[1][i]), float(flat[2][i]),
                     float(flat[3][i]), float("nan") if ulp_flat is None else float(ulp_flat[i]))
            for i in order[:MAX_MISMATCHES]]


def _index(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(flat_index), shape))


def _count(k: int, n: int) -> str:
    return f"{int(k)} / {n} ({100 * int(k) / n:.3g}%)"


def _format_ulp(x: float | None) -> str:
    return "inf" if x is None or not np.isfinite(x) else str(int(x))


def _format_value(x: Any, dtype: np.dtype) -> str:
    """Shortest ``%g`` string that round-trips in ``dtype`` (ints and bools as themselves)."""
    if dtype.kind == "b":
        return str(bool(x))
    if dtype.kind in ("i", "u"):
        return str(int(x))
    value = float(x)
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    target = dtype.type(value)
    for digits in range(1, 18):
        text = f"{value:.{digits}g}"
        if dtype.type(float(text)) == target:
            return text
    return repr(value)


def _format_array(x: np.ndarray, prefix: str) -> str:
    """``np.array2string`` with at most about 20 values shown."""
    edgeitems = 3 if x.ndim <= 1 else 2 if x.ndim == 2 else 1
    return np.array2string(x, separator=", ", threshold=20, edgeitems=edgeitems, prefix=prefix,
                           max_line_width=100, formatter={"all": lambda v: _format_value(v, x.dtype)})
