"""Per-dtype comparison tolerances and the parsing of a case's ``tolerance:`` override.

An elementwise check passes when ``|actual - desired| <= atol + rtol * |desired|`` (desired =
TensorFlow's value), or, for a ULP tolerance, when the ULP distance is ``<= ulp``.

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

import numpy as np

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
