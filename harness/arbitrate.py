"""Arbitration: when the reference and TF disagree, which one is closer to the exact value?

The reference is recomputed on the same inputs in higher precision — float64 for float16,
bfloat16 and float32 cases, ``np.longdouble`` (80-bit extended on x86) for float64 cases —
and both sides' distance to that value is measured in ULPs of the case dtype at the worst
element. The verdict names the closer side ("TF is off by 12 ULP, the reference by 0 ULP").
This trusts the reference's *formula* in high precision, not its low-precision arithmetic,
so it separates rounding-order differences from formula bugs: if the high-precision
reference is far from both, the formula itself is suspect and the verdict says so.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from harness.outputs import leaf_arrays
from harness.tolerances import ulp_distance


def _widen(value: Any, wide: type) -> Any:
    if isinstance(value, np.ndarray) and (value.dtype.kind == "f" or value.dtype.name == "bfloat16"):
        return value.astype(np.float64).astype(wide)
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        return [_widen(v, wide) for v in value]
    return value


def arbitrate(rerun: Callable[[dict], Any], args: dict, ref: Any, out: Any, dtype: str) -> dict:
    """Which side is closer to ``rerun`` (the implementation under test) on ``args`` widened."""
    wide = np.longdouble if dtype == "float64" else np.float64
    try:
        exact = leaf_arrays(rerun({k: _widen(v, wide) for k, v in args.items()}))
    except Exception as exc:  # the high-precision rerun is advice, never a failure of its own
        return {"verdict": f"no arbitration: the reference failed in {np.dtype(wide).name} ({type(exc).__name__}: {exc})"}
    worst_tf = worst_ref = 0.0
    for e, r, t in zip(exact, leaf_arrays(ref), leaf_arrays(out)):
        if e.shape != t.shape:
            return {"verdict": "no arbitration: the high-precision reference has another shape"}
        e64 = e.astype(np.float64)
        worst_tf = max(worst_tf, float(np.max(ulp_distance(t, e64, dtype), initial=0)))
        worst_ref = max(worst_ref, float(np.max(ulp_distance(r, e64, dtype), initial=0)))
    precision = np.dtype(wide).name
    if worst_tf > worst_ref:
        verdict = f"TF is off by {worst_tf:.0f} ULP, the reference by {worst_ref:.0f} ULP ({dtype}, exact = reference in {precision}): TF is further from the exact value"
        closer = "reference"
    elif worst_ref > worst_tf:
        verdict = f"the reference is off by {worst_ref:.0f} ULP, TF by {worst_tf:.0f} ULP ({dtype}, exact = reference in {precision}): the reference is further from the exact value"
        closer = "tf"
    else:
        verdict = f"both are {worst_tf:.0f} ULP from the reference in {precision}"
        closer = "tie"
    return {"verdict": verdict, "closer": closer, "tf_ulp": worst_tf, "reference_ulp": worst_ref, "exact_precision": precision}
