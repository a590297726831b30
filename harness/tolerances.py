"""Per-dtype comparison tolerances and the parsing of a case's ``tolerance:`` override.

An elementwise check passes when ``|actual - desired| <= atol + rtol * |desired|`` (desired =
TensorFlow's value), or, for a ULP tolerance, when the ULP distance is ``<= ulp``: that rule
is :meth:`Tolerance.within` and nowhere else (the comparison engine, the diff grid, the
ledger and the fuzzer all ask it).

Accepted override specs::

    None                                   the dtype default
    {rtol: 1e-5, atol: 1e-6, reason: ...}  either of rtol/atol may be left out: it keeps the default
    {ulp: 4, reason: ...}                  ULP mode (rtol/atol unused)
    {float16: {...}, float32: {...}}       keyed by dtype; a missing dtype keeps its default

Numbers may be YAML strings such as ``"1e-5"`` (YAML 1.1 reads ``1e-5`` without a dot as a string).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import ml_dtypes
import numpy as np

from harness.vocab import FLOAT_DTYPES

DEFAULTS: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}
"""``dtype name -> (rtol, atol)``."""

SPEC_KEYS = ("rtol", "atol", "ulp", "reason")


class ToleranceError(ValueError):
    """A malformed tolerance spec; ``field`` is the dotted path of the culprit (``tolerance.reason``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    ulp: int | None = None
    reason: str | None = None
    source: str = "default"

    def describe(self) -> str:
        """``rtol=1.3e-06, atol=1e-05`` or ``ulp=4`` (the form used in failure messages)."""
        if self.ulp is not None:
            return f"ulp={self.ulp}"
        return f"rtol={self.rtol:g}, atol={self.atol:g}"

    def allowed(self, desired: Any, dtype: Any = None) -> Any:
        """The largest absolute error allowed at each element: ``atol + rtol * |desired|`` (a
        float for a float, an array for an array); for a ``{ulp: N}`` tolerance and a float
        ``dtype``, N spacings of ``desired`` in that dtype."""
        if self.ulp is not None and dtype is not None and np.dtype(dtype).name in FLOAT_DTYPES:
            return self.ulp * np.abs(np.spacing(np.abs(np.asarray(desired).astype(dtype)))).astype(np.float64)
        return self.atol + self.rtol * abs(desired)

    def within(self, abs_err: Any, desired: Any, ulp: Any = None) -> np.ndarray:
        """The pass rule, element by element: ``ulp <= N`` for a ``{ulp: N}`` tolerance (``ulp``
        are the elements' ULP distances), else ``abs_err <= atol + rtol * |desired|``. A NaN
        error is never within."""
        if self.ulp is not None:
            if ulp is None:
                raise TypeError("a ULP tolerance needs the elements' ULP distances (a float dtype)")
            return np.asarray(ulp) <= self.ulp
        with np.errstate(invalid="ignore"):
            return np.asarray(abs_err) <= self.allowed(np.asarray(desired))

    def passes(self, actual: Any, desired: Any, dtype: Any = None) -> np.ndarray:
        """Which elements of ``actual`` pass against ``desired`` (TF): equal values (NaN and
        NaN, equal infinities) always, the others by :meth:`within`. ULP distances are
        counted in ``dtype`` (default: ``desired``'s dtype)."""
        a, d = np.asarray(actual), np.asarray(desired)
        wa, wd = a.astype(np.float64), d.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(wa - wd)
        same = (wa == wd) | (np.isnan(wa) & np.isnan(wd))
        ulp = ulp_distance(a, d, dtype if dtype is not None else d.dtype) if self.ulp is not None else None
        return same | self.within(err, wd, ulp)


def default_tolerance(dtype: str) -> Tolerance:
    """The default for ``dtype``; integer and bool dtypes compare exactly."""
    name = str(dtype)
    if name in DEFAULTS:
        rtol, atol = DEFAULTS[name]
        return Tolerance(rtol, atol)
    try:
        kind = np.dtype(name).kind
    except TypeError:
        kind = ""
    if kind in ("i", "u", "b"):
        return Tolerance(0.0, 0.0)
    raise ToleranceError("tolerance", f"tolerance: no default tolerance for dtype {name!r} "
                                      f"(known: {', '.join(DEFAULTS)}, integer and bool dtypes)")


def resolve_tolerance(spec: Any, dtype: str, *, field: str = "tolerance") -> Tolerance:
    """The tolerance for ``dtype`` given a case's ``tolerance:`` value (see module docstring).

    ``field`` prefixes error messages, e.g. ``expect.tolerance`` for an ``expect`` override.
    """
    if spec is None:
        return default_tolerance(dtype)
    if isinstance(spec, Tolerance):
        return spec
    if not isinstance(spec, Mapping):
        raise ToleranceError(field, f"{field}: expected a mapping such as {{rtol: 1e-5, atol: 1e-6, "
                                    f"reason: ...}} or {{ulp: 4, reason: ...}}, got {spec!r}")
    keys = [str(k) for k in spec]
    if keys and any(k in DEFAULTS for k in keys):
        unknown = [k for k in keys if k not in DEFAULTS]
        if unknown:
            raise ToleranceError(f"{field}.{unknown[0]}",
                                 f"{field}: unknown key {unknown[0]!r} in a mapping keyed by dtype "
                                 f"(allowed: {', '.join(DEFAULTS)})")
        return resolve_tolerance(spec.get(str(dtype)), dtype, field=f"{field}.{dtype}")
    return _parse_override(spec, str(dtype), field)


def _parse_override(spec: Mapping, dtype: str, field: str) -> Tolerance:
    unknown = [str(k) for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise ToleranceError(f"{field}.{unknown[0]}",
                             f"{field}: unknown key {unknown[0]!r} (allowed: {', '.join(SPEC_KEYS)}, "
                             f"or a mapping keyed by dtype: {', '.join(DEFAULTS)})")
    reason = spec.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ToleranceError(f"{field}.reason",
                             f"{field}: an override needs a reason (add reason: why this op needs it)")
    reason = reason.strip()
    if "ulp" in spec:
        if "rtol" in spec or "atol" in spec:
            raise ToleranceError(f"{field}.ulp", f"{field}: give either ulp or rtol/atol, not both")
        ulp = _number(spec["ulp"], f"{field}.ulp")
        if ulp != int(ulp):
            raise ToleranceError(f"{field}.ulp", f"{field}.ulp: must be a whole number, got {spec['ulp']!r}")
        return Tolerance(0.0, 0.0, ulp=int(ulp), reason=reason, source="override")
    if "rtol" not in spec and "atol" not in spec:
        raise ToleranceError(field, f"{field}: give rtol and/or atol, or ulp")
    default = default_tolerance(dtype)
    rtol = _number(spec["rtol"], f"{field}.rtol") if "rtol" in spec else default.rtol
    atol = _number(spec["atol"], f"{field}.atol") if "atol" in spec else default.atol
    return Tolerance(rtol, atol, reason=reason, source="override")


def _number(value: Any, field: str) -> float:
    """A finite, non-negative number (numeric strings accepted)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ToleranceError(field, f"{field}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ToleranceError(field, f"{field}: must be a finite number >= 0, got {value!r}")
    return number


GRAD_DEFAULTS: dict[str, tuple[float, float]] = {
    "float16": (1e-2, 1e-3),
    "bfloat16": (5e-2, 1e-2),
    "float32": (1e-5, 1e-6),
    "float64": (1e-7, 1e-9),
}
"""``dtype name -> (rtol, atol)`` for gradients (analytic reference vs TF's GradientTape).
Looser than the value defaults: a gradient is a difference of terms of the value's size
(softmax - labels), so its relative error is larger where it is small."""


def grad_tolerance(dtype: str, method: str = "analytic") -> Tolerance:
    """The gradient tolerance for ``dtype``; a finite-difference reference is at least as
    loose as its own error bound (:data:`harness.finite_differences.FD_TOLERANCE`)."""
    rtol, atol = GRAD_DEFAULTS[str(dtype)]
    if method.startswith("finite-difference/"):
        from harness.finite_differences import FD_TOLERANCE

        fd_rtol, fd_atol = FD_TOLERANCE[method.split("/", 1)[1]]
        rtol, atol = max(rtol, fd_rtol), max(atol, fd_atol)
    return Tolerance(rtol, atol, source="grad-default")


_UINTS = {"float16": (np.float16, np.uint16), "bfloat16": (ml_dtypes.bfloat16, np.uint16),
          "float32": (np.float32, np.uint32), "float64": (np.float64, np.uint64)}
"""Each float dtype of :data:`harness.vocab.FLOAT_DTYPES` and the unsigned integer of its width."""


def ulp_distance(a: Any, b: Any, dtype: Any) -> np.ndarray:
    """Elementwise number of representable ``dtype`` values between ``a`` and ``b`` (as float64).

    Both are cast to ``dtype``; each bit pattern becomes a signed magnitude on one ordered integer
    line, so ``+0``/``-0`` are 0 ULP apart and adjacent floats 1 ULP, across the sign too. NaN vs
    NaN and equal infinities are 0; NaN vs anything else and inf vs anything else are ``inf``.
    """
    name = np.dtype(dtype).name
    if name not in _UINTS:
        raise TypeError(f"ulp_distance: {name} is not a float dtype ({', '.join(FLOAT_DTYPES)})")
    float_type, uint_type = _UINTS[name]
    a, b = np.broadcast_arrays(np.asarray(a).astype(float_type), np.asarray(b).astype(float_type))
    bits = 8 * np.dtype(uint_type).itemsize
    sign_bit = np.uint64(1) << np.uint64(bits - 1)

    def sign_magnitude(x):
        u = x.view(uint_type).astype(np.uint64)
        return (u & sign_bit) != 0, u & ~sign_bit

    sign_a, mag_a = sign_magnitude(a)
    sign_b, mag_b = sign_magnitude(b)
    distance = np.where(sign_a == sign_b, np.maximum(mag_a, mag_b) - np.minimum(mag_a, mag_b), mag_a + mag_b)
    distance = distance.astype(np.float64)
    wide_a, wide_b = a.astype(np.float64), b.astype(np.float64)
    nan_a, nan_b = np.isnan(wide_a), np.isnan(wide_b)
    nonfinite = ~np.isfinite(wide_a) | ~np.isfinite(wide_b)
    distance = np.where(nonfinite, np.where((nan_a & nan_b) | (wide_a == wide_b), 0.0, np.inf), distance)
    return distance
