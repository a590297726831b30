"""The row-blocked softmax family (``rowblocks.for_row_blocks``): identical to the whole-array
formulas bit for bit, on one thread or two, and bounded in extra memory on large inputs.

Speed goals live in the bench suite; nothing here is timed."""
from __future__ import annotations

import threading
import tracemalloc

import ml_dtypes
import numpy as np
import pytest

from harness.reference import nn, rowblocks

MiB = 1 << 20
MEMORY_BOUND = 64 * MiB


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few rows, split between two threads even for small inputs."""
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 4096)
    monkeypatch.setattr(rowblocks, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(rowblocks, "ROW_THREADS", 2)
    monkeypatch.setattr(rowblocks, "THREADS_BY_LOAD", False)


# --- the straightforward whole-array formulas --------------------------------------------


def _shifted(x):
    with np.errstate(invalid="ignore"):
        return x - np.max(x, axis=-1, keepdims=True)


def _log_sum_exp(shifted, keepdims=False):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.sum(np.exp(shifted), axis=-1, keepdims=keepdims))


def plain_softmax(x):
    e = np.exp(_shifted(x))
    return e / np.sum(e, axis=-1, keepdims=True)


def plain_log_softmax(x):
    s = _shifted(x)
    return s - _log_sum_exp(s, keepdims=True)


def plain_sparse_xent(labels, x):
    s = _shifted(x)
    picked = np.take_along_axis(s, labels[..., None].astype(np.intp), axis=-1)[..., 0]
    with np.errstate(invalid="ignore"):
        return _log_sum_exp(s) - picked


def plain_xent(labels, x):
    s = _shifted(x)
    with np.errstate(invalid="ignore"):
        return np.sum(labels * (_log_sum_exp(s, keepdims=True) - s), axis=-1)


def _same(a, b):
    """Equal bit for bit (NaNs included) with the same dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _logits(rng, shape, dtype, scale):
    """Normal logits times ``scale`` with a few ``-inf`` entries and, for a batch of
    several rows, a first row of all ``-inf`` (NaN in every op)."""
    x = rng.standard_normal(shape) * scale
    flat = x.reshape(-1)
    flat[rng.integers(0, flat.size, max(1, flat.size // 50))] = -np.inf
    if len(shape) > 1 and shape[0] > 1:
        x[0] = -np.inf
    return x.astype(dtype)


SHAPES = [(5,), (3, 7), (64, 33), (9, 4, 130), (2000, 3)]
SCALES = [1.0, 1e4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", SCALES)
def test_blocked_equals_whole_array_formula(small_blocks, dtype, shape, scale):
    rng = np.random.default_rng(len(shape) + shape[-1])
    x = _logits(rng, shape, dtype, scale)
    labels = rng.integers(0, shape[-1], shape[:-1])
    soft = rng.random(shape).astype(dtype)
    assert _same(nn.softmax(x), plain_softmax(x))
    assert _same(nn.log_softmax(x), plain_log_softmax(x))
    assert _same(nn.sparse_softmax_cross_entropy_with_logits(labels, x), plain_sparse_xent(labels, x))
    assert _same(nn.softmax_cross_entropy_with_logits(soft, x), plain_xent(soft, x).astype(dtype))


@pytest.mark.parametrize("shape", SHAPES)
def test_blocked_low_precision_equals_float32_formula(small_blocks, shape):
    """float16 cross-entropies and bfloat16 softmax compute in float32 and round once."""
    rng = np.random.default_rng(7)
    x16 = _logits(rng, shape, np.float16, 1e4)
    xb = _logits(rng, shape, ml_dtypes.bfloat16, 1e4)
    labels = rng.integers(0, shape[-1], shape[:-1])
    soft = rng.random(shape).astype(np.float16)
    x32 = x16.astype(np.float32)
    assert _same(nn.sparse_softmax_cross_entropy_with_logits(labels, x16),
                 plain_sparse_xent(labels, x32).astype(np.float16))
    with np.errstate(over="ignore"):  # losses past 65504 are inf in float16, as in TF
        assert _same(nn.softmax_cross_entropy_with_logits(soft, x16),
                     plain_xent(soft.astype(np.float32), x32).astype(np.float16))
    assert _same(nn.softmax(xb), plain_softmax(xb.astype(np.float32)).astype(ml_dtypes.bfloat16))


def test_blocked_xent_broadcast_labels(small_blocks):
    rng = np.random.default_rng(3)
    x = _logits(rng, (100, 17), np.float32, 1e4)
    for shape in [(1, 17), (100, 1), (17,), (1, 1)]:
        y = rng.random(shape)  # float64 labels are rounded to the logits' float32 first
        want = plain_xent(np.broadcast_to(y.astype(np.float32), x.shape), x)
        assert _same(nn.softmax_cross_entropy_with_logits(y, x), want)
    wide = rng.random((100, 17)).astype(np.float32)
    assert _same(nn.softmax_cross_entropy_with_logits(wide, x[:, :1]), plain_xent(wide, np.broadcast_to(x[:, :1], (100, 17))))


def test_blocked_non_contiguous_and_moved_axis(small_blocks):
    rng = np.random.default_rng(4)
    x = _logits(rng, (40, 50), np.float64, 30.0)
    xt = x.T  # a transposed view: rows are strided
    assert _same(nn.softmax(xt), plain_softmax(np.ascontiguousarray(xt)))
    assert _same(nn.log_softmax(xt), plain_log_softmax(np.ascontiguousarray(xt)))
    y = rng.random((40, 50))
    assert _same(nn.softmax_cross_entropy_with_logits(y, x, axis=0), plain_xent(y.T.copy(), xt.copy()))


def test_one_thread_and_two_threads_agree(monkeypatch):
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 8192)
    monkeypatch.setattr(rowblocks, "THREADS_BY_LOAD", False)
    rng = np.random.default_rng(5)
    x = _logits(rng, (513, 301), np.float32, 1e4)
    labels = rng.integers(0, 301, 513)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(rowblocks, "ROW_THREADS", threads)
        monkeypatch.setattr(rowblocks, "PARALLEL_MIN_BYTES", 0)
        results.append([nn.softmax(x), nn.log_softmax(x), nn.sparse_softmax_cross_entropy_with_logits(labels, x)])
    for a, b in zip(*results):
        assert _same(a, b)


# --- the block driver ------------------------------------------------------------------------


def test_every_row_once_in_blocks_of_the_target_size():
    seen = np.zeros(3000, int)
    sizes = []
    lock = threading.Lock()

    def work(rows, buf):
        assert buf.shape == (rows.stop - rows.start, 256) and buf.dtype == np.float32
        with lock:
            seen[rows] += 1
            sizes.append(buf.nbytes)

    rowblocks.for_row_blocks(work, 3000, 256, (np.float32,), threads=2)
    assert (seen == 1).all()
    assert max(sizes) <= rowblocks.ROW_BLOCK_BYTES and len(sizes) > 1


def test_a_helper_thread_error_is_raised_and_errstate_is_shared():
    states = []

    def work(rows):
        states.append(np.geterr()["over"])
        if rows.start > 0:
            raise ZeroDivisionError(f"block at {rows.start}")

    with np.errstate(over="raise"), pytest.raises(ZeroDivisionError, match="block at"):
        rowblocks.for_row_blocks(work, 4, 1 << 20, threads=2)
    assert states and set(states) == {"raise"}


@pytest.mark.parametrize("cols", [1, 3, 511, 512, 1000])
@pytest.mark.parametrize("ufunc", [np.subtract, np.multiply, np.divide])
def test_by_row_gives_the_ufuncs_bits(cols, ufunc):
    rng = np.random.default_rng(cols)
    rows = rng.standard_normal((5, cols)).astype(np.float32)
    column = rng.standard_normal((5, 1)).astype(np.float32)
    for a, b in ((rows, column), (column, rows), (rows, rows), (rows, np.float32(3))):
        want = ufunc(a, b)
        got = rowblocks.by_row(ufunc, a, b)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
        out = np.empty_like(want)
        assert rowblocks.by_row(ufunc, a, b, out=out) is out and out.tobytes() == want.tobytes()


def test_by_row_uses_a_buffer_smaller_than_a_row_only_for_long_rows():
    """A per-row operand against rows of ROW_LOOP_MIN_COLS or more runs with a 16-element
    buffer (NumPy then loops row by row); anything else with NumPy's buffer; the caller's
    buffer size and error state hold inside and after."""
    seen = []

    def probe(a, b, out=None):
        seen.append((np.getbufsize(), np.geterr()["over"]))
        return np.add(a, b, out=out)

    long_rows = np.ones((3, rowblocks.ROW_LOOP_MIN_COLS), np.float32)
    column = np.ones((3, 1), np.float32)
    default = np.getbufsize()
    with np.errstate(over="raise"):
        rowblocks.by_row(probe, long_rows, column)
        rowblocks.by_row(probe, column, long_rows)
        rowblocks.by_row(probe, long_rows[:, 1:], column)
        rowblocks.by_row(probe, long_rows, long_rows)
        rowblocks.by_row(probe, long_rows, np.float32(1))
        assert np.geterr()["over"] == "raise"
    assert seen == [(16, "raise"), (16, "raise"), (default, "raise"), (default, "raise"), (default, "raise")]
    assert np.getbufsize() == default


# --- memory -------------------------------------------------------------------------------------


def _peak_extra(fn):
    """Peak bytes allocated while ``fn`` runs, less its output (tracemalloc sees NumPy's buffers)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before - np.asarray(out).nbytes


@pytest.fixture(scope="module")
def big_logits():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4096, 32768), dtype=np.float32) * np.float32(2)  # 512 MiB


def test_sparse_xent_memory_bound_4096x32768(big_logits):
    labels = np.random.default_rng(1).integers(0, 32768, 4096).astype(np.int32)
    extra = _peak_extra(lambda: nn.sparse_softmax_cross_entropy_with_logits(labels, big_logits))
    assert extra <= MEMORY_BOUND, f"{extra / MiB:.1f} MiB"


def test_softmax_family_memory_bound(big_logits):
    x = big_logits[:1024]  # 128 MiB
    labels = np.zeros_like(x)
    labels[:, 3] = 1
    for fn in (lambda: nn.softmax(x), lambda: nn.log_softmax(x),
               lambda: nn.softmax_cross_entropy_with_logits(labels, x)):
        extra = _peak_extra(fn)
        assert extra <= MEMORY_BOUND, f"{extra / MiB:.1f} MiB"


# --- branch-free selection and the blocked Circle loss ---------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_select_is_np_where_bit_for_bit(monkeypatch, dtype):
    from harness.reference import stable

    monkeypatch.setattr(stable, "SELECT_MIN_SIZE", 0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(37, 11)).astype(dtype)
    x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    cond = np.asarray(x, np.float32) >= 0
    for a, b, c in [(x, -x, cond), (x, dtype(0), cond), (x[:1], x, cond), (x, x[:, :1], cond[:1])]:
        got, want = stable.select(c, a, b), np.where(c, a, b)
        assert got.dtype == want.dtype and got.shape == want.shape
        bits = f"u{want.dtype.itemsize}"
        assert np.array_equal(got.view(bits), want.view(bits))
    assert np.array_equal(stable.select(cond, np.arange(11), 0), np.where(cond, np.arange(11), 0))


def _circle_whole(y_true, y_pred, gamma=80, margin=0.4):
    """Circle loss on whole [B, B] arrays (the formula before row blocks)."""
    from harness.reference import keras_backend as kb
    from harness.reference.stable import logsumexp

    dt = y_pred.dtype
    c = lambda v: kb.const(v, dt)  # noqa: E731
    sim = np.matmul(y_pred, y_pred.T).astype(dt)
    d = np.maximum(c(1) - sim, c(0.0))
    pos = (y_true.reshape(-1, 1) == y_true.reshape(1, -1)) & ~np.eye(y_true.size, dtype=bool)
    neg = ~(y_true.reshape(-1, 1) == y_true.reshape(1, -1))
    pw = np.maximum((c(margin) + d) * pos.astype(dt), c(0.0))
    nw = np.maximum((c(1 + margin) - d) * neg.astype(dt), c(0.0))
    p = logsumexp(np.where(pos, c(-1 * gamma) * pw * (c(margin) - d), c(-np.inf)), axis=1).astype(dt)
    n = logsumexp(np.where(neg, c(gamma) * nw * (c(1 - margin) - d), c(-np.inf)), axis=1).astype(dt)
    return kb.softplus(p + n)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_blocked_circle_equals_whole_array_formula(small_blocks, dtype):
    from harness.reference import keras_functions

    rng = np.random.default_rng(5)
    emb = rng.normal(size=(53, 16))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(dtype)
    labels = rng.integers(0, 6, size=53).astype(np.float32)
    got = keras_functions.circle(labels, emb)
    want = _circle_whole(labels.astype(np.int32), emb)
    assert np.array_equal(got, want, equal_nan=True)


_BY_ROWS = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
            "mean_squared_logarithmic_error", "cosine_similarity", "huber", "log_cosh", "kl_divergence",
            "poisson", "categorical_hinge", "categorical_crossentropy", "categorical_focal_crossentropy",
            "binary_crossentropy", "binary_focal_crossentropy"]
_BY_ROWS_KERAS2 = ["mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                   "mean_squared_logarithmic_error", "cosine_similarity", "huber", "log_cosh", "poisson",
                   "categorical_crossentropy", "binary_crossentropy", "binary_focal_crossentropy"]


@pytest.mark.parametrize("module, name", [("keras_functions", n) for n in _BY_ROWS]
                         + [("tf_keras", n) for n in _BY_ROWS_KERAS2])
@pytest.mark.parametrize("shape", [(37, 29), (9, 5, 7)])
def test_by_rows_equals_the_whole_array(small_blocks, module, name, shape):
    import importlib

    fn = getattr(importlib.import_module(f"harness.reference.{module}"), name)
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        y_true = rng.uniform(0, 1, size=shape).astype(dtype)
        y_pred = rng.uniform(-0.2, 1.2, size=shape).astype(dtype)
        got = fn(y_true, y_pred)
        want = fn.__wrapped__(y_true, y_pred)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True), (name, dtype)


@pytest.mark.parametrize("binary", [True, False])
def test_hinge_by_rows_maps_labels_as_the_whole_tensor(small_blocks, binary):
    from harness.reference import keras_functions, tf_keras

    rng = np.random.default_rng(9)
    y_true = rng.integers(0, 2, size=(41, 23)).astype(np.float32)
    if not binary:
        y_true[40, 22] = 0.5  # the last block alone would look binary
    y_pred = rng.normal(size=(41, 23)).astype(np.float32)
    for mean in (keras_functions.kb.mean, tf_keras.tf_mean):
        for squared in (False, True):
            want = keras_functions.hinge_rows.__wrapped__(y_true, y_pred, binary, squared, mean)
            assert np.array_equal(keras_functions.hinge_rows(y_true, y_pred, binary, squared, mean), want)
    pm1 = 2 * y_true - 1 if binary else y_true
    whole = np.mean(np.maximum(1 - pm1 * y_pred, 0), axis=-1)
    assert np.array_equal(keras_functions.hinge(y_true, y_pred), whole)
    assert np.array_equal(tf_keras.hinge(y_true, y_pred), whole)


def test_by_rows_keeps_a_first_axis_reduction_whole(small_blocks):
    from harness.reference import keras_functions

    y = np.random.default_rng(8).uniform(size=(40, 30)).astype(np.float32)
    got = keras_functions.categorical_crossentropy(y, y, axis=0)
    assert got.shape == (30,)
    assert np.array_equal(got, keras_functions.categorical_crossentropy.__wrapped__(y, y, axis=0))


# --- sums in NumPy's pairwise order, a run at a time ---------------------------------------


@pytest.fixture
def small_runs(small_blocks, monkeypatch):
    """Runs of 256 elements for ``summation.sum_of``, split between two threads."""
    from harness.reference import summation

    monkeypatch.setattr(summation, "PAIRWISE_LEAF", 256)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [257, 1000, 4099, 65536 + 24])
def test_sum_of_is_np_sum_bit_for_bit(small_runs, dtype, size):
    from harness.reference import summation

    rng = np.random.default_rng(size)
    a = (rng.standard_normal(size) * 1e3).astype(dtype)
    b = rng.uniform(size=size).astype(dtype)
    terms = lambda x, y: x * x - y  # noqa: E731
    assert summation.sum_of(terms, a, b).tobytes() == np.sum(terms(a, b)).tobytes()
    a[size // 3] = np.inf
    assert summation.sum_of(terms, a, b).tobytes() == np.sum(terms(a, b)).tobytes()
    if not summation.by_dots(b):  # larger ones are summation.dot_sum's (a few ulp off)
        assert nn.l2_loss(b).tobytes() == np.sum(b * b * dtype(0.5)).tobytes()


def _v1_whole(name):
    """The v1 losses' per-element formulas on whole arrays (as before runs of sums)."""
    one = np.float32(1)
    return {
        "absolute_difference": lambda l, p: np.abs(p - l),
        "mean_squared_error": lambda l, p: (p - l) * (p - l),
        "hinge_loss": lambda l, p: np.maximum(np.ones_like(l) - (np.float32(2) * l - np.ones_like(l)) * p, 0),
        "huber_loss": lambda l, p: (np.float32(0.5) * (np.minimum(np.abs(p - l), one) ** 2)
                                    + one * (np.abs(p - l) - np.minimum(np.abs(p - l), one))),
        "log_loss": lambda l, p: (-(l * np.log(p + np.float32(1e-7)))
                                  - (one - l) * np.log(one - p + np.float32(1e-7))),
        "sigmoid_cross_entropy": lambda l, p: nn.sigmoid_cross_entropy_with_logits(labels=l, logits=p),
    }[name]


@pytest.mark.parametrize("name", ["absolute_difference", "mean_squared_error", "hinge_loss", "huber_loss",
                                  "log_loss", "sigmoid_cross_entropy"])
def test_v1_losses_in_runs_equal_the_whole_array(small_runs, name):
    from harness.reference import losses_v1
    from harness.reference.reductions import V1_REDUCTIONS, v1_compute_weighted_loss

    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, size=(61, 33)).astype(np.float32)
    preds = rng.uniform(0.01, 0.99, size=(61, 33)).astype(np.float32)
    preds[5, 7] = np.nan
    fn = getattr(losses_v1, name)
    with np.errstate(all="ignore"):
        terms = _v1_whole(name)(labels, preds)
    for reduction in V1_REDUCTIONS:
        for weights in (1.0, 0.0, 2.5):
            for p in (preds, np.nan_to_num(preds)):
                with np.errstate(all="ignore"):
                    want = v1_compute_weighted_loss(_v1_whole(name)(labels, p), weights, reduction)
                got = fn(labels, p, weights=weights, reduction=reduction)
                assert got.dtype == want.dtype and got.shape == want.shape
                assert got.tobytes() == want.tobytes(), (reduction, weights)
    assert terms.shape == labels.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_family_by_elements_equals_the_whole_array(small_blocks, dtype):
    rng = np.random.default_rng(13)
    logits = (rng.standard_normal((67, 31)) * 5).astype(dtype)
    logits[3, :3] = [np.inf, -np.inf, np.nan]
    labels = rng.uniform(size=(67, 31)).astype(dtype)
    got = nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    with np.errstate(all="ignore"):
        want = (np.where(logits >= 0, logits, 0) - logits * labels
                + np.log1p(np.exp(np.where(logits >= 0, -logits, logits))))
        assert got.tobytes() == want.astype(dtype).tobytes()
        got = nn.weighted_cross_entropy_with_logits(labels, logits, 2.5)
        q = dtype(2.5)
        want = (1 - labels) * logits + (1 + (q - 1) * labels) * (np.log1p(np.exp(-np.abs(logits)))
                                                                 + np.maximum(-logits, 0))
    assert got.dtype == dtype and got.tobytes() == want.astype(dtype).tobytes()


def test_training_step_in_place_equals_the_whole_array_formula(small_blocks):
    from harness.reference import stable, training_step

    rng = np.random.default_rng(17)
    x = rng.normal(size=(45, 7)).astype(np.float32)
    w = rng.normal(size=(7, 12)).astype(np.float32)
    b = rng.normal(size=12).astype(np.float32)
    labels = rng.integers(0, 12, 45)
    p = stable.softmax(x @ w + b, axis=-1)
    onehot = np.zeros_like(p)
    onehot[np.arange(45), labels] = 1
    dz = (p - onehot) / np.float32(45)
    want, want_norm = training_step.clip_by_global_norm([x.T @ dz, dz.sum(axis=0)], 1.0)
    got, norm = training_step.linear_softmax_clipped_grads(x, labels, w, b, clip_norm=1.0)
    assert norm.tobytes() == want_norm.tobytes()
    assert all(g.dtype == v.dtype and g.tobytes() == v.tobytes() for g, v in zip(got, want))
    got64, _ = training_step.linear_softmax_clipped_grads(x, labels, w, b.astype(np.float64), clip_norm=1.0)
    assert got64[1].dtype == np.float64  # a wider bias widens the logits, as before


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_maximum_minimum_against_a_bound_are_numpys_bit_for_bit(monkeypatch, dtype):
    from harness.reference import stable

    monkeypatch.setattr(stable, "SELECT_MIN_SIZE", 0)
    x = _with_specials(np.random.default_rng(19).normal(size=(230, 9)).astype(dtype))
    fi = np.finfo(dtype)
    for bound in (0, 0.0, -0.0, 1e-7, dtype(1), np.asarray(0.5, dtype), np.float64(2), dtype(np.nan), dtype(np.inf),
                  dtype(-np.inf), fi.tiny, fi.smallest_subnormal, -fi.max, dtype(-3)):
        for mine, numpy_ in ((stable.maximum, np.maximum), (stable.minimum, np.minimum)):
            got, want = mine(x, bound), numpy_(x, bound)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (bound, numpy_)


def _with_specials(x: np.ndarray) -> np.ndarray:
    """``x`` with signed zeros, NaNs of both signs, infinities, subnormals and the extremes in
    its first row and scattered through the rest (the vector loops and their tails)."""
    fi = np.finfo(x.dtype)
    specials = np.array([0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, 1e-7, fi.tiny, -fi.smallest_subnormal,
                         fi.max, -fi.max, 1.0], x.dtype)
    flat = x.reshape(-1)
    flat[:specials.size] = specials
    flat[np.random.default_rng(5).choice(flat.size, 40, replace=False)] = np.resize(specials, 40)
    return x


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_clip_is_tf_clip_by_value_order_bit_for_bit(monkeypatch, dtype):
    """stable.clip is np.maximum(np.minimum(x, high), low) (tf.clip_by_value's order) for every
    pair of bounds: zero and NaN bounds, low > high and equal bounds included, whichever of
    np.clip's pass or the two comparisons computes it."""
    from harness.reference import stable

    monkeypatch.setattr(stable, "SELECT_MIN_SIZE", 0)
    x = _with_specials(np.random.default_rng(23).normal(size=(230, 9)).astype(dtype))
    bounds = [dtype(b) for b in (1e-7, 1 - 1e-7, 0.0, -0.0, np.nan, np.inf, -np.inf, -2.0, 1.0)]
    for low in bounds:
        for high in bounds:
            got, want = stable.clip(x, low, high), np.maximum(np.minimum(x, high), low)
            assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (low, high)


def test_clip_takes_one_pass_of_np_clip_only_where_it_gives_the_same_bits(monkeypatch):
    from harness.reference import stable

    monkeypatch.setattr(stable, "SELECT_MIN_SIZE", 0)
    calls, real = [], np.clip
    monkeypatch.setattr(np, "clip", lambda *a, **k: calls.append(a[1:]) or real(*a, **k))
    x = np.linspace(-2, 2, 64, dtype=np.float32)
    stable.clip(x, np.float32(1e-7), np.float32(1))
    stable.clip(x, np.float32(0), np.float32(1))  # a zero bound: minimum, then maximum against a filled array
    stable.clip(x, np.float32(1), np.float32(1e-7))  # low > high: minimum, then maximum
    stable.clip(x.astype(np.float16), np.float16(1e-3), np.float16(1))  # float16: NumPy's scalar loops
    stable.maximum(x, np.float32(0.5))
    stable.minimum(x, np.float32(0.0))  # a zero bound: the filled array
    inf = np.float32(np.inf)
    assert calls == [(np.float32(1e-7), np.float32(1)), (-inf, np.float32(1)), (-inf, np.float32(1e-7)),
                     (np.float32(1), inf), (np.float32(0.5), inf)]


def test_reduce_sum_of_everything_in_runs_is_np_sum(small_runs):
    from harness.reference import summation

    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(23).normal(size=(77, 41)).astype(dtype) * dtype(1e4)
        got = summation.reduce_sum(x)
        assert got.dtype == dtype and got.shape == () and got.tobytes() == np.sum(x, dtype=dtype).tobytes()


@pytest.mark.parametrize("others, cores, want", [(0.0, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (1.0, 2, 1),
                                                 (6.5, 2, 1), (0.0, 1, 1)])
def test_helper_threads_only_on_an_idle_core(monkeypatch, others, cores, want):
    """The cores other processes keep busy decide (this process's own work does not)."""
    monkeypatch.setattr(rowblocks, "ROW_THREADS", 2)
    monkeypatch.setattr(rowblocks, "THREADS_BY_LOAD", True)
    monkeypatch.setattr(rowblocks, "others_load", lambda: others)
    monkeypatch.setattr(rowblocks.os, "cpu_count", lambda: cores)
    assert rowblocks.threads_now() == want
    monkeypatch.setattr(rowblocks, "THREADS_BY_LOAD", False)
    assert rowblocks.threads_now() == 2


def test_others_load_is_the_machines_busy_time_less_this_process(monkeypatch):
    """First the load average less one thread; then, every OTHERS_MIN_SAMPLE_S or more, the
    machine's busy seconds per second less this process's CPU seconds, decayed over
    OTHERS_WINDOW_S; without /proc/stat, the load average less one."""
    clock = {"wall": 100.0, "cpu": 5.0, "busy": 1000.0}
    monkeypatch.setattr(rowblocks, "_others", {"wall": None, "busy": 0.0, "cpu": 0.0, "load": 0.0})
    monkeypatch.setattr(rowblocks.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(rowblocks.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(rowblocks, "busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(rowblocks.os, "getloadavg", lambda: (2.5, 2.0, 1.0))
    assert rowblocks.others_load() == 1.5
    clock.update(wall=110.0, cpu=5.0 + 15.0, busy=1000.0 + 20.0)  # 2 cores busy, 1.5 of them ours
    keep = np.exp(-1.0)
    want = keep * 1.5 + (1 - keep) * 0.5
    assert rowblocks.others_load() == pytest.approx(want)
    clock.update(wall=110.0 + rowblocks.OTHERS_MIN_SAMPLE_S / 2, busy=1030.0)  # too soon: no sample
    assert rowblocks.others_load() == pytest.approx(want)
    clock.update(wall=111.0, cpu=21.0, busy=1020.5)  # ours exceeds the machine's ticks: 0, not negative
    keep = np.exp(-1.0 / rowblocks.OTHERS_WINDOW_S)
    assert rowblocks.others_load() == pytest.approx(keep * want)
    clock.update(wall=111.0 + rowblocks.OTHERS_MIN_SAMPLE_S / 2, busy=None)  # too soon: /proc/stat not read
    monkeypatch.setattr(rowblocks, "busy_seconds", lambda: clock["busy"])
    assert rowblocks.others_load() == pytest.approx(keep * want)
    clock.update(wall=112.0)
    assert rowblocks.others_load() == 1.5


def test_busy_seconds_reads_proc_stat():
    busy = rowblocks.busy_seconds()
    if busy is not None:  # Linux
        assert busy > 0 and rowblocks.busy_seconds() >= busy


def test_matmul_on_one_blas_thread_is_the_product(monkeypatch):
    monkeypatch.setattr(rowblocks, "BLAS_ONE_THREAD_MIN", 0)
    rng = np.random.default_rng(29)
    a, b = rng.normal(size=(9, 4)).astype(np.float32), rng.normal(size=(4, 6)).astype(np.float32)
    got = rowblocks.matmul(a, b)
    assert got.dtype == np.float32 and np.array_equal(got, a @ b)
    assert np.array_equal(rowblocks.matmul(a[0], b), a[0] @ b)  # not 2-D: a plain product


# --- fused paths on large inputs (rowblocks.FUSED_MIN_BYTES) -----------------------------


@pytest.fixture
def small_fused(small_blocks, monkeypatch):
    """The fused paths from 64 KiB on (instead of 4 MiB), blocks of a few rows on two threads."""
    monkeypatch.setattr(rowblocks, "FUSED_MIN_BYTES", 1 << 16)


ADVERSARIAL = {
    "uniform positive": lambda rng, n: rng.uniform(0, 1, n),
    "lognormal(0, 3)": lambda rng, n: rng.lognormal(0, 3, n),
    "1e4 + U(0, 1)": lambda rng, n: 1e4 + rng.uniform(0, 1, n),
    "reverse sorted": lambda rng, n: np.sort(rng.lognormal(0, 2, n))[::-1].copy(),
    "normal": lambda rng, n: rng.standard_normal(n),
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_dot_sum_within_the_pairwise_bound(name):
    """sum(x) and sum(x * x) by rows of dot products: within float32's pairwise error bound
    log2(n) * 2**-24 of the float64 sum (relative to the sum of magnitudes)."""
    from harness.reference import summation

    n = (1 << 20) + 300  # 4 MiB of float32 and a tail of 300
    x = ADVERSARIAL[name](np.random.default_rng(31), n).astype(np.float32)
    assert summation.by_dots(x)
    wide = x.astype(np.float64)
    bound = np.log2(n) * 2.0 ** -24
    for got, exact, scale in ((summation.dot_sum(x), wide.sum(), np.abs(wide).sum()),
                              (summation.dot_sum(x, x), (wide * wide).sum(), (wide * wide).sum())):
        assert got.dtype == np.float32 and got.shape == ()
        assert abs(float(got) - exact) <= bound * scale, (name, float(got), exact)
    assert nn.l2_loss(x) == summation.dot_sum(x, x) * np.float32(0.5)


def test_dot_sum_small_inputs_keep_np_sums_bits():
    from harness.reference import summation

    x = np.random.default_rng(37).normal(size=(100, 33)).astype(np.float32)
    assert not summation.by_dots(x)
    assert summation.dot_sum(x).tobytes() == np.sum(x).tobytes()
    assert summation.dot_sum(x, x).tobytes() == np.sum(x * x).tobytes()
    assert nn.l2_loss(x).tobytes() == np.sum(x * x * np.float32(0.5)).tobytes()
    assert nn.scale_regularization_loss(x).tobytes() == np.sum(x).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_softmax_family_close_to_the_whole_array_formulas(small_fused, dtype):
    """Above FUSED_MIN_BYTES: a few ulp from the plain formulas, NaN and inf where they are,
    the same bits on one thread or two."""
    rng = np.random.default_rng(41)
    x = _logits(rng, (300, 130), dtype, 1.0)
    labels = rng.uniform(size=x.shape).astype(dtype)
    finite = np.where(np.isfinite(x), x, dtype(0))
    index = rng.integers(0, 130, 300)
    pairs = [(nn.softmax(x), plain_softmax(x)), (nn.log_softmax(x), plain_log_softmax(x)),
             (nn.softmax_cross_entropy_with_logits(labels, finite), plain_xent(labels, finite)),
             (nn.sparse_softmax_cross_entropy_with_logits(index, x), plain_sparse_xent(index, x))]
    eps = np.finfo(dtype).eps
    for got, want in pairs:
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(np.isinf(got), np.isinf(want))
        ok = np.isfinite(want)
        assert np.allclose(got[ok], want[ok], rtol=16 * eps, atol=16 * eps)
    one_thread = nn.softmax(x)
    rowblocks.ROW_THREADS = 1
    assert nn.softmax(x).tobytes() == one_thread.tobytes()


def test_fused_keras_rows_close_to_the_unfused(small_fused, monkeypatch):
    """Keras means and sums along the last axis of by_rows blocks are dot products (row_means,
    row_sums) only above FUSED_MIN_BYTES; below it the results are np.mean's and np.sum's bits."""
    from harness.reference import keras_functions as F

    rng = np.random.default_rng(43)
    y_true = rng.uniform(size=(200, 130)).astype(np.float32)
    y_pred = rng.uniform(0.01, 1.0, size=(200, 130)).astype(np.float32)
    fns = (F.mean_squared_error, F.categorical_crossentropy, F.kl_divergence)
    fused = [fn(y_true, y_pred) for fn in fns]
    monkeypatch.setattr(rowblocks, "FUSED_MIN_BYTES", 1 << 40)
    for fn, got in zip(fns, fused):
        want = fn(y_true, y_pred)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.allclose(got, want, rtol=1e-6, atol=0), fn.__name__
    assert not rowblocks.fused(-1)  # the flag is the blocks' only
    want = np.mean(np.square(y_true - y_pred), axis=-1)
    assert F.mean_squared_error(y_true, y_pred).tobytes() == want.tobytes()


def test_vectorised_accidental_hits_are_the_per_label_loop():
    rng = np.random.default_rng(47)
    for _ in range(200):
        num_true, classes = int(rng.integers(1, 4)), int(rng.integers(1, 15))
        labels = rng.integers(0, classes, (int(rng.integers(1, 9)), num_true))
        sampled = rng.integers(0, classes, int(rng.integers(0, 12)))
        last = {int(c): j for j, c in enumerate(sampled)}
        want = np.zeros((labels.shape[0], sampled.size), bool)
        for i, row in enumerate(labels):
            for c in row:
                if int(c) in last:
                    want[i, last[int(c)]] = True
        assert np.array_equal(nn._accidental_hit_mask(labels, sampled, num_true), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_generalized_xent_gathers_what_the_one_hot_sum_gives(small_fused, monkeypatch, dtype):
    """Above FUSED_MIN_BYTES the label's probability is gathered, not summed against a one-hot:
    the same bits, labels out of range included; a non-finite entry (whose product with the
    one-hot's zeros is NaN) and q <= 0 keep the sum."""
    from harness.reference import keras_functions as F

    rng = np.random.default_rng(53)
    y_pred = rng.uniform(0.0, 1.0, size=(128, 4, 40)).astype(dtype)  # over 64 KiB
    labels = rng.integers(-3, 44, size=(128, 4)).astype(dtype)
    with_inf = y_pred.copy()
    with_inf[5, 1, 7] = np.inf
    for pred, q in [(y_pred, 0.7), (y_pred, 2), (with_inf, 0.7), (y_pred, -0.5)]:
        got = F.categorical_generalized_cross_entropy(labels, pred, q)
        with monkeypatch.context() as m:
            m.setattr(rowblocks, "FUSED_MIN_BYTES", 1 << 40)
            want = F.categorical_generalized_cross_entropy(labels, pred, q)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
    assert F._picked(y_pred, labels.astype(np.int64), 0.5) is not None
    assert F._picked(with_inf, labels.astype(np.int64), 0.5) is None


def test_helpers_not_started_are_not_waited_for(monkeypatch):
    """A pool thread that has not started by the time the calling thread has taken every
    item is cancelled: the call returns without it, every item done once, in order."""
    import concurrent.futures

    gate = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.submit(gate.wait)  # the pool's one thread is busy until the gate opens
    monkeypatch.setattr(rowblocks, "_pool", [pool])
    done = []

    def worker(k, failures, next_item):
        for i in iter(next_item, None):
            done.append((k, i))

    rowblocks.in_threads(worker, 2, 5)
    assert done == [(0, i) for i in range(5)]
    gate.set()
    pool.shutdown(wait=True)


def _tf_kernel_softmax(x, compute=None):
    """TF's softmax kernel formula on every row: s = x - max x, exp(s) * (1 / sum exp(s)), the
    sums fused as the large inputs' (the reference's shifted path, the old fused softmax)."""
    compute = np.dtype(compute or x.dtype)
    src = x.astype(compute)
    out = np.empty_like(src)
    rowblocks._shifted_softmax_rows(src, out, np.ones(x.shape[-1], compute))
    return out.astype(x.dtype)


def _mixed_rows(rng, dtype):
    """Rows for both of the large softmax's paths: normal logits (unshifted), and rows that must
    be shifted: a max above exp's overflow, a row of -inf, a NaN, a +inf, very negative rows
    (sum of exps below 1, exps subnormal or 0), all huge or all overflowing values; and a row
    whose exps are partly subnormal while its sum is at least 1 (unshifted)."""
    x = (rng.standard_normal((160, 130)) * 3).astype(dtype)
    big = 800 if dtype == np.float64 else 95
    x[3, 7] = big
    x[4] = -np.inf
    x[5, 9] = np.nan
    x[6, 2] = np.inf
    x[7] = -100 + rng.standard_normal(130)
    x[8] = -(big + 5) + rng.standard_normal(130)
    x[9] = big
    x[10] = -1e30
    x[11] = -3  # sum of exps 130 * e**-3 = 6.5: unshifted
    x[12] = rng.standard_normal(130) - 95
    x[12, 0] = 0  # sum >= 1 with subnormal (or zero) exps beside it: unshifted
    x[13] = -6  # 130 * e**-6 = 0.32 < 1: shifted
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_softmax_skips_the_shift_only_where_safe(small_fused, dtype):
    """Rows whose unshifted sum S' is in [1, 1/tiny] take exp(x) * (1 / S'): within a few ulp of
    TF's kernel formula (the element's ulp, or below the smallest normal number for an element
    that underflows); every other row is the shifted formula's bits, NaN and inf included."""
    x = _mixed_rows(np.random.default_rng(59), dtype)
    got, want = nn.softmax(x), _tf_kernel_softmax(x)
    with np.errstate(over="ignore", invalid="ignore"):
        safe = rowblocks.unshifted_safe(np.sum(np.exp(x), axis=-1))
    assert not safe[[3, 4, 5, 6, 7, 8, 9, 10, 13]].any()
    assert safe[[0, 1, 2, 11, 12]].all()
    assert got[~safe].tobytes() == want[~safe].tobytes()
    tiny, eps = np.finfo(dtype).tiny, np.finfo(dtype).eps
    err = np.abs(got[safe] - want[safe])
    assert np.all(err <= np.maximum(12 * eps * want[safe], 2 * tiny))
    assert np.all(err <= 1e-6 if dtype == np.float32 else err <= 1e-15)
    assert np.isnan(got[4]).all() and np.isnan(got[5]).all() and np.isnan(got[6]).all()
    assert np.allclose(got[[3, 7, 8, 9]].sum(axis=-1), 1) and np.allclose(got[[9, 10, 13]], 1 / 130)


def test_large_softmax_rows_independent_of_threads_and_blocks(small_fused, monkeypatch):
    """One thread or two, blocks of any size: the same bits (each row's path and result depend
    on that row alone), bfloat16 computed in float32 and rounded once."""
    x = _mixed_rows(np.random.default_rng(61), np.float32)
    both = nn.softmax(x)
    monkeypatch.setattr(rowblocks, "ROW_THREADS", 1)
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 1 << 20)
    assert nn.softmax(x).tobytes() == both.tobytes()
    for r in range(x.shape[0]):
        assert nn.softmax(np.repeat(x[r:r + 1], 160, axis=0))[0].tobytes() == both[r].tobytes()
    xb = x.astype(ml_dtypes.bfloat16)
    got = nn.softmax(xb)
    assert got.dtype == xb.dtype
    assert got.tobytes() == rowblocks.softmax_last_axis(xb, np.float32).tobytes()
    want = _tf_kernel_softmax(xb, np.float32).astype(np.float32)
    ok = np.isfinite(want)
    assert np.array_equal(np.isnan(got.astype(np.float32)), np.isnan(want))
    assert np.allclose(got.astype(np.float32)[ok], want[ok], rtol=2 ** -7, atol=1e-30)


def test_unshifted_safe_bounds():
    """1 <= S' <= 1 / tiny: NaN, inf, 0 and sums below 1 or whose reciprocal is subnormal fail."""
    for dtype in (np.float32, np.float64):
        tiny = np.finfo(dtype).tiny
        sums = np.array([1, 1 / tiny, 2.0, 0.999, 0, np.nan, np.inf, np.nextafter(dtype(1 / tiny), dtype(np.inf))], dtype)
        assert rowblocks.unshifted_safe(sums).tolist() == [True, True, True, False, False, False, False, False]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_large_sparse_xent_skips_the_shift_only_where_safe(small_fused, dtype):
    """Rows whose unshifted sum is in [1, 1/tiny] give log(S') - x[label] (in float64, rounded
    once): within a few ulp of the loss (or 1e-6) of TF's shifted formula; every other row is
    that formula's bits, NaN and inf included; one thread or two alike."""
    x = _mixed_rows(np.random.default_rng(67), np.float64 if dtype == np.float64 else np.float32)
    with np.errstate(over="ignore"):  # float16: the row of -1e30 becomes -inf
        x = x.astype(dtype)
    if dtype == np.float16:
        x[3, 7], x[9] = np.float16(60000), np.float16(60000)  # exp overflows float32 too
    index = np.random.default_rng(68).integers(0, x.shape[1], x.shape[0])
    index[12] = 0  # the row's largest logit
    compute = np.float32 if dtype == np.float16 else dtype
    got = nn.sparse_softmax_cross_entropy_with_logits(index, x)
    src = x.astype(compute)
    want = rowblocks._shifted_sparse_xent(src, index, np.ones(x.shape[1], compute), src.copy()).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        safe = rowblocks.unshifted_safe(np.sum(np.exp(x.astype(compute)), axis=-1))
    assert not safe[[3, 4, 5, 6, 7, 8, 9, 10, 13]].any() and safe[[0, 1, 2, 11, 12]].all()
    assert got.dtype == want.dtype and got[~safe].tobytes() == want[~safe].tobytes()
    eps = np.finfo(dtype).eps
    err = np.abs(got[safe].astype(np.float64) - want[safe])
    assert np.all(err <= np.maximum(8 * eps * np.abs(want[safe]), 1e-6 if dtype != np.float64 else 1e-15))
    rowblocks.ROW_THREADS = 1
    assert nn.sparse_softmax_cross_entropy_with_logits(index, x).tobytes() == got.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_log_softmax_skips_the_shift_only_where_safe(small_fused, dtype):
    """Rows whose unshifted sum is in [1, 2**p] give x - log(S') (the log in float64, rounded
    once): within 1e-6 (float32) of TF's shifted formula; every other row is its bits."""
    x = _mixed_rows(np.random.default_rng(71), dtype)
    x[14] = np.random.default_rng(72).standard_normal(130) + 30  # S' above 2**23: shifted in float32
    got = nn.log_softmax(x)
    want = np.empty_like(x)
    rowblocks._shifted_log_softmax_rows(x, want, np.empty_like(x), np.ones(x.shape[1], dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        safe = rowblocks.unshifted_safe(np.sum(np.exp(x), axis=-1), 2.0 ** np.finfo(dtype).nmant)
    assert not safe[[3, 4, 5, 6, 7, 8, 9, 10, 13]].any() and safe[[0, 1, 2, 11, 12]].all()
    assert safe[14] == (dtype == np.float64)
    assert got[~safe].tobytes() == want[~safe].tobytes()
    ok = np.isfinite(want[safe])
    err = np.abs(got[safe][ok] - want[safe][ok])
    eps = np.finfo(dtype).eps
    assert np.all(err <= np.maximum(4 * eps * np.abs(want[safe][ok]), 1e-6 if dtype == np.float32 else 1e-14))
    assert np.array_equal(np.isinf(got), np.isinf(want)) and np.array_equal(np.isnan(got), np.isnan(want))
    assert np.all(np.abs(got[12] - want[12]) <= 2 ** -21 + 2 * eps * np.abs(want[12]))
