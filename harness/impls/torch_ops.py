"""The built-in implementation ``torch``: TF's losses as a careful porter writes them in PyTorch.

Each entry is the faithful translation (``torch.nn.functional`` where it computes TF's
formula, with TF's argument order, class dimension, reduction, epsilon 1e-7 clipping,
label smoothing and blank index). Where the native PyTorch function a porter reaches for
first computes something else, that native expression is the implementation ``torch-native``
(:mod:`harness.impls.torch_native`) and the divergence is a case in ``cases/ports/`` (xfail
with the measured difference), so the port atlas shows both.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from harness.impls import port_common as pc
from harness.impls.port_common import EPSILON as EPS

NAME = "torch"
FRAMEWORK = "torch"


def _cast(x, dtype):
    return x.to(dtype) if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=dtype)


XP = pc.XP(float32=torch.float32, float64=torch.float64, cast=_cast, where=torch.where,
           size=lambda x: x.numel(), total=torch.sum, dtype=lambda x: x.dtype, ones_like=torch.ones_like)
V1_DEFAULT = pc.V1_DEFAULT
_v1 = functools.partial(pc.v1_loss, XP)  # a TF1 loss: per-element function, then compute_weighted_loss


def _pair(y_true, y_pred):
    """Keras's function forms: ``y_true`` cast to ``y_pred``'s dtype."""
    return y_true.to(y_pred.dtype), y_pred


def _mean_last(x):
    """``keras.ops.mean(x, axis=-1)``: float16/bfloat16 averaged in float32, cast back."""
    return x.float().mean(-1).to(x.dtype) if x.dtype in (torch.float16, torch.bfloat16) else x.mean(-1)


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _sum(x, axis=None, keepdim=False):
    return x.sum() if axis is None else x.sum(dim=_axis(axis), keepdim=keepdim)


# --- Keras function forms: regression -----------------------------------------------------


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(F.mse_loss(y_pred, y_true, reduction="none"))


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(F.l1_loss(y_pred, y_true, reduction="none"))


def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return 100.0 * _mean_last(torch.abs((y_true - y_pred) / torch.clamp(torch.abs(y_true), min=EPS)))


def mean_squared_logarithmic_error(y_true, y_pred):
    """Keras computes in float32 for float16/bfloat16 (its eps is a float32 tensor)."""
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    dt = torch.float64 if y_pred.dtype == torch.float64 else torch.float32
    y_true, y_pred = y_true.to(dt), y_pred.to(dt)
    return _mean_last((torch.log(torch.clamp(y_pred, min=EPS) + 1) - torch.log(torch.clamp(y_true, min=EPS) + 1)) ** 2)


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    return _mean_last(F.huber_loss(y_pred, y_true, reduction="none", delta=delta))


def log_cosh(y_true, y_pred):
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))
    x = y_pred - y_true
    return _mean_last(x + F.softplus(-2.0 * x) - math.log(2.0))


def kl_divergence(y_true, y_pred):
    """sum(t log(t / p)) with both clipped to [1e-7, 1]; F.kl_div takes log p first."""
    y_true, y_pred = _pair(y_true, y_pred)
    t, p = torch.clamp(y_true, EPS, 1), torch.clamp(y_pred, EPS, 1)
    return _sum(F.kl_div(torch.log(p), t, reduction="none"), -1)


def poisson(y_true, y_pred):
    """F.poisson_nll_loss from rates, with Keras's eps 1e-7 (PyTorch's default is 1e-8)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(F.poisson_nll_loss(y_pred, y_true, log_input=False, eps=EPS, reduction="none"))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(normalize(t) * normalize(p)): Keras returns -cos, and 0 for a zero vector
    (each vector scaled by min(1/|x|, 1e7))."""
    y_true, y_pred = pc.same_rank(*_pair(y_true, y_pred))

    def normalize(x):
        cap = torch.tensor(1.0 / EPS).to(x.dtype)  # inf in float16: a zero vector gives NaN there, as in Keras
        return x * torch.minimum(torch.rsqrt(_sum(x * x, axis, keepdim=True)), cap)

    return -_sum(normalize(y_true) * normalize(y_pred), axis)


# --- hinge ---------------------------------------------------------------------------------


def _pm1(y_true):
    """0/1 labels (all of them) become -1/1; other labels stay."""
    return 2.0 * y_true - 1.0 if bool(torch.all((y_true == 0) | (y_true == 1))) else y_true


def hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(F.relu(1.0 - _pm1(y_true) * y_pred))


def squared_hinge(y_true, y_pred):
    y_true, y_pred = _pair(y_true, y_pred)
    return _mean_last(F.relu(1.0 - _pm1(y_true) * y_pred) ** 2)


def categorical_hinge(y_true, y_pred):
    """max(0, max((1 - t) p) - sum(t p) + 1): PyTorch has no such loss (multi_margin_loss
    is another one, see torch_native)."""
    y_true, y_pred = _pair(y_true, y_pred)
    pos = _sum(y_true * y_pred, -1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return F.relu(neg - pos + 1.0)


# --- cross-entropies -----------------------------------------------------------------------


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """From probabilities: clip p to [1e-7, 1 - 1e-7] (F.binary_cross_entropy clamps the
    log at -100 instead, see torch_native); from logits F.binary_cross_entropy_with_logits."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        p = torch.clamp(y_pred, EPS, 1.0 - EPS)
        bce = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
    return _mean_last(bce) if axis in (-1, y_pred.ndim - 1) else bce.mean(dim=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Labels smoothed t (1 - ls) + ls / C with C the *last* dimension whatever ``axis`` (Keras;
    F.cross_entropy's label_smoothing uses the class dimension, see torch_native). From logits
    F.cross_entropy with the class axis moved to dim 1 (PyTorch's class dimension); from
    probabilities Keras renormalises p, clips to [1e-7, 1 - 1e-7] and takes -sum(t log p)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        if y_pred.ndim == 1:
            return F.cross_entropy(y_pred, y_true, reduction="none")
        return F.cross_entropy(y_pred.movedim(axis, 1), y_true.movedim(axis, 1), reduction="none")
    p = torch.clamp(y_pred / _sum(y_pred, axis, keepdim=True), EPS, 1.0 - EPS)
    return -_sum(y_true * torch.log(p), axis)


def _sparse_masked(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """(losses, mask): F.cross_entropy on integer labels (int64, class dim 1); from
    probabilities Keras feeds log(clip(p)) as logits (no renormalisation)."""
    labels = y_true.long()
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    logits = y_pred if from_logits else torch.log(torch.clamp(y_pred, EPS, 1.0 - EPS))
    mask = None if ignore_class is None else labels != ignore_class
    ignore = -100 if ignore_class is None else int(ignore_class)
    if logits.ndim == 1:
        return F.cross_entropy(logits, labels, reduction="none", ignore_index=ignore), mask
    return F.cross_entropy(logits.movedim(-1, 1), labels, reduction="none", ignore_index=ignore), mask


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    return _sparse_masked(y_true, y_pred, from_logits, ignore_class, axis)[0]


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(w (1 - p_t)^gamma bce); from logits bce is exact and p_t uses sigmoid(logits)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        y_pred = torch.sigmoid(y_pred)
    else:
        p = torch.clamp(y_pred, EPS, 1.0 - EPS)
        bce = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log(1.0 - p))
    p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
    focal = (1.0 - p_t) ** gamma * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return _mean_last(focal) if axis in (-1, y_pred.ndim - 1) else focal.mean(dim=axis)


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = torch.softmax(y_pred, dim=axis)
    p = torch.clamp(y_pred / _sum(y_pred, axis, keepdim=True), EPS, 1.0 - EPS)
    return _sum(alpha * (1.0 - p) ** gamma * (-y_true * torch.log(p)), axis)


def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """(1 - p_y^q) / q; a label outside [0, C) selects nothing (p_y = 0), as Keras's one-hot."""
    one_hot = (y_true.long()[..., None] == torch.arange(y_pred.shape[-1])).to(y_pred.dtype)
    p = _sum(y_pred * one_hot, -1)
    return (1.0 - p ** q) / q


def ctc(y_true, y_pred):
    """F.ctc_loss on log_softmax(y_pred) as [T, B, C], blank index 0 (Keras pads labels
    with 0 and uses it as the blank), label lengths = non-zero labels, all T frames."""
    labels = y_true.long()
    log_probs = F.log_softmax(y_pred, dim=-1).transpose(0, 1)
    frames = torch.full((y_pred.shape[0],), y_pred.shape[1], dtype=torch.long)
    return F.ctc_loss(log_probs, labels, frames, (labels != 0).sum(-1), blank=0, reduction="none")


def dice(y_true, y_pred, axis=None):
    y_true, y_pred = _pair(y_true, y_pred)
    inter = _sum(y_true * y_pred, axis)
    return 1.0 - 2.0 * inter / (_sum(y_true, axis) + _sum(y_pred, axis) + EPS)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    y_true, y_pred = _pair(y_true, y_pred)
    tp = _sum(y_true * y_pred, axis)
    fp = _sum((1.0 - y_pred) * y_true, axis)
    fn = _sum(y_pred * (1.0 - y_true), axis)
    return 1.0 - tp / (tp + alpha * fp + beta * fn + EPS)


KERAS_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mean_absolute_error": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error, "huber": huber, "log_cosh": log_cosh,
    "kl_divergence": kl_divergence, "poisson": poisson, "cosine_similarity": cosine_similarity, "hinge": hinge,
    "squared_hinge": squared_hinge, "categorical_hinge": categorical_hinge,
    "binary_crossentropy": binary_crossentropy, "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy, "sparse_masked": _sparse_masked,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "categorical_generalized_cross_entropy": categorical_generalized_cross_entropy, "ctc": ctc,
    "dice": dice, "tversky": tversky,
}


# --- tf.nn -----------------------------------------------------------------------------------


def softmax_cross_entropy_with_logits(labels, logits, axis=-1, dim=None):
    """F.cross_entropy with probability targets; classes moved to dim 1; labels broadcast
    against the logits as TF broadcasts them."""
    axis = dim if dim is not None and dim != -1 else axis
    axis = -1 if axis is None else axis
    labels, logits = torch.broadcast_tensors(labels.to(logits.dtype), logits)
    if logits.ndim == 1:
        return F.cross_entropy(logits, labels.to(logits.dtype), reduction="none")
    return F.cross_entropy(logits.movedim(axis, 1), labels.to(logits.dtype).movedim(axis, 1), reduction="none")


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    if logits.ndim == 1:
        return F.cross_entropy(logits, labels.long(), reduction="none")
    return F.cross_entropy(logits.movedim(-1, 1), labels.long(), reduction="none")


def weighted_cross_entropy_with_logits(labels, logits, pos_weight):
    """TF: (1 - z) x + (1 + (q - 1) z) (log1p(exp(-|x|)) + max(-x, 0)). The same value as
    F.binary_cross_entropy_with_logits(pos_weight=q), which however has no gradient with
    respect to pos_weight (see torch_native), so the formula is written out."""
    log_weight = 1.0 + (pos_weight - 1.0) * labels
    return (1.0 - labels) * logits + log_weight * (torch.log1p(torch.exp(-torch.abs(logits))) + F.relu(-logits))


def log_poisson_loss(targets, log_input, compute_full_loss=False):
    """exp(c) - z c, plus Stirling's z log z - z + 0.5 log(2 pi z) for z > 1 (full)."""
    return F.poisson_nll_loss(log_input, targets, log_input=True, full=compute_full_loss, reduction="none")


def clip_by_global_norm(t_list, clip_norm, use_norm=None):
    """([t * clip_norm / max(norm, clip_norm)], norm), norm = sqrt(sum of squares of all);
    every tensor NaN when the norm is not finite (TF)."""
    norm = torch.sqrt(sum(torch.sum(t * t) for t in t_list)) if use_norm is None else use_norm
    clip = torch.as_tensor(clip_norm, dtype=norm.dtype)
    scale = clip * torch.minimum(1.0 / norm, 1.0 / clip)
    scale = torch.where(torch.isfinite(norm), scale, torch.full_like(scale, float("nan")))  # TF: NaN for an inf norm
    return [t * scale.to(t.dtype) for t in t_list], norm



def ctc_loss(labels, logits, label_length, logit_length, logits_time_major=True, blank_index=None,
             sparse_labels=False):
    """F.ctc_loss on log_softmax(logits) as [T, B, C] (PyTorch's layout), blank = blank_index
    (TF's default 0; -1: the last class), per-example lengths, no reduction."""
    log_probs = F.log_softmax(logits if logits_time_major else logits.transpose(0, 1), dim=-1)
    blank = 0 if blank_index is None else blank_index % logits.shape[-1]
    return F.ctc_loss(log_probs, labels.long(), logit_length.long(), label_length.long(), blank=blank,
                      reduction="none")


NN = {
    "tf.nn.softmax": lambda logits, axis=None: torch.softmax(logits, dim=-1 if axis is None else axis),
    "tf.nn.log_softmax": lambda logits, axis=None: F.log_softmax(logits, dim=-1 if axis is None else axis),
    "tf.nn.l2_loss": lambda t: torch.sum(t * t) / 2,
    "tf.nn.sigmoid_cross_entropy_with_logits":
        lambda labels=None, logits=None: F.binary_cross_entropy_with_logits(logits, labels, reduction="none"),
    "tf.nn.softmax_cross_entropy_with_logits": softmax_cross_entropy_with_logits,
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2": softmax_cross_entropy_with_logits,
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits":
        lambda labels, logits, dim=-1, axis=None: softmax_cross_entropy_with_logits(labels.detach(), logits, axis, dim),
    "tf.nn.sparse_softmax_cross_entropy_with_logits": sparse_softmax_cross_entropy_with_logits,
    "tf.nn.weighted_cross_entropy_with_logits": weighted_cross_entropy_with_logits,
    "tf.nn.log_poisson_loss": log_poisson_loss,
    "tf.nn.scale_regularization_loss": lambda regularization_loss: torch.sum(regularization_loss),
    "tf.clip_by_global_norm": clip_by_global_norm,
    "tf.nn.ctc_loss": ctc_loss,
}


# --- tf.compat.v1.losses -----------------------------------------------------------------------



def _v1_huber(labels, predictions, delta=1.0):
    return F.huber_loss(predictions, labels, reduction="none", delta=delta)


def _v1_log_loss(labels, predictions, epsilon=1e-7):
    return -labels * torch.log(predictions + epsilon) - (1.0 - labels) * torch.log(1.0 - predictions + epsilon)


def _v1_sigmoid(labels, logits, label_smoothing=0):
    labels = labels.to(logits.dtype)
    if label_smoothing > 0:
        labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none")


def _v1_softmax(labels, logits, label_smoothing=0):
    return F.cross_entropy(logits, labels.to(logits.dtype).detach(), reduction="none", label_smoothing=label_smoothing)


def _v1_sparse(labels, logits, weights=1.0, reduction=V1_DEFAULT):
    """Labels [B, 1] squeezed to [B], weights of one more rank lose their last axis."""
    labels, weights = pc.v1_sparse_shapes(XP, labels, logits, weights)
    return pc.v1_reduce(XP, sparse_softmax_cross_entropy_with_logits(labels, logits), weights, reduction)


V1 = {
    "tf.compat.v1.losses.absolute_difference": _v1(lambda t, p: torch.abs(p - t)),
    "tf.compat.v1.losses.mean_squared_error": _v1(lambda t, p: (p - t) ** 2),
    "tf.compat.v1.losses.huber_loss": _v1(_v1_huber),
    "tf.compat.v1.losses.log_loss": _v1(_v1_log_loss),
    "tf.compat.v1.losses.hinge_loss": _v1(lambda t, x: F.relu(1.0 - (2.0 * t - 1.0) * x), second="logits"),
    "tf.compat.v1.losses.cosine_distance": lambda labels, predictions, axis=None, weights=1.0, reduction=V1_DEFAULT,
    dim=None: pc.v1_reduce(XP, 1.0 - torch.sum(predictions.float() * labels.float(), dim=dim if axis is None else axis,
                                                keepdim=True), weights, reduction),
    "tf.compat.v1.losses.sigmoid_cross_entropy": _v1(_v1_sigmoid, "multi_class_labels", "logits", float32=False),
    "tf.compat.v1.losses.softmax_cross_entropy": _v1(_v1_softmax, "onehot_labels", "logits", float32=False),
    "tf.compat.v1.losses.sparse_softmax_cross_entropy": _v1_sparse,
}


OPS = {**NN, **V1, **pc.framework_free_ops(XP), **pc.keras_ops(XP, KERAS_FUNCTIONS)}
