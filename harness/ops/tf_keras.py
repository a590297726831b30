"""Op records for ``tf_keras.losses`` (Keras 2, tf-keras 2.21): its 17 loss classes
and every loss function name it exports (``KLD``/``MAE``/``MAPE``/``MSE``/``MSLE`` are
functions, not classes).

``tf_keras`` is imported only when a TF side runs. Arguments are Keras 2's: the classes
take ``reduction`` in ``auto``/``none``/``sum``/``sum_over_batch_size`` (default ``auto``),
``SparseCategoricalCrossentropy`` has no ``axis`` and its function takes ``axis`` and
``ignore_class``. The argument records (roles and kinds) are shared with the Keras 3
records. The element-wise losses (regression, Poisson, KL divergence, hinges) have analytic
gradients; the others' are finite differences of the reference (in the input dtype's
precision: Keras 2 does not cast to float32).
"""
from __future__ import annotations

import numpy as np

from harness.ops.common import cot, pick
from harness.ops.keras import (
    AXIS,
    BFCE_KW,
    CCE_KW,
    CFCE_KW,
    CLASS_PROBABILITIES,
    ELEMENT_PROBABILITIES,
    FROM_LOGITS,
    INT_LABELS,
    ONE_HOT,
    PROBABILITIES,
    PROBABILITY,
    SAMPLE_WEIGHT,
    SIGNED,
    Y_PRED,
    Y_TRUE,
    _categorical_focal,
    _elementwise_result,
    keras_function,
)
from harness.reference import tf_keras as K2
from harness.reference import vjp as V
from harness.reference import vjp_elementwise as VE
from harness.reference.reductions import KERAS2_REDUCTIONS, keras2_remove_squeezable_dimensions
from harness.registry import Arg, OpSpec

PREFIX = "tf_keras.losses."

REDUCTION = Arg(
    "reduction", "value", default="auto", choices=KERAS2_REDUCTIONS,
    doc="auto/sum_over_batch_size: divide_no_nan(sum, element count); sum; none: per-example losses",
)
IGNORE_CLASS = Arg("ignore_class", "value", default=None, doc="label whose entries are masked out")
SCCE_CLASS_KW = (FROM_LOGITS, IGNORE_CLASS)
SCCE_FN_KW = (FROM_LOGITS, AXIS, IGNORE_CLASS)
REGRESSION = ("y_true", "y_pred")


def _class_call(cls):
    def call(tf, init, args):
        import tf_keras

        return getattr(tf_keras.losses, cls)(**init)(**args)
    return call


def _function_call(name):
    def call(tf, init, args):
        import tf_keras

        return getattr(tf_keras.losses, name)(**args)
    return call


def _pair(name, args):
    """y_true and y_pred as the Keras 2 function computes with them: y_true in y_pred's dtype
    (``huber``: both in float32)."""
    t0, p0 = np.asarray(args["y_true"]), np.asarray(args["y_pred"])
    dtype = np.float32 if name == "huber" else p0.dtype
    return t0, p0, t0.astype(dtype), p0.astype(dtype)


def elementwise_function(name):
    """The gradient of a Keras 2 element-wise loss function (no rank adjustment)."""
    def grad(init, args, cotangent, wrt):
        t0, p0, t, p = _pair(name, args)
        kwargs = {k: v for k, v in args.items() if k not in ("y_true", "y_pred")}
        return _elementwise_result(name, t0, p0, VE.per_example_vjp(name, t, p, cot(cotangent, p.dtype), **kwargs), wrt)
    grad.__doc__ = f"``{name}``'s element-wise gradient in y_pred's dtype (Keras 2)."
    return grad


def elementwise_class(name):
    """The gradient of a Keras 2 loss class around an element-wise loss: squeezed (never
    expanded) to a common rank, the Keras 2 reduction's gradient in the losses' dtype."""
    def grad(init, args, cotangent, wrt):
        t0, p0, t, p = _pair(name, args)
        t, p = keras2_remove_squeezable_dimensions(t, p)
        kwargs = {k: v for k, v in init.items() if k != "reduction"}
        shape = VE.losses_shape(name, p.shape, kwargs) if t.shape == p.shape and p.ndim else None
        if shape is None:
            return None
        g = V.keras2_reduce_vjp(shape, args.get("sample_weight"),
                                init.get("reduction", "auto"),
                                cot(cotangent, p.dtype))
        return _elementwise_result(name, t0, p0, VE.per_example_vjp(name, t, p, g, **kwargs), wrt)
    grad.__doc__ = f"``{name}``'s element-wise gradient through the Keras 2 reduction."
    return grad


# --- the cross-entropies' gradients (formulas in harness.reference.vjp) --------------------


def _categorical(y_true, y_pred, g, from_logits=False, label_smoothing=0.0, axis=-1):
    """Keras 2 smooths by the size of ``axis``; the rest is Keras 3's backend."""
    t = np.asarray(y_true).astype(y_pred.dtype)
    if t.shape != y_pred.shape:
        return None
    if label_smoothing:
        ls = K2._c(label_smoothing, y_pred)
        t = t * (K2._c(1.0, y_pred) - ls) + ls / K2._c(t.shape[axis], y_pred)
    return V.keras_categorical_vjp(t, y_pred, g, from_logits=from_logits, axis=axis)


def _sparse(y_true, y_pred, g, from_logits=False, axis=-1, ignore_class=None):
    """Labels of one rank less (or ending in 1), classes last, nothing ignored; else None."""
    t = np.asarray(y_true)
    fits = t.ndim == y_pred.ndim - 1 or (t.ndim == y_pred.ndim and t.shape[-1] == 1)
    if ignore_class is not None or axis % y_pred.ndim != y_pred.ndim - 1 or not fits:
        return None
    return V.keras_sparse_categorical_vjp(t, y_pred, g, from_logits=from_logits)


def _sparse_class(y_true, y_pred, g, from_logits=False, ignore_class=None):
    return _sparse(y_true, y_pred, g, from_logits, -1, ignore_class)


def _binary(y_true, y_pred, g, from_logits=False, label_smoothing=0.0, axis=-1):
    t = np.asarray(y_true).astype(y_pred.dtype)
    if t.shape != y_pred.shape:
        return None
    t = K2._smooth_binary(t, y_pred, label_smoothing)
    return V.keras2_binary_vjp(t, y_pred, g, from_logits=from_logits, axis=axis)


def _binary_focal(y_true, y_pred, g, label_smoothing=0.0, **kwargs):
    t = K2._smooth_binary(np.asarray(y_true).astype(y_pred.dtype), y_pred, label_smoothing)
    return VE.binary_focal_vjp(t, y_pred, g, keras2=True, **kwargs)


def class_grad(vjp, function):
    """A Keras 2 loss class: squeezed (never expanded) to a common rank, the per-example
    losses of ``function`` (None when it masks: finite differences), the Keras 2
    reduction's gradient in the losses' dtype, then ``vjp``."""
    def grad(init, args, cotangent, wrt):
        p0 = np.asarray(args["y_pred"])
        t, p = keras2_remove_squeezable_dimensions(np.asarray(args["y_true"]), p0)
        kwargs = {k: v for k, v in init.items() if k != "reduction"}
        losses = function(t, p, **kwargs)
        losses, mask = losses if isinstance(losses, tuple) else (losses, None)
        if mask is not None:
            return None
        losses = np.asarray(losses)
        g = V.keras2_reduce_vjp(losses.shape, args.get("sample_weight"), init.get("reduction", "auto"),
                                cot(cotangent, losses.dtype)).astype(losses.dtype)
        d = vjp(t, p, g, **kwargs)
        return None if d is None else pick(wrt, y_pred=np.asarray(d).reshape(p0.shape).astype(p0.dtype))
    grad.__doc__ = class_grad.__doc__
    return grad


def loss_pair(cls, fn, summary, kwargs=(), y_true=Y_TRUE, y_pred=Y_PRED, fn_kwargs=None,
              differentiable=("y_pred",), aliases=(), elementwise=False, grads=None, **record):
    """The class ``cls`` (``init``: its constructor args + reduction) and the function ``fn``
    with its aliases (keyword args as ``value`` args); ``record`` holds further OpSpec
    fields of both (``quirks``). ``elementwise``: ``fn`` is an element-wise loss with an
    analytic gradient (:mod:`harness.reference.vjp_elementwise`)."""
    fn_kwargs = kwargs if fn_kwargs is None else fn_kwargs
    if elementwise:
        grads = (elementwise_class(fn), elementwise_function(fn))
    cls_grad, fn_grad = grads or (None, None)
    specs = [OpSpec(
        name=PREFIX + cls, reference=getattr(K2, cls), init=tuple(kwargs) + (REDUCTION,),
        args=(y_true, y_pred, SAMPLE_WEIGHT), differentiable=differentiable, tf_call=_class_call(cls),
        summary=f"{summary}; reduced in the losses' dtype (Keras 2)", grad=cls_grad, **record,
    )]
    for name in (fn,) + tuple(aliases):
        specs.append(OpSpec(
            name=PREFIX + name, reference=getattr(K2, fn), args=(y_true, y_pred) + tuple(fn_kwargs),
            differentiable=differentiable, tf_call=_function_call(name), grad=fn_grad,
            summary=f"{summary}; per example, in y_pred's dtype, no rank adjustment (Keras 2)", **record,
        ))
    return specs


def elementwise_pair(*args, **kwargs):
    """:func:`loss_pair` of an element-wise loss with an analytic gradient."""
    return loss_pair(*args, elementwise=True, **kwargs)


BCE_QUIRK = ("from probabilities, 1e-7 is added inside the log after clipping: p = 0, y = 1 costs 15.42 "
             "(Keras 3: 16.12) and p = y = 1 costs 0")
NO_SQUEEZE = "the function broadcasts y_true [N] against y_pred [N, 1] to [N, N]; the class squeezes y_pred to [N]"


OPS = [
    *loss_pair("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
               "cross-entropy with integer labels", SCCE_CLASS_KW, y_true=INT_LABELS, y_pred=CLASS_PROBABILITIES,
               fn_kwargs=SCCE_FN_KW,
               grads=(class_grad(_sparse_class, K2._scce_class), keras_function(_sparse)),
               quirks="ignore_class gathers the valid rows; every label ignored gives NaN in the class "
                      "(Keras 3: 0); the function takes any class axis"),
    *loss_pair("CategoricalCrossentropy", "categorical_crossentropy",
               "cross-entropy with one-hot (or soft) labels", CCE_KW, y_true=ONE_HOT, y_pred=CLASS_PROBABILITIES,
               grads=(class_grad(_categorical, K2.categorical_crossentropy), keras_function(_categorical)),
               quirks="label smoothing divides by the size of `axis` (Keras 3: the last dimension)"),
    *loss_pair("BinaryCrossentropy", "binary_crossentropy",
               "binary cross-entropy, epsilon inside the log, mean over axis", CCE_KW, y_true=PROBABILITY,
               y_pred=ELEMENT_PROBABILITIES, quirks=BCE_QUIRK,
               grads=(class_grad(_binary, K2.binary_crossentropy), keras_function(_binary))),
    *loss_pair("BinaryFocalCrossentropy", "binary_focal_crossentropy",
               "binary cross-entropy scaled by (1 - p_t)**gamma", BFCE_KW, y_true=PROBABILITY,
               y_pred=ELEMENT_PROBABILITIES, quirks=BCE_QUIRK,
               grads=(class_grad(_binary_focal, K2.binary_focal_crossentropy), keras_function(_binary_focal))),
    *loss_pair("CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
               "categorical cross-entropy scaled by alpha (1 - p)**gamma", CFCE_KW, y_true=ONE_HOT,
               y_pred=CLASS_PROBABILITIES,
               grads=(class_grad(_categorical_focal, K2.categorical_focal_crossentropy),
                      keras_function(_categorical_focal))),
    *elementwise_pair("CategoricalHinge", "categorical_hinge", "max(max_neg - pos + 1, 0)", y_true=ONE_HOT,
                      differentiable=REGRESSION),
    *loss_pair("CosineSimilarity", "cosine_similarity", "-cosine similarity along axis", (AXIS,),
               differentiable=REGRESSION,
               grads=(elementwise_class("cosine_similarity_keras2"), elementwise_function("cosine_similarity_keras2")),
               quirks="tf.linalg.l2_normalize: a zero vector gives 0, NaN in float16 (1e-12 rounds to 0)"),
    *elementwise_pair("Hinge", "hinge", "mean(max(1 - t p, 0)), 0/1 labels mapped to -1/1", y_true=SIGNED,
               differentiable=REGRESSION),
    *elementwise_pair("Huber", "huber", "quadratic below delta, linear above; computed in float32",
               (Arg("delta", "value", default=1.0),), differentiable=REGRESSION,
               quirks="both inputs are cast to float32: float16 and float64 inputs give a float32 loss"),
    *elementwise_pair("KLDivergence", "kl_divergence", "sum(t log(t / p)), both clipped to [eps, 1]",
               y_true=Arg("y_true", "float", kind="probabilities"), y_pred=PROBABILITIES,
               aliases=("kld", "KLD", "kullback_leibler_divergence")),
    *elementwise_pair("LogCosh", "log_cosh", "mean(log(cosh(p - t)))", differentiable=REGRESSION, aliases=("logcosh",),
               quirks=NO_SQUEEZE),
    *elementwise_pair("MeanAbsoluteError", "mean_absolute_error", "mean absolute error over the last axis",
               differentiable=REGRESSION, aliases=("mae", "MAE"), quirks=NO_SQUEEZE),
    *elementwise_pair("MeanAbsolutePercentageError", "mean_absolute_percentage_error",
               "100 mean(|t - p| / max(|t|, eps))", differentiable=REGRESSION, aliases=("mape", "MAPE"),
               quirks=NO_SQUEEZE),
    *elementwise_pair("MeanSquaredError", "mean_squared_error", "mean squared error over the last axis",
               differentiable=REGRESSION, aliases=("mse", "MSE"), quirks=NO_SQUEEZE),
    *loss_pair("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error",
               "mean((log(max(p, eps) + 1) - log(max(t, eps) + 1))**2)", differentiable=REGRESSION,
               aliases=("msle", "MSLE"), quirks="float16 stays float16 (Keras 3 promotes it to float32)",
               grads=(elementwise_class("mean_squared_logarithmic_error_keras2"),
                      elementwise_function("mean_squared_logarithmic_error_keras2"))),
    *elementwise_pair("Poisson", "poisson", "mean(p - t log(p + eps))", y_true=Arg("y_true", "float", kind="nonnegative"),
               y_pred=Arg("y_pred", "float", doc="predicted rates", kind="nonnegative")),
    *elementwise_pair("SquaredHinge", "squared_hinge", "mean(max(1 - t p, 0)**2)", y_true=SIGNED,
               differentiable=REGRESSION),
]
