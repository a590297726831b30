"""The tf.keras.losses reference: properties checked on the reference alone (no overflow,
result dtypes, clipping at 0 and 1, the Keras reductions), then a few direct parity
checks against real TensorFlow/Keras."""
from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest

from harness.reference import keras as K
from harness.reference.errors import InvalidArgumentError, StagingError, TFIndexError, TFValueError
from harness.sides import Raised
from harness.reference.reductions import (
    keras_reduce_weighted_values,
    keras_squeeze_or_expand_to_same_rank,
)
from harness.registry import get_op

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
LOGITS_1E4 = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]])
LABELS = np.array([0, 1], dtype=np.int32)
ONE_HOT = np.eye(3)[LABELS]


# --- no overflow --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropies_from_logits_are_exact_at_1e4(dtype):
    logits = LOGITS_1E4.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        sparse = K.sparse_categorical_crossentropy(LABELS, logits, from_logits=True)
        dense = K.categorical_crossentropy(ONE_HOT.astype(dtype), logits, from_logits=True)
        binary = K.binary_crossentropy(ONE_HOT.astype(dtype), logits, from_logits=True, axis=0)
    big = float(np.asarray(2e4, dtype=dtype))
    np.testing.assert_array_equal(sparse.astype(np.float64), [0.0, big])
    np.testing.assert_array_equal(dense.astype(np.float64), [0.0, big])
    assert np.all(np.isfinite(binary.astype(np.float64)))


def test_binary_focal_from_logits_keeps_the_exact_bce():
    """The sigmoid output carries its logits, so a wrong logit of 1e4 costs 1e4."""
    loss = K.binary_focal_crossentropy(np.array([[0.0]]), np.array([[1e4]]), from_logits=True)
    np.testing.assert_allclose(loss, [1e4])


def test_categorical_focal_from_logits_is_clipped():
    loss = K.categorical_focal_crossentropy(np.array([[0.0, 1.0]]), np.array([[1e4, 0.0]]), from_logits=True)
    np.testing.assert_allclose(loss, [0.25 * (1 - 1e-7) ** 2 * -np.log(1e-7)], rtol=1e-7)


def test_log_cosh_of_large_errors():
    loss = K.log_cosh(np.array([[1e4, -1e4]], np.float32), np.zeros((1, 2), np.float32))
    np.testing.assert_allclose(loss, [1e4 - np.log(2)], rtol=1e-7)


# --- result dtypes -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_classes_return_float32(dtype):
    y = ONE_HOT.astype(dtype)
    p = np.full((2, 3), 1 / 3).astype(dtype)
    for cls in (K.CategoricalCrossentropy, K.BinaryCrossentropy, K.MeanSquaredError, K.Huber):
        assert np.asarray(cls(y, p)).dtype == np.float32
    assert np.asarray(K.SparseCategoricalCrossentropy(LABELS, p)).dtype == np.float32


@pytest.mark.parametrize("dtype", FLOATS)
def test_functions_keep_the_input_dtype(dtype):
    y = ONE_HOT.astype(dtype)
    p = np.full((2, 3), 1 / 3).astype(dtype)
    for fn in (K.categorical_crossentropy, K.binary_crossentropy, K.mean_squared_error, K.log_cosh,
               K.kl_divergence, K.poisson, K.cosine_similarity, K.hinge, K.dice, K.tversky):
        assert fn(y, p).dtype == np.dtype(dtype), fn.__name__
    assert K.sparse_categorical_crossentropy(LABELS, p).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype, expected", [(np.float16, np.float32), (ml_dtypes.bfloat16, np.float32),
                                             (np.float32, np.float32), (np.float64, np.float64)])
def test_msle_and_ctc_promote_16_bit_inputs(dtype, expected):
    y = np.ones((2, 3), dtype)
    assert K.mean_squared_logarithmic_error(y, y).dtype == expected
    logits = np.zeros((1, 3, 4), dtype)
    assert K.ctc(np.array([[1, 2]], np.int32), logits).dtype == expected


def test_class_casts_float64_to_float32():
    """0.1 and 0.100000001 are one float32 number: the class sees no error at all."""
    y, p = np.array([[0.1]]), np.array([[0.100000001]])
    assert K.MeanSquaredError(y, p) == 0.0
    assert K.mean_squared_error(y, p)[0] > 0.0


def test_log_cosh_float64_uses_a_float32_log2():
    loss = K.log_cosh(np.zeros((1, 1)), np.zeros((1, 1)))
    np.testing.assert_allclose(loss, [np.log(2) - np.float64(np.float32(np.log(2)))], rtol=1e-12)


# --- clipping at 0 and 1 ------------------------------------------------------------------------


def test_float32_binary_clipping_is_asymmetric():
    loss = K.BinaryCrossentropy(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), reduction=None, axis=0)
    np.testing.assert_allclose(loss, [-np.log(np.float32(1e-7)), -np.log(np.float32(1.1920929e-7))], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_16_bit_binary_upper_clip_is_one(dtype):
    loss = K.binary_crossentropy(np.array([[0.0]], dtype), np.array([[1.0]], dtype))
    assert np.isinf(loss.astype(np.float64)).all()


@pytest.mark.parametrize("fn", [K.categorical_crossentropy, K.binary_crossentropy])
def test_probabilities_0_and_1_are_finite_in_float32_and_float64(fn):
    for dtype in (np.float32, np.float64):
        loss = fn(np.array([[0.0, 1.0, 0.0]], dtype), np.array([[1.0, 0.0, 0.0]], dtype))
        assert np.all(np.isfinite(loss)) and np.all(loss > 0)


def test_sparse_categorical_clip_is_not_renormalised():
    """p = [1, 0, 0] is clipped to [1 - 1e-7, 1e-7, 1e-7] and normalised by the logsumexp."""
    loss = K.sparse_categorical_crossentropy(np.array([1]), np.array([[1.0, 0.0, 0.0]]))
    np.testing.assert_allclose(loss, [np.log(0.9999999 + 2e-7) - np.log(1e-7)], rtol=1e-12)


# --- reductions --------------------------------------------------------------------------------


LOSSES = np.array([1.0, 2.0, 3.0, 6.0], np.float32)


@pytest.mark.parametrize("reduction, expected", [
    ("sum_over_batch_size", 3.0), ("mean", 3.0), ("sum", 12.0), ("mean_with_sample_weight", 3.0),
])
def test_reductions_unweighted(reduction, expected):
    assert keras_reduce_weighted_values(LOSSES, reduction=reduction) == expected


@pytest.mark.parametrize("reduction", [None, "none"])
def test_no_reduction(reduction):
    np.testing.assert_array_equal(keras_reduce_weighted_values(LOSSES, reduction=reduction), LOSSES)


def test_weighted_reductions():
    w = np.array([1.0, 0.0, 0.5, 0.5])
    assert keras_reduce_weighted_values(LOSSES, w, reduction="sum_over_batch_size") == (1 + 1.5 + 3) / 4
    assert keras_reduce_weighted_values(LOSSES, w, reduction="mean_with_sample_weight") == (1 + 1.5 + 3) / 2


def test_mean_with_scalar_weight_is_the_sum():
    assert keras_reduce_weighted_values(LOSSES, 2.0, reduction="mean_with_sample_weight") == 12.0


def test_all_zero_weights_give_zero_not_nan():
    assert keras_reduce_weighted_values(LOSSES, np.zeros(4), reduction="mean_with_sample_weight") == 0.0


def test_scalar_and_empty_losses_are_returned_unreduced():
    assert keras_reduce_weighted_values(np.float32(5.0), reduction="sum_over_batch_size") == 5.0
    empty = keras_reduce_weighted_values(np.zeros((0,), np.float32), reduction="sum_over_batch_size")
    assert empty.shape == (0,)


def test_mask_divides_by_the_valid_count():
    mask = np.array([True, False, True, True])
    assert keras_reduce_weighted_values(LOSSES, mask=mask) == pytest.approx((1 + 3 + 6) / 3)
    assert keras_reduce_weighted_values(LOSSES, mask=mask, reduction="sum") == 10.0
    all_masked = keras_reduce_weighted_values(LOSSES, mask=np.zeros(4, bool))
    assert all_masked == 0.0


def test_column_weights_expand_the_losses():
    out = keras_reduce_weighted_values(LOSSES, np.ones((4, 1)), reduction=None)
    assert out.shape == (4, 1)


def test_squeeze_or_expand_rules():
    a, b = keras_squeeze_or_expand_to_same_rank(np.zeros((4, 1)), np.zeros(4))
    assert (a.shape, b.shape) == ((4, 1), (4, 1))
    a, b = keras_squeeze_or_expand_to_same_rank(np.zeros((4, 3, 1)), np.zeros((4, 3)))
    assert (a.shape, b.shape) == ((4, 3), (4, 3))
    a, b = keras_squeeze_or_expand_to_same_rank(np.zeros((4, 3)), np.zeros(4))
    assert (a.shape, b.shape) == ((4, 3), (4,))


def test_reduction_errors():
    with pytest.raises(TFValueError):
        K.MeanSquaredError(ONE_HOT, ONE_HOT, reduction="auto")
    with pytest.raises(InvalidArgumentError):
        keras_reduce_weighted_values(LOSSES, np.ones(3))


def test_sparse_ignore_class_matches_the_mean_over_valid_entries():
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5]])
    loss = K.SparseCategoricalCrossentropy(np.array([0, 1, 2]), probs, ignore_class=1)
    np.testing.assert_allclose(loss, (-np.log(0.9) - np.log(0.5)) / 2, rtol=1e-6)


def test_errors_named_after_keras():
    with pytest.raises(InvalidArgumentError):
        K.sparse_categorical_crossentropy(np.array([3]), np.array([[0.2, 0.3, 0.5]]))
    with pytest.raises(TFValueError):
        K.SparseCategoricalCrossentropy(np.array([1]), np.array([[0.2, 0.3, 0.5]]), axis=0)
    with pytest.raises(TFValueError):
        K.binary_crossentropy(np.array([1.0, 0.0]), np.array([[0.4], [0.4]]))
    with pytest.raises(TFValueError):
        K.CategoricalGeneralizedCrossEntropy(np.array([0]), np.array([[0.5, 0.5]]), q=1.0)
    with pytest.raises(InvalidArgumentError):
        K.mean_squared_error(np.zeros((1, 3)), np.zeros((1, 2)))


def test_sparse_axis_outside_the_rank_of_same_rank_labels_is_an_index_error():
    """Keras reads ``y_true.shape[axis]`` first: IndexError eagerly, StagingError traced."""
    probs = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    for axis in (2, 5, -3):
        for fn in (K.sparse_categorical_crossentropy, K.SparseCategoricalCrossentropy):
            with pytest.raises(TFIndexError, match="tuple index out of range") as info:
                fn(np.array([[2], [0]]), probs, axis=axis)
            names = Raised(info.value).names
            assert "IndexError" in names and "StagingError" in names
    assert issubclass(TFIndexError, StagingError) and issubclass(TFIndexError, IndexError)
    # the last valid axes still squeeze the labels' dimension of 1
    np.testing.assert_allclose(K.sparse_categorical_crossentropy(np.array([[2], [0]]), probs, axis=1),
                               -np.log([0.5, 0.1]), rtol=1e-12)


def test_sparse_ignore_class_axis_and_mask_errors():
    probs = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    for axis in (2, -3):
        with pytest.raises(TFValueError, match=f"axis {axis} is out of bounds for an array with dimension 2"):
            K.sparse_categorical_crossentropy(np.array([2, 0]), probs, ignore_class=1, axis=axis)
    with pytest.raises(InvalidArgumentError, match="broadcast"):  # the mask [1, 2] against [2, 3]
        K.sparse_categorical_crossentropy(np.array([2, 0]), probs, ignore_class=1, axis=0)
    np.testing.assert_allclose(  # axis -1 and 1 are one axis: canonicalised, not rejected
        K.sparse_categorical_crossentropy(np.array([2, 1]), probs, ignore_class=1, axis=1),
        [-np.log(0.5), 0.0], rtol=1e-12)


def test_msle_float64_meets_the_float32_epsilon():
    """ops.convert_to_tensor(epsilon()) is float32: 1.0000000116860974e-07 in float64."""
    eps32 = np.float64(np.float32(1e-7))
    y_true, y_pred = np.array([[0.0]]), np.array([[1.01e-7]])
    expected = np.square(np.log(1.01e-7 + 1.0) - np.log(eps32 + 1.0))
    assert K.mean_squared_logarithmic_error(y_true, y_pred)[0] == expected == 9.999972999475782e-19
    assert K.mean_squared_logarithmic_error(y_true, y_true)[0] == 0.0


def test_ctc_by_hand():
    uniform = np.zeros((1, 2, 3), np.float32)
    np.testing.assert_allclose(K.ctc(np.array([[1, 0]]), uniform), [np.log(3)], rtol=1e-6)
    impossible = K.ctc(np.array([[1, 1, 0]]), np.zeros((1, 2, 5), np.float32))
    np.testing.assert_allclose(impossible, [-np.log(1e-307) - np.log(4 / 25)], rtol=1e-6)


# --- parity with real TensorFlow ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow

    return tensorflow


RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(8, 5)) * 3
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
INT_LABELS = RNG.integers(0, 5, size=8).astype(np.int32)
WEIGHTS = RNG.uniform(size=8)

PARITY = [
    ("tf.keras.losses.SparseCategoricalCrossentropy", {"from_logits": True}, {"y_true": INT_LABELS, "y_pred": LOGITS}),
    ("tf.keras.losses.SparseCategoricalCrossentropy", {"ignore_class": 2, "reduction": "sum"},
     {"y_true": INT_LABELS, "y_pred": PROBS, "sample_weight": WEIGHTS}),
    ("tf.keras.losses.CategoricalCrossentropy", {"label_smoothing": 0.1, "reduction": "mean_with_sample_weight"},
     {"y_true": np.eye(5)[INT_LABELS], "y_pred": PROBS, "sample_weight": WEIGHTS}),
    ("tf.keras.losses.BinaryCrossentropy", {"from_logits": True, "reduction": None},
     {"y_true": np.eye(5)[INT_LABELS], "y_pred": LOGITS}),
    ("tf.keras.losses.MeanSquaredError", {}, {"y_true": PROBS, "y_pred": np.eye(5)[INT_LABELS], "sample_weight": 0.5}),
    ("tf.keras.losses.sparse_categorical_crossentropy", {}, {"y_true": INT_LABELS, "y_pred": PROBS}),
    ("tf.keras.losses.categorical_crossentropy", {}, {"y_true": np.eye(5)[INT_LABELS], "y_pred": LOGITS, "from_logits": True}),
    ("tf.keras.losses.binary_crossentropy", {}, {"y_true": np.eye(5)[INT_LABELS], "y_pred": PROBS}),
    ("tf.keras.losses.MSE", {}, {"y_true": PROBS, "y_pred": LOGITS}),
    ("tf.keras.losses.ctc", {}, {"y_true": np.array([[1, 2, 0], [3, 3, 1]], np.int32),
                                 "y_pred": RNG.normal(size=(2, 6, 4))}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, init, args", PARITY, ids=[f"{p[0].rsplit('.', 1)[1]}-{i}" for i, p in enumerate(PARITY)])
def test_parity_with_tensorflow(tf, name, init, args, dtype):
    op = get_op(name)
    cast = {k: v.astype(dtype) if isinstance(v, np.ndarray) and op.arg(k).role == "float" else v
            for k, v in args.items()}
    ref = np.asarray(op.run_reference(init, cast))
    out = op.run_tf(tf, init, {k: tf.constant(v) if isinstance(v, np.ndarray) else v for k, v in cast.items()})
    out = np.asarray(out.numpy())
    assert ref.dtype == out.dtype and ref.shape == out.shape
    rtol = 2e-6 if out.dtype == np.float32 else 1e-7
    np.testing.assert_allclose(ref, out, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_sparse_categorical_crossentropy_from_probabilities_in_row_blocks(dtype, monkeypatch):
    """Blocks of a few rows give exactly the unblocked log(clip(p)) cross-entropy, for any
    leading rank, and the same out-of-range label error."""
    from harness.reference import keras_backend as kb, rowblocks
    from harness.reference.errors import InvalidArgumentError
    from harness.reference.nn import sparse_softmax_cross_entropy_with_logits

    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 64)  # 64 bytes: one or two rows a block
    rng = np.random.default_rng(3)
    kind = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    probs = rng.dirichlet(np.ones(7), size=(3, 5)).astype(kind)
    probs[0, 0, 2] = 0.0  # clipped to eps
    labels = rng.integers(0, 7, size=(3, 5))
    whole = sparse_softmax_cross_entropy_with_logits(labels.astype(np.int64), kb.log(kb.clip(probs, kb.EPSILON, 1 - kb.EPSILON)))
    blocked = kb.sparse_categorical_crossentropy(labels, probs)
    assert blocked.dtype == whole.dtype and blocked.shape == (3, 5)
    np.testing.assert_array_equal(blocked.astype(np.float64), whole.astype(np.float64))
    labels[2, 1], labels[2, 3] = 9, -1
    with pytest.raises(InvalidArgumentError, match="label value of 9 which"):
        kb.sparse_categorical_crossentropy(labels, probs)
