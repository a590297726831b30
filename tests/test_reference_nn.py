"""Reference-only properties of the tf.nn / tf.clip_by_global_norm references, plus a few
direct parity checks against real TensorFlow."""
from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

from harness.reference import clip, nn, stable, summation
from harness.reference.errors import InvalidArgumentError, TFTypeError, TFValueError
from harness.registry import get_op
from harness.tfbridge import error_names

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]])


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- numerical stability ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_overflow_at_1e4(dtype):
    x = EXTREME.astype(dtype)
    labels = np.eye(3, dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        outputs = [
            nn.softmax(x),
            nn.log_softmax(x),
            nn.softmax_cross_entropy_with_logits(labels, x),
            nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 1, 2]), x),
            nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=x),
            nn.weighted_cross_entropy_with_logits(labels, x, np.asarray(2.0, dtype)),
        ]
    for out in outputs:
        assert np.all(np.isfinite(out))
    np.testing.assert_allclose(nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 0, 0]), x),
                               [0.0, 2e4 + np.log(2.0), np.log(3.0)], rtol=1e-6)


def test_log_softmax_keeps_digits_at_1e4():
    x = np.array([[1e4, 1e4 - 1.0]], np.float32)
    got = nn.log_softmax(x)
    np.testing.assert_allclose(got, [[-0.31326169, -1.31326169]], rtol=1e-6)


# --- dtypes --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_dtype_preserved(dtype):
    x = _rng().normal(0, 2, (4, 5)).astype(dtype)
    y = np.full((4, 5), 0.2).astype(dtype)
    outs = [
        nn.softmax(x), nn.log_softmax(x), nn.softmax_cross_entropy_with_logits(y, x),
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 1, 2, 3]), x),
        nn.sigmoid_cross_entropy_with_logits(labels=y, logits=x),
        nn.weighted_cross_entropy_with_logits(y, x, np.asarray(2.0).astype(dtype)),
        nn.log_poisson_loss(y, x, compute_full_loss=True), nn.l2_loss(x),
        nn.compute_average_loss(x[:, 0], sample_weight=y[:, 0]), nn.scale_regularization_loss(x),
    ]
    for out in outs:
        assert np.asarray(out).dtype == np.dtype(dtype)
    clipped, norm = clip.clip_by_global_norm([x, y], 1.0)
    assert all(c.dtype == np.dtype(dtype) for c in clipped) and norm.dtype == np.dtype(dtype)


# --- errors named after TF's ---------------------------------------------------------


def test_sparse_errors():
    logits = np.zeros((2, 3), np.float32)
    with pytest.raises(InvalidArgumentError, match="label value of 3"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([3, 0]), logits)
    with pytest.raises(InvalidArgumentError, match="label value of -1"):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0, -1]), logits)
    with pytest.raises(TFValueError):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([0, 1, 2]), logits)
    with pytest.raises(TFValueError):
        nn.sparse_softmax_cross_entropy_with_logits(np.array([[0], [1]]), logits)


def test_xent_errors():
    with pytest.raises(InvalidArgumentError, match="broadcastable"):
        nn.softmax_cross_entropy_with_logits(np.ones((1, 2)), np.ones((1, 3)))
    with pytest.raises(InvalidArgumentError, match="start <= limit"):
        nn.softmax_cross_entropy_with_logits(np.ones((2, 3, 4)), np.ones((2, 3, 4)), axis=-2)
    with pytest.raises(TFValueError):
        nn.sigmoid_cross_entropy_with_logits(labels=np.ones(2), logits=np.ones((1, 2)))


def test_compute_average_loss_errors():
    with pytest.raises(TFValueError, match="rank 1"):
        nn.compute_average_loss(np.float32(1.0))
    with pytest.raises(TFTypeError):
        nn.compute_average_loss(np.ones(2, np.float32), global_batch_size=4.0)
    with pytest.raises(InvalidArgumentError):
        nn.compute_average_loss(np.ones(2, np.float32), global_batch_size=-1)


def test_clip_mixed_dtypes_rejected():
    with pytest.raises(InvalidArgumentError):
        clip.clip_by_global_norm([np.ones(2, np.float32), np.ones(2, np.float64)], 1.0)


# --- documented quirks ---------------------------------------------------------------


def test_dense_xent_neg_inf_is_nan_sparse_is_finite():
    logits = np.array([[-np.inf, 1.0, 2.0]], np.float32)
    assert np.isnan(nn.softmax_cross_entropy_with_logits(np.array([[0.0, 1.0, 0.0]], np.float32), logits)[0])
    np.testing.assert_allclose(nn.sparse_softmax_cross_entropy_with_logits(np.array([1]), logits), [1.3132617])


def test_clip_non_finite_norm_poisons_everything():
    clipped, norm = clip.clip_by_global_norm([np.array([np.inf, 1.0], np.float32), np.array([2.0], np.float32)], 1.0)
    assert norm == np.inf and all(np.isnan(c).all() for c in clipped)
    clipped, norm = clip.clip_by_global_norm([np.array([300.0, 400.0], np.float16)], 1.0)
    assert norm == np.inf and np.isnan(clipped[0]).all()


def test_clip_keeps_none_entries():
    clipped, norm = clip.clip_by_global_norm([np.array([3.0, 4.0]), None], 1.0)
    assert clipped[1] is None and norm == 5.0
    np.testing.assert_allclose(clipped[0], [0.6, 0.8])


def test_eigen_sum_rounds_every_add():
    # 2048 + 1 + 1 in float16: each +1 is lost to rounding (spacing 2 at 2048), whereas a
    # float32 accumulation would give 2050.
    x = np.array([2048.0, 1.0, 1.0], np.float16)
    assert summation.eigen_sum(x) == np.float16(2048.0)
    assert summation.eigen_sum(np.array([1.0, 2.0, 3.0])) == 6.0


def test_sampled_values_required():
    with pytest.raises(TFValueError):
        nn.nce_loss(np.ones((4, 2)), np.ones(4), np.array([[0]]), np.ones((1, 2)), 1, 4)


# --- parity with real TensorFlow -----------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_parity_softmax_family(tf, dtype):
    x = _rng(1).normal(0, 3, (32, 10)).astype(dtype)
    labels = _rng(2).integers(0, 10, 32)
    for ref, got in [
        (nn.softmax(x), tf.nn.softmax(x)),
        (nn.log_softmax(x), tf.nn.log_softmax(x)),
        (nn.sparse_softmax_cross_entropy_with_logits(labels, x),
         tf.nn.sparse_softmax_cross_entropy_with_logits(labels, x)),
    ]:
        got = got.numpy()
        assert got.dtype == ref.dtype
        if np.dtype(dtype).itemsize == 2:  # float16/bfloat16 mirror TF's rounding exactly
            np.testing.assert_array_equal(ref.astype(np.float64), got.astype(np.float64))
        else:
            np.testing.assert_allclose(ref, got, rtol=2e-6, atol=1e-6)


def test_parity_sampled_losses(tf):
    rng = _rng(3)
    w, b = rng.normal(0, 0.5, (20, 4)), rng.normal(0, 0.1, 20)
    inputs, labels = rng.normal(0, 1, (6, 4)), np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [12, 19]])
    sampled = (np.array([1, 4, 7, 12]), rng.uniform(0.1, 0.5, (6, 2)), rng.uniform(0.1, 0.5, 4))
    for fn, tf_fn in [(nn.sampled_softmax_loss, tf.nn.sampled_softmax_loss), (nn.nce_loss, tf.nn.nce_loss)]:
        for hits in (True, False):
            ref = fn(w, b, labels, inputs, 4, 20, num_true=2, sampled_values=sampled, remove_accidental_hits=hits)
            got = tf_fn(w, b, labels, inputs, 4, 20, num_true=2, sampled_values=sampled,
                        remove_accidental_hits=hits).numpy()
            np.testing.assert_allclose(ref, got, rtol=1e-12)


def test_parity_clip_by_global_norm(tf):
    ts = [_rng(4).normal(0, 1, (8, 3)).astype(np.float32), _rng(5).normal(0, 1, 5).astype(np.float32)]
    ref_list, ref_norm = clip.clip_by_global_norm(ts, 2.0)
    tf_list, tf_norm = tf.clip_by_global_norm(ts, 2.0)
    np.testing.assert_allclose(ref_norm, tf_norm.numpy(), rtol=1e-6)
    for r, t in zip(ref_list, tf_list):
        np.testing.assert_allclose(r, t.numpy(), rtol=1e-6)


# --- pre-flight shape rules (OpSpec.check) against real TensorFlow -------------------------


def _f(*shape):
    return np.ones(shape, np.float32)


def _i(*values):
    return np.array(values, np.int32)


XENT = "tf.nn.softmax_cross_entropy_with_logits"
XENT_V1 = "tf.compat.v1.nn.softmax_cross_entropy_with_logits"
XENT_V2 = "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2"
V1_SPARSE = "tf.compat.v1.losses.sparse_softmax_cross_entropy"

# (op, args, the class TF raises or None when TF accepts the inputs)
RULES = [
    (XENT, {"labels": _f(1, 5), "logits": _f(4, 5)}, None),
    (XENT, {"labels": _f(4, 3), "logits": _f(4, 5)}, "InvalidArgumentError"),
    (XENT, {"labels": _f(4, 5), "logits": _f(1, 5)}, "InvalidArgumentError"),
    (XENT, {"labels": _f(4, 5), "logits": _f(4, 1)}, None),
    (XENT, {"labels": _f(2, 4, 5), "logits": _f(4, 5)}, "InvalidArgumentError"),
    (XENT, {"labels": _f(6, 5), "logits": _f(2, 3, 5)}, None),
    (XENT, {"labels": np.float32(1), "logits": _f(4, 5)}, "InvalidArgumentError"),
    (XENT, {"labels": _f(4, 5), "logits": _f(4, 5), "axis": -2}, "InvalidArgumentError"),
    (XENT, {"labels": _f(4, 1), "logits": _f(4, 5), "axis": 0}, None),
    (XENT, {"labels": _f(5), "logits": _f(4, 5), "axis": 0}, "InvalidArgumentError"),
    (XENT_V1, {"labels": _f(4, 3), "logits": _f(4, 5)}, "InvalidArgumentError"),
    (XENT_V1, {"labels": _f(1, 5), "logits": _f(4, 5), "dim": -1}, None),
    (XENT_V1, {"labels": _f(4, 5), "logits": _f(4, 5), "axis": 0}, "ValueError"),
    (XENT_V1, {"labels": _f(4, 5), "logits": _f(4, 5), "axis": 0, "dim": None}, None),
    (XENT_V2, {"labels": _f(4, 5), "logits": _f(1, 5)}, "InvalidArgumentError"),
    (XENT_V2, {"labels": _f(4, 5), "logits": _f(4, 5), "axis": 0}, None),
    (XENT_V2, {"labels": _f(4, 5), "logits": _f(4, 5), "axis": 0, "dim": 0}, "ValueError"),
    ("tf.nn.softmax", {"logits": _f(2, 3), "axis": 3}, "InvalidArgumentError"),
    ("tf.nn.softmax", {"logits": _f(2, 3), "axis": -2}, None),
    ("tf.nn.softmax", {"logits": _f(2, 2, 2, 2, 2, 2)}, "AbortedError"),
    ("tf.nn.softmax", {"logits": np.ones((2,) * 6)}, None),
    ("tf.nn.log_softmax", {"logits": _f(2, 3), "axis": -3}, "InvalidArgumentError"),
    ("tf.nn.log_softmax", {"logits": _f(2, 2, 2, 2, 2, 2)}, None),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", {"labels": _i(5, 0), "logits": _f(2, 2)}, "InvalidArgumentError"),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", {"labels": _i(1, 0), "logits": _f(2, 2)}, None),
    (V1_SPARSE, {"labels": _i(0, 1, 2), "logits": _f(2, 3)}, "ValueError"),
    (V1_SPARSE, {"labels": _i(2, 0).reshape(2, 1), "logits": _f(2, 3)}, None),
    (V1_SPARSE, {"labels": _i(5, 0), "logits": _f(2, 2)}, "InvalidArgumentError"),
    (V1_SPARSE, {"labels": _i(1, 0), "logits": _f(2, 3), "weights": _f(3)}, "ValueError"),
    (V1_SPARSE, {"labels": _i(1, 0), "logits": _f(2, 3), "weights": _f(2, 1)}, None),
    (V1_SPARSE, {"labels": _i(1, 0), "logits": _f(2, 3), "weights": _f(2, 2)}, "InvalidArgumentError"),
    ("tf.compat.v1.losses.mean_squared_error", {"labels": _f(2, 2), "predictions": _f(2, 2), "weights": _f(3)}, "ValueError"),
    ("tf.compat.v1.losses.mean_squared_error", {"labels": _f(2, 2), "predictions": _f(2, 2), "weights": _f(2)}, "ValueError"),
    ("tf.compat.v1.losses.mean_squared_error", {"labels": _f(2, 2), "predictions": _f(2, 2), "weights": _f(2, 1)}, None),
    ("tf.compat.v1.losses.compute_weighted_loss", {"losses": _f(2, 2), "weights": _f(3)}, "ValueError"),
    ("tf.compat.v1.losses.softmax_cross_entropy", {"onehot_labels": _f(2, 3), "logits": _f(2, 3), "weights": _f(2)}, None),
    ("tf.compat.v1.losses.softmax_cross_entropy", {"onehot_labels": _f(2, 3), "logits": _f(2, 3), "weights": _f(2, 1)}, "ValueError"),
    ("tf.compat.v1.losses.sigmoid_cross_entropy", {"multi_class_labels": _f(2, 3), "logits": _f(2, 3), "weights": _f(1, 3)}, None),
    ("tf.compat.v1.losses.cosine_distance", {"labels": _f(2, 3), "predictions": _f(2, 3), "axis": 1, "weights": _f(2, 1)}, None),
    ("tf.compat.v1.losses.cosine_distance", {"labels": _f(2, 3), "predictions": _f(2, 3), "axis": 1, "weights": _f(1, 3)}, "ValueError"),
    ("tf.compat.v1.losses.mean_pairwise_squared_error", {"labels": _f(2, 3), "predictions": _f(2, 3), "weights": _f(2)}, "ValueError"),
]


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # the class is what is compared
        return error_names(exc)
    return None


@pytest.mark.parametrize("name, args, tf_error", RULES, ids=[f"{r[0].rsplit('.', 1)[1]}-{i}" for i, r in enumerate(RULES)])
def test_check_states_what_tf_rejects(tf, name, args, tf_error):
    op = get_op(name)
    problem = op.check({}, args)
    raised = _raised(lambda: op.run_tf(tf, {}, args))
    if tf_error is None:
        assert problem is None and raised is None, (problem, raised)
        return
    assert raised is not None and tf_error in raised, raised
    assert problem is not None and f"TF raises {tf_error}" in problem, problem
    if tf_error != "AbortedError":  # rank 6 is fine in float64 TF, and the reference computes it in any dtype
        ref_raised = _raised(lambda: op.run_reference({}, args))
        assert ref_raised is not None and tf_error in ref_raised, ref_raised


def test_check_messages_name_the_shapes():
    problem = get_op(XENT).check({}, {"labels": _f(4, 3), "logits": _f(4, 5)})
    assert problem == ("labels shape [4, 3] is not broadcastable to logits shape [4, 5] "
                       "(TF raises InvalidArgumentError: logits and labels must be broadcastable)")
    problem = get_op("tf.compat.v1.losses.compute_weighted_loss").check({}, {"losses": _f(2, 2), "weights": _f(3)})
    assert problem.startswith("weights shape [3] can not be broadcast to the loss values' shape [2, 2]")


def test_softmax_axis_out_of_range_is_invalid_argument():
    for fn in (nn.softmax, nn.log_softmax):
        with pytest.raises(InvalidArgumentError, match=r"must be in the range \[-2, 2\)"):
            fn(np.ones((2, 3), np.float32), axis=3)
