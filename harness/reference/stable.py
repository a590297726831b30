"""Numerically stable primitives shared by every reference module.

All functions are vectorised over arbitrary leading dimensions and never overflow for
logits of magnitude 1e4 (or any finite value): exponentials are only ever taken of
non-positive numbers. The row-block functions at the end run the softmax family over the
last axis a cache-sized block of rows at a time, with the same results.
"""
from __future__ import annotations

import os
import threading

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


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -softplus(-x)."""
    return -softplus(-np.asarray(x))


def xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with 0 * log(0) = 0 (as ``tf.math.xlogy``)."""
    x = np.asarray(x)
    y = np.asarray(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where(x == 0, np.zeros_like(out), out)


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


# --- Eigen's reduction order for float16/bfloat16 -----------------------------------
# TF's CPU kernels written as Eigen expressions (Softmax, LogSoftmax, the sparse
# cross-entropy of bfloat16) sum float16/bfloat16 rows in the element type, rounding
# after every add. The order below reproduces TF 2.21's results bit for bit on x86-64
# for rows of up to 1024 (bfloat16) / 8192 (float16) elements; longer rows are split in
# two halves and summed recursively, which is close but not always bit-exact.

_EIGEN_PACKET = 8
_EIGEN_ACCUMULATORS = 4
_EIGEN_LEAF = {"float16": 8192, "bfloat16": 1024}


def _rounded_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a.astype(np.float32) + b.astype(np.float32)).astype(a.dtype)


def _eigen_leaf_sum(x: np.ndarray) -> np.ndarray:
    """Four packet accumulators of 8 lanes over whole groups of 32, combined in order,
    then the remaining packets, a float32 horizontal sum of the lanes (rounded once),
    and the leftover scalars summed one by one and added last."""
    p, k = _EIGEN_PACKET, _EIGEN_ACCUMULATORS
    n = x.shape[-1]
    n_packets = (n // p) * p
    n_unrolled = (n // (k * p)) * (k * p)
    scalars = np.zeros(x.shape[:-1], x.dtype)
    for j in range(n_packets, n):
        scalars = _rounded_add(scalars, x[..., j])
    if n_packets == 0:
        return scalars
    accs = [np.zeros(x.shape[:-1] + (p,), x.dtype) for _ in range(k)]
    for j in range(0, n_unrolled, k * p):
        for a in range(k):
            accs[a] = _rounded_add(accs[a], x[..., j + a * p: j + (a + 1) * p])
    acc = accs[0]
    for other in accs[1:]:
        acc = _rounded_add(acc, other)
    for j in range(n_unrolled, n_packets, p):
        acc = _rounded_add(acc, x[..., j: j + p])
    lanes = np.sum(acc.astype(np.float32), axis=-1).astype(x.dtype)
    return _rounded_add(scalars, lanes)


def _eigen_tree_sum(x: np.ndarray, leaf: int) -> np.ndarray:
    n = x.shape[-1]
    if n <= leaf:
        return _eigen_leaf_sum(x)
    split = _EIGEN_PACKET * -(-(n // 2) // _EIGEN_PACKET)
    left = _eigen_tree_sum(x[..., :split], leaf)
    return _rounded_add(left, _eigen_tree_sum(x[..., split:], leaf))


def eigen_sum(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Sum along ``axis`` in Eigen's order and rounding for float16/bfloat16 (see above);
    ``np.sum`` for other dtypes."""
    x = np.asarray(x)
    leaf = _EIGEN_LEAF.get(x.dtype.name)
    if leaf is None:
        return np.sum(x, axis=axis, keepdims=keepdims)
    moved = np.moveaxis(x, axis, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        s = _eigen_tree_sum(moved, leaf)
    return np.expand_dims(s, axis) if keepdims else s


def tf_reduce_sum(x: np.ndarray) -> np.ndarray:
    """``tf.reduce_sum`` over all elements as TF 2.21 computes it on CPU: float16 in
    Eigen's order and precision (``eigen_sum``), bfloat16 accumulated in float32 and
    rounded once, other dtypes in their own precision."""
    x = np.asarray(x)
    if x.dtype.name == "float16":
        return np.asarray(eigen_sum(x.reshape(-1)))
    if x.dtype.name == "bfloat16":
        return np.asarray(np.sum(x.astype(np.float32))).astype(x.dtype)
    return np.asarray(np.sum(x))


# --- row blocks -----------------------------------------------------------------------
# The softmax family reduces along the last axis, one row at a time, so a large input
# can be processed a block of rows at a time: each block is a few cache-sized scratch
# buffers, so the extra memory stays bounded whatever the input size, and every step
# after the first read of a block runs from cache. Per row the operations and their
# order are exactly those of the whole-array formulas above (NumPy reduces each
# contiguous row on its own), so the results are identical bit for bit. NumPy releases
# the GIL in its loops, so large inputs are split between ``ROW_THREADS`` threads.

ROW_BLOCK_BYTES = 1 << 20
"""Target size of one scratch buffer (a block of rows), about one L2 cache."""
ROW_THREADS = max(1, min(2, os.cpu_count() or 1))
PARALLEL_MIN_BYTES = 16 << 20
"""Inputs smaller than this are processed by the calling thread alone."""


def for_row_blocks(work, n_rows: int, n_cols: int, scratch: tuple = (), block_dtype=None,
                   threads: int | None = None) -> None:
    """Call ``work(rows, *buffers)`` for consecutive blocks of rows (``rows`` a slice).

    ``scratch`` lists one dtype per buffer; each thread owns its own buffers of
    ``[block rows, n_cols]``, passed cut to the block. A block spans about
    ``ROW_BLOCK_BYTES`` of the widest scratch dtype (or ``block_dtype`` without scratch).
    The caller's ``np.errstate`` holds in every thread; the first exception of any block
    is raised."""
    itemsize = max([np.dtype(d).itemsize for d in (*scratch, block_dtype or np.float32)])
    per_block = max(1, ROW_BLOCK_BYTES // max(1, n_cols * itemsize))
    blocks = [slice(i, min(i + per_block, n_rows)) for i in range(0, n_rows, per_block)]
    if threads is None:
        big = n_rows * n_cols * itemsize >= PARALLEL_MIN_BYTES
        threads = ROW_THREADS if big else 1
    threads = max(1, min(threads, len(blocks)))
    errstate = np.geterr()
    failures: list[BaseException] = []

    def worker(k: int) -> None:
        buffers = [np.empty((min(per_block, n_rows), n_cols), d) for d in scratch]
        try:
            with np.errstate(**errstate):
                for rows in blocks[k::threads]:
                    if failures:
                        return
                    n = rows.stop - rows.start
                    work(rows, *(b[:n] for b in buffers))
        except BaseException as exc:  # re-raised in the calling thread
            failures.append(exc)

    helpers = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(1, threads)]
    for t in helpers:
        t.start()
    worker(0)
    for t in helpers:
        t.join()
    if failures:
        raise failures[0]


def _rows(x: np.ndarray) -> np.ndarray:
    """``x`` as [rows, last axis] (a view when the layout allows)."""
    return x.reshape(-1, x.shape[-1])


def _cast_into(buffer: np.ndarray, block: np.ndarray) -> np.ndarray:
    """``block`` itself when it already has the buffer's dtype, else ``block`` rounded
    into ``buffer`` (the same values as ``block.astype(buffer.dtype)``)."""
    if block.dtype == buffer.dtype:
        return block
    buffer[...] = block
    return buffer


def softmax_last_axis(x: np.ndarray, compute_dtype=None) -> np.ndarray:
    """``softmax(x, axis=-1)`` computed in ``compute_dtype`` (default x's dtype) and
    rounded to x's dtype, block by block: identical to ``softmax(x.astype(compute))``."""
    x = np.asarray(x)
    compute = np.dtype(compute_dtype or x.dtype)
    out = np.empty(x.shape, x.dtype)
    x2, out2 = _rows(x), _rows(out)

    def work(rows, *buf):
        dst = buf[0] if buf else out2[rows]
        src = _cast_into(buf[0], x2[rows]) if buf else x2[rows]
        with np.errstate(invalid="ignore"):
            np.subtract(src, np.max(src, axis=1, keepdims=True), out=dst)
            np.exp(dst, out=dst)
        np.divide(dst, np.sum(dst, axis=1, keepdims=True), out=dst)
        if buf:
            out2[rows] = dst

    scratch = () if compute == x.dtype else (compute,)
    for_row_blocks(work, x2.shape[0], x2.shape[1], scratch, block_dtype=x.dtype)
    return out


def log_softmax_last_axis(x: np.ndarray) -> np.ndarray:
    """``log_softmax_shifted(x, axis=-1)`` block by block (identical results)."""
    x = np.asarray(x)
    out = np.empty(x.shape, x.dtype)
    x2, out2 = _rows(x), _rows(out)

    def work(rows, exps):
        dst = out2[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            np.subtract(x2[rows], np.max(x2[rows], axis=1, keepdims=True), out=dst)
            np.exp(dst, out=exps)
            total = np.sum(exps, axis=1, keepdims=True)
            np.subtract(dst, np.log(total, out=total), out=dst)

    for_row_blocks(work, x2.shape[0], x2.shape[1], (x.dtype,), block_dtype=x.dtype)
    return out


def sparse_xent_rows(logits2: np.ndarray, index: np.ndarray, compute_dtype) -> np.ndarray:
    """log(sum_k exp(s_k)) - s[index] per row of ``logits2`` [rows, classes], with
    s = logits - max(logits) in ``compute_dtype``; one value per row, in that dtype."""
    cost = np.empty(logits2.shape[0], compute_dtype)

    def work(rows, shifted):
        src = _cast_into(shifted, logits2[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            np.subtract(src, np.max(src, axis=1, keepdims=True), out=shifted)
            picked = shifted[np.arange(shifted.shape[0]), index[rows]]
            np.exp(shifted, out=shifted)
            total = np.sum(shifted, axis=1)
            np.subtract(np.log(total, out=total), picked, out=cost[rows])

    for_row_blocks(work, logits2.shape[0], logits2.shape[1], (compute_dtype,))
    return cost


def xent_rows(labels2: np.ndarray, logits2: np.ndarray, compute_dtype) -> np.ndarray:
    """sum_c labels_c * (log(sum_k exp(s_k)) - s_c) per row, s = logits - max(logits),
    for ``labels2`` and ``logits2`` of one [rows, classes] shape (broadcast views are
    fine); both are rounded to ``compute_dtype`` first. One value per row."""
    cost = np.empty(logits2.shape[0], compute_dtype)

    def work(rows, shifted, terms):
        src = _cast_into(shifted, logits2[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            np.subtract(src, np.max(src, axis=1, keepdims=True), out=shifted)
            np.exp(shifted, out=terms)
            lse = np.sum(terms, axis=1, keepdims=True)
            np.subtract(np.log(lse, out=lse), shifted, out=terms)
            np.multiply(labels2[rows].astype(compute_dtype, copy=False), terms, out=terms)
            np.sum(terms, axis=1, out=cost[rows])

    for_row_blocks(work, logits2.shape[0], logits2.shape[1], (compute_dtype, compute_dtype))
    return cost
