"""Op records for ``tf.keras.losses`` (Keras 3): every loss class and the function
forms TF exports under ``tf.keras.losses``.

In TF 2.21 ``tf.keras.losses`` has no ``mean_squared_error``/``log_cosh``/``kl_divergence``
(those live in ``keras.losses``); it exports ``mse``/``MSE``, ``mae``/``MAE``,
``mape``/``MAPE``, ``msle``/``MSLE``, ``kld``/``KLD``/``kullback_leibler_divergence`` and
``logcosh``. The upper-case ones are functions, not classes.
"""
from __future__ import annotations

import numpy as np

from harness.ops.common import cot, pick
from harness.reference import ctc
from harness.reference import keras as K
from harness.reference import keras_functions as KF
from harness.reference import vjp as V
from harness.reference import vjp_elementwise as VE
from harness.reference.reductions import KERAS_REDUCTIONS, keras_squeeze_or_expand_to_same_rank
from harness.registry import Arg, OpSpec

PREFIX = "tf.keras.losses."

REDUCTION = Arg(
    "reduction", "value", default="sum_over_batch_size", choices=KERAS_REDUCTIONS,
    doc="sum_over_batch_size/mean: sum / element count; sum; mean_with_sample_weight: "
        "sum / sum(sample_weight); none/None: per-example losses",
)
SAMPLE_WEIGHT = Arg(
    "sample_weight", "float", default=None, kind="sample_weight",
    doc="scalar, per example, or per element; squeezed/expanded to the losses' rank",
)
Y_TRUE = Arg("y_true", "float")
Y_PRED = Arg("y_pred", "float")
INT_LABELS = Arg("y_true", "int", doc="integer class ids", kind="class_ids")
ONE_HOT = Arg("y_true", "float", doc="one-hot (or soft) label rows", kind="one_hot")
PROBABILITY = Arg("y_true", "float", doc="targets in [0, 1]", kind="probability")
SIGNED = Arg("y_true", "float", doc="-1/1 (or 0/1) targets", kind="signed")
CLASS_PROBABILITIES = Arg("y_pred", "float", doc="class probabilities (logits with from_logits)",
                          kind="probabilities_or_logits")
PROBABILITIES = Arg("y_pred", "float", doc="class probabilities", kind="probabilities")
ELEMENT_PROBABILITIES = Arg("y_pred", "float", doc="probabilities (logits with from_logits)",
                            kind="probability_or_logits")
FROM_LOGITS = Arg("from_logits", "value", default=False, doc="y_pred are logits, not probabilities")
LABEL_SMOOTHING = Arg("label_smoothing", "value", default=0.0)
AXIS = Arg("axis", "value", default=-1)
AXIS_NONE = Arg("axis", "value", default=None, doc="axes summed over; None: all (a scalar loss)")

CCE_KW = (FROM_LOGITS, LABEL_SMOOTHING, AXIS)
BFCE_KW = (Arg("apply_class_balancing", "value", default=False), Arg("alpha", "value", default=0.25),
           Arg("gamma", "value", default=2.0)) + CCE_KW
CFCE_KW = (Arg("alpha", "value", default=0.25), Arg("gamma", "value", default=2.0)) + CCE_KW
SCCE_KW = (FROM_LOGITS, Arg("ignore_class", "value", default=None, doc="label whose entries are masked out"), AXIS)
TVERSKY_KW = (Arg("alpha", "value", default=0.5), Arg("beta", "value", default=0.5), AXIS_NONE)
CIRCLE_KW = (Arg("remove_diagonal", "value", default=True), Arg("gamma", "value", default=80.0),
             Arg("margin", "value", default=0.4))


# --- analytic gradients of the cross-entropies and CTC (formulas in harness.reference.vjp) ---

KERAS_DTYPE = np.float32


def _categorical(y_true, y_pred, g, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = np.asarray(y_true).astype(y_pred.dtype), np.asarray(y_pred)
    y_true = KF._smooth_categorical(y_true, label_smoothing)
    return V.keras_categorical_vjp(y_true, y_pred, g, from_logits=from_logits, axis=axis)


def _binary(y_true, y_pred, g, from_logits=False, label_smoothing=0.0, axis=-1):
    y_true, y_pred = np.asarray(y_true).astype(y_pred.dtype), np.asarray(y_pred)
    y_true = KF._smooth_binary(y_true, label_smoothing)
    return V.keras_binary_vjp(y_true, y_pred, g, from_logits=from_logits, axis=axis)


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
    d = V.keras_sparse_categorical_vjp(y_true, masked_pred, g, from_logits=from_logits)
    if valid is not None:
        d = np.where(np.expand_dims(valid, axis), d, np.zeros_like(d))
    return d


def _binary_focal(y_true, y_pred, g, label_smoothing=0.0, **kwargs):
    t = KF._smooth_binary(np.asarray(y_true).astype(y_pred.dtype), label_smoothing)
    return VE.binary_focal_vjp(t, y_pred, g, **kwargs)


def _categorical_focal(y_true, y_pred, g, label_smoothing=0.0, **kwargs):
    t = KF._smooth_categorical(np.asarray(y_true).astype(y_pred.dtype), label_smoothing)
    return VE.categorical_focal_vjp(t, y_pred, g, **kwargs)


def _ctc(y_true, y_pred, g):
    return ctc.keras_ctc_vjp(y_true, y_pred, g)


def keras_ctc(init, args, cotangent, wrt):
    """``tf.keras.losses.ctc``: computed in float32, returned in float64 for float64 logits."""
    y_pred = np.asarray(args["y_pred"])
    out_dtype = np.float64 if y_pred.dtype == np.float64 else np.float32
    d = ctc.keras_ctc_vjp(args["y_true"], y_pred, cot(cotangent, out_dtype))
    return pick(wrt, y_pred=d.astype(y_pred.dtype))


def keras_function(vjp):
    """A Keras function form: per-example losses in y_pred's dtype."""
    def grad(init, args, cotangent, wrt):
        y_pred = np.asarray(args["y_pred"])
        kwargs = {k: v for k, v in args.items() if k not in ("y_true", "y_pred")}
        d = vjp(args["y_true"], y_pred, cot(cotangent, y_pred.dtype), **kwargs)
        return None if d is None else pick(wrt, y_pred=np.asarray(d).astype(y_pred.dtype))
    grad.__doc__ = f"``{vjp.__name__}`` in y_pred's dtype (None from it: finite differences)."
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
        g = V.keras_reduce_vjp(np.shape(losses), args.get("sample_weight"), mask,
                               init.get("reduction", "sum_over_batch_size"), cot(cotangent, KERAS_DTYPE))
        d = vjp(y_true, y_pred, g, **kwargs)
        return None if d is None else pick(wrt, y_pred=np.asarray(d).reshape(original.shape).astype(original.dtype))
    grad.__doc__ = keras_class.__doc__
    return grad


def _elementwise_result(name, t0, p0, d, wrt):
    """The asked-for gradients of an element-wise loss, back in each input's shape and dtype."""
    if d is None:
        return None
    d_true, d_pred = d
    grads = {"y_pred": d_pred.reshape(p0.shape).astype(p0.dtype)}
    if d_true is not None:
        grads["y_true"] = d_true.reshape(t0.shape).astype(t0.dtype)
    return pick(wrt, **grads)


def elementwise_function(name):
    """A Keras function form of an element-wise loss (:mod:`harness.reference.vjp_elementwise`):
    y_true cast to y_pred's dtype, per-example losses in y_pred's dtype."""
    def grad(init, args, cotangent, wrt):
        t0, p0 = np.asarray(args["y_true"]), np.asarray(args["y_pred"])
        kwargs = {k: v for k, v in args.items() if k not in ("y_true", "y_pred")}
        d = VE.per_example_vjp(name, t0.astype(p0.dtype), p0, cot(cotangent, p0.dtype), **kwargs)
        return _elementwise_result(name, t0, p0, d, wrt)
    grad.__doc__ = f"``{name}``'s element-wise gradient in y_pred's dtype."
    return grad


def elementwise_class(name):
    """A Keras loss class around an element-wise loss: y_true/y_pred cast to float32 and
    brought to the same rank, the Keras reduction's gradient, then the per-example one."""
    def grad(init, args, cotangent, wrt):
        t0, p0 = np.asarray(args["y_true"]), np.asarray(args["y_pred"])
        t, p = keras_squeeze_or_expand_to_same_rank(t0.astype(KERAS_DTYPE), p0.astype(KERAS_DTYPE))
        kwargs = {k: v for k, v in init.items() if k != "reduction"}
        shape = VE.losses_shape(name, p.shape, kwargs) if t.shape == p.shape and p.ndim else None
        if shape is None:
            return None
        g = V.keras_reduce_vjp(shape, args.get("sample_weight"), None,
                               init.get("reduction", "sum_over_batch_size"), cot(cotangent, KERAS_DTYPE))
        return _elementwise_result(name, t0, p0, VE.per_example_vjp(name, t, p, g, **kwargs), wrt)
    grad.__doc__ = f"``{name}``'s element-wise gradient through the Keras 3 reduction (float32)."
    return grad


def elementwise(fn):
    """(class gradient, function gradient) of the element-wise loss ``fn``."""
    name = _FUNCTION_REFERENCE.get(fn, fn)
    return elementwise_class(name), elementwise_function(name)


def _call_function(name):
    """TF call for a function form whose name starts upper-case (``MSE``): a plain call."""
    def call(tf, init, args):
        return getattr(tf.keras.losses, name)(**args)
    return call


def loss_pair(cls, fn, summary, kwargs=(), y_true=Y_TRUE, fn_kwargs=None, fn_extra_args=(),
              differentiable=("y_pred",), aliases=(), y_pred=Y_PRED, grads=None, **record):
    """The class ``cls`` (``init`` = its constructor args + reduction) and the function ``fn``
    (its keyword args as ``value`` args), plus function aliases. ``grads`` is ``(class
    gradient, function gradient)``; ``record`` holds further OpSpec fields of both."""
    fn_kwargs = kwargs if fn_kwargs is None else fn_kwargs
    fn_reference = getattr(K, _FUNCTION_REFERENCE.get(fn, fn))
    class_grad, function_grad = grads or (None, None)
    specs = [
        OpSpec(
            name=PREFIX + cls,
            reference=getattr(K, cls),
            init=tuple(kwargs) + (REDUCTION,),
            args=(y_true, y_pred, SAMPLE_WEIGHT),
            differentiable=differentiable,
            summary=f"{summary}; reduced (float32)",
            grad=class_grad,
            **record,
        )
    ]
    for name in (fn,) + tuple(aliases):
        specs.append(
            OpSpec(
                name=PREFIX + name,
                reference=fn_reference,
                args=(y_true, y_pred) + tuple(fn_extra_args) + tuple(fn_kwargs),
                differentiable=differentiable,
                summary=f"{summary}; per example, in y_pred's dtype",
                tf_call=_call_function(name) if name[:1].isupper() else None,
                grad=function_grad,
                **record,
            )
        )
    return specs


_FUNCTION_REFERENCE = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "logcosh": "log_cosh",
}

REGRESSION = ("y_true", "y_pred")

OPS = [
    # Priority: the cross-entropies and the mean squared error.
    *loss_pair("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
               "cross-entropy with integer labels", SCCE_KW, y_true=INT_LABELS, y_pred=CLASS_PROBABILITIES,
               grads=(keras_class(_sparse, KF.sparse_categorical_crossentropy_masked), keras_function(_sparse))),
    *loss_pair("CategoricalCrossentropy", "categorical_crossentropy",
               "cross-entropy with one-hot (or soft) labels", CCE_KW, y_true=ONE_HOT, y_pred=CLASS_PROBABILITIES,
               grads=(keras_class(_categorical, KF.categorical_crossentropy), keras_function(_categorical))),
    *loss_pair("BinaryCrossentropy", "binary_crossentropy",
               "elementwise binary cross-entropy, mean over axis", CCE_KW, y_true=PROBABILITY,
               y_pred=ELEMENT_PROBABILITIES,
               grads=(keras_class(_binary, KF.binary_crossentropy), keras_function(_binary))),
    *loss_pair("MeanSquaredError", "mse", "mean squared error over the last axis",
               differentiable=REGRESSION, aliases=("MSE",), grads=elementwise("mse")),
    *loss_pair("BinaryFocalCrossentropy", "binary_focal_crossentropy",
               "binary cross-entropy scaled by (1 - p_t)**gamma", BFCE_KW, y_true=PROBABILITY,
               y_pred=ELEMENT_PROBABILITIES,
               grads=(keras_class(_binary_focal, KF.binary_focal_crossentropy), keras_function(_binary_focal))),
    *loss_pair("CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
               "categorical cross-entropy scaled by alpha (1 - p)**gamma", CFCE_KW, y_true=ONE_HOT,
               y_pred=CLASS_PROBABILITIES,
               grads=(keras_class(_categorical_focal, KF.categorical_focal_crossentropy),
                      keras_function(_categorical_focal))),
    *loss_pair("CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy",
               "(1 - p_label**q) / q", (Arg("q", "value", default=0.5, doc="in (0, 1)"),),
               y_true=INT_LABELS, y_pred=PROBABILITIES,
               fn_kwargs=(Arg("q", "value", doc="no default in the function form", example=0.5),)),
    *loss_pair("CategoricalHinge", "categorical_hinge", "max(max_neg - pos + 1, 0)",
               differentiable=REGRESSION, y_true=ONE_HOT, grads=elementwise("categorical_hinge")),
    *loss_pair("Circle", "circle", "circle loss over a batch of embeddings", CIRCLE_KW,
               y_true=INT_LABELS, y_pred=Arg("y_pred", "float", kind="embeddings"),
               fn_extra_args=(Arg("ref_labels", "int", default=None, kind="class_ids"),
                              Arg("ref_embeddings", "float", default=None, kind="embeddings")),
               fn_kwargs=(CIRCLE_KW[0], Arg("gamma", "value", default=80), CIRCLE_KW[2]),
               fuzz="circle", bench="circle"),
    *loss_pair("CosineSimilarity", "cosine_similarity", "-cosine similarity along axis", (AXIS,),
               differentiable=REGRESSION, grads=elementwise("cosine_similarity")),
    *loss_pair("CTC", "ctc", "connectionist temporal classification, blank 0",
               y_true=Arg("y_true", "int", doc="label rows, 0 pads (the blank)", kind="label_sequences"),
               y_pred=Arg("y_pred", "float", doc="[batch, frames, classes]", kind="logits"),
               grads=(keras_class(_ctc, KF.ctc), keras_ctc), fuzz="keras_ctc", bench="keras_ctc",
               bench_limit=("medium", "the CTC reference walks the frames of each example in Python"),
               quirks="float16/bfloat16/float64 logits are computed in float32; a label too long for the frames "
                      "costs about 706.9 (TF's log(1e-307) floor), not inf"),
    *loss_pair("Dice", "dice", "1 - Dice coefficient", (AXIS_NONE,), y_true=PROBABILITY,
               y_pred=Arg("y_pred", "float", kind="probability")),
    *loss_pair("Hinge", "hinge", "mean(max(1 - t p, 0)), 0/1 labels mapped to -1/1",
               differentiable=REGRESSION, y_true=SIGNED, grads=elementwise("hinge")),
    *loss_pair("Huber", "huber", "quadratic below delta, linear above",
               (Arg("delta", "value", default=1.0),), differentiable=REGRESSION, grads=elementwise("huber")),
    *loss_pair("KLDivergence", "kld", "sum(t log(t / p)), both clipped to [eps, 1]",
               aliases=("KLD", "kullback_leibler_divergence"),
               y_true=Arg("y_true", "float", kind="probabilities"), y_pred=PROBABILITIES, grads=elementwise("kld")),
    *loss_pair("LogCosh", "logcosh", "mean(log(cosh(p - t)))", differentiable=REGRESSION, grads=elementwise("logcosh")),
    *loss_pair("MeanAbsoluteError", "mae", "mean absolute error over the last axis",
               differentiable=REGRESSION, aliases=("MAE",), grads=elementwise("mae")),
    *loss_pair("MeanAbsolutePercentageError", "mape", "100 mean(|t - p| / max(|t|, eps))",
               differentiable=REGRESSION, aliases=("MAPE",), grads=elementwise("mape")),
    *loss_pair("MeanSquaredLogarithmicError", "msle", "mean((log(max(p, eps) + 1) - log(max(t, eps) + 1))**2)",
               differentiable=REGRESSION, aliases=("MSLE",), grads=elementwise("msle")),
    *loss_pair("Poisson", "poisson", "mean(p - t log(p + eps))", y_true=Arg("y_true", "float", kind="nonnegative"),
               y_pred=Arg("y_pred", "float", doc="predicted rates", kind="nonnegative"), grads=elementwise("poisson")),
    *loss_pair("SquaredHinge", "squared_hinge", "mean(max(1 - t p, 0)**2)", differentiable=REGRESSION,
               y_true=SIGNED, grads=elementwise("squared_hinge")),
    *loss_pair("Tversky", "tversky", "1 - TP / (TP + alpha FP + beta FN)", TVERSKY_KW, y_true=PROBABILITY,
               y_pred=Arg("y_pred", "float", kind="probability")),
]
