"""Numerically stable primitives shared by every reference module.

All functions are vectorised over arbitrary leading dimensions and never overflow for
logits of magnitude 1e4 (or any finite value): exponentials are only ever taken of
non-positive numbers. Sums in TF's order are in :mod:`harness.reference.summation`, the
softmax family a block of rows at a time in :mod:`harness.reference.rowblocks`.
"""
from __future__ import annotations

import numpy as np


SELECT_MIN_SIZE = 1 << 14
"""From this many elements on, :func:`select` picks by bit masks instead of ``np.where``."""


def select(cond, a, b) -> np.ndarray:
    """``np.where(cond, a, b)`` bit for bit, without a branch per element.

    NumPy's ``where`` branches on every element, about 20 ns each when ``cond`` is
    unpredictable (signs of random logits): 40x the cost of a multiply. When ``a`` and
    ``b`` are floats of one dtype and the result is large, the choice is made on the raw
    bits instead: (a & m) | (b & ~m) with m all ones where ``cond`` holds."""
    a, b, cond = np.asarray(a), np.asarray(b), np.asarray(cond)
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    if (a.dtype != b.dtype or a.dtype.kind not in "fV" or a.dtype.itemsize not in (2, 4, 8)
            or int(np.prod(shape)) < SELECT_MIN_SIZE or a.dtype.kind == "V" and a.dtype.name != "bfloat16"):
        return np.where(cond, a, b)
    bits = np.dtype(f"u{a.dtype.itemsize}")
    mask = np.empty(shape, bits)
    np.copyto(mask, cond, casting="unsafe")
    np.negative(mask, out=mask)
    out = np.empty(shape, a.dtype)
    chosen = out.view(bits)
    np.bitwise_and(a.view(bits), mask, out=chosen)
    np.invert(mask, out=mask)
    np.bitwise_and(b.view(bits), mask, out=mask)
    return np.bitwise_or(chosen, mask, out=chosen).view(a.dtype)


def _against_bound(ufunc, x, bound) -> np.ndarray:
    """``ufunc(x, bound)`` for ``np.maximum``/``np.minimum`` and a scalar ``bound``, bit for bit.

    NumPy's loop does not vectorise when one operand is a scalar (0.46 ns an element against
    0.16 for two arrays, float32 here), so a large float32/float64 ``x`` is compared with the
    bound by :func:`clip`'s one pass, the other side infinite (0.12 ns), or, for a bound of
    zero or NaN, with an array filled with the bound (converted to x's dtype, as the scalar
    operand would be), the result written into that array (0.29 ns with the fill)."""
    x = np.asarray(x)
    if not _vector_bounds(x, bound):
        return ufunc(x, bound)
    b = x.dtype.type(bound)
    if _clips_alike(b):
        return np.clip(x, b, np.inf) if ufunc is np.maximum else np.clip(x, -np.inf, b)
    out = np.full(x.shape, bound, x.dtype)
    return ufunc(x, out, out=out)


def _vector_bounds(x: np.ndarray, *bounds) -> bool:
    """Whether ``x`` takes the vectorised paths of :func:`_against_bound` and :func:`clip`: a
    float32/float64 array of at least ``SELECT_MIN_SIZE`` elements against scalar bounds that
    convert to its dtype without widening it (smaller arrays, other dtypes and array bounds go
    to NumPy's own comparisons as they are)."""
    return (x.dtype.name in ("float32", "float64") and x.size >= SELECT_MIN_SIZE
            and not any(np.ndim(b) for b in bounds) and np.result_type(x, *bounds) == x.dtype)


def _clips_alike(*bounds) -> bool:
    """Whether ``np.clip`` against these bounds gives the bits of ``np.maximum``/``np.minimum``:
    bounds that are neither zero nor NaN. At a bound of ±0 the two differ in the sign of a zero
    result (``np.clip`` keeps x's -0.0 where ``np.maximum(-0.0, 0.0)`` is 0.0); ±inf, subnormal
    and every other bound give the same bits, NaN inputs included
    (``tests/test_reference_fast.py``)."""
    return all(b != 0 and b == b for b in bounds)


def clip(x, low, high) -> np.ndarray:
    """``np.maximum(np.minimum(x, high), low)``, ``tf.clip_by_value``'s order, for scalar bounds
    of x's dtype, bit for bit: a large float32/float64 ``x`` with bounds :func:`_clips_alike`
    and ``low <= high`` in one pass of ``np.clip`` (0.16 ns an element against 0.61 for the two
    filled comparisons); any other (with ``low > high`` the result is ``low``, where
    ``np.clip`` gives ``high``) through :func:`minimum` and :func:`maximum`."""
    x = np.asarray(x)
    if _vector_bounds(x, low, high) and _clips_alike(low, high) and low <= high:
        return np.clip(x, low, high)
    return maximum(minimum(x, high), low)


def maximum(x, bound) -> np.ndarray:
    """``np.maximum(x, bound)`` (NaN propagates) for a scalar ``bound``, vectorised (see
    :func:`_against_bound`)."""
    return _against_bound(np.maximum, x, bound)


def minimum(x, bound) -> np.ndarray:
    """``np.minimum(x, bound)`` (NaN propagates) for a scalar ``bound``, vectorised."""
    return _against_bound(np.minimum, x, bound)


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) along ``axis`` via the max shift; rows that are all ``-inf``
    give ``-inf`` (not NaN), rows containing ``+inf`` give ``+inf``."""
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m_safe = select(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        s = np.log(np.sum(np.exp(x - m_safe), axis=axis, keepdims=True)) + m_safe
    return s if keepdims else np.squeeze(s, axis=axis)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """x - logsumexp(x): exact for large |x| where log(softmax(x)) underflows to -inf."""
    x = np.asarray(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x - max(x)) / sum(exp(x - max(x))), TF's formulation."""
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def shift_by_max(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """x - max(x) along ``axis``, the first step of TF's softmax-family kernels.

    No guard for rows that are all ``-inf``: there ``-inf - (-inf)`` is NaN, as in TF."""
    x = np.asarray(x)
    with np.errstate(invalid="ignore"):
        return x - np.max(x, axis=axis, keepdims=True)


def log_sum_exp_of_shifted(shifted: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(shifted))) for max-shifted input (so the sum is in [1, n])."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.sum(np.exp(shifted), axis=axis, keepdims=keepdims))


def log_softmax_shifted(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """(x - max x) - log(sum(exp(x - max x))): TF's LogSoftmax kernel.

    Unlike ``log_softmax`` (x - logsumexp(x)) it never forms ``max x + log(sum)``, so at
    logits of 1e4 in float32 no digits are lost to the large intermediate."""
    shifted = shift_by_max(x, axis)
    with np.errstate(invalid="ignore"):
        return shifted - log_sum_exp_of_shifted(shifted, axis=axis, keepdims=True)


def div_no_nan(x, y):
    """x / y, and 0 where y == 0 (as ``tf.math.div_no_nan``)."""
    x = np.asarray(x)
    y = np.asarray(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = x / select(y == 0, np.ones_like(y), y)
    return select(y == 0, np.zeros_like(q), q)
