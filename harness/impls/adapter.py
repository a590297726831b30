"""Calling an implementation on one expanded case's inputs.

Inputs are NumPy arrays of the case's dtypes (lists of them for ``float_list`` arguments)
and plain values. :func:`call` converts the arrays to the implementation's framework
(copies: an implementation never sees the harness's own arrays), calls
``OPS[op](**init, **args)`` and converts the result back to NumPy, keeping its list/tuple
structure. It also reports which inputs the implementation modified in place.

Gradients (:func:`gradient`) are the vector-Jacobian product ``d/dx sum(output * cotangent)``,
as TF's side computes it (each output leaf cast to float32, float64 kept): torch and jax
implementations are differentiated by their own autodiff, numpy ones by the harness's finite
differences (:func:`harness.finite_differences.finite_difference`), and the built-in reference by the
registry's gradient (analytic or finite differences).

An op the implementation lacks, a dtype outside its ``DTYPES`` and a low-precision dtype its
framework has no kernel for raise :class:`ImplSkipped` with the reason.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable

import ml_dtypes
import numpy as np

from harness import finite_differences
from harness.impls import PortModule
from harness.outputs import flatten
from harness.registry import OpSpec
from harness.vocab import LOW_PRECISION

_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
_UNSUPPORTED = re.compile(
    r"(not implemented for '(Half|BFloat16)'|not supported for the input types|"
    r"did not contain a loop with signature matching types|No loop matching the specified signature|"
    r"(float16|bfloat16|Half|BFloat16)\S* (is )?not supported|unsupported dtype)", re.I)


class ImplSkipped(Exception):
    """The implementation does not run this op or dtype; the message is the reason."""


@dataclasses.dataclass
class Called:
    """An implementation's result as NumPy, and the inputs it modified in place."""

    value: Any
    modified: list[str]


def is_tensor(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, np.ndarray) for v in value))


# --- frameworks --------------------------------------------------------------------


class _NumPy:
    name = "numpy"

    def tensor(self, x: np.ndarray, grad: bool = False) -> Any:
        return x.copy()

    def numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def sync(self, out: Any) -> Any:
        return out


class _Torch:
    name = "torch"

    def __init__(self) -> None:
        import torch

        threads = os.environ.get("TF_NUM_INTRAOP_THREADS")  # xdist workers share the cores (harness.plugin)
        if threads:
            torch.set_num_threads(int(threads))
        self.torch = torch

    def tensor(self, x: np.ndarray, grad: bool = False) -> Any:
        t = self.torch.from_numpy(x.astype(np.float32)).to(self.torch.bfloat16) if x.dtype == _BFLOAT16 \
            else self.torch.from_numpy(x.copy())
        return t.requires_grad_(True) if grad else t

    def numpy(self, x: Any) -> np.ndarray:
        if isinstance(x, self.torch.Tensor):
            x = x.detach().cpu()
            if x.dtype == self.torch.bfloat16:
                return x.to(self.torch.float32).numpy().astype(_BFLOAT16)
            return x.numpy()
        return np.asarray(x)

    def sync(self, out: Any) -> Any:
        return out

    def vjp(self, fn: Callable, tensors: dict, values: dict, wrt: tuple, cotangent: list) -> dict:
        torch = self.torch
        out = fn(**tensors, **values)
        total = sum((_widen(torch, leaf) * torch.as_tensor(c, dtype=_widen(torch, leaf).dtype)).sum()
                    for leaf, c in zip(flatten(out), cotangent))
        inputs = [t for name in wrt for t in _as_list(tensors[name])]
        grads = iter(torch.autograd.grad(total, inputs, allow_unused=True))
        result = {}
        for name in wrt:
            parts = [self.numpy(g) if g is not None else np.zeros(tuple(t.shape), dtype=self.numpy(t).dtype)
                     for t, g in zip(_as_list(tensors[name]), grads)]
            result[name] = parts if isinstance(tensors[name], list) else parts[0]
        return result


class _Jax:
    name = "jax"

    def __init__(self) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 cases stay float64
        self.jax = jax

    def tensor(self, x: np.ndarray, grad: bool = False) -> Any:
        return self.jax.numpy.asarray(x.copy())

    def numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def sync(self, out: Any) -> Any:
        return self.jax.block_until_ready(out)

    def vjp(self, fn: Callable, tensors: dict, values: dict, wrt: tuple, cotangent: list) -> dict:
        jnp = self.jax.numpy

        def total(diff: tuple) -> Any:
            out = fn(**{**tensors, **dict(zip(wrt, diff))}, **values)
            return sum(jnp.sum(_widen(jnp, leaf) * jnp.asarray(c, dtype=_widen(jnp, leaf).dtype))
                       for leaf, c in zip(flatten(out), cotangent))

        grads = self.jax.grad(total)(tuple(tensors[name] for name in wrt))
        return {name: [self.numpy(x) for x in g] if isinstance(g, list) else self.numpy(g)
                for name, g in zip(wrt, grads)}


def _widen(xp: Any, leaf: Any) -> Any:
    """An output leaf as TF's side differentiates it: float64 kept, anything else in float32."""
    if xp.__name__ == "torch":
        return leaf if leaf.dtype == xp.float64 else leaf.to(xp.float32)
    return leaf if leaf.dtype == xp.float64 else leaf.astype(xp.float32)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


_BACKENDS: dict[str, Any] = {}


def backend(framework: str) -> Any:
    if framework not in _BACKENDS:
        _BACKENDS[framework] = {"numpy": _NumPy, "torch": _Torch, "jax": _Jax}[framework]()
    return _BACKENDS[framework]


# --- calls ---------------------------------------------------------------------------


def check_runs(impl: PortModule, op: OpSpec, dtype: str) -> None:
    """Raise :class:`ImplSkipped` when ``impl`` does not provide ``op`` or run ``dtype``."""
    if not impl.provides(op.name):
        raise ImplSkipped(f"{impl.name} does not implement {op.name}")
    if dtype not in impl.dtypes:
        raise ImplSkipped(f"{impl.name} does not run {dtype} (its DTYPES: {', '.join(impl.dtypes)})")


def unsupported_dtype(impl: PortModule, exc: BaseException, dtype: str) -> str | None:
    """The framework's own reason when it has no kernel for a low-precision dtype, else None."""
    if dtype in LOW_PRECISION and _UNSUPPORTED.search(f"{type(exc).__name__}: {exc}"):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{impl.name} cannot run {dtype}: {first[:300]}"
    return None


def _convert(impl: PortModule, args: dict, wrt: tuple = ()) -> tuple[dict, dict]:
    """(framework tensors, plain values) of a case's arguments."""
    fw = backend(impl.framework)
    tensors, values = {}, {}
    for name, value in args.items():
        if is_tensor(value):
            grad = name in wrt
            tensors[name] = [fw.tensor(v, grad) for v in value] if isinstance(value, list) else fw.tensor(value, grad)
        else:
            values[name] = value
    return tensors, values


def _same(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether an input is unchanged by the call (NaN equal to NaN)."""
    if before.shape != after.shape:
        return False
    floats = before.dtype.kind == "f" or before.dtype == _BFLOAT16
    if not floats:
        return np.array_equal(before, after)
    return np.array_equal(before.astype(np.float64), after.astype(np.float64), equal_nan=True)


def _modified(impl: PortModule, args: dict, tensors: dict) -> list[str]:
    """The arguments whose framework copy differs from the harness's array after the call."""
    fw = backend(impl.framework)
    return [name for name, given in tensors.items()
            if not all(_same(a, fw.numpy(t)) for a, t in zip(_as_list(args[name]), _as_list(given)))]


def to_numpy(impl: PortModule, out: Any) -> Any:
    """An implementation's result as NumPy, keeping list/tuple structure."""
    if isinstance(out, (list, tuple)):
        return type(out)(to_numpy(impl, v) for v in out)
    return backend(impl.framework).numpy(out)


def call(impl: PortModule, op: OpSpec, init: dict, args: dict) -> Called:
    """``impl.ops[op](**init, **args)`` on copies of the inputs, as NumPy."""
    tensors, values = _convert(impl, args)
    out = impl.ops[op.name](**init, **tensors, **values)
    return Called(to_numpy(impl, backend(impl.framework).sync(out)), _modified(impl, args, tensors))


def timer(impl: PortModule, op: OpSpec, init: dict, args: dict) -> Callable[[], Any]:
    """A callable that repeats the call with the inputs converted once (for timing)."""
    tensors, values = _convert(impl, args)
    fn, fw = impl.ops[op.name], backend(impl.framework)
    return lambda: fw.sync(fn(**init, **tensors, **values))


def gradient(impl: PortModule, op: OpSpec, init: dict, args: dict, wrt: tuple[str, ...],
             cotangent: list) -> tuple[dict, str]:
    """(gradients as NumPy, method) of ``sum(output * cotangent)`` with respect to ``wrt``."""
    if impl.is_reference:
        return finite_differences.reference_gradient(op, init, args, wrt, cotangent)
    if impl.framework == "numpy":
        fn = impl.ops[op.name]
        as_reference = dataclasses.replace(op, reference=fn, grad=None)
        grads, precision = finite_differences.finite_difference(as_reference, init, args, wrt, cotangent)
        return grads, f"finite-difference/{precision}"
    tensors, values = _convert(impl, args, wrt)
    fn = impl.ops[op.name]
    return backend(impl.framework).vjp(lambda **kw: fn(**init, **kw), tensors, values, wrt, cotangent), \
        f"autodiff/{impl.framework}"
