"""Numerically stable primitives shared by every reference module.

All functions are vectorised over arbitrary leading dimensions and never overflow for
logits of magnitude 1e4 (or any finite value): exponentials are only ever taken of
non-positive numbers. Sums in TF's order are in :mod:`harness.reference.summation`, the
softmax family a block of rows at a time in :mod:`harness.reference.rowblocks`.
"""
from __future__ import annotations

import numpy as np


def logsumexp(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """log(sum(exp(x))) along ``axis`` via the max shift; rows that are all ``-inf``
    give ``-inf`` (not NaN), rows containing ``+inf`` give ``+inf``."""
    x = np.asarray(x)
    m = np.max(x, axis=axis, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
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


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: uses exp(-|x|) on both branches."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))."""
    x = np.asarray(x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


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
        q = x / np.where(y == 0, np.ones_like(y), y)
    return np.where(y == 0, np.zeros_like(q), q)
