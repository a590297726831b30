"""The built-in implementation ``jax``: TF's losses as a careful porter writes them with JAX and optax.

Each entry is the faithful translation (``optax`` losses and ``jax.nn`` where they compute
TF's formula, with TF's argument order, reduction, epsilon 1e-7 clipping, label smoothing
and blank index). Where the optax function a porter reaches for first computes something
else, it is the implementation ``jax-native`` (:mod:`harness.impls.jax_native`) and the
divergence is a case in ``cases/ports/`` (xfail with the measured difference). float64 needs ``jax_enable_x64``,
switched on here.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import optax

from harness.impls import port_common as pc
from harness.impls.port_common import EPSILON as EPS

jax.config.update("jax_enable_x64", True)

NAME = "jax"
FRAMEWORK = "jax"

XP = pc.XP(float32=jnp.float32, float64=jnp.float64, cast=lambda x, dtype: jnp.asarray(x).astype(dtype),
           where=jnp.where, size=lambda x: jnp.size(x), total=jnp.sum, dtype=lambda x: jnp.asarray(x).dtype,
           ones_like=jnp.ones_like)
_LOW = (jnp.float16, jnp.bfloat16)
V1_DEFAULT = pc.V1_DEFAULT
_v1 = functools.partial(pc.v1_loss, XP)  # a TF1 loss: per-element function, then compute_weighted_loss


def _pair(y_true, y_pred):
    """Keras's function forms: ``y_true`` cast to ``y_pred``'s dtype."""
    return y_true.astype(y_pred.dtype), y_pred


def _mean_last(x, axis=-1):
    """``keras.ops.mean``: float16/bfloat16 averaged in float32, cast back."""
    return jnp.mean(x, axis=axis, dtype=jnp.float32).astype(x.dtype) if x.dtype in _LOW else jnp.mean(x, axis=axis)


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _c(value, like):
    return jnp.asarray(value, dtype=like.dtype)


# --- Keras function forms -------------------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(optax.squared_error(y_pred, y_true))


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(jnp.abs(y_pred - y_true))


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _c(100.0, y_pred) * _mean_last(jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), _c(EPS, y_true))))


def mean_squared_logarithmic_error(y_true, y_pred):
    """Keras computes in float32 for float16/bfloat16 (its eps is a float32 tensor)."""
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    dt = jnp.float64 if y_pred.dtype == jnp.float64 else jnp.float32
    y_true, y_pred = y_true.astype(dt), y_pred.astype(dt)
    return _mean_last((jnp.log(jnp.maximum(y_pred, EPS) + 1) - jnp.log(jnp.maximum(y_true, EPS) + 1)) ** 2)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(optax.huber_loss(y_pred, y_true, delta=delta).astype(y_pred.dtype))


def log_cosh(y_true, y_pred):
    """optax.log_cosh: logaddexp(e, -e) - log 2."""
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(optax.log_cosh(y_pred, y_true))


def kl_divergence(y_true, y_pred):
    """sum(t log(t / p)) with both clipped to [1e-7, 1] (optax.kl_divergence takes log p first
    and clips nothing, see jax_native)."""
    y_true, y_pred = _pair(y_true, y_pred)
    t, p = jnp.clip(y_true, _c(EPS, y_true), _c(1, y_true)), jnp.clip(y_pred, _c(EPS, y_pred), _c(1, y_pred))
    return jnp.sum(t * jnp.log(t / p), axis=-1)


def poisson(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(y_pred - y_true * jnp.log(y_pred + _c(EPS, y_pred)))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(normalize(t) * normalize(p)), each scaled by min(1/|x|, 1e7) (inf in float16):
    Keras returns -cos and 0 for a zero vector (optax.cosine_similarity returns +cos)."""
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))

    def normalize(x):
        return x * jnp.minimum(jax.lax.rsqrt(jnp.sum(x * x, axis=_axis(axis), keepdims=True)), _c(1.0 / EPS, x))

    return -jnp.sum(normalize(y_true) * normalize(y_pred), axis=_axis(axis))


def _pm1(y_true):
    """0/1 labels (all of them) become -1/1 (optax.hinge_loss wants -1/1)."""
    return jnp.where(jnp.all((y_true == 0) | (y_true == 1)), 2 * y_true - 1, y_true)


def hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(optax.hinge_loss(y_pred, _pm1(y_true)))


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(optax.hinge_loss(y_pred, _pm1(y_true)) ** 2)


def categorical_hinge(y_true, y_pred):
    """max(0, max((1 - t) p) - sum(t p) + 1): optax has no such loss (its
    multiclass_hinge_loss is another one, see jax_native)."""
    y_true, y_pred = _pair(y_true, y_pred)
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1 - y_true) * y_pred, axis=-1)
    return jax.nn.relu(neg - pos + 1)


def _clipped(p):
    return jnp.clip(p, _c(EPS, p), _c(1.0 - EPS, p))


def _bce(y_true, y_pred, from_logits):
    """Per element: optax's sigmoid cross-entropy from logits; from probabilities p clipped to
    [1e-7, 1 - 1e-7] (Keras)."""
    if from_logits:
        return optax.sigmoid_binary_cross_entropy(y_pred, y_true)
    p = _clipped(y_pred)
    return -(y_true * jnp.log(p) + (1 - y_true) * jnp.log(1 - p))


def _smooth_binary(y_true, ls):
    return y_true * (1.0 - ls) + 0.5 * ls if ls else y_true


def _smooth_categorical(y_true, ls):
    """t (1 - ls) + ls / C with C the *last* dimension whatever the class axis (Keras)."""
    return y_true * (1.0 - ls) + ls / y_true.shape[-1] if ls else y_true


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(_bce(_smooth_binary(y_true, label_smoothing), y_pred, from_logits), _axis(axis))


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """From logits optax.softmax_cross_entropy over ``axis``; from probabilities Keras
    renormalises p, clips to [1e-7, 1 - 1e-7] and takes -sum(t log p)."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        return optax.softmax_cross_entropy(y_pred, y_true, axis=axis)
    p = _clipped(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True))
    return -jnp.sum(y_true * jnp.log(p), axis=axis)


def sparse_masked(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """(losses, mask): optax's integer-label cross-entropy; from probabilities Keras feeds
    log(clip(p)) as logits; ``ignore_class`` entries get 0."""
    labels = y_true.astype(jnp.int32)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    logits = y_pred if from_logits else jnp.log(_clipped(y_pred))
    if ignore_class is None:
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels), None
    mask = labels != ignore_class
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.where(mask, labels, 0))
    return jnp.where(mask, losses, _c(0, losses)), mask


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    return sparse_masked(y_true, y_pred, from_logits, ignore_class, axis)[0]


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """From logits optax.sigmoid_focal_loss (its alpha is Keras's class balancing); from
    probabilities mean(w (1 - p_t)^gamma bce) with the clipped bce."""
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _smooth_binary(y_true, label_smoothing)
    if from_logits:
        focal = optax.sigmoid_focal_loss(y_pred, y_true, alpha=alpha if apply_class_balancing else None, gamma=gamma)
    else:
        p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
        focal = (1 - p_t) ** gamma * _bce(y_true, y_pred, False)
        if apply_class_balancing:
            focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return _mean_last(focal.astype(y_pred.dtype), _axis(axis))


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        y_pred = jax.nn.softmax(y_pred, axis=axis)
    p = _clipped(y_pred / jnp.sum(y_pred, axis=axis, keepdims=True))
    return jnp.sum(alpha * (1 - p) ** gamma * (-y_true * jnp.log(p)), axis=axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """(1 - p_y^q) / q; a label outside [0, C) one-hots to zeros (p_y = 0), as in Keras."""
    p = jnp.sum(y_pred * jax.nn.one_hot(y_true.astype(jnp.int32), y_pred.shape[-1], dtype=y_pred.dtype), axis=-1)
    return (1 - p ** q) / q


def ctc(y_true, y_pred):
    """optax.ctc_loss with blank_id 0 (Keras pads labels with 0, the blank); label paddings
    where the label is 0, no frame padding."""
    labels = y_true.astype(jnp.int32)
    frame_paddings = jnp.zeros(y_pred.shape[:2], dtype=y_pred.dtype)
    losses = optax.ctc_loss(y_pred, frame_paddings, labels, (labels == 0).astype(y_pred.dtype), blank_id=0)
    return losses.astype(y_pred.dtype)  # optax computes in float64 once x64 is on


def dice(y_true, y_pred, axis=None):
    y_true, y_pred = _pair(y_true, y_pred)
    axis = _axis(axis)
    inter = jnp.sum(y_true * y_pred, axis=axis)
    return 1 - 2 * inter / (jnp.sum(y_true, axis=axis) + jnp.sum(y_pred, axis=axis) + _c(EPS, y_pred))


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    y_true, y_pred = _pair(y_true, y_pred)
    axis = _axis(axis)
    tp = jnp.sum(y_true * y_pred, axis=axis)
    fp = jnp.sum((1 - y_pred) * y_true, axis=axis)
    fn = jnp.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - tp / (tp + alpha * fp + beta * fn + _c(EPS, y_pred))


KERAS_FUNCTIONS = {name: fn for name, fn in globals().items() if name in (
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
    "huber", "log_cosh", "kl_divergence", "poisson", "cosine_similarity", "hinge", "squared_hinge",
    "categorical_hinge", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "sparse_masked", "binary_focal_crossentropy", "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy", "ctc", "dice", "tversky")}


# --- tf.nn -------------------------------------------------------------------------------------


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, dim=None):
    """optax.softmax_cross_entropy over ``axis``, labels broadcast against the logits."""
    axis = dim if dim is not None and dim != -1 else (-1 if axis is None else axis)
    return optax.softmax_cross_entropy(logits, jnp.broadcast_to(labels.astype(logits.dtype), logits.shape), axis=axis)


def weighted_cross_entropy_with_logits(labels, logits, pos_weight):
    """(1 - z) x + (1 + (q - 1) z) (log1p(exp(-|x|)) + max(-x, 0)), TF's formula."""
    log_weight = 1 + (pos_weight - 1) * labels
    return (1 - labels) * logits + log_weight * (jnp.log1p(jnp.exp(-jnp.abs(logits))) + jax.nn.relu(-logits))


def log_poisson_loss(targets, log_input, compute_full_loss=False):
    """exp(c) - z c, plus Stirling's z log z - z + 0.5 log(2 pi z) where z > 1 (full)."""
    loss = jnp.exp(log_input) - log_input * targets
    if not compute_full_loss:
        return loss
    stirling = targets * jnp.log(targets) - targets + 0.5 * jnp.log(_c(2 * math.pi, targets) * targets)
    return loss + jnp.where((targets >= 0) & (targets <= 1), _c(0, targets), stirling)


def clip_by_global_norm(t_list, clip_norm, use_norm=None):
    """([t * clip_norm / max(norm, clip_norm)], norm) with optax.global_norm; NaN for an
    infinite norm (TF)."""
    norm = optax.global_norm(t_list) if use_norm is None else use_norm
    clip = jnp.asarray(clip_norm, dtype=norm.dtype)
    scale = jnp.where(jnp.isfinite(norm), clip * jnp.minimum(1 / norm, 1 / clip), jnp.nan)
    return [t * scale.astype(t.dtype) for t in t_list], norm



def ctc_loss(labels, logits, label_length, logit_length, logits_time_major=True, blank_index=None,
             sparse_labels=False):
    """optax.ctc_loss on [B, T, C] logits (optax's layout) with paddings past each example's
    logit_length and label_length, blank_id = blank_index (TF's default 0; -1: the last class)."""
    logits = jnp.swapaxes(logits, 0, 1) if logits_time_major else logits
    frames, width = logits.shape[1], labels.shape[1]
    frame_pad = (jnp.arange(frames)[None, :] >= logit_length[:, None]).astype(logits.dtype)
    label_pad = (jnp.arange(width)[None, :] >= label_length[:, None]).astype(logits.dtype)
    blank = 0 if blank_index is None else blank_index % logits.shape[-1]
    return optax.ctc_loss(logits, frame_pad, labels.astype(jnp.int32), label_pad, blank_id=blank).astype(logits.dtype)


NN = {
    "tf.nn.softmax": lambda logits, axis=None: jax.nn.softmax(logits, axis=-1 if axis is None else axis),
    "tf.nn.log_softmax": lambda logits, axis=None: jax.nn.log_softmax(logits, axis=-1 if axis is None else axis),
    "tf.nn.l2_loss": lambda t: jnp.sum(t * t) / 2,
    "tf.nn.sigmoid_cross_entropy_with_logits":
        lambda labels=None, logits=None: optax.sigmoid_binary_cross_entropy(logits, labels.astype(logits.dtype)),
    "tf.nn.softmax_cross_entropy_with_logits": softmax_cross_entropy_with_logits,
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2": softmax_cross_entropy_with_logits,
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits": lambda labels, logits, dim=-1, axis=None:
        softmax_cross_entropy_with_logits(jax.lax.stop_gradient(labels), logits, axis, dim),
    "tf.nn.sparse_softmax_cross_entropy_with_logits":
        lambda labels, logits: optax.softmax_cross_entropy_with_integer_labels(logits, labels),
    "tf.nn.weighted_cross_entropy_with_logits": weighted_cross_entropy_with_logits,
    "tf.nn.log_poisson_loss": log_poisson_loss,
    "tf.nn.scale_regularization_loss": lambda regularization_loss: jnp.sum(regularization_loss),
    "tf.clip_by_global_norm": clip_by_global_norm,
    "tf.nn.ctc_loss": ctc_loss,
}


# --- tf.compat.v1.losses -----------------------------------------------------------------------



def _v1_log_loss(labels, predictions, epsilon=1e-7):
    return -labels * jnp.log(predictions + epsilon) - (1 - labels) * jnp.log(1 - predictions + epsilon)


def _v1_sigmoid(labels, logits, label_smoothing=0):
    return optax.sigmoid_binary_cross_entropy(logits, _smooth_binary(labels.astype(logits.dtype), label_smoothing))


def _v1_softmax(labels, logits, label_smoothing=0):
    labels = jax.lax.stop_gradient(_smooth_categorical(labels.astype(logits.dtype), label_smoothing))
    return optax.softmax_cross_entropy(logits, labels)


def _v1_sparse(labels, logits, weights=1.0, reduction=V1_DEFAULT):
    """Labels [B, 1] squeezed to [B], weights of one more rank lose their last axis."""
    labels, weights = pc.v1_sparse_shapes(XP, labels, logits, weights)
    return pc.v1_reduce(XP, optax.softmax_cross_entropy_with_integer_labels(logits, labels), weights, reduction)


def _v1_cosine(labels, predictions, axis=None, weights=1.0, reduction=V1_DEFAULT, dim=None):
    axis = dim if axis is None else axis
    losses = 1 - jnp.sum(predictions.astype(jnp.float32) * labels.astype(jnp.float32), axis=axis, keepdims=True)
    return pc.v1_reduce(XP, losses, weights, reduction)


V1 = {
    "tf.compat.v1.losses.absolute_difference": _v1(lambda t, p: jnp.abs(p - t)),
    "tf.compat.v1.losses.mean_squared_error": _v1(lambda t, p: optax.squared_error(p, t)),
    "tf.compat.v1.losses.huber_loss": _v1(lambda t, p, delta=1.0: optax.huber_loss(p, t, delta=delta)),
    "tf.compat.v1.losses.log_loss": _v1(_v1_log_loss),
    "tf.compat.v1.losses.hinge_loss": _v1(lambda t, x: optax.hinge_loss(x, 2 * t - 1), second="logits"),
    "tf.compat.v1.losses.cosine_distance": _v1_cosine,
    "tf.compat.v1.losses.sigmoid_cross_entropy": _v1(_v1_sigmoid, "multi_class_labels", "logits", float32=False),
    "tf.compat.v1.losses.softmax_cross_entropy": _v1(_v1_softmax, "onehot_labels", "logits", float32=False),
    "tf.compat.v1.losses.sparse_softmax_cross_entropy": _v1_sparse,
}

OPS = {**NN, **V1, **pc.framework_free_ops(XP), **pc.keras_ops(XP, KERAS_FUNCTIONS)}
