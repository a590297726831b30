"""Reference for ``tf.compat.v1.losses`` (eager mode, TF 2.21).

Every loss ends in ``reductions.v1_compute_weighted_loss`` (float32 arithmetic, cast back
to the per-element loss dtype). Two dtype families, as in TF:

* ``softmax_cross_entropy``, ``sparse_softmax_cross_entropy``, ``sigmoid_cross_entropy``
  compute the per-element loss in the logits dtype and return that dtype;
* every other loss casts labels and predictions to float32 first and therefore returns
  float32 whatever the input dtype.
"""
from __future__ import annotations

import numpy as np

from harness.reference import nn
from harness.reference.errors import InvalidArgumentError, TFTypeError, TFValueError, check_axis
from harness.reference.reductions import (
    V1_SUM_BY_NONZERO_WEIGHTS,
    v1_assert_broadcastable,
    v1_compute_weighted_loss,
    v1_num_present,
    v1_weighted_loss_of,
)
from harness.reference.stable import div_no_nan, minimum

DEFAULT = V1_SUM_BY_NONZERO_WEIGHTS


def _float32_pair(labels, predictions, pred_name="predictions"):
    """Cast both to float32 and require compatible (equal) shapes, as these losses do."""
    if labels is None:
        raise TFValueError("Argument `labels` must not be None.")
    if predictions is None:
        raise TFValueError(f"Argument `{pred_name}` must not be None.")
    labels = np.asarray(labels).astype(np.float32, copy=False)  # read only: no copy of float32
    predictions = np.asarray(predictions).astype(np.float32, copy=False)
    if labels.shape != predictions.shape:
        raise TFValueError(f"Shapes {predictions.shape} and {labels.shape} are incompatible")
    return labels, predictions


def compute_weighted_loss(losses, weights=1.0, reduction=DEFAULT):
    """See ``reductions.v1_compute_weighted_loss`` (float32 internally, cast back)."""
    return v1_compute_weighted_loss(losses, weights, reduction)


def absolute_difference(labels, predictions, weights=1.0, reduction=DEFAULT):
    """|predictions - labels| in float32, reduced; returns float32 for any input dtype."""
    return v1_weighted_loss_of(_abs_error, _float32_pair(labels, predictions), weights, reduction)


def _abs_error(labels, predictions):
    """|predictions - labels| (one temporary)."""
    error = np.asarray(np.subtract(predictions, labels))  # 0-d inputs: an array, not a scalar
    return np.abs(error, out=error)


def mean_squared_error(labels, predictions, weights=1.0, reduction=DEFAULT):
    """(predictions - labels)^2 in float32, reduced; returns float32 for any input dtype."""
    return v1_weighted_loss_of(_squared_error, _float32_pair(labels, predictions), weights, reduction)


def _squared_error(labels, predictions):
    """(predictions - labels)^2 (one temporary)."""
    diff = np.asarray(np.subtract(predictions, labels))
    return np.multiply(diff, diff, out=diff)


def cosine_distance(labels, predictions, axis=None, weights=1.0, reduction=DEFAULT, dim=None):
    """1 - sum(predictions * labels, axis, keepdims=True) in float32 (inputs are assumed
    unit-normalised; nothing is normalised). The loss keeps ``axis`` as size 1, so
    ``weights`` must broadcast to that shape. ``dim`` is the deprecated name of ``axis``;
    neither given is a ValueError. Returns float32."""
    if axis is not None and dim is not None:
        raise TFValueError("Cannot specify both 'axis' and 'dim'")
    axis = dim if axis is None else axis
    if axis is None:
        raise TFValueError("You must specify argument `axis`.")
    labels, predictions = _float32_pair(labels, predictions)
    products = predictions * labels
    check_axis(axis, products.ndim)
    losses = np.float32(1) - np.sum(products, axis=(axis,), keepdims=True)
    return v1_compute_weighted_loss(losses, weights, reduction)


def hinge_loss(labels, logits, weights=1.0, reduction=DEFAULT):
    """max(0, 1 - (2 * labels - 1) * logits) in float32 ({0, 1} labels become {-1, 1});
    returns float32."""
    return v1_weighted_loss_of(_hinge_terms, _float32_pair(labels, logits, "logits"), weights, reduction)


def _hinge_terms(labels, logits):
    """max(0, 1 - (2 * labels - 1) * logits), rounding after every step as TF does."""
    one = np.float32(1)
    signed = np.asarray(np.multiply(np.float32(2), labels))
    np.subtract(signed, one, out=signed)
    np.multiply(signed, logits, out=signed)
    np.subtract(one, signed, out=signed)
    zeros = np.zeros_like(signed)  # np.maximum vectorises against an array, not a scalar
    return np.maximum(signed, zeros, out=signed)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, reduction=DEFAULT):
    """0.5 * q^2 + delta * (|e| - q), q = min(|e|, delta), e = predictions - labels, in
    float32 with TF's op order (``delta`` rounded to float32); returns float32."""
    d = np.float32(delta)

    def terms(labels, predictions):
        abs_error = _abs_error(labels, predictions)
        quadratic = np.asarray(minimum(abs_error, d))
        linear = np.subtract(abs_error, quadratic, out=abs_error)
        np.multiply(d, linear, out=linear)
        np.multiply(quadratic, quadratic, out=quadratic)
        np.multiply(np.float32(0.5), quadratic, out=quadratic)
        return np.add(quadratic, linear, out=quadratic)

    return v1_weighted_loss_of(terms, _float32_pair(labels, predictions), weights, reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, reduction=DEFAULT):
    """-y * log(p + eps) - (1 - y) * log(1 - p + eps) in float32 (eps rounded to float32);
    p exactly 0 or 1 stays finite through eps. Returns float32."""
    eps = np.float32(epsilon)
    one = np.float32(1)

    def terms(labels, predictions):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -(labels * np.log(predictions + eps)) - (one - labels) * np.log(one - predictions + eps)

    return v1_weighted_loss_of(terms, _float32_pair(labels, predictions), weights, reduction)


def mean_pairwise_squared_error(labels, predictions, weights=1.0):
    """Per example b with n_b present entries and d = predictions - labels:
    2 * sum(d^2) / (n_b - 1) - 2 * (sum d)^2 / (n_b * (n_b - 1)) (div_no_nan), times the
    weight, then SUMMED over the batch (not averaged). Float32; returns float32.

    TF quirk mirrored (eager): for a scalar non-zero weight n_b is the element count of
    the whole batch, not of one example, so with batch > 1 the loss is smaller than in
    graph mode (labels [[1,2,3],[4,5,6]], predictions [[1.5,2,2],[4,4,7]]: 1.2833333
    eager, 3.1666665 in a tf.function). Weights must pass ``v1_assert_broadcastable``
    against labels, so per-example weights need shape [batch, 1, ...]."""
    weights = np.asarray(weights).astype(np.float32)
    labels, predictions = _float32_pair(labels, predictions)
    v1_assert_broadcastable(weights, labels)
    diffs = predictions - labels
    axes = tuple(range(1, diffs.ndim))
    sum_squares = np.sum(diffs * diffs, axis=axes, keepdims=True, dtype=np.float32)
    n = v1_num_present(diffs, weights, per_batch=True)
    two = np.float32(2)
    term1 = two * div_no_nan(sum_squares, np.maximum(n - np.float32(1), np.float32(0)))
    sum_diff = np.sum(diffs, axis=axes, keepdims=True, dtype=np.float32)
    term2 = two * div_no_nan(sum_diff * sum_diff, np.maximum(n * (n - np.float32(1)), np.float32(0)))
    loss = np.sum((term1 - term2) * weights, dtype=np.float32)
    return np.asarray(loss if np.sum(n) > 0 else np.float32(0), dtype=np.float32)


def _labels_like_logits(name: str, labels, logits) -> tuple[np.ndarray, np.ndarray]:
    """(labels in the logits dtype, logits): labels must be given and have the logits'
    shape (ValueError)."""
    if labels is None:
        raise TFValueError(f"Argument `{name}` must not be None.")
    logits = np.asarray(logits)
    labels = np.asarray(labels).astype(logits.dtype, copy=False)  # read only
    if labels.shape != logits.shape:
        raise TFValueError(f"Shapes {logits.shape} and {labels.shape} are incompatible")
    return labels, logits


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0, reduction=DEFAULT):
    """``tf.nn.sigmoid_cross_entropy_with_logits`` on labels smoothed towards 1/2
    (z * (1 - s) + 0.5 * s when s > 0), in the logits dtype, then reduced; returns the
    logits dtype."""
    labels, logits = _labels_like_logits("multi_class_labels", multi_class_labels, logits)
    dt = logits.dtype.type

    def terms(labels, logits):
        if label_smoothing > 0:
            labels = labels * dt(1 - label_smoothing) + dt(0.5 * label_smoothing)
        return nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)

    return v1_weighted_loss_of(terms, (labels, logits), weights, reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, reduction=DEFAULT):
    """``tf.nn.softmax_cross_entropy_with_logits`` on labels smoothed towards 1/C
    (y * (1 - s) + s / C when s > 0, in the logits dtype), then reduced; returns the
    logits dtype. Shapes of labels and logits must be equal (ValueError)."""
    labels, logits = _labels_like_logits("onehot_labels", onehot_labels, logits)
    if label_smoothing > 0:
        dt = logits.dtype.type
        num_classes = dt(labels.shape[-1])
        smooth_negatives = dt(label_smoothing) / num_classes
        labels = labels * dt(1.0 - label_smoothing) + smooth_negatives
    losses = nn.softmax_cross_entropy_with_logits(labels, logits)
    return v1_compute_weighted_loss(losses, weights, reduction)


def _squeeze_last(x: np.ndarray, what: str) -> np.ndarray:
    if x.shape[-1] != 1:
        raise InvalidArgumentError(f"Can not squeeze dim[{x.ndim - 1}] of {what}, expected a dimension of 1")
    return x[..., 0]


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, reduction=DEFAULT):
    """``tf.nn.sparse_softmax_cross_entropy_with_logits`` then the v1 reduction.

    TF quirk mirrored (``_remove_squeezable_dimensions``): labels of shape [batch, 1]
    are squeezed to [batch] (logits squeezed instead when they are the one with the
    extra trailing 1), and weights of rank labels + 1 lose their last axis, so
    weights [batch, 1] act per example. Returns the logits dtype."""
    if labels is None:
        raise TFValueError("Argument `labels` must not be None.")
    if logits is None:
        raise TFValueError("Argument `logits` must not be None.")
    labels = np.asarray(labels)
    logits = np.asarray(logits)
    rank_diff = logits.ndim - labels.ndim
    if rank_diff == 2 and logits.shape[-1] == 1:
        logits = logits[..., 0]
    elif rank_diff == 0 and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    weights = np.asarray(weights)
    if weights.ndim - labels.ndim == 1:
        weights = _squeeze_last(weights, "weights")
    losses = nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    return v1_compute_weighted_loss(losses, weights, reduction)


# --- loss collections (graph mode) -----------------------------------------------------
# In a tf.Graph, add_loss appends to a collection and the getters read it back; the
# references take the collections' contents as arguments. In eager mode TF's add_loss
# adds nothing (the collection stays empty), so these only mean something in a graph.


def _add_n(tensors, name="AddN"):
    """``tf.add_n``: one or more tensors of one dtype and shape, added in order in that dtype.

    No tensor is a ValueError, mixed dtypes a TypeError, mixed shapes a ValueError (all
    raised while the graph is built)."""
    tensors = [np.asarray(t) for t in tensors]
    if not tensors:
        raise TFValueError("Inputs must be an iterable of at least one Tensor/IndexedSlices "
                           "with the same dtype and shape.")
    dtypes = sorted({t.dtype.name for t in tensors})
    if len(dtypes) > 1:
        raise TFTypeError(f"Tensors in list passed to 'inputs' of '{name}' Op have types {dtypes} that don't all match.")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise TFValueError(f"Shapes must be equal: {sorted(shapes)}")
    total = tensors[0]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in tensors[1:]:
            total = (total.astype(np.float64) + t.astype(np.float64)).astype(total.dtype) \
                if total.dtype.itemsize == 2 else total + t
    return np.asarray(total)


def add_loss(loss, loss_collection="losses"):
    """The ``loss_collection`` after ``add_loss(loss)`` in a fresh graph: [loss], or [] when
    ``loss_collection`` is empty/None (TF then adds nothing)."""
    return [np.asarray(loss)] if loss_collection else []


def get_losses(losses=()):
    """The LOSSES collection as added: the tensors, in order."""
    return [np.asarray(x) for x in losses]


def get_regularization_losses(regularization_losses=()):
    """The REGULARIZATION_LOSSES collection as added."""
    return [np.asarray(x) for x in regularization_losses]


def get_regularization_loss(regularization_losses=()):
    """add_n of the regularization losses; with none, TF's constant 0.0, which is float32
    whatever dtype the losses would have had."""
    if not regularization_losses:
        return np.asarray(np.float32(0.0))
    return _add_n(regularization_losses, "total_regularization_loss")


def get_total_loss(losses=(), regularization_losses=(), add_regularization_losses=True):
    """add_n(losses + regularization losses): every tensor must share one dtype and shape,
    and an empty total (nothing added) is a ValueError."""
    tensors = list(losses) + (list(regularization_losses) if add_regularization_losses else [])
    return _add_n(tensors, "total_loss")
