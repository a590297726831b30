"""Reference-only properties of the tf.compat.v1.losses references, plus direct parity
checks against real TensorFlow."""
from __future__ import annotations

import os

import numpy as np
import pytest

from harness.reference import losses_v1, reductions
from harness.reference.errors import InvalidArgumentError, TFValueError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ALL_REDUCTIONS = ["none", "weighted_sum", "weighted_mean", "weighted_sum_over_batch_size",
                  "weighted_sum_by_nonzero_weights"]


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


def test_reduction_constants_match_tf(tf):
    R = tf.compat.v1.losses.Reduction
    assert reductions.V1_NONE == R.NONE
    assert reductions.V1_SUM == R.SUM
    assert reductions.V1_MEAN == R.MEAN
    assert reductions.V1_SUM_OVER_BATCH_SIZE == R.SUM_OVER_BATCH_SIZE
    assert reductions.V1_SUM_BY_NONZERO_WEIGHTS == R.SUM_BY_NONZERO_WEIGHTS
    assert reductions.V1_SUM_OVER_NONZERO_WEIGHTS == R.SUM_OVER_NONZERO_WEIGHTS
    assert set(reductions.V1_REDUCTIONS) == set(R.all())


def test_reductions_by_hand():
    losses = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    w = np.array([[0.5], [0.0]], np.float32)
    got = {r: losses_v1.compute_weighted_loss(losses, w, r) for r in ALL_REDUCTIONS}
    np.testing.assert_array_equal(got["none"], [[0.5, 1.0], [0.0, 0.0]])
    assert got["weighted_sum"] == 1.5
    assert got["weighted_mean"] == 1.5          # 1.5 / (0.5 + 0.5)
    assert got["weighted_sum_over_batch_size"] == 0.375
    assert got["weighted_sum_by_nonzero_weights"] == 0.75


@pytest.mark.parametrize("reduction", ALL_REDUCTIONS[1:])
def test_all_zero_weights_give_zero(reduction):
    assert losses_v1.compute_weighted_loss(np.ones((2, 2), np.float32), 0.0, reduction) == 0.0


def test_float64_round_trips_through_float32():
    out = losses_v1.compute_weighted_loss(np.array([0.1], np.float64), reduction="none")
    assert out.dtype == np.float64 and out[0] == float(np.float32(0.1)) != 0.1
    assert losses_v1.mean_squared_error(np.zeros(1), np.array([0.1])).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_output_dtypes(dtype):
    x = np.random.default_rng(0).normal(0, 1, (4, 3)).astype(dtype)
    y = (x > 0).astype(dtype)
    assert losses_v1.softmax_cross_entropy(y, x).dtype == np.dtype(dtype)
    assert losses_v1.sigmoid_cross_entropy(y, x).dtype == np.dtype(dtype)
    assert losses_v1.sparse_softmax_cross_entropy(np.array([0, 1, 2, 0]), x).dtype == np.dtype(dtype)
    for fn in (losses_v1.absolute_difference, losses_v1.mean_squared_error, losses_v1.huber_loss,
               losses_v1.mean_pairwise_squared_error):
        assert fn(y, x).dtype == np.float32
    assert losses_v1.hinge_loss(y, x).dtype == np.float32
    assert losses_v1.cosine_distance(y, x, axis=1).dtype == np.float32


def test_errors():
    with pytest.raises(TFValueError, match="Invalid Reduction Key"):
        losses_v1.compute_weighted_loss(np.ones(2, np.float32), reduction="mean")
    with pytest.raises(TFValueError, match="weights can not be broadcast"):
        losses_v1.compute_weighted_loss(np.ones((2, 2), np.float32), np.ones(2, np.float32))
    with pytest.raises(TFValueError, match="Mismatch at dim 1"):
        losses_v1.compute_weighted_loss(np.ones((2, 2), np.float32), np.ones((1, 3), np.float32))
    with pytest.raises(TFValueError, match="axis"):
        losses_v1.cosine_distance(np.ones((1, 2)), np.ones((1, 2)))
    with pytest.raises(TFValueError):
        losses_v1.absolute_difference(np.ones(2), np.ones(3))
    with pytest.raises(InvalidArgumentError):
        losses_v1.sparse_softmax_cross_entropy(np.array([3]), np.zeros((1, 3), np.float32))


def test_sparse_squeezes_labels_and_weights():
    logits = np.array([[2.0, -1.0, 3.0], [1.0, 0.0, -0.5]], np.float32)
    base = losses_v1.sparse_softmax_cross_entropy(np.array([2, 0]), logits, np.array([2.0, 0.5], np.float32))
    squeezed = losses_v1.sparse_softmax_cross_entropy(np.array([[2], [0]]), logits, np.array([[2.0], [0.5]], np.float32))
    assert base == squeezed
    np.testing.assert_allclose(base, 0.44265484, rtol=1e-6)


def test_mean_pairwise_eager_quirk():
    labels = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], np.float32)
    preds = np.array([[1.5, 2.0, 2.0], [4.0, 4.0, 7.0]], np.float32)
    np.testing.assert_allclose(losses_v1.mean_pairwise_squared_error(labels, preds), 1.2833333, rtol=1e-6)
    np.testing.assert_allclose(
        losses_v1.mean_pairwise_squared_error(labels, preds, np.ones((2, 1), np.float32)), 3.1666667, rtol=1e-6)


def test_no_overflow_at_1e4():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], np.float32)
    y = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for out in (losses_v1.softmax_cross_entropy(y, x, label_smoothing=0.1, reduction="none"),
                    losses_v1.sigmoid_cross_entropy(y, x, reduction="none"),
                    losses_v1.sparse_softmax_cross_entropy(np.array([0, 0]), x, reduction="none")):
            assert np.all(np.isfinite(out))


@pytest.mark.parametrize("reduction", ALL_REDUCTIONS)
def test_parity_with_tf(tf, reduction):
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, (16, 5)).astype(np.float32)
    onehot = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 16)]
    w = rng.uniform(0, 2, 16).astype(np.float32)
    w[::4] = 0
    v1 = tf.compat.v1.losses
    pairs = [
        (losses_v1.softmax_cross_entropy(onehot, x, w, 0.1, reduction),
         v1.softmax_cross_entropy(onehot, x, w, 0.1, reduction=reduction)),
        (losses_v1.sparse_softmax_cross_entropy(onehot.argmax(1), x, w, reduction),
         v1.sparse_softmax_cross_entropy(onehot.argmax(1), x, w, reduction=reduction)),
        (losses_v1.huber_loss(onehot, x, w[:, None], 0.7, reduction),
         v1.huber_loss(onehot, x, w[:, None], 0.7, reduction=reduction)),
        (losses_v1.log_loss(onehot, 1 / (1 + np.exp(-x)), w[:, None], reduction=reduction),
         v1.log_loss(onehot, 1 / (1 + np.exp(-x)), w[:, None], reduction=reduction)),
    ]
    for ref, got in pairs:
        got = got.numpy()
        assert ref.dtype == got.dtype and ref.shape == got.shape
        np.testing.assert_allclose(ref, got, rtol=2e-6, atol=1e-6)
