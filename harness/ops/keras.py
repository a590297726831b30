"""Registry entries for ``tf.keras.losses`` (Keras 3): every loss class and the function
forms TF exports under ``tf.keras.losses``.

In TF 2.21 ``tf.keras.losses`` has no ``mean_squared_error``/``log_cosh``/``kl_divergence``
(those live in ``keras.losses``); it exports ``mse``/``MSE``, ``mae``/``MAE``,
``mape``/``MAPE``, ``msle``/``MSLE``, ``kld``/``KLD``/``kullback_leibler_divergence`` and
``logcosh``. The upper-case ones are functions, not classes.
"""
from __future__ import annotations

from harness.reference import keras as K
from harness.reference.reductions import KERAS_REDUCTIONS
from harness.registry import Arg, OpSpec

PREFIX = "tf.keras.losses."

REDUCTION = Arg(
    "reduction", "value", default="sum_over_batch_size", choices=KERAS_REDUCTIONS,
    doc="sum_over_batch_size/mean: sum / element count; sum; mean_with_sample_weight: "
        "sum / sum(sample_weight); none/None: per-example losses",
)
SAMPLE_WEIGHT = Arg(
    "sample_weight", "float", default=None,
    doc="scalar, per example, or per element; squeezed/expanded to the losses' rank",
)
Y_TRUE = Arg("y_true", "float")
Y_PRED = Arg("y_pred", "float")
INT_LABELS = Arg("y_true", "int", doc="integer class ids")
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


def _call_function(name):
    """TF call for a function form whose name starts upper-case (``MSE``): a plain call."""
    def call(tf, init, args):
        return getattr(tf.keras.losses, name)(**args)
    return call


def loss_pair(cls, fn, summary, kwargs=(), y_true=Y_TRUE, fn_kwargs=None, fn_extra_args=(),
              differentiable=("y_pred",), aliases=()):
    """The class ``cls`` (``init`` = its constructor args + reduction) and the function ``fn``
    (its keyword args as ``value`` args), plus function aliases."""
    fn_kwargs = kwargs if fn_kwargs is None else fn_kwargs
    fn_reference = getattr(K, _FUNCTION_REFERENCE.get(fn, fn))
    specs = [
        OpSpec(
            name=PREFIX + cls,
            reference=getattr(K, cls),
            init=tuple(kwargs) + (REDUCTION,),
            args=(y_true, Y_PRED, SAMPLE_WEIGHT),
            differentiable=differentiable,
            summary=f"{summary}; reduced (float32)",
        )
    ]
    for name in (fn,) + tuple(aliases):
        specs.append(
            OpSpec(
                name=PREFIX + name,
                reference=fn_reference,
                args=(y_true, Y_PRED) + tuple(fn_extra_args) + tuple(fn_kwargs),
                differentiable=differentiable,
                summary=f"{summary}; per example, in y_pred's dtype",
                tf_call=_call_function(name) if name[:1].isupper() else None,
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
               "cross-entropy with integer labels", SCCE_KW, y_true=INT_LABELS),
    *loss_pair("CategoricalCrossentropy", "categorical_crossentropy",
               "cross-entropy with one-hot (or soft) labels", CCE_KW),
    *loss_pair("BinaryCrossentropy", "binary_crossentropy",
               "elementwise binary cross-entropy, mean over axis", CCE_KW),
    *loss_pair("MeanSquaredError", "mse", "mean squared error over the last axis",
               differentiable=REGRESSION, aliases=("MSE",)),
    *loss_pair("BinaryFocalCrossentropy", "binary_focal_crossentropy",
               "binary cross-entropy scaled by (1 - p_t)**gamma", BFCE_KW),
    *loss_pair("CategoricalFocalCrossentropy", "categorical_focal_crossentropy",
               "categorical cross-entropy scaled by alpha (1 - p)**gamma", CFCE_KW),
    *loss_pair("CategoricalGeneralizedCrossEntropy", "categorical_generalized_cross_entropy",
               "(1 - p_label**q) / q", (Arg("q", "value", default=0.5, doc="in (0, 1)"),),
               y_true=INT_LABELS, fn_kwargs=(Arg("q", "value", doc="no default in the function form"),)),
    *loss_pair("CategoricalHinge", "categorical_hinge", "max(max_neg - pos + 1, 0)",
               differentiable=REGRESSION),
    *loss_pair("Circle", "circle", "circle loss over a batch of embeddings", CIRCLE_KW,
               y_true=INT_LABELS,
               fn_extra_args=(Arg("ref_labels", "int", default=None), Arg("ref_embeddings", "float", default=None)),
               fn_kwargs=(CIRCLE_KW[0], Arg("gamma", "value", default=80), CIRCLE_KW[2])),
    *loss_pair("CosineSimilarity", "cosine_similarity", "-cosine similarity along axis", (AXIS,),
               differentiable=REGRESSION),
    *loss_pair("CTC", "ctc", "connectionist temporal classification, blank 0", y_true=INT_LABELS),
    *loss_pair("Dice", "dice", "1 - Dice coefficient", (AXIS_NONE,)),
    *loss_pair("Hinge", "hinge", "mean(max(1 - t p, 0)), 0/1 labels mapped to -1/1",
               differentiable=REGRESSION),
    *loss_pair("Huber", "huber", "quadratic below delta, linear above",
               (Arg("delta", "value", default=1.0),), differentiable=REGRESSION),
    *loss_pair("KLDivergence", "kld", "sum(t log(t / p)), both clipped to [eps, 1]",
               aliases=("KLD", "kullback_leibler_divergence")),
    *loss_pair("LogCosh", "logcosh", "mean(log(cosh(p - t)))", differentiable=REGRESSION),
    *loss_pair("MeanAbsoluteError", "mae", "mean absolute error over the last axis",
               differentiable=REGRESSION, aliases=("MAE",)),
    *loss_pair("MeanAbsolutePercentageError", "mape", "100 mean(|t - p| / max(|t|, eps))",
               differentiable=REGRESSION, aliases=("MAPE",)),
    *loss_pair("MeanSquaredLogarithmicError", "msle", "mean((log(max(p, eps) + 1) - log(max(t, eps) + 1))**2)",
               differentiable=REGRESSION, aliases=("MSLE",)),
    *loss_pair("Poisson", "poisson", "mean(p - t log(p + eps))"),
    *loss_pair("SquaredHinge", "squared_hinge", "mean(max(1 - t p, 0)**2)", differentiable=REGRESSION),
    *loss_pair("Tversky", "tversky", "1 - TP / (TP + alpha FP + beta FN)", TVERSKY_KW),
]
