"""Registry entries for ``tf_keras.losses`` (Keras 2, tf-keras 2.21): its 17 loss classes
and every loss function name it exports (``KLD``/``MAE``/``MAPE``/``MSE``/``MSLE`` are
functions, not classes).

``tf_keras`` is imported only when a TF side runs. Arguments are Keras 2's: the classes
take ``reduction`` in ``auto``/``none``/``sum``/``sum_over_batch_size`` (default ``auto``),
``SparseCategoricalCrossentropy`` has no ``axis`` and its function takes ``axis`` and
``ignore_class``. The argument records are shared with the Keras 3 entries.
"""
from __future__ import annotations

from harness.ops.keras import AXIS, BFCE_KW, CCE_KW, CFCE_KW, FROM_LOGITS, INT_LABELS, SAMPLE_WEIGHT, Y_PRED, Y_TRUE
from harness.reference import tf_keras as K2
from harness.reference.reductions import KERAS2_REDUCTIONS
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


def loss_pair(cls, fn, summary, kwargs=(), y_true=Y_TRUE, fn_kwargs=None, differentiable=("y_pred",),
              aliases=()):
    """The class ``cls`` (``init``: its constructor args + reduction) and the function ``fn``
    with its aliases (keyword args as ``value`` args)."""
    fn_kwargs = kwargs if fn_kwargs is None else fn_kwargs
    specs = [OpSpec(
        name=PREFIX + cls, reference=getattr(K2, cls), init=tuple(kwargs) + (REDUCTION,),
        args=(y_true, Y_PRED, SAMPLE_WEIGHT), differentiable=differentiable, tf_call=_class_call(cls),
        summary=f"{summary}; reduced in the losses' dtype (Keras 2)",
    )]
    for name in (fn,) + tuple(aliases):
        specs.append(OpSpec(
            name=PREFIX + name, reference=getattr(K2, fn), args=(y_true, Y_PRED) + tuple(fn_kwargs),
            differentiable=differentiable, tf_call=_function_call(name),
            summary=f"{summary}; per example, in y_pred's dtype, no rank adjustment (Keras 2)",
        ))
    return specs


OPS = [
    *loss_pair("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy",
               "cross-entropy with integer labels", SCCE_CLASS_KW, y_true=INT_LABELS, fn_kwargs=SCCE_FN_KW),
    *loss_pair("CategoricalCrossentropy", "categorical_crossentropy",
               "cross-entropy with one-hot (or soft) labels", CCE_KW),
    *loss_pair("BinaryCrossentropy", "binary_crossentropy",
               "binary cross-entropy, epsilon inside the log, mean over axis", CCE_KW),
    *loss_pair("BinaryFocalCrossentropy", "binary_focal_crossentropy",
               "binary cross-entropy scaled by (1 - p_t)**gamma", BFCE_KW),
    *loss_pair("CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
               "categorical cross-entropy scaled by alpha (1 - p)**gamma", CFCE_KW),
    *loss_pair("CategoricalHinge", "categorical_hinge", "max(max_neg - pos + 1, 0)", differentiable=REGRESSION),
    *loss_pair("CosineSimilarity", "cosine_similarity", "-cosine similarity along axis", (AXIS,),
               differentiable=REGRESSION),
    *loss_pair("Hinge", "hinge", "mean(max(1 - t p, 0)), 0/1 labels mapped to -1/1", differentiable=REGRESSION),
    *loss_pair("Huber", "huber", "quadratic below delta, linear above; computed in float32",
               (Arg("delta", "value", default=1.0),), differentiable=REGRESSION),
    *loss_pair("KLDivergence", "kl_divergence", "sum(t log(t / p)), both clipped to [eps, 1]",
               aliases=("kld", "KLD", "kullback_leibler_divergence")),
    *loss_pair("LogCosh", "log_cosh", "mean(log(cosh(p - t)))", differentiable=REGRESSION, aliases=("logcosh",)),
    *loss_pair("MeanAbsoluteError", "mean_absolute_error", "mean absolute error over the last axis",
               differentiable=REGRESSION, aliases=("mae", "MAE")),
    *loss_pair("MeanAbsolutePercentageError", "mean_absolute_percentage_error",
               "100 mean(|t - p| / max(|t|, eps))", differentiable=REGRESSION, aliases=("mape", "MAPE")),
    *loss_pair("MeanSquaredError", "mean_squared_error", "mean squared error over the last axis",
               differentiable=REGRESSION, aliases=("mse", "MSE")),
    *loss_pair("MeanSquaredLogarithmicError", "mean_squared_logarithmic_error",
               "mean((log(max(p, eps) + 1) - log(max(t, eps) + 1))**2)", differentiable=REGRESSION,
               aliases=("msle", "MSLE")),
    *loss_pair("Poisson", "poisson", "mean(p - t log(p + eps))"),
    *loss_pair("SquaredHinge", "squared_hinge", "mean(max(1 - t p, 0)**2)", differentiable=REGRESSION),
]
