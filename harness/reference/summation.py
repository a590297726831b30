"""``tf.reduce_sum`` as TF 2.21 computes it on CPU, once for every reference module.

float16 is summed in float16, rounding after every add, in Eigen's order (checked against
TF, one intra-op thread, on full reductions of 3 to 20,000 elements and on the rows of
multi-row tensors along the last axis: bit for bit). bfloat16 is accumulated in float32 and
rounded once. Other dtypes are summed in their own precision.
"""
from __future__ import annotations

import math
import numpy as np

from harness.reference import rowblocks
from harness.reference.errors import check_axis

# --- Eigen's reduction order for float16/bfloat16 ---------------------------------
# TF's CPU kernels written as Eigen expressions (Sum, L2Loss, Softmax, LogSoftmax, the
# sparse cross-entropy of bfloat16) sum float16/bfloat16 rows in the element type, rounding
# after every add, with Eigen's InnerMostDimReducer: a row of more than packet (8) x
# LeafSize elements (LeafSize<half> = 200, LeafSize<bfloat16> = 128: 1,600 and 1,024
# elements) is split in two and each part reduced recursively, the split at the first
# packet boundary of the *tensor* (not the row) at or after the row's middle:
# 8 * ceil((first + ceil(n / 2)) / 8) with ``first`` the row's offset in the tensor, so the
# rows of a multi-row tensor whose length is not a multiple of 8 split at different
# points. Parts of at most a leaf are summed as ``_eigen_leaf_sum``. Bit for bit with TF
# 2.21 on x86-64 with one intra-op thread (goldens are recorded so; Eigen's full
# reduction on several threads sums blocks in another order).

_EIGEN_PACKET = 8
_EIGEN_ACCUMULATORS = 4
_EIGEN_LEAF = {"float16": 8 * 200, "bfloat16": 8 * 128}


def _rounded_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a.astype(np.float32) + b.astype(np.float32)).astype(a.dtype)


def _eigen_leaf_sum(x: np.ndarray) -> np.ndarray:
    """Four packet accumulators of 8 lanes over whole groups of 32, combined in order,
    then the remaining packets, a float32 horizontal sum of the lanes (rounded once),
    and the leftover scalars summed one by one and added last. The four accumulators are
    kept side by side as 32 lanes (each lane adds the same elements in the same order)."""
    p, k = _EIGEN_PACKET, _EIGEN_ACCUMULATORS
    n = x.shape[-1]
    n_packets = (n // p) * p
    n_unrolled = (n // (k * p)) * (k * p)
    scalars = np.zeros(x.shape[:-1], x.dtype)
    for j in range(n_packets, n):
        scalars = _rounded_add(scalars, x[..., j])
    if n_packets == 0:
        return scalars
    lanes = np.zeros(x.shape[:-1] + (k * p,), x.dtype)
    for j in range(0, n_unrolled, k * p):
        lanes = _rounded_add(lanes, x[..., j: j + k * p])
    acc = lanes[..., :p]
    for a in range(1, k):
        acc = _rounded_add(acc, lanes[..., a * p: (a + 1) * p])
    for j in range(n_unrolled, n_packets, p):
        acc = _rounded_add(acc, x[..., j: j + p])
    lanes = np.sum(acc.astype(np.float32), axis=-1).astype(x.dtype)
    return _rounded_add(scalars, lanes)


def _eigen_tree(n: int, leaf: int, first: int, start: int, leaves: list):
    """Eigen's tree over ``n`` elements from ``start`` of a row that begins ``first`` past a
    packet boundary: a leaf number (its ``(start, n)`` appended to ``leaves``) or the pair of
    the two halves' trees."""
    if n <= leaf:
        number = len(leaves)
        leaves.append((start, n))
        return number
    split = _EIGEN_PACKET * -(-(first + -(-n // 2)) // _EIGEN_PACKET) - first
    return (_eigen_tree(split, leaf, first, start, leaves),
            _eigen_tree(n - split, leaf, 0, start + split, leaves))


def _eigen_combine(tree, sums: list) -> np.ndarray:
    """The tree's sum from its leaves' sums, each pair added (rounded) left to right."""
    if isinstance(tree, int):
        return sums[tree]
    return _rounded_add(_eigen_combine(tree[0], sums), _eigen_combine(tree[1], sums))


def _eigen_tree_sum(x: np.ndarray, leaf: int, firsts: np.ndarray) -> np.ndarray:
    """Eigen's tree over the last axis of x, ``firsts`` (x.shape[:-1]) where each row starts
    in its tensor, modulo the packet (the split point depends on it). The rows with one
    ``first`` share a tree; the leaves of one length are summed together, as one array."""
    n = x.shape[-1]
    if n <= leaf:
        return _eigen_leaf_sum(x)
    s = np.empty(x.shape[:-1], x.dtype)
    for first in np.unique(firsts):
        at = firsts == first  # these rows, as one axis (a single row gets one)
        rows = x[at]
        leaves: list = []
        tree = _eigen_tree(n, leaf, int(first), 0, leaves)
        sums: list = [None] * len(leaves)
        for length in {length for _, length in leaves}:
            numbers = [i for i, (_, size) in enumerate(leaves) if size == length]
            starts = np.array([leaves[i][0] for i in numbers])
            part = _eigen_leaf_sum(rows[:, starts[:, None] + np.arange(length)])  # [rows, leaves]
            for column, i in enumerate(numbers):
                sums[i] = part[:, column]
        s[at] = _eigen_combine(tree, sums)
    return s


def eigen_sum(x: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """Sum along ``axis`` in Eigen's order and rounding for float16/bfloat16 (see above),
    the rows laid out as TF lays them out: ``axis`` moved last, row r starting at r * n;
    ``np.sum`` for other dtypes."""
    x = np.asarray(x)
    leaf = _EIGEN_LEAF.get(x.dtype.name)
    if leaf is None:
        return np.sum(x, axis=axis, keepdims=keepdims)
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    firsts = np.arange(math.prod(moved.shape[:-1])).reshape(moved.shape[:-1]) * n % _EIGEN_PACKET
    with np.errstate(over="ignore", invalid="ignore"):
        s = _eigen_tree_sum(moved, leaf, firsts)
    return np.expand_dims(s, axis) if keepdims else s


def reduce_sum(x, axis=None, keepdims=False) -> np.ndarray:
    """``tf.reduce_sum`` in x's dtype over ``axis`` (None: all; an int, tuple or list): float16
    in Eigen's order and precision (:func:`eigen_sum` of the reduced axes moved last and
    flattened), bfloat16 accumulated in float32 and rounded once, other dtypes in their
    own precision (``np.sum``: a large float32/float64 sum of everything is ``sum_of``, the
    same bits; along one axis of a block of a large ``rowblocks.by_rows`` input,
    ``rowblocks.axis_sums``, fused and a few ulp from ``np.sum``)."""
    x = np.asarray(x)
    axis = tuple(axis) if isinstance(axis, list) else axis
    check_axis(axis, x.ndim)
    with np.errstate(over="ignore", invalid="ignore"):
        if x.dtype.name == "float16":
            axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(x.ndim, 1))
            kept = tuple(n for i, n in enumerate(x.shape) if i not in axes)
            count = int(np.prod([x.shape[i] for i in axes]))  # not -1: an empty x has no inferable size
            flat = np.moveaxis(x, axes, tuple(range(-len(axes), 0))).reshape(kept + (count,))
            s = np.asarray(eigen_sum(flat, axis=-1))
            return s.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims else kept)
        if x.dtype.name == "bfloat16":
            return np.asarray(np.sum(x.astype(np.float32), axis=axis, keepdims=keepdims)).astype(x.dtype)
        if axis is None and not keepdims and in_runs(x):  # np.sum's order, a run at a time on two threads
            return sum_of(np.asarray, x)
        if rowblocks.fused(axis):  # a block of a large by_rows input
            return rowblocks.axis_sums(x, axis, keepdims)
        return np.asarray(np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype))


# --- np.sum's own order, a block at a time ------------------------------------------
# ``np.sum`` of a contiguous float32/float64 array is NumPy's pairwise summation: a run of
# more than 128 elements is split at n2 = n // 2 rounded down to a multiple of 8 and the
# two halves' sums are added; shorter runs are summed with 8 accumulators. Following those
# splits down to runs of at most ``PAIRWISE_LEAF`` elements, summing each run with
# ``np.sum`` and adding the runs' sums as the tree does gives ``np.sum``'s bits, while each
# run's terms are computed in cache and the runs are shared between threads.

PAIRWISE_LEAF = 1 << 17
"""Elements in one run of :func:`sum_of` (512 KiB of float32, half an L2 cache): a multiple of 8, above 128."""


def _pairwise_runs(start: int, n: int, runs: list) -> None:
    """The (start, stop) runs of NumPy's pairwise tree over ``n`` elements, in order."""
    if n <= PAIRWISE_LEAF:
        runs.append((start, start + n))
        return
    half = n // 2 - (n // 2) % 8
    _pairwise_runs(start, half, runs)
    _pairwise_runs(start + half, n - half, runs)


def _pairwise_join(sums: list, n: int, at: list):
    """The runs' sums added as NumPy's tree adds its halves (``at[0]``: the next run)."""
    if n <= PAIRWISE_LEAF:
        at[0] += 1
        return sums[at[0] - 1]
    half = n // 2 - (n // 2) % 8
    left = _pairwise_join(sums, half, at)
    return left + _pairwise_join(sums, n - half, at)


def in_runs(*arrays) -> bool:
    """Whether :func:`sum_of` splits these arrays into runs (``rowblocks.blockable`` arrays
    longer than one run)."""
    return rowblocks.blockable(*arrays, min_size=PAIRWISE_LEAF + 1)


def sum_of(terms, *arrays) -> np.ndarray:
    """``np.sum(terms(*arrays))`` in the terms' own dtype, bit for bit, for an element-wise
    ``terms`` returning float32 or float64: on arrays :func:`in_runs` accepts, a run of NumPy's
    pairwise tree at a time (the terms of one run exist at once, never the whole array),
    the runs on ``rowblocks.threads_now()`` threads; other arrays whole."""
    if not in_runs(*arrays):
        return np.asarray(np.sum(terms(*arrays)))
    flat = [a.reshape(-1) for a in arrays]
    n = flat[0].size
    runs: list = []
    _pairwise_runs(0, n, runs)
    sums: list = [None] * len(runs)
    threads = max(1, min(rowblocks.threads_now(), len(runs)))

    def worker(k: int, failures: list, next_item) -> None:
        for i in iter(next_item, None):
            if failures:
                return
            start, stop = runs[i]
            part = terms(*(f[start:stop] for f in flat))
            if part.dtype.name not in ("float32", "float64"):
                raise TypeError(f"sum_of: terms gave {part.dtype}; only float32/float64 are summed in NumPy's order")
            sums[i] = np.sum(part)

    rowblocks.in_threads(worker, threads, len(runs))
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(_pairwise_join(sums, n, [0]))


# --- dot products a row at a time ---------------------------------------------------------
# For a large sum of squares or a large plain sum, where TF's own order is its thread pool's
# and no NumPy order is TF's, a fused dot product per row is 2-5x faster than NumPy's
# pairwise sum of the terms (no x * y temporary, vector accumulators): ``np.vecdot`` of rows of
# ``DOT_ROW`` elements, the row results summed by ``np.sum`` (pairwise). Measured on 4M float32
# elements against a float64 sum (all-positive, 1e4 + U(0, 1), lognormal(0, 3), sorted and
# reverse-sorted inputs): relative error at most 1.2e-7 (``np.sum``'s own: up to 7e-8), within
# float32's pairwise bound of log2(n) * 2**-24 = 1.3e-6.

DOT_ROW = 1024
"""Elements in one row of :func:`dot_sum`: each row's dot product has about 16 additions per vector lane."""


def by_dots(*arrays) -> bool:
    """Whether :func:`dot_sum` applies: ``rowblocks.blockable`` arrays (float32/float64,
    C-contiguous, of one shape, ``rowblocks.PARALLEL_MIN_BYTES`` together: 4 MB, as
    ``rowblocks.FUSED_MIN_BYTES``) of at least ``DOT_ROW`` elements."""
    return rowblocks.blockable(*arrays, min_size=DOT_ROW)


def dot_sum(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """sum(x * y) (``y`` None: sum(x)) in x's dtype, for arrays :func:`by_dots` accepts: one
    ``np.vecdot`` over rows of ``DOT_ROW`` elements (``y`` None: against ones; no temporary of
    the input's size), the row results summed by ``np.sum``, then the leftover elements' sum
    added. Not ``np.sum``'s bits (see above). One thread: the sum is bound by memory reads, and
    a second thread made it slower."""
    fx = x.ravel()
    fy = fx if y is None else y.ravel()
    n_rows, _ = divmod(fx.size, DOT_ROW)
    main = n_rows * DOT_ROW
    rows = fx[:main].reshape(n_rows, DOT_ROW)
    with np.errstate(over="ignore", invalid="ignore"):
        if y is None:
            row_sums, tail = np.vecdot(rows, np.ones(DOT_ROW, x.dtype)), fx[main:]
        else:
            row_sums, tail = np.vecdot(rows, fy[:main].reshape(n_rows, DOT_ROW)), fx[main:] * fy[main:]
        return np.asarray(np.sum(row_sums) + np.sum(tail))
