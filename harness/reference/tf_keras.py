"""Reference for ``tf_keras.losses`` (Keras 2, tf-keras 2.21 on TF 2.21): the loss
functions and the loss classes, in NumPy.

Keras 2 differs from Keras 3 (``harness.reference.keras``) in these ways, each mirrored:

* **dtypes**: nothing is cast to ``floatx()``. A function computes in ``y_pred``'s dtype
  (``y_true`` is cast to it) and a class reduces in the dtype of the per-example losses, so
  float16 and bfloat16 are computed in float16/bfloat16 and returned as such, float64 stays
  float64. Exception: ``huber`` casts both inputs to float32 whatever their dtype.
* **means** are ``tf.reduce_mean`` (``backend.mean``): float16 is summed in Eigen's float16
  order (``summation.reduce_sum``; a sum above 65504 overflows to inf) and divided in float16,
  bfloat16 is accumulated in float32 and rounded once. Keras 3 averages float16 in float32.
* **binary cross-entropy on probabilities** adds epsilon inside the log after clipping:
  ``-(t log(clip(p) + eps) + (1 - t) log(1 - clip(p) + eps))``. At p = 0, t = 1 that is
  -log(2e-7) = 15.424949 (Keras 3: -log(1e-7) = 16.118095); at p = t = 1 it is
  -log(1 - 1e-7 + 1e-7) = 0 (Keras 3: 1.19e-7). The focal binary loss inherits this.
* **no rank adjustment in the functions**: ``mse(y_true [N], y_pred [N, 1])`` broadcasts
  to ``[N, N]`` before the mean over the last axis (Keras 3 squeezes first). The classes
  squeeze (``keras2_remove_squeezable_dimensions``), but they never *expand*: with
  ``y_true [N]`` and ``y_pred [N, 1]`` a class squeezes ``y_pred`` to ``[N]`` and the
  function's mean over the last axis gives one scalar (Keras 3 expands ``y_true`` to
  ``[N, 1]`` and gets ``N`` per-example losses).
* **reductions** are ``auto`` (= ``sum_over_batch_size``), ``none``, ``sum`` and
  ``sum_over_batch_size`` (no ``mean``/``mean_with_sample_weight``/``None``); the mean of an
  empty batch is ``divide_no_nan(0, 0) = 0`` (Keras 3 returns the empty losses).
* **ignore_class** (sparse cross-entropy) gathers the valid entries and scatters their
  losses back; the class divides by the valid count with a plain division, so a batch with
  every label ignored gives 0 * inf = NaN (Keras 3: 0). The function takes any ``axis``
  (the class axis is moved last); Keras 3 only the last one.
* **label smoothing on another axis**: ``categorical_crossentropy`` divides by the size of
  ``axis`` (Keras 3 always by the last dimension).
* ``cosine_similarity`` uses ``tf.linalg.l2_normalize`` (x / sqrt(max(sum x^2, 1e-12)));
  ``mean_squared_logarithmic_error`` stays in float16 (Keras 3 promotes it to float32).

Where the two agree the Keras 3 function is used as is (``kl_divergence``,
``categorical_hinge``, ``categorical_focal_crossentropy``).
"""
from __future__ import annotations

import numpy as np

from harness.reference import keras_backend as kb
from harness.reference import keras_functions as F
from harness.reference.errors import SLICE_INDEX, InvalidArgumentError, TFValueError, check_axis
from harness.reference.keras_functions import categorical_hinge, kl_divergence  # noqa: F401  (identical in Keras 2)
from harness.reference.rowblocks import by_row, by_rows
from harness.reference.reductions import (
    keras2_compute_weighted_loss,
    keras2_remove_squeezable_dimensions,
    keras2_validate_reduction,
)
from harness.reference.stable import maximum, select
from harness.reference.summation import reduce_sum as tf_sum

EPS = kb.EPSILON
_c = F._c
_cast_pair = F._cast_pair


# --- tf.reduce_mean as Keras 2 calls it (tf.reduce_sum is summation.reduce_sum) ---------


def tf_mean(x, axis=None) -> np.ndarray:
    """``tf.reduce_mean`` (Keras 2's ``backend.mean``): the float16 sum of ``tf.reduce_sum``
    (Eigen's order, in float16) divided in float16, so a sum above 65504 makes the mean inf;
    bfloat16 averaged in float32 and rounded once; other dtypes in their own precision."""
    x = np.asarray(x)
    if x.dtype.name != "float16":
        return kb.mean(x, axis=axis)
    axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis) % max(x.ndim, 1))
    count = int(np.prod([x.shape[i] for i in axes]))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return np.asarray(tf_sum(x, axis) / np.float16(count)).astype(np.float16)


# --- regression ------------------------------------------------------------------------


@by_rows
@F.tf_broadcasting
def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)**2, axis=-1), no rank adjustment ([N] vs [N, 1] -> [N, N])."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    error = np.asarray(y_pred - y_true)  # squared in place: one temporary, still in cache
    return tf_mean(np.square(error, out=error), axis=-1)


@by_rows
@F.tf_broadcasting
def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|, axis=-1), no rank adjustment."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    error = np.asarray(y_pred - y_true)  # |.| in place: one temporary, still in cache
    return tf_mean(np.abs(error, out=error), axis=-1)


@by_rows
@F.tf_broadcasting
def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1), in y_pred's dtype."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs((y_true - y_pred) / maximum(np.abs(y_true), _c(EPS, y_pred)))
        return _c(100.0, y_pred) * tf_mean(diff, axis=-1)


@by_rows
@F.tf_broadcasting
def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(p, eps) + 1) - log(max(t, eps) + 1))**2, axis=-1) in y_pred's dtype
    (Keras 3 promotes float16/bfloat16 to float32)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    eps, one = _c(EPS, y_pred), _c(1.0, y_pred)
    first_log = kb.log(maximum(y_pred, eps) + one)
    second_log = kb.log(maximum(y_true, eps) + one)
    return tf_mean(np.square(first_log - second_log), axis=-1)


@by_rows
@F.tf_broadcasting
def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 e**2 if |e| <= delta else delta |e| - 0.5 delta**2, axis=-1), e = p - t.

    Keras 2 quirk mirrored: both inputs are cast to float32 (``floatx()``) first, so float64
    and float16 inputs give a float32 result."""
    y_true, y_pred = np.asarray(y_true).astype(np.float32, copy=False), np.asarray(y_pred).astype(np.float32, copy=False)
    delta, half = np.float32(delta), np.float32(0.5)
    error = y_pred - y_true
    abs_error = np.abs(error)
    with np.errstate(over="ignore", invalid="ignore"):
        per_element = select(abs_error <= delta, half * np.square(error), delta * abs_error - half * np.square(delta))
    return tf_mean(per_element, axis=-1)


@by_rows
@F.tf_broadcasting
def log_cosh(y_true, y_pred):
    """mean(x + softplus(-2x) - log(2), axis=-1), x = y_pred - y_true; log(2) computed in
    float32 and cast (a zero error gives -1.9e-9 in float64)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    log2 = np.asarray(np.log(np.float32(2.0))).astype(y_pred.dtype)
    x = y_pred - y_true
    return tf_mean(x + kb.softplus(x * _c(-2.0, x)) - log2, axis=-1)


@by_rows
@F.tf_broadcasting
def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    with np.errstate(invalid="ignore"):
        return tf_mean(y_pred - y_true * kb.log(y_pred + _c(EPS, y_pred)), axis=-1)


def l2_normalize(x, axis) -> np.ndarray:
    """``tf.linalg.l2_normalize``: x * rsqrt(max(sum(x**2, axis), 1e-12)), 1e-12 in x's
    dtype (0 in float16, so a zero vector gives 0 * inf = NaN there)."""
    x = np.asarray(x)
    square_sum = tf_sum(np.square(x), axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = _c(1, x) / np.sqrt(maximum(square_sum, _c(1e-12, x)))
        return by_row(np.multiply, x, inv)


@by_rows
@F.tf_broadcasting
def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis) (no cast, no rank adjustment)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    with np.errstate(invalid="ignore"):
        return -tf_sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis=axis)


# --- hinge -------------------------------------------------------------------------------


@F.tf_broadcasting
def hinge(y_true, y_pred):
    """mean(max(1 - t p, 0), axis=-1), 0/1 labels (checked over the whole tensor) -> -1/1."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    return F.hinge_rows(y_true, y_pred, F._all_binary(y_true), mean=tf_mean)


@F.tf_broadcasting
def squared_hinge(y_true, y_pred):
    """mean(max(1 - t p, 0)**2, axis=-1), 0/1 labels -> -1/1."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    return F.hinge_rows(y_true, y_pred, F._all_binary(y_true), squared=True, mean=tf_mean)


# --- cross-entropies -----------------------------------------------------------------------


def _compatible_shapes(y_true, y_pred) -> None:
    """``target.shape.assert_is_compatible_with(output.shape)``: a ValueError otherwise."""
    if np.shape(y_true) != np.shape(y_pred):
        raise TFValueError(f"Shapes {np.shape(y_true)} and {np.shape(y_pred)} are incompatible")


@by_rows
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(t log p, axis), p re-normalised and clipped to [eps, 1 - eps], or the softmax
    cross-entropy of logits. Smoothing t (1 - ls) + ls / C with C the size of ``axis``
    (Keras 3: the last dimension)."""
    F._check_int_axis(axis)
    y_true, y_pred = _cast_pair(y_true, y_pred)
    _compatible_shapes(y_true, y_pred)
    if label_smoothing:
        check_axis(axis, y_true.ndim, SLICE_INDEX)
        num_classes = _c(y_true.shape[axis], y_pred)
        ls = _c(label_smoothing, y_pred)
        y_true = y_true * (_c(1.0, y_pred) - ls) + ls / num_classes
    return kb.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Keras 3's formula (see ``keras_functions.categorical_focal_crossentropy``); the
    shapes must match (Keras 2 asserts it, Keras 3 broadcasts)."""
    _compatible_shapes(y_true, y_pred)
    return F.categorical_focal_crossentropy(y_true, y_pred, alpha, gamma, from_logits, label_smoothing, axis)


def sparse_categorical_crossentropy_masked(y_true, y_pred, from_logits=False, axis=-1, ignore_class=None):
    """(losses, valid mask or None) of ``backend.sparse_categorical_crossentropy``.

    Labels truncated to int64; probabilities clipped to [eps, 1 - eps] and logged; the
    class ``axis`` moved last; when ``y_true`` does not have one rank less than ``y_pred``
    both are flattened to rows (so ``[N, 1]`` labels work) and reshaped back for rank >= 3.
    With ``ignore_class`` only the valid rows are computed (their predictions alone are
    read) and the losses of the others are 0."""
    y_pred = np.asarray(y_pred)
    target = np.trunc(np.asarray(y_true)).astype(np.int64)
    if not from_logits:
        y_pred = kb.log(kb.clip(y_pred, EPS, 1.0 - EPS))
    rank = y_pred.ndim
    axis %= rank
    if axis != rank - 1:
        y_pred = np.moveaxis(y_pred, axis, -1)
    out_shape = y_pred.shape[:-1]
    if target.ndim != rank - 1:
        target, y_pred = target.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1])
    if ignore_class is None:
        res = kb.sparse_softmax_cross_entropy_with_logits(target, y_pred)
        return (res.reshape(out_shape) if target.ndim == 1 and rank >= 3 else res), None
    if target.ndim == 0:
        raise TFValueError("mask cannot be scalar.")
    valid = target != np.int64(ignore_class)
    if valid.shape != y_pred.shape[:valid.ndim]:  # tf.boolean_mask's static shape check
        raise TFValueError(f"Shapes {y_pred.shape[:valid.ndim]} and {valid.shape} are incompatible")
    res = np.zeros(valid.shape, y_pred.dtype)
    res[valid] = kb.sparse_softmax_cross_entropy_with_logits(target[valid], y_pred[valid])
    if not out_shape:  # the scatter's tf.where of a 0-d mask
        raise InvalidArgumentError("WhereOp : Unhandled input dimensions: 0 [Op:Where]")
    return res.reshape(out_shape), valid.reshape(out_shape)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1, ignore_class=None):
    """logsumexp(z) - z[label], z the logits or log(clip(p, eps, 1 - eps)); any ``axis``."""
    return sparse_categorical_crossentropy_masked(y_true, y_pred, from_logits, axis, ignore_class)[0]


def backend_binary_crossentropy(target, output, from_logits=False) -> np.ndarray:
    """``tf_keras.backend.binary_crossentropy``: the sigmoid cross-entropy of logits, or
    -(t log(p + eps) + (1 - t) log(1 - p + eps)) with p clipped to [eps, 1 - eps] first,
    eps in the input dtype. No shape check (TF broadcasting)."""
    if from_logits:
        return kb.sigmoid_cross_entropy_with_logits(target, output)
    output = kb.clip(output, EPS, 1.0 - EPS)
    eps, one = _c(EPS, output), _c(1, output)
    with np.errstate(invalid="ignore"):
        bce = target * kb.log(output + eps)
        bce = bce + (one - target) * kb.log(one - output + eps)
    return -bce


def _smooth_binary(y_true, y_pred, label_smoothing):
    if not label_smoothing:
        return y_true
    ls = _c(label_smoothing, y_pred)
    return y_true * (_c(1.0, y_pred) - ls) + _c(0.5, y_pred) * ls


@by_rows
@F.tf_broadcasting
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(backend_binary_crossentropy, axis); smoothing t (1 - ls) + ls / 2."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = _smooth_binary(y_true, y_pred, label_smoothing)
    return tf_mean(backend_binary_crossentropy(y_true, y_pred, from_logits), axis=kb.canonical_axis(axis))


@by_rows
@F.tf_broadcasting
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(w (1 - p_t)**gamma * bce, axis), p_t = t p + (1 - t)(1 - p) with p = sigmoid
    of logits or the unclipped probability, bce Keras 2's (epsilon inside the log from
    probabilities, the exact sigmoid cross-entropy from logits), w = t alpha + (1 - t)
    (1 - alpha) with class balancing, else 1."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = _smooth_binary(y_true, y_pred, label_smoothing)
    sigmoidal = kb.sigmoid(y_pred) if from_logits else y_pred
    one = _c(1, y_pred)
    p_t = y_true * sigmoidal + (one - y_true) * (one - sigmoidal)
    focal_bce = np.power(one - p_t, _c(gamma, p_t)) * backend_binary_crossentropy(y_true, y_pred, from_logits)
    if apply_class_balancing:
        focal_bce = (y_true * _c(alpha, y_true) + (one - y_true) * (one - _c(alpha, y_true))) * focal_bce
    return tf_mean(focal_bce, axis=kb.canonical_axis(axis))


# --- the loss classes ----------------------------------------------------------------------

DEFAULT_REDUCTION = "auto"


def loss_class(fn, masked: bool = False):
    """The reference of the Keras 2 class wrapping ``fn`` (``LossFunctionWrapper``):
    ``y_true``/``y_pred`` squeezed (never expanded) to a common rank, the function's
    per-example losses in their own dtype, then ``compute_weighted_loss``.
    ``masked``: ``fn`` returns ``(losses, mask)`` (``ignore_class``)."""

    def reference(y_true, y_pred, sample_weight=None, reduction=DEFAULT_REDUCTION, **kwargs):
        keras2_validate_reduction(reduction)
        y_true, y_pred = keras2_remove_squeezable_dimensions(np.asarray(y_true), np.asarray(y_pred))
        losses, mask = fn(y_true, y_pred, **kwargs) if masked else (fn(y_true, y_pred, **kwargs), None)
        return keras2_compute_weighted_loss(losses, sample_weight, reduction, mask)

    reference.__doc__ = (f"Keras 2 loss class around ``{fn.__name__}``: inputs squeezed (never expanded) to a "
                         "common rank, per-example losses in their own dtype, then the Keras 2 reduction.")
    return reference


def _scce_class(y_true, y_pred, from_logits=False, ignore_class=None):
    """The class takes no ``axis`` (always the last)."""
    return sparse_categorical_crossentropy_masked(y_true, y_pred, from_logits, -1, ignore_class)


BinaryCrossentropy = loss_class(binary_crossentropy)
BinaryFocalCrossentropy = loss_class(binary_focal_crossentropy)
CategoricalCrossentropy = loss_class(categorical_crossentropy)
CategoricalFocalCrossentropy = loss_class(categorical_focal_crossentropy)
CategoricalHinge = loss_class(categorical_hinge)
CosineSimilarity = loss_class(cosine_similarity)
Hinge = loss_class(hinge)
Huber = loss_class(huber)
KLDivergence = loss_class(kl_divergence)
LogCosh = loss_class(log_cosh)
MeanAbsoluteError = loss_class(mean_absolute_error)
MeanAbsolutePercentageError = loss_class(mean_absolute_percentage_error)
MeanSquaredError = loss_class(mean_squared_error)
MeanSquaredLogarithmicError = loss_class(mean_squared_logarithmic_error)
Poisson = loss_class(poisson)
SparseCategoricalCrossentropy = loss_class(_scce_class, masked=True)
SquaredHinge = loss_class(squared_hinge)
