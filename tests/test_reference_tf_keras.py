"""The tf_keras (Keras 2) reference: its differences from Keras 3 on the reference alone,
then direct parity against real tf_keras for the same inputs."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from harness.reference import keras as K3
from harness.reference import tf_keras as K2
from harness.reference.errors import InvalidArgumentError, TFValueError
from harness.reference.reductions import keras2_compute_weighted_loss, keras2_remove_squeezable_dimensions
from harness.registry import get_op, registry

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def test_bce_adds_epsilon_inside_the_log():
    y, p = np.array([[1.0], [1.0]], np.float32), np.array([[0.0], [1.0]], np.float32)
    k2, k3 = K2.binary_crossentropy(y, p), K3.binary_crossentropy(y, p)
    assert k2[0] == pytest.approx(-np.log(2e-7), rel=1e-6)  # 15.424949
    assert k3[0] == pytest.approx(-np.log(1e-7), rel=1e-6)  # 16.118095
    assert k2[1] == 0 and k3[1] > 0


@pytest.mark.parametrize("dtype", FLOATS)
def test_classes_return_the_input_dtype_except_huber(dtype):
    y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype)
    p = np.array([[0.3, 0.7], [0.6, 0.4]], dtype)
    assert K2.MeanSquaredError(y, p).dtype == np.dtype(dtype)
    assert K2.CategoricalCrossentropy(y, p).dtype == np.dtype(dtype)
    assert K2.Huber(y, p).dtype == np.float32
    assert K3.MeanSquaredError(y, p).dtype == np.float32


def test_functions_broadcast_and_classes_squeeze_without_expanding():
    y, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([[1.5], [2.0], [2.5], [5.0]])
    np.testing.assert_allclose(K2.mean_squared_error(y, p), [2.25, 1.5, 1.25, 7.5])
    assert K2.MeanSquaredError(y, p, reduction="none") == pytest.approx(0.375)
    np.testing.assert_allclose(K3.MeanSquaredError(y, p, reduction="none"), [0.25, 0.0, 0.25, 1.0])
    labels, preds = keras2_remove_squeezable_dimensions(np.zeros([4, 1]), np.zeros([4]))
    assert labels.shape == preds.shape == (4,)


def test_reductions_empty_batch_and_validation():
    losses = np.array([1.0, 2.0, 3.0], np.float32)
    assert keras2_compute_weighted_loss(losses, None, "auto") == pytest.approx(2.0)
    assert keras2_compute_weighted_loss(losses, np.array([1.0, 0.0, 2.0]), "sum") == pytest.approx(7.0)
    assert keras2_compute_weighted_loss(np.zeros([0], np.float32), None, "sum_over_batch_size") == 0
    np.testing.assert_array_equal(keras2_compute_weighted_loss(losses, 2.0, "none"), [2.0, 4.0, 6.0])
    for bad in ("mean", None, "mean_with_sample_weight"):
        with pytest.raises(TFValueError, match="Invalid Reduction Key"):
            K2.MeanSquaredError(np.zeros([1, 1]), np.zeros([1, 1]), reduction=bad)


def test_per_example_weights_gain_a_trailing_axis():
    losses = np.ones([2, 3], np.float32)
    out = keras2_compute_weighted_loss(losses, np.array([2.0, 0.5]), "none")
    np.testing.assert_array_equal(out, [[2.0] * 3, [0.5] * 3])
    with pytest.raises(InvalidArgumentError):
        keras2_compute_weighted_loss(losses, np.ones([2, 3, 2]), "none")


def test_ignore_class_every_label_ignored_is_nan_and_rows_are_not_read():
    p = np.array([[0.3, 0.7], [0.4, 0.6]], np.float32)
    assert np.isnan(K2.SparseCategoricalCrossentropy(np.array([1, 1]), p, ignore_class=1))
    assert K3.SparseCategoricalCrossentropy(np.array([1, 1]), p, ignore_class=1) == 0
    nan_row = np.array([[0.5, 0.5], [np.nan, np.nan]], np.float32)
    np.testing.assert_allclose(K2.sparse_categorical_crossentropy([0, 1], nan_row, ignore_class=1),
                               [np.log(2), 0.0], rtol=1e-6)


def test_label_smoothing_counts_the_size_of_axis():
    y = np.eye(3)[[2, 0, 1, 2]].astype(np.float32)
    p = np.full([4, 3], 1 / 3, np.float32)
    k2 = K2.categorical_crossentropy(y, p, label_smoothing=0.2, axis=0)
    smoothed = y * 0.8 + 0.2 / 4
    p_axis0 = p / p.sum(axis=0)
    np.testing.assert_allclose(k2, -(smoothed * np.log(p_axis0)).sum(axis=0), rtol=1e-6)


def test_float16_mean_overflows_like_tf_reduce_mean():
    x = np.full([4096], 30.0, np.float16)
    assert np.isinf(K2.tf_mean(x))
    assert K2.tf_mean(x.astype(ml_dtypes.bfloat16)) == 30


def test_every_tf_keras_loss_is_registered():
    tf_keras = pytest.importorskip("tf_keras")
    import inspect

    exported = {n for n in dir(tf_keras.losses) if not n.startswith("_")}
    classes = {n for n in exported if inspect.isclass(getattr(tf_keras.losses, n))} - {"Loss", "Reduction"}
    functions = {n for n in exported if inspect.isfunction(getattr(tf_keras.losses, n))} - {"get", "serialize", "deserialize"}
    assert len(classes) == 17
    names = set(registry().names())
    assert {f"tf_keras.losses.{n}" for n in classes | functions} <= names


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ["BinaryCrossentropy", "MeanSquaredError", "Huber", "SparseCategoricalCrossentropy"])
def test_parity_with_real_tf_keras(name, dtype):
    """The registry's TF binding imports tf_keras itself; reference and TF agree."""
    tf = pytest.importorskip("tensorflow")
    op = get_op(f"tf_keras.losses.{name}")
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, size=(5, 4)).astype(dtype)
    y = rng.integers(0, 4, size=5).astype(np.int32) if name.startswith("Sparse") else rng.uniform(0, 1, (5, 4)).astype(dtype)
    args = {"y_true": y, "y_pred": p}
    ref = op.run_reference({}, args)
    got = op.run_tf(tf, {}, {k: tf.constant(v) for k, v in args.items()}).numpy()
    assert ref.dtype == got.dtype
    np.testing.assert_allclose(ref.astype(np.float64), got.astype(np.float64), rtol=2e-3 if dtype == "float16" else 1e-6)
