"""Reference gradients: the op's analytic gradient, or central finite differences.

The checked quantity is the vector-Jacobian product ``d/dx sum(output * cotangent)``.

Finite differences (for ops without an analytic ``grad``) are taken on the reference in
float64: ``g_i = (f(x + h e_i) - f(x - h e_i)) / 2h`` with ``h = eps^(1/3) * max(1, |x_i|)``,
the step that balances the truncation error ``h^2 |f'''| / 6`` against the rounding error
``eps |f| / h``; both are then about ``eps^(2/3) ≈ 4e-11`` relative for float64. When the
reference itself evaluates in float32 for float64 inputs (``tf.compat.v1.losses`` casts to
float32, and the reference mirrors it), ``eps`` is float32's and the error is about
``eps32^(2/3) ≈ 2.4e-5``: :data:`FD_TOLERANCE` widens the comparison accordingly. Points of
non-differentiability (|x| at 0, hinge corners, clipping bounds) have no unique gradient:
cases should keep their inputs away from them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.outputs import leaf_arrays
from harness.precision import precision_of
from harness.registry import OpSpec

MAX_FD_ELEMENTS = 4096
FD_TOLERANCE = {"float64": (1e-6, 1e-8), "float32": (1e-3, 1e-5)}
"""(rtol, atol) of a finite-difference gradient, by the precision the reference computes in."""


class GradientError(ValueError):
    pass


def _to64(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind in "fV":
        return value.astype(np.float64)
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        return [_to64(v) for v in value]
    return value


def finite_difference(op: OpSpec, init: dict, args: dict, wrt: tuple[str, ...], cotangent: list) -> tuple[dict, str]:
    """(gradients in float64, the precision name the reference evaluated in)."""
    args64 = {k: _to64(v) for k, v in args.items()}
    cot = [np.asarray(c, dtype=np.float64) for c in cotangent]
    probe = leaf_arrays(op.run_reference(init, args64))
    precision = "float32" if any(precision_of(p) == "float32" for p in probe) else "float64"
    eps = np.finfo(precision).eps

    def f(a: dict) -> float:
        return float(sum(np.sum(leaf.astype(np.float64) * c) for leaf, c in zip(leaf_arrays(op.run_reference(init, a)), cot)))

    grads = {}
    for name in wrt:
        x = args64[name]
        if x.size > MAX_FD_ELEMENTS:
            raise GradientError(f"grad: {name} has {x.size} elements; finite differences are limited to "
                                f"{MAX_FD_ELEMENTS} (use a smaller input, or give {op.name} an analytic gradient)")
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            h = np.cbrt(eps) * max(1.0, abs(x[i]))
            xp, xm = x.copy(), x.copy()
            xp[i] += h
            xm[i] -= h
            g[i] = (f({**args64, name: xp}) - f({**args64, name: xm})) / (2 * h)
        grads[name] = g
    return grads, precision


def reference_gradient(op: OpSpec, init: dict, args: dict, wrt: tuple[str, ...], cotangent: list) -> tuple[dict, str]:
    """(gradients, method): ``analytic`` or ``finite-difference/float64`` (or ``/float32``)."""
    grads = None if op.grad is None else op.grad(init, args, cotangent, wrt)
    if grads is not None:  # a rule returns None for inputs it does not cover
        return grads, "analytic"
    grads, precision = finite_difference(op, init, args, wrt, cotangent)
    return grads, f"finite-difference/{precision}"
