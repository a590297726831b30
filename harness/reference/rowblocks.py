"""Large inputs a cache-sized block at a time, with the results of the whole-array
formulas bit for bit: the softmax family over the last axis (blocks of rows), per-example
losses (:func:`by_rows`) and element-wise losses (:func:`by_elements`), on the threads
:func:`threads_now` allows. From ``FUSED_MIN_BYTES`` on (:func:`is_large`), sums along the
rows are fused dot products against ones (``np.vecdot``): a few ulp from ``np.sum``'s
pairwise sums, one pass instead of a temporary and a reduction."""
from __future__ import annotations

import functools
import inspect
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# --- row blocks -----------------------------------------------------------------------
# The softmax family reduces along the last axis, one row at a time, so a large input
# can be processed a block of rows at a time: each block is a few cache-sized scratch
# buffers, so the extra memory stays bounded whatever the input size, and every step
# after the first read of a block runs from cache. Per row the operations and their
# order are exactly those of the whole-array formulas above (NumPy reduces each
# contiguous row on its own), so the results are identical bit for bit. NumPy releases
# the GIL in its loops, so large inputs are split between up to ``ROW_THREADS`` threads.

ROW_BLOCK_BYTES = 2 << 20
"""Target size of one block of rows (and of each scratch buffer): about two L2 caches here.
Each block costs a pass of Python (a per-example loss runs whole on it: validation, dtype
rules, its decorators), so fewer, larger blocks win until the block's temporaries stop
fitting the caches. Measured on the reference of every op at the bench's large size (2
threads, 126 ops): 2 MiB blocks took 0.89x the time of 1 MiB ones (geometric mean; the
cosine similarities and squared errors 0.55-0.7x, element-wise chains with several
temporaries such as Huber and LogCosh up to 1.15x), 4 MiB blocks 1.01x."""
ROW_THREADS = max(1, min(2, os.cpu_count() or 1))
"""Most threads a large input is split between."""
THREADS_BY_LOAD = True
"""Use the helper threads only while the machine has an idle core (see :func:`threads_now`)."""
PARALLEL_MIN_BYTES = 4 << 20
"""Inputs smaller than this are processed by the calling thread alone."""
FUSED_MIN_BYTES = 4 << 20
"""From this input size on, sums along rows are fused dot products against ones (``np.vecdot``)
and softmax multiplies by the sum's reciprocal, as TF's kernel does: faster, and a few ulp from
the smaller inputs' bits (``np.sum`` and a division)."""


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
        threads = threads_now() if big else 1
    threads = max(1, min(threads, len(blocks)))

    def worker(k: int, failures: list, next_item) -> None:
        buffers = [np.empty((min(per_block, n_rows), n_cols), d) for d in scratch]
        for i in iter(next_item, None):
            if failures:
                return
            rows = blocks[i]
            n = rows.stop - rows.start
            work(rows, *(b[:n] for b in buffers))

    in_threads(worker, threads, len(blocks))


def threads_now() -> int:
    """``ROW_THREADS``, or fewer while the machine is busy: the cores that other processes
    leave idle (:func:`others_load`), rounded, at least 1.

    A helper thread pays off only on an idle core: on a busy machine it waits for a core
    while holding the GIL the calling thread needs between NumPy's loops, and the call is
    slower than on one thread (measured: twice as slow at a load average of 7 on 2 cores).
    The results are the same bits whatever the number of threads."""
    if not THREADS_BY_LOAD or ROW_THREADS == 1:
        return ROW_THREADS
    return max(1, min(ROW_THREADS, int((os.cpu_count() or 1) - others_load() + 0.5)))


OTHERS_WINDOW_S = 10.0
"""Time constant of :func:`others_load`'s average."""
OTHERS_MIN_SAMPLE_S = 0.05
"""The shortest interval :func:`others_load` measures (the kernel counts CPU time in 10 ms ticks)."""
_others = {"wall": None, "busy": 0.0, "cpu": 0.0, "load": 0.0}


def busy_seconds() -> float | None:
    """CPU seconds every process on the machine has spent busy since boot (``/proc/stat``:
    all but idle and iowait), or None where that cannot be read."""
    try:
        with open("/proc/stat", "rb") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def others_load() -> float:
    """The cores other processes keep busy: the machine's busy CPU time per second less this
    process's own (all its threads'), averaged over about ``OTHERS_WINDOW_S`` (an exponential
    decay), updated when ``OTHERS_MIN_SAMPLE_S`` has passed since the last sample. Before the
    first sample, the last minute's load average less this thread. This process's own work,
    TF's thread pool between reference calls included, never counts against the helper thread
    (the load average counts it)."""
    wall = time.monotonic()
    if _others["wall"] is not None and wall - _others["wall"] < OTHERS_MIN_SAMPLE_S:
        return _others["load"]  # too soon for a sample: nothing read (/proc/stat costs 20-200 us)
    cpu, busy = time.process_time(), busy_seconds()
    if busy is None or _others["wall"] is None:
        try:
            _others["load"] = max(0.0, os.getloadavg()[0] - 1.0)
        except OSError:  # no load average on this system
            _others["load"] = 0.0
    else:
        elapsed = wall - _others["wall"]
        keep = math.exp(-elapsed / OTHERS_WINDOW_S)
        sample = max(0.0, busy - _others["busy"] - (cpu - _others["cpu"])) / elapsed
        _others["load"] = keep * _others["load"] + (1 - keep) * sample
    _others.update(wall=wall, busy=busy or 0.0, cpu=cpu)
    return _others["load"]


BLAS_ONE_THREAD_MIN = 1 << 22
"""From this many multiply-adds on, :func:`matmul` runs NumPy's BLAS on one thread."""
_blas: list = []


def matmul(a, b) -> np.ndarray:
    """``a @ b``; a product of at least ``BLAS_ONE_THREAD_MIN`` multiply-adds on one BLAS thread.

    OpenBLAS's threads wait for work spinning: on a machine whose cores are taken (the
    harness alternates the reference with TF's thread pool) two BLAS threads made the
    training step's products 2-3x slower than one. One thread also makes a large product's
    bits independent of the machine's core count (OpenBLAS splits some products between
    threads in ways that change the rounding). Smaller products, which OpenBLAS runs on one
    thread anyway, are left as they are."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] * a.shape[1] * b.shape[1] < BLAS_ONE_THREAD_MIN:
        return a @ b
    if not _blas:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # without threadpoolctl: NumPy's own threading
            _blas.append(None)
        else:
            _blas.append(ThreadpoolController())
    # a @ a.T takes BLAS's symmetric product (syrk), 1.6x slower here than the general one
    # on a copy of the transpose (the same bits: each entry is one dot product either way).
    b = np.ascontiguousarray(b)
    if _blas[0] is None:
        return a @ b
    with _blas[0].limit(limits=1, user_api="blas"):
        return a @ b


def _new_pool() -> ThreadPoolExecutor:
    """The helper threads of :func:`in_threads`: ``ROW_THREADS - 1`` persistent threads
    (at least one), started on first use.

    The threads outlive the call: ``Thread.start`` waits until the new thread runs, and on a
    virtual machine whose other core is idle that wake-up took 1.2-1.6 ms (measured), as long
    as the whole softmax of a 4096 x 1000 input. A pool thread is woken by a queue instead,
    and the calling thread does not wait for it."""
    return ThreadPoolExecutor(max(1, ROW_THREADS - 1), thread_name_prefix="rowblocks")


_pool = [_new_pool()]
os.register_at_fork(after_in_child=lambda: _pool.__setitem__(0, _new_pool()))  # a forked child has no threads


def in_threads(worker, threads: int, items: int) -> None:
    """Run ``worker(k, failures, next_item)`` for k in range(threads), k = 0 in the calling
    thread, the others on pool threads (:func:`_new_pool`; NumPy releases the GIL in its loops).

    ``next_item()`` hands out the item numbers 0 .. items - 1 in order, each once, then
    None: whichever thread is free takes the next item, so a thread the machine's other work
    delays does not hold the rest back (with one thread, the items run in order). A helper
    that has not started when the calling thread runs out of items is cancelled, not waited
    for. The caller's ``np.errstate`` holds in every thread; the first exception of any worker
    is raised once all have returned (``failures`` is non-empty once one raised: a worker
    checks it to stop early)."""
    errstate = np.geterr()
    failures: list[BaseException] = []
    numbers = iter(range(items))  # next() on a range iterator is atomic under the GIL

    def next_item():
        return next(numbers, None)

    def run(k: int) -> None:
        try:
            with np.errstate(**errstate):
                worker(k, failures, next_item)
        except BaseException as exc:  # re-raised in the calling thread
            failures.append(exc)

    helpers = [_pool[0].submit(run, k) for k in range(1, threads)]
    run(0)
    for future in helpers:
        if not future.cancel():  # a helper still queued is cancelled, not waited for
            future.result()  # its exceptions are in failures
    if failures:
        raise failures[0]


def blockable(*arrays, min_size: int = 1) -> bool:
    """Arrays that may be split into blocks of elements: C-contiguous float32/float64 arrays of
    one shape and at least ``min_size`` elements, of at least ``PARALLEL_MIN_BYTES`` together
    (smaller ones are processed whole)."""
    first = arrays[0]
    return (all(isinstance(a, np.ndarray) and a.shape == first.shape and a.flags.c_contiguous
                and a.dtype.name in ("float32", "float64") for a in arrays)
            and first.size >= min_size and sum(a.nbytes for a in arrays) >= PARALLEL_MIN_BYTES)


def by_elements(fn, *arrays, dtype) -> np.ndarray:
    """``fn(*arrays)`` for an element-wise ``fn`` whose result has ``dtype`` and the arrays'
    shape: on :func:`blockable` arrays a block of elements at a time on
    :func:`threads_now` threads, each block's result written into one output (the same bits: every element
    goes through the same operations); other arrays whole."""
    if not blockable(*arrays):
        return fn(*arrays)
    out = np.empty(arrays[0].shape, dtype)
    flat, flat_out = [a.reshape(-1, 1) for a in arrays], out.reshape(-1, 1)

    def work(rows):
        flat_out[rows, 0] = fn(*(f[rows, 0] for f in flat))

    for_row_blocks(work, flat_out.shape[0], 1, block_dtype=dtype)
    return out


def _apart_by_rows(y_true, y_pred, axis) -> bool:
    """Inputs :func:`by_rows` may split: two float32/float64 arrays of one shape, rank 2 or
    more, at least ``PARALLEL_MIN_BYTES``, reduced along an int axis that is not the first."""
    return (isinstance(y_true, np.ndarray) and isinstance(y_pred, np.ndarray)
            and y_true.shape == y_pred.shape and y_pred.ndim >= 2 and y_true.dtype == y_pred.dtype
            and y_pred.dtype.name in ("float32", "float64") and y_pred.nbytes >= PARALLEL_MIN_BYTES
            and isinstance(axis, int) and not isinstance(axis, bool) and axis % y_pred.ndim != 0)


def is_large(nbytes: int) -> bool:
    """Whether an input of ``nbytes`` takes the fused paths (``FUSED_MIN_BYTES`` or more)."""
    return nbytes >= FUSED_MIN_BYTES


class _Fused(threading.local):
    on = False


_fused = _Fused()


def fused(axis) -> bool:
    """Whether the calling thread computes a block of a large :func:`by_rows` input (one of
    :func:`is_large` size; its blocks are float32/float64) and ``axis`` is one int axis: then
    a sum or mean along ``axis`` is :func:`axis_sums` / :func:`axis_means`."""
    return _fused.on and isinstance(axis, int)


def axis_sums(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """sum(x, axis) as the fused dot product of each lane along ``axis`` with ones
    (``np.vecdot``, :func:`_row_sums`): a few ulp from ``np.sum``'s pairwise sums, one pass,
    3x faster."""
    sums = _row_sums(np.moveaxis(x, axis, x.ndim - 1), np.ones(x.shape[axis], x.dtype), keepdims=False)
    return np.expand_dims(sums, axis) if keepdims else sums


def axis_means(x: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
    """mean(x, axis) as ``axis_sums(x, axis) / n`` (``np.mean``'s division, not its pairwise sums)."""
    return np.divide(axis_sums(x, axis, keepdims), x.dtype.type(x.shape[axis]))


def by_rows(fn):
    """``fn(y_true, y_pred, ..., axis=-1)`` on large inputs, a block of examples (first-axis
    rows) at a time on :func:`threads_now` threads, the blocks' results concatenated.

    For per-example losses whose every step is element-wise or reduces along an axis other
    than the first: each row's result is computed by the same operations in the same
    order as on the whole array, so the bits are the same, and the temporaries are a
    block's, not the whole input's. Anything :func:`_apart_by_rows` does not accept runs
    ``fn`` whole. On :func:`is_large` inputs :func:`fused` holds while ``fn`` runs: its sums
    and means along an axis are :func:`axis_sums` / :func:`axis_means` (not ``np.sum``'s bits).""" 
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not any(isinstance(a, np.ndarray) and a.nbytes >= PARALLEL_MIN_BYTES for a in (*args, *kwargs.values())):
            return fn(*args, **kwargs)  # no input _apart_by_rows could split: skip binding the signature
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return fn(*args, **kwargs)
        bound.apply_defaults()
        given = bound.arguments
        y_true, y_pred = given.get("y_true"), given.get("y_pred")
        if not _apart_by_rows(y_true, y_pred, given.get("axis", -1)):
            return fn(*args, **kwargs)
        parts: dict[int, np.ndarray] = {}
        large = is_large(y_pred.nbytes)

        def work(rows):
            _fused.on = large
            try:
                parts[rows.start] = fn(**{**given, "y_true": y_true[rows], "y_pred": y_pred[rows]})
            finally:
                del _fused.on  # back to the class default: not fused

        n_rows = y_pred.shape[0]
        for_row_blocks(work, n_rows, y_pred.size // n_rows, block_dtype=y_pred.dtype)
        return np.concatenate([parts[start] for start in sorted(parts)])

    return wrapper


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


def _fused_ones(x2: np.ndarray, dtype) -> np.ndarray | None:
    """Ones to sum the rows of ``x2`` against (:func:`_row_sums`) when it spans at least
    ``FUSED_MIN_BYTES``; None for smaller inputs (``np.sum``)."""
    return np.ones(x2.shape[1], dtype) if is_large(x2.nbytes) else None


def _row_sums(block: np.ndarray, ones: np.ndarray | None, keepdims: bool = True) -> np.ndarray:
    """Each row's sum: ``np.sum`` along the rows of a 2-D ``block``, or with ``ones`` the fused
    dot product ``np.vecdot(block, ones)`` along the last axis (one pass, no temporary; the
    order of the additions differs)."""
    if ones is None:
        return np.sum(block, axis=1, keepdims=keepdims)
    sums = np.vecdot(block, ones)
    return sums[..., None] if keepdims else sums


ROW_LOOP_MIN_COLS = 512
"""From this row length on, :func:`by_row` hands NumPy's loop one row at a time."""


def by_row(ufunc, a, b, out=None):
    """``ufunc(a, b, out=out)``, where one operand may hold one value per row (its last axis
    1: a row's maximum, sum, norm or logarithm, kept with ``keepdims``) and the other whole
    rows.

    For such operands NumPy's iterator fills a buffer of ``np.getbufsize()`` elements (8192)
    across several rows and copies the per-row value into it, element by element. With a
    buffer smaller than a row (``np.setbufsize(16)``, inside an ``np.errstate`` that restores
    it) it hands each row to the ufunc's loop directly, the row's value as a scalar operand.
    Measured on 4096 x 1000 float32 (this machine, one thread): 0.84-0.89 ms became
    0.34-0.40 ms for rows of 768 to 3,000 elements; rows of 256 to 512 gain less, rows of 128
    or fewer lose (the loop is called once per short row), hence ``ROW_LOOP_MIN_COLS``. Other
    operands (scalars, equal shapes) are passed on as they are. The same bits either way:
    each element goes through the same operation."""
    if _one_per_row(a, b):
        with np.errstate():
            np.setbufsize(16)
            return ufunc(a, b, out=out)
    return ufunc(a, b, out=out)


def _one_per_row(a, b) -> bool:
    """One of two arrays has a last axis of 1, the other one of ``ROW_LOOP_MIN_COLS`` or more."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim and b.ndim):
        return False
    last = sorted((a.shape[-1], b.shape[-1]))
    return last[0] == 1 and last[1] >= ROW_LOOP_MIN_COLS


def _inverse_row_sums(block: np.ndarray, ones: np.ndarray) -> np.ndarray:
    """1 / sum of each row of ``block`` (keepdims), the sum a fused dot product against ``ones``."""
    sums = np.vecdot(block, ones)
    return np.reciprocal(sums, out=sums)[:, None]


def unshifted_safe(sums: np.ndarray, top=None) -> np.ndarray:
    """Which rows of a large softmax block may skip the shift by the row's maximum: those whose
    unshifted row sum ``S' = sum_j exp(x_j)`` (float32 or float64, as computed) satisfies
    ``1 <= S' <= top``, by default ``1 / tiny`` (``tiny`` the dtype's smallest normal number:
    2**-126 in float32, 2**-1022 in float64). NaN fails both comparisons. See
    :func:`softmax_last_axis` and :func:`sparse_xent_rows` for why these rows give TF's results
    within the tolerance, :func:`log_softmax_last_axis` for its smaller ``top``."""
    tiny = np.finfo(sums.dtype).tiny
    return (sums >= 1) & (sums <= (1 / tiny if top is None else top))


def _unshifted_exps(src: np.ndarray, exps: np.ndarray, ones: np.ndarray,
                    top=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The unshifted path's pass over a block of a large input: ``exps = exp(src)`` (``exps``
    may be where the result goes), ``S'`` each row's fused sum, and the rows
    :func:`unshifted_safe` (bound ``top``) rejects, which take TF's shifted formula instead
    (None when it accepts every row). Returns ``(S', rejected rows)``."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        np.exp(src, out=exps)
        sums = np.vecdot(exps, ones)
        safe = unshifted_safe(sums, top)
    return sums, (None if safe.all() else np.flatnonzero(~safe))


def _shifted_softmax_rows(src: np.ndarray, dst: np.ndarray, ones: np.ndarray) -> None:
    """TF's kernel formula on a 2-D ``src``, written into ``dst``: s = x - max x, e = exp(s),
    e * (1 / sum e) (the sums fused)."""
    with np.errstate(invalid="ignore"):
        by_row(np.subtract, src, np.max(src, axis=1, keepdims=True), out=dst)
        np.exp(dst, out=dst)
        by_row(np.multiply, dst, _inverse_row_sums(dst, ones), out=dst)


def softmax_last_axis(x: np.ndarray, compute_dtype=None) -> np.ndarray:
    """``softmax(x, axis=-1)`` computed in ``compute_dtype`` (default x's dtype) and
    rounded to x's dtype, block by block: identical to ``softmax(x.astype(compute))``
    (exp(s) / sum(exp(s)), s = x - max x) on inputs under ``FUSED_MIN_BYTES``.

    Larger inputs (within the float32/float64 tolerances of TF, not the small inputs' bits):

    - a row that :func:`unshifted_safe` accepts skips the shift: e = exp(x),
      S' = sum(e) (a fused dot product, :func:`_row_sums`), y = e * (1 / S'); two passes
      fewer than the shifted form (the max, and the subtraction of a ``[rows, 1]`` operand,
      NumPy's slowest broadcast), 1.6-2x faster;
    - every other row takes TF's kernel formula, exp(s) * (1 / sum(exp(s))) with
      s = x - max x (:func:`_shifted_softmax_rows`): a NaN or +inf (S' NaN or inf), a value
      whose exp overflows (above about 88.7 in float32, or S' above 1 / tiny), a row of all
      -inf (S' = 0: TF's -inf - (-inf) = NaN row is kept), a row whose exps are all below 1
      (S' < 1: very negative values, whose exps may be subnormal or 0).

    Why the accepted rows give TF's values (float32; float64 alike with 2**-53, 2**-1022):
    mathematically exp(x_j) / S' = exp(s_j) / S for any shift. TF rounds s_j = x_j - m once,
    an absolute error of at most ulp(d)/2 <= d * 2**-24 (d = m - x_j >= 0), a relative error
    of about d * 2**-24 in exp(s_j), while y_j <= exp(-d): the absolute difference from it is
    at most 2**-24 * d * exp(-d) <= 2**-24 / e (2.2e-8). Otherwise both forms make the same
    kinds of roundings (exp, a fused sum of n non-negative terms, a correctly rounded
    reciprocal, a product), all a few ulp relative to y <= 1. S' <= 1 / tiny keeps 1 / S' a
    normal number (no precision lost to a subnormal reciprocal) and every exp(x_j) finite.
    S' >= 1 bounds what underflow can do: an exp(x_j) below 2**-126 (subnormal or 0 in
    NumPy) has a true y_j = exp(x_j) / S <= exp(x_j) < 2**-126 as well, which TF's kernel
    also gives as a subnormal or 0 (its CPU threads flush subnormals to zero): the two differ
    by less than 2**-126. So every element differs from TF's by about 1e-6 at most, against
    the default float32 tolerance's atol of 1e-5 (y <= 1); random normal logits differ from
    the shifted form by at most about 10 ulp, 1.3 on average. bfloat16 is computed in float32
    and rounded once, as before. Either path is chosen per row, and every row's result
    depends on that row alone."""
    x = np.asarray(x)
    compute = np.dtype(compute_dtype or x.dtype)
    out = np.empty(x.shape, x.dtype)
    x2, out2 = _rows(x), _rows(out)
    ones = _fused_ones(x2, compute)

    def work(rows, *buf):
        dst = buf[0] if buf else out2[rows]
        src = _cast_into(buf[0], x2[rows]) if buf else x2[rows]
        if ones is None:
            with np.errstate(invalid="ignore"):
                by_row(np.subtract, src, np.max(src, axis=1, keepdims=True), out=dst)
                np.exp(dst, out=dst)
            by_row(np.divide, dst, _row_sums(dst, ones), out=dst)
        else:
            sums, bad = _unshifted_exps(src, dst, ones)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                by_row(np.multiply, dst, np.reciprocal(sums, out=sums)[:, None], out=dst)
            if bad is not None:
                redo = x2[rows][bad].astype(compute)
                _shifted_softmax_rows(redo, redo, ones)
                dst[bad] = redo
        if buf:
            out2[rows] = dst

    scratch = () if compute == x.dtype else (compute,)
    for_row_blocks(work, x2.shape[0], x2.shape[1], scratch, block_dtype=x.dtype)
    return out


def _shifted_log_softmax_rows(src: np.ndarray, dst: np.ndarray, exps: np.ndarray, ones: np.ndarray | None) -> None:
    """TF's LogSoftmax formula on a 2-D ``src`` into ``dst``: s - log(sum(exp(s))), s = x - max x,
    the exps in ``exps``, the sums :func:`_row_sums` (fused with ``ones``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        by_row(np.subtract, src, np.max(src, axis=1, keepdims=True), out=dst)
        np.exp(dst, out=exps)
        total = _row_sums(exps, ones)
        by_row(np.subtract, dst, np.log(total, out=total), out=dst)


def log_softmax_last_axis(x: np.ndarray) -> np.ndarray:
    """``log_softmax_shifted(x, axis=-1)`` block by block (identical results under
    ``FUSED_MIN_BYTES``).

    Larger inputs sum each row fused (:func:`_row_sums`), and a row whose unshifted sum
    S' = sum exp(x) is in [1, 2**p] (p the significand's bits: 23 in float32, 52 in float64;
    :func:`unshifted_safe`) skips the shift: x - L, L = log(S') taken in float64 and rounded
    once (two passes fewer: the max and one subtraction of a ``[rows, 1]`` operand). Every
    other row takes TF's formula (:func:`_shifted_log_softmax_rows`).

    Why an accepted row gives TF's values within the tolerance: mathematically
    x - log(S') = (x - m) - log(S), S = sum exp(x - m). L = m + log(S) is in [0, p ln 2]
    (0 to 15.9 in float32), so rounding it costs at most 2**-22 * 16 / 2 = 2**-21 (4.8e-7)
    absolutely, TF's own rounding of log(S) (S in [1, n]) is of the same order, and both round
    the difference once more; the sums' relative errors (a few 1e-7) become absolute errors of
    their logarithm in both. So every element is within about 1e-6 of TF's, against the
    float32 atol of 1e-5, even the row's largest element whose value near 0 TF gets with a
    smaller absolute error (its -log(S) exactly rounded). The bound 2**p, not 1 / tiny as for
    softmax, keeps that cancellation small (L up to 87 would cost 3.8e-6). S' >= 1 makes the
    exps that underflow (below 2**-126: subnormal or 0, TF's threads flush them to 0) change
    S' by less than n * 2**-126 relative; a -inf entry is -inf either way, a NaN, +inf or an
    exp that overflows fails the bound."""
    x = np.asarray(x)
    out = np.empty(x.shape, x.dtype)
    x2, out2 = _rows(x), _rows(out)
    ones = _fused_ones(x2, x.dtype)
    top = 2.0 ** np.finfo(x.dtype).nmant

    def work(rows, exps):
        dst, src = out2[rows], x2[rows]
        if ones is None:
            _shifted_log_softmax_rows(src, dst, exps, ones)
            return
        sums, bad = _unshifted_exps(src, exps, ones, top)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            by_row(np.subtract, src, np.log(sums.astype(np.float64)).astype(x.dtype)[:, None], out=dst)
        if bad is not None:
            redo = src[bad]
            _shifted_log_softmax_rows(redo, redo, np.empty_like(redo), ones)
            dst[bad] = redo

    for_row_blocks(work, x2.shape[0], x2.shape[1], (x.dtype,), block_dtype=x.dtype)
    return out


def _shifted_sparse_xent(src: np.ndarray, index: np.ndarray, ones: np.ndarray | None,
                         shifted: np.ndarray) -> np.ndarray:
    """TF's kernel formula per row of a 2-D ``src``: log(sum_k exp(s_k)) - s[index], s = src - max,
    formed in ``shifted`` (``src``'s shape and dtype; may be ``src`` itself), the sums
    :func:`_row_sums` (fused with ``ones``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        by_row(np.subtract, src, np.max(src, axis=1, keepdims=True), out=shifted)
        picked = shifted[np.arange(shifted.shape[0]), index]
        np.exp(shifted, out=shifted)
        total = _row_sums(shifted, ones, keepdims=False)
        return np.subtract(np.log(total, out=total), picked)


def sparse_xent_rows(logits2: np.ndarray, index: np.ndarray, compute_dtype) -> np.ndarray:
    """log(sum_k exp(s_k)) - s[index] per row of ``logits2`` [rows, classes], with
    s = logits - max(logits) in ``compute_dtype``; one value per row, in that dtype.

    Inputs of ``FUSED_MIN_BYTES`` or more sum each row fused (:func:`_row_sums`), and a row
    whose unshifted sum S' = sum_k exp(x_k) :func:`unshifted_safe` accepts (1 <= S' <= 1 / tiny)
    skips the shift: its loss is log(S') - x[index], the logarithm and the difference taken in
    float64 from S' and the label's logit, then rounded once (two passes fewer: the max and
    the subtraction of a ``[rows, 1]`` operand). Every other row (a NaN or +inf, an exp that
    overflows, a row of -inf, a sum below 1) takes TF's formula (:func:`_shifted_sparse_xent`).

    Why an accepted row gives TF's loss within the tolerance: mathematically
    log(S') - x_l = log(S) - (x_l - m) with S = sum exp(x_k - m). In float64 the logarithm
    and the difference add no error of float32's order, so ours differs from the exact loss by
    the relative error of S' (the same fused sum of n terms, each exp a few ulp) and one final
    rounding; TF's by its sum's error, the rounding of log(S), of s_l = x_l - m (at most
    2**-24 |x_l - m|) and of the difference. The loss is at least log(S) >= 0 and at least
    m - x_l >= 0, so every one of these is a few float32 ulp of the loss or an absolute
    error of a few 1e-7 (the sum's relative error), within the float32 tolerance (rtol
    1.3e-6, atol 1e-5). S' >= 1 bounds the exps that underflow to NumPy's subnormals or 0
    (TF's CPU threads flush them to 0): each below 2**-126, a relative change of S' under
    n * 2**-126; S' <= 1 / tiny keeps every exp finite. A label's logit of -inf is an infinite
    loss either way. float16 logits are computed in float32 and rounded once, as before."""
    cost = np.empty(logits2.shape[0], compute_dtype)
    ones = _fused_ones(logits2, compute_dtype)

    def work(rows, scratch):
        src = _cast_into(scratch, logits2[rows])
        if ones is None:
            cost[rows] = _shifted_sparse_xent(src, index[rows], ones, scratch)
            return
        picked = src[np.arange(src.shape[0]), index[rows]]
        sums, bad = _unshifted_exps(src, scratch, ones)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            cost[rows] = np.log(sums.astype(np.float64)) - picked
        if bad is not None:
            redo = logits2[rows][bad].astype(compute_dtype)
            cost[rows][bad] = _shifted_sparse_xent(redo, index[rows][bad], ones, redo)

    for_row_blocks(work, logits2.shape[0], logits2.shape[1], (compute_dtype,))
    return cost


def xent_rows(labels2: np.ndarray, logits2: np.ndarray, compute_dtype) -> np.ndarray:
    """sum_c labels_c * (log(sum_k exp(s_k)) - s_c) per row, s = logits - max(logits),
    for ``labels2`` and ``logits2`` of one [rows, classes] shape (broadcast views are
    fine); both are rounded to ``compute_dtype`` first. One value per row. Inputs of
    ``FUSED_MIN_BYTES`` or more sum along the rows by fused dot products (:func:`_row_sums`)."""
    cost = np.empty(logits2.shape[0], compute_dtype)
    ones = _fused_ones(logits2, compute_dtype)

    def work(rows, shifted, terms):
        src = _cast_into(shifted, logits2[rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            by_row(np.subtract, src, np.max(src, axis=1, keepdims=True), out=shifted)
            np.exp(shifted, out=terms)
            lse = _row_sums(terms, ones)
            by_row(np.subtract, np.log(lse, out=lse), shifted, out=terms)
            np.multiply(labels2[rows].astype(compute_dtype, copy=False), terms, out=terms)
            cost[rows] = _row_sums(terms, ones, keepdims=False)

    for_row_blocks(work, logits2.shape[0], logits2.shape[1], (compute_dtype, compute_dtype))
    return cost
