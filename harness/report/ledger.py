"""Element errors of a case and the tolerance ledger: observed error against allowed tolerance.

For an ``rtol``/``atol`` tolerance an element passes when ``|ref - tf| <= atol + rtol * |tf|``,
so the allowed error differs per element. The ledger takes the element that comes closest to
failing — the largest ``|ref - tf| / (atol + rtol * |tf|)`` — and reports its observed error,
its allowed error and ``headroom = allowed / observed`` (below 1: a mismatch; ``inf``: exact).
For a ``{ulp: N}`` tolerance, observed is the max ULP distance and allowed is ``N``. Elements
non-finite on either side are judged by position (NaN and ±inf must match), not by tolerance,
so they are left out of the headroom.

When a case's outputs are not in the results (or cannot be paired) the headroom falls back to
the lower bound ``atol / max_abs_err + rtol / max_rel_err``, marked as a bound.

Flags: ``loose`` — the tolerance is at least :data:`LOOSE_FACTOR` times the observed error;
``exact`` — the same for an exact match (observed 0, any tolerance is infinitely loose);
``no-reason`` — an override (a tolerance other than the dtype default) without a reason;
``exceeded`` — headroom below 1, the comparison failed; ``positions-only`` — every element
NaN or ±inf on both sides: the check compared positions, no value.

A case with ``expect`` has a second entry, ``expect``: the published value against TF and
the reference (the worse of the two), at the tolerance that judged it (``expect_tolerance``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from harness.result import CaseResult, as_result, is_value_check

from harness.precision import possible_precisions
from harness.tolerances import DEFAULTS, Tolerance, ulp_distance
from harness.vocab import FLOAT_DTYPES

LOOSE_FACTOR = 100.0


def as_float(x: Any) -> float | None:
    """A JSON number, or one of the strings ``nan``/``inf``/``-inf`` that strict JSON needs, as float."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str) and x.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(x.strip().lower().replace("infinity", "inf"))
    return None


def leaves(node: Any) -> list[Any]:
    """The leaves of a nested list in order (``[node]`` for a scalar)."""
    if not isinstance(node, list):
        return [node]
    out: list[Any] = []

    def walk(items: list) -> None:
        if not any(isinstance(item, list) for item in items):
            out.extend(items)
            return
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append(item)

    walk(node)
    return out


def _floats(values: list[Any]) -> list[float] | None:
    """``as_float`` of each value, or ``None`` if any is not a number."""
    out = [x if x.__class__ is float else as_float(x) for x in values]
    return None if any(x is None for x in out) else out


@dataclass
class Errors:
    """Element-wise errors of ``actual`` against ``desired`` (TF), flattened, as float64."""

    actual: np.ndarray
    desired: np.ndarray
    abs: np.ndarray
    rel: np.ndarray
    finite: np.ndarray
    dtype: str | None

    @property
    def ulp(self) -> np.ndarray | None:
        if self.dtype not in FLOAT_DTYPES:
            return None
        return ulp_distance(self.actual, self.desired, self.dtype)

    def allowed(self, rtol: float, atol: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return Tolerance(rtol, atol).allowed(self.desired)

    def mismatch(self, rtol: float | None, atol: float | None, ulp: int | None) -> np.ndarray:
        """Elements that fail: a NaN/inf at another position, or beyond the tolerance."""
        positional = ~self.finite & (self.abs != 0)
        distances = self.ulp if ulp is not None else None
        tol = Tolerance(rtol or 0.0, atol or 0.0, ulp=ulp if distances is not None else None)
        with np.errstate(invalid="ignore"):
            beyond = ~tol.within(self.abs, self.desired, distances)
        return positional | (self.finite & beyond)


def element_errors(actual: Any, desired: Any, dtype: str | None) -> Errors | None:
    """Pair two output trees leaf by leaf; ``None`` if they do not pair or are not numbers.

    ``abs`` is ``|actual - desired|`` with equal values (also equal infinities and NaN vs NaN)
    at 0 and a NaN/inf against anything else at ``inf``; ``rel = abs / |desired|``, ``0`` where
    both are 0 and ``inf`` where only ``desired`` is.
    """
    pair = _pair(actual, desired)
    return _errors(pair, dtype) if pair is not None else None


def _pair(actual: Any, desired: Any) -> tuple[list[float], list[float]] | None:
    """Both trees' leaves as floats, or ``None`` if they do not pair or are not numbers."""
    a_leaves, d_leaves = leaves(actual), leaves(desired)
    if not a_leaves or len(a_leaves) != len(d_leaves):
        return None
    a, d = _floats(a_leaves), _floats(d_leaves)
    return None if a is None or d is None else (a, d)


def _errors(pair: tuple[list[float], list[float]], dtype: str | None) -> Errors:
    a, d = pair
    a_arr, d_arr = np.array(a, dtype=np.float64), np.array(d, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        same = (a_arr == d_arr) | (np.isnan(a_arr) & np.isnan(d_arr))
        finite = np.isfinite(a_arr) & np.isfinite(d_arr)
        abs_err = np.where(same, 0.0, np.where(finite, np.abs(a_arr - d_arr), np.inf))
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(d_arr))
    return Errors(a_arr, d_arr, abs_err, rel_err, finite, dtype)


@dataclass
class Headroom:
    observed: float | None
    allowed: float | None
    headroom: float | None
    unit: str  # "abs" or "ULP"
    bound: bool = False  # headroom is a lower bound (no element data)


def headroom(errors: Errors | None, *, rtol: float | None, atol: float | None, ulp: int | None,
             max_abs: float | None = None, max_rel: float | None = None, max_ulp: float | None = None) -> Headroom:
    """Observed error, allowed error and their ratio at the element closest to failing."""
    if ulp is not None:
        observed = None
        if errors is not None and errors.ulp is not None and errors.finite.any():
            observed = float(np.max(errors.ulp[errors.finite]))
        elif max_ulp is not None and math.isfinite(max_ulp):
            observed = float(max_ulp)
        return Headroom(observed, float(ulp), _ratio(float(ulp), observed), "ULP")
    rtol, atol = rtol or 0.0, atol or 0.0
    if errors is not None and errors.finite.any():
        err = errors.abs[errors.finite]
        allowed = errors.allowed(rtol, atol)[errors.finite]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(err == 0, 0.0, err / allowed)
        if not share.any():
            return Headroom(0.0, float(np.min(allowed)), _ratio(float(np.min(allowed)), 0.0), "abs")
        i = int(np.argmax(share))
        if np.isinf(share[i]):  # zero allowed error: the largest error among those is the worst
            i = int(np.argmax(np.where(np.isinf(share), err, -1.0)))
        return Headroom(float(err[i]), float(allowed[i]), _ratio(float(allowed[i]), float(err[i])), "abs")
    if max_abs is None or not math.isfinite(max_abs):
        return Headroom(None, None, None, "abs")
    if max_abs == 0:
        return Headroom(0.0, atol or None, math.inf if (atol or rtol) else None, "abs")
    bound = atol / max_abs + (rtol / max_rel if max_rel else 0.0)
    return Headroom(max_abs, None, bound, "abs", bound=True)


def _closest_to_failing(actual: list[float], desired: list[float], rtol: float, atol: float) -> Headroom | None:
    """:func:`headroom` for an ``rtol``/``atol`` tolerance, on plain floats.

    The same IEEE float64 arithmetic, element by element, as the NumPy version: most outputs
    have a few elements, and there NumPy's per-call overhead was most of the ledger's time.
    ``None`` (use the NumPy version) when no element is finite on both sides or a share is NaN.
    """
    isfinite = math.isfinite
    allowed_at = Tolerance(rtol, atol).allowed
    rows = []  # (share of the allowed error, error, allowed error) of each finite element
    for x, y in zip(actual, desired):
        if isfinite(x) and isfinite(y):
            err = 0.0 if x == y else abs(x - y)
            allowed = allowed_at(y)
            share = 0.0 if err == 0 else err / allowed if allowed else math.inf
            if share != share:
                return None
            rows.append((share, err, allowed))
    if not rows:
        return None
    share, err, allowed = max(rows, key=itemgetter(0))  # the first of the largest, as np.argmax
    if share == 0:
        least = min(row[2] for row in rows)
        return Headroom(0.0, least, _ratio(least, 0.0), "abs")
    if share == math.inf:  # zero allowed error: the largest error among those is the worst
        share, err, allowed = max((row for row in rows if row[0] == math.inf), key=itemgetter(1))
    return Headroom(err, allowed, _ratio(allowed, err), "abs")


def _pair_headroom(pair: tuple[list[float], list[float]] | None, dtype: str | None, *, rtol: float | None,
                   atol: float | None, ulp: int | None, max_abs: float | None = None, max_rel: float | None = None,
                   max_ulp: float | None = None) -> Headroom:
    """:func:`headroom` of both sides' leaves (``None``: no element data)."""
    if pair is not None and ulp is None and _plain(rtol) and _plain(atol):
        room = _closest_to_failing(*pair, rtol or 0.0, atol or 0.0)
        if room is not None:
            return room
    errors = _errors(pair, dtype) if pair is not None else None
    return headroom(errors, rtol=rtol, atol=atol, ulp=ulp, max_abs=max_abs, max_rel=max_rel, max_ulp=max_ulp)


def _plain(tolerance: float | None) -> bool:
    return tolerance is None or (math.isfinite(tolerance) and tolerance >= 0)


def _ratio(allowed: float, observed: float | None) -> float | None:
    if observed is None:
        return None
    if observed == 0:
        return math.inf if allowed > 0 else None
    return allowed / observed


def default_tolerances(dtype: str | None) -> list[tuple[float, float]]:
    """``(rtol, atol)`` defaults that may apply to a case of ``dtype``: its own and those of
    each precision TF's result may carry (:func:`harness.precision.possible_precisions`; the
    runner compares at that precision's default, with a warning, without a reason)."""
    return [DEFAULTS[d] for d in possible_precisions(dtype)]


def override(case: CaseResult | Mapping[str, Any]) -> tuple[bool, str]:
    """``(is an override, its reason)``: a reason, a ULP tolerance, or rtol/atol that are no
    default of the case dtype (or of a coarser dtype TF returned)."""
    case = as_result(case)
    reason = case.tolerance_reason
    reason = reason.strip() if isinstance(reason, str) else ""
    if reason:
        return True, reason
    if case.ulp is not None:
        return True, ""
    defaults = default_tolerances(case.dtype)
    rtol, atol = as_float(case.rtol), as_float(case.atol)
    if not defaults or rtol is None or atol is None:
        return False, ""
    same = any(math.isclose(rtol, r, rel_tol=1e-9) and math.isclose(atol, a, rel_tol=1e-9) for r, a in defaults)
    return not same, ""


def _entry(label: str, kind: str, room: Headroom, tolerance: str, *, is_override: bool, reason: str,
           positions_only: bool = False) -> dict:
    flags = ["positions-only"] if positions_only else []
    if room.headroom is not None and room.headroom >= LOOSE_FACTOR:
        flags.append("exact" if room.observed == 0 else "loose")
    if is_override and not reason:
        flags.append("no-reason")
    if room.headroom is not None and room.headroom < 1:
        flags.append("exceeded")
    return {"label": label, "kind": kind, "tolerance": tolerance, "observed": room.observed, "allowed": room.allowed,
            "headroom": room.headroom, "unit": room.unit, "bound": room.bound, "override": is_override,
            "reason": reason, "flags": flags}


def _positions_only(case: CaseResult) -> bool:
    """Whether the value check (``reference vs tf``, ``torch vs tf`` ...) compared positions only."""
    return any(isinstance(c, Mapping) and is_value_check(str(c.get("name"))) and c.get("positions_only")
               for c in case.checks or [])


def headrooms(case: CaseResult | Mapping[str, Any]) -> dict[str, Headroom]:
    """The headroom of each ledger entry of a case, by label: ``value``, ``expect`` and, for
    grad cases, ``grad NAME``; computed from its outputs, or read from ``ledger`` (a passed
    case's results.json entry keeps these instead of its outputs: :func:`headroom_record`)."""
    case = as_result(case)
    if isinstance(case.ledger, Mapping):
        return {str(label): _stored(room) for label, room in case.ledger.items()}
    outputs = case.outputs if isinstance(case.outputs, Mapping) else {}
    rooms: dict[str, Headroom] = {}
    if case.max_abs_err is None and case.max_ulp is None and not _positions_only(case):
        return _expect_room(case, outputs, rooms)
    rtol, atol, ulp = as_float(case.rtol), as_float(case.atol), case.ulp
    ulp = int(ulp) if isinstance(ulp, (int, float)) and not isinstance(ulp, bool) else None
    values = _pair(outputs.get("reference"), outputs.get("tf")) if "reference" in outputs else None
    rooms["value"] = _pair_headroom(values, case.dtype, rtol=rtol, atol=atol, ulp=ulp, max_abs=as_float(case.max_abs_err),
                                    max_rel=as_float(case.max_rel_err), max_ulp=as_float(case.max_ulp))
    _expect_room(case, outputs, rooms)
    grads = outputs.get("grads")
    grad_tol = case.grad_tolerance if isinstance(case.grad_tolerance, Mapping) else {}
    if isinstance(grads, Mapping):
        g_rtol, g_atol = as_float(grad_tol.get("rtol")), as_float(grad_tol.get("atol"))
        for name, pair in grads.items():
            if not isinstance(pair, Mapping) or g_rtol is None and g_atol is None:
                continue
            g_pair = _pair(pair.get("reference"), pair.get("tf"))
            if g_pair is not None:
                rooms[f"grad {name}"] = _pair_headroom(g_pair, case.dtype, rtol=g_rtol, atol=g_atol, ulp=None)
    return rooms


def headroom_record(case: CaseResult) -> dict[str, list]:
    """:func:`headrooms` as results.json keeps them: ``{label: [observed, allowed, headroom, unit, bound]}``."""
    return {label: [room.observed, room.allowed, room.headroom, room.unit, room.bound]
            for label, room in headrooms(case).items()}


def _stored(room: Any) -> Headroom:
    observed, allowed, ratio, unit, bound = room if isinstance(room, list) and len(room) == 5 else (None,) * 3 + ("abs", False)
    return Headroom(as_float(observed), as_float(allowed), as_float(ratio), str(unit), bool(bound))


def case_entries(case: CaseResult | Mapping[str, Any]) -> list[dict]:
    """The ledger entries of one case: its value tolerance, its ``expect`` and, for grad
    cases, each gradient's (their headrooms: :func:`headrooms`)."""
    case = as_result(case)
    rooms = headrooms(case)
    entries = []
    if "value" in rooms:
        ulp = case.ulp if isinstance(case.ulp, (int, float)) and not isinstance(case.ulp, bool) else None
        is_override, reason = override(case)
        tolerance = f"ulp ≤ {int(ulp)}" if ulp is not None else f"rtol {_g(as_float(case.rtol))} / atol {_g(as_float(case.atol))}"
        entries.append(_entry("value", "override" if is_override else "default", rooms["value"], tolerance,
                              is_override=is_override, reason=reason,
                              positions_only=_positions_only(case)))
    if "expect" in rooms and isinstance(case.expect_tolerance, Mapping):
        tol = case.expect_tolerance
        ulp = _expect_ulp(tol)
        reason = tol.get("reason").strip() if isinstance(tol.get("reason"), str) else ""
        tolerance = f"ulp ≤ {ulp}" if ulp is not None else f"rtol {_g(as_float(tol.get('rtol')))} / atol {_g(as_float(tol.get('atol')))}"
        entries.append(_entry("expect", "override" if reason else "default", rooms["expect"], tolerance,
                              is_override=bool(reason), reason=reason))
    grad_tol = case.grad_tolerance if isinstance(case.grad_tolerance, Mapping) else {}
    for label, room in rooms.items():
        if label.startswith("grad "):
            entries.append(_entry(label, f"grad ({case.grad_method or 'grad'})", room,
                                  f"rtol {_g(as_float(grad_tol.get('rtol')))} / atol {_g(as_float(grad_tol.get('atol')))}",
                                  is_override=False, reason=""))
    return entries


def _expect_ulp(tol: Mapping[str, Any]) -> int | None:
    return tol.get("ulp") if isinstance(tol.get("ulp"), int) and not isinstance(tol.get("ulp"), bool) else None


def _expect_room(case: CaseResult, outputs: Mapping[str, Any], rooms: dict[str, Headroom]) -> dict[str, Headroom]:
    """Adds ``expect``: the published value against each side, the worse headroom."""
    tol = case.expect_tolerance
    if "expect" not in outputs or not isinstance(tol, Mapping):
        return rooms
    rtol, atol = as_float(tol.get("rtol")), as_float(tol.get("atol"))
    found = [_pair_headroom(pair, case.dtype, rtol=rtol, atol=atol, ulp=_expect_ulp(tol))
             for pair in (_pair(outputs.get(side), outputs["expect"]) for side in ("tf", "reference")) if pair is not None]
    found = [r for r in found if r.headroom is not None] or found
    if found:
        rooms["expect"] = min(found, key=lambda r: r.headroom if r.headroom is not None else math.inf)
    return rooms


def _g(x: float | None) -> str:
    return "—" if x is None else f"{x:g}"
