"""Analytic reference gradients, attached to their ops.

``GRADS`` maps an op's TF name to ``fn(init, args, cotangent, wrt) -> {arg: gradient}``,
the vector-Jacobian product of ``sum(output * cotangent)`` (the registry attaches each as
the op's ``grad``; every other differentiable op is checked by finite differences). The
formulas live in :mod:`harness.reference.grads`; this module maps each op's arguments onto
them and applies the op's own preprocessing (label smoothing, the squeezes of the v1 and
Keras losses, Keras' float32 cast and ``ignore_class`` mask).

Besides the cross-entropy family, ops that finite differences cannot check get one:
``tf.compat.v1.losses.compute_weighted_loss``, a weighted ``tf.nn.compute_average_loss``
and ``tf.keras.losses.ctc`` compute in float32 but return float64 for float64 inputs (finite
differences would take a float64-sized step through float32 rounding), and
``tf.clip_by_global_norm`` takes a list. ``tf.keras.losses.CTC`` shares ``ctc``'s.

TF quirk shown here: ``tf.compat.v1.nn.softmax_cross_entropy_with_logits`` wraps its labels
in ``stop_gradient``, so their gradient is zero, while ``..._v2`` and TF 2's
``tf.nn.softmax_cross_entropy_with_logits`` return -g * log_softmax(logits) for them.
"""
from __future__ import annotations

import numpy as np

from harness.reference import grads as G
from harness.reference import keras_functions as KF
from harness.reference import nn
from harness.reference.reductions import V1_SUM_BY_NONZERO_WEIGHTS, keras_squeeze_or_expand_to_same_rank

KERAS_DTYPE = np.float32


def _pick(wrt, **grads):
    return {name: grads[name] for name in wrt}


def _cot(cotangent, dtype):
    return G.tf_cotangent(cotangent[0], dtype)


# --- tf.nn ----------------------------------------------------------------------------------


def softmax(init, args, cotangent, wrt):
    x = args["logits"]
    return _pick(wrt, logits=G.softmax_vjp(x, _cot(cotangent, x.dtype), args.get("axis")))


def log_softmax(init, args, cotangent, wrt):
    x = args["logits"]
    return _pick(wrt, logits=G.log_softmax_vjp(x, _cot(cotangent, x.dtype), args.get("axis")))


def softmax_xent(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits = G.softmax_xent_vjp(args["labels"], x, _cot(cotangent, x.dtype), args.get("axis", -1))
    return _pick(wrt, labels=dlabels, logits=dlogits)


def _v1_axis(args):
    return args.get("dim", -1) if args.get("axis") is None else args["axis"]


def softmax_xent_v1(init, args, cotangent, wrt):
    """Labels behind ``stop_gradient``: their gradient is zero."""
    x = args["logits"]
    dlabels, dlogits = G.softmax_xent_vjp(args["labels"], x, _cot(cotangent, x.dtype), _v1_axis(args))
    return _pick(wrt, labels=np.zeros_like(dlabels), logits=dlogits)


def softmax_xent_v2(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits = G.softmax_xent_vjp(args["labels"], x, _cot(cotangent, x.dtype), _v1_axis(args))
    return _pick(wrt, labels=dlabels, logits=dlogits)


def sparse_xent(init, args, cotangent, wrt):
    x = args["logits"]
    return _pick(wrt, logits=G.sparse_xent_vjp(args["labels"], x, _cot(cotangent, x.dtype)))


def sigmoid_xent(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits = G.sigmoid_xent_vjp(args["labels"], x, _cot(cotangent, x.dtype))
    return _pick(wrt, labels=dlabels.astype(np.asarray(args["labels"]).dtype), logits=dlogits)


def weighted_xent(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits, dq = G.weighted_xent_vjp(args["labels"], x, args["pos_weight"], _cot(cotangent, x.dtype))
    return _pick(wrt, labels=dlabels, logits=dlogits, pos_weight=dq)


# --- tf.compat.v1.losses ----------------------------------------------------------------------


def v1_softmax_cross_entropy(init, args, cotangent, wrt):
    """Smoothed labels (y (1 - s) + s / C, in the logits dtype) behind ``stop_gradient``."""
    x = np.asarray(args["logits"])
    dt = x.dtype.type
    labels = np.asarray(args["onehot_labels"]).astype(x.dtype)
    smoothing = args.get("label_smoothing", 0)
    if smoothing > 0:
        labels = labels * dt(1.0 - smoothing) + dt(smoothing) / dt(labels.shape[-1])
    weights = args.get("weights", 1.0)
    losses = nn.softmax_cross_entropy_with_logits(labels, x)
    dlosses, dweights = G.v1_weighted_loss_vjp(losses, weights, args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               _cot(cotangent, x.dtype))
    return _pick(wrt, logits=G.softmax_xent_vjp(labels, x, dlosses)[1], weights=dweights)


def v1_sparse_softmax_cross_entropy(init, args, cotangent, wrt):
    """With the squeezes of ``_remove_squeezable_dimensions`` undone on the gradients."""
    labels, x = np.asarray(args["labels"]), np.asarray(args["logits"])
    weights = np.asarray(args.get("weights", 1.0))
    logits = x[..., 0] if x.ndim - labels.ndim == 2 and x.shape[-1] == 1 else x
    if logits.ndim == labels.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    w = weights[..., 0] if weights.ndim - labels.ndim == 1 else weights
    losses = nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    dlosses, dweights = G.v1_weighted_loss_vjp(losses, w, args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               _cot(cotangent, x.dtype))
    dlogits = G.sparse_xent_vjp(labels, logits, dlosses)
    return _pick(wrt, logits=dlogits.reshape(x.shape), weights=dweights.reshape(weights.shape))


def v1_sigmoid_cross_entropy(init, args, cotangent, wrt):
    """Labels smoothed to z (1 - s) + s / 2; their gradient is multiplied by (1 - s)."""
    x = np.asarray(args["logits"])
    dt = x.dtype.type
    raw = np.asarray(args["multi_class_labels"])
    labels = raw.astype(x.dtype)
    smoothing = args.get("label_smoothing", 0)
    if smoothing > 0:
        labels = labels * dt(1 - smoothing) + dt(0.5 * smoothing)
    weights = args.get("weights", 1.0)
    losses = nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=x)
    dlosses, dweights = G.v1_weighted_loss_vjp(losses, weights, args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               _cot(cotangent, x.dtype))
    dlabels, dlogits = G.sigmoid_xent_vjp(labels, x, dlosses)
    if smoothing > 0:
        dlabels = G.ew(np.multiply, x.dtype, dlabels, 1 - smoothing)
    return _pick(wrt, logits=dlogits, multi_class_labels=dlabels.astype(raw.dtype), weights=dweights)


# --- Keras 3 -----------------------------------------------------------------------------------


def _categorical(y_true, y_pred, g, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = np.asarray(y_true).astype(y_pred.dtype), np.asarray(y_pred)
    y_true = KF._smooth_categorical(y_true, label_smoothing)
    return G.keras_categorical_vjp(y_true, y_pred, g, from_logits=from_logits, axis=axis)


def _binary(y_true, y_pred, g, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = np.asarray(y_true).astype(y_pred.dtype), np.asarray(y_pred)
    y_true = KF._smooth_binary(y_true, label_smoothing)
    return G.keras_binary_vjp(y_true, y_pred, g, from_logits=from_logits, axis=axis)


def _sparse_valid(y_true, y_pred, ignore_class, axis):
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = np.squeeze(y_true, axis=axis)
    if ignore_class is None:
        return y_true, y_pred, None
    valid = y_true != np.asarray(ignore_class, dtype=y_pred.dtype)
    y_pred = np.where(np.expand_dims(valid, axis), y_pred, np.zeros_like(y_pred))
    return np.where(valid, y_true, np.zeros_like(y_true)), y_pred, valid


def _sparse(y_true, y_pred, g, from_logits=False, ignore_class=None, axis=-1):
    """``ignore_class``: the ignored rows' predictions and losses are ``where``-ed to 0, so
    neither passes a gradient."""
    y_pred = np.asarray(y_pred)
    y_true, masked_pred, valid = _sparse_valid(y_true, y_pred, ignore_class, axis)
    g = np.asarray(g).astype(y_pred.dtype)
    if valid is not None:
        g = np.where(valid.reshape(g.shape), g, np.zeros_like(g))
    d = G.keras_sparse_categorical_vjp(y_true, masked_pred, g, from_logits=from_logits)
    if valid is not None:
        d = np.where(np.expand_dims(valid, axis), d, np.zeros_like(d))
    return d


def _ctc(y_true, y_pred, g):
    return G.ctc_vjp(y_true, y_pred, g)


def keras_ctc(init, args, cotangent, wrt):
    """``tf.keras.losses.ctc``: computed in float32, returned in float64 for float64 logits."""
    y_pred = np.asarray(args["y_pred"])
    out_dtype = np.float64 if y_pred.dtype == np.float64 else np.float32
    d = G.ctc_vjp(args["y_true"], y_pred, _cot(cotangent, out_dtype))
    return _pick(wrt, y_pred=d.astype(y_pred.dtype))


def keras_function(vjp):
    """A Keras function form: per-example losses in y_pred's dtype."""
    def grad(init, args, cotangent, wrt):
        y_pred = np.asarray(args["y_pred"])
        kwargs = {k: v for k, v in args.items() if k not in ("y_true", "y_pred")}
        return _pick(wrt, y_pred=vjp(args["y_true"], y_pred, _cot(cotangent, y_pred.dtype), **kwargs))
    grad.__doc__ = f"``{vjp.__name__}`` in y_pred's dtype."
    return grad


def keras_class(vjp, function):
    """A Keras loss class: y_true/y_pred cast to float32 and brought to the same rank, the
    per-example losses (and mask) of ``function``, the Keras reduction's gradient, then
    ``vjp`` in float32, cast back to y_pred's dtype."""
    def grad(init, args, cotangent, wrt):
        original = np.asarray(args["y_pred"])
        y_true = np.asarray(args["y_true"]).astype(KERAS_DTYPE)
        y_pred = original.astype(KERAS_DTYPE)
        y_true, y_pred = keras_squeeze_or_expand_to_same_rank(y_true, y_pred)
        kwargs = {k: v for k, v in init.items() if k != "reduction"}
        losses = function(y_true, y_pred, **kwargs)
        losses, mask = losses if isinstance(losses, tuple) else (losses, None)
        g = G.keras_reduce_vjp(np.shape(losses), args.get("sample_weight"), mask,
                               init.get("reduction", "sum_over_batch_size"), _cot(cotangent, KERAS_DTYPE))
        d = vjp(y_true, y_pred, g, **kwargs)
        return _pick(wrt, y_pred=np.asarray(d).reshape(original.shape).astype(original.dtype))
    grad.__doc__ = keras_class.__doc__
    return grad


# --- reductions and clipping -------------------------------------------------------------------


def v1_compute_weighted_loss(init, args, cotangent, wrt):
    losses = np.asarray(args["losses"])
    dlosses, dweights = G.v1_weighted_loss_vjp(losses, args.get("weights", 1.0),
                                               args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               _cot(cotangent, losses.dtype))
    return _pick(wrt, losses=dlosses, weights=dweights)


def compute_average_loss(init, args, cotangent, wrt):
    losses = np.asarray(args["per_example_loss"])
    dlosses, dweights = G.compute_average_loss_vjp(losses, args.get("sample_weight"), args.get("global_batch_size"),
                                                   _cot(cotangent, losses.dtype))
    return _pick(wrt, per_example_loss=dlosses, sample_weight=dweights)


def clip_by_global_norm(init, args, cotangent, wrt):
    """Outputs (clipped list, norm): one cotangent per clipped tensor, then the norm's."""
    t_list = args["t_list"]
    dt = np.asarray(t_list[0]).dtype
    cots = [G.tf_cotangent(c, dt) for c in cotangent]
    if args.get("use_norm") is not None:
        raise NotImplementedError("the analytic gradient of tf.clip_by_global_norm covers use_norm=None only")
    return _pick(wrt, t_list=G.clip_by_global_norm_vjp(t_list, args["clip_norm"], cots[:-1], cots[-1]))


GRADS = {
    "tf.nn.softmax": softmax,
    "tf.nn.log_softmax": log_softmax,
    "tf.nn.softmax_cross_entropy_with_logits": softmax_xent,
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits": softmax_xent_v1,
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2": softmax_xent_v2,
    "tf.nn.sparse_softmax_cross_entropy_with_logits": sparse_xent,
    "tf.nn.sigmoid_cross_entropy_with_logits": sigmoid_xent,
    "tf.nn.weighted_cross_entropy_with_logits": weighted_xent,
    "tf.compat.v1.losses.softmax_cross_entropy": v1_softmax_cross_entropy,
    "tf.compat.v1.losses.sparse_softmax_cross_entropy": v1_sparse_softmax_cross_entropy,
    "tf.compat.v1.losses.sigmoid_cross_entropy": v1_sigmoid_cross_entropy,
    "tf.keras.losses.CategoricalCrossentropy": keras_class(_categorical, KF.categorical_crossentropy),
    "tf.keras.losses.SparseCategoricalCrossentropy": keras_class(_sparse, KF.sparse_categorical_crossentropy_masked),
    "tf.keras.losses.BinaryCrossentropy": keras_class(_binary, KF.binary_crossentropy),
    "tf.keras.losses.categorical_crossentropy": keras_function(_categorical),
    "tf.keras.losses.sparse_categorical_crossentropy": keras_function(_sparse),
    "tf.keras.losses.binary_crossentropy": keras_function(_binary),
    "tf.keras.losses.CTC": keras_class(_ctc, KF.ctc),
    "tf.keras.losses.ctc": keras_ctc,
    "tf.compat.v1.losses.compute_weighted_loss": v1_compute_weighted_loss,
    "tf.nn.compute_average_loss": compute_average_loss,
    "tf.clip_by_global_norm": clip_by_global_norm,
}
