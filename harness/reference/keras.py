"""Reference for ``tf.keras.losses`` (Keras 3.15 on TF 2.21).

Function forms (``tf.keras.losses.mse``, ``categorical_crossentropy``, ...) live in
``keras_functions`` and are re-exported here. Each loss class is
``LossFunctionWrapper.__call__`` around its function:

1. ``y_true`` and ``y_pred`` are cast to the loss dtype, ``floatx()`` = float32, whatever
   their dtype (float64 inputs lose their precision, float16 ones are computed in float32;
   integer labels become float32 and are truncated back to integers where needed);
2. both are squeezed/expanded to the same rank (``[B]`` vs ``[B, 1]`` becomes ``[B, 1]``);
3. the function gives per-example losses (and for ``ignore_class``/``Circle`` a mask);
4. ``reductions.keras_reduce_weighted_values`` weights and reduces them in float32.

So every class returns float32.
"""
from __future__ import annotations

import numpy as np

from harness.reference import keras_functions as F
from harness.reference.errors import TFValueError
from harness.reference.keras_functions import (  # noqa: F401  (function forms)
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    categorical_hinge,
    circle,
    cosine_similarity,
    ctc,
    dice,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
    tversky,
)
from harness.reference.reductions import (
    keras_reduce_weighted_values,
    keras_squeeze_or_expand_to_same_rank,
    keras_standardize_reduction,
)

LOSS_DTYPE = np.float32
"""``keras.backend.floatx()``: the dtype every loss class computes and returns in."""
DEFAULT_REDUCTION = "sum_over_batch_size"


def loss_class(fn, masked: bool = False, validate=None, defaults=None):
    """The reference of the Keras class wrapping ``fn``: ``reference(y_true, y_pred,
    sample_weight=None, reduction=..., **fn_kwargs)``.

    ``masked``: ``fn`` returns ``(losses, mask)`` (a Keras mask attached to the losses).
    ``validate(**fn_kwargs)``: constructor checks beyond the reduction.
    ``defaults``: constructor defaults the function form lacks (``q`` of the GCE)."""

    def reference(y_true, y_pred, sample_weight=None, reduction=DEFAULT_REDUCTION, **kwargs):
        keras_standardize_reduction(reduction)
        kwargs = {**(defaults or {}), **kwargs}
        if validate is not None:
            validate(**kwargs)
        y_true = np.asarray(y_true).astype(LOSS_DTYPE, copy=False)  # no copy when already float32
        y_pred = np.asarray(y_pred).astype(LOSS_DTYPE, copy=False)
        y_true, y_pred = keras_squeeze_or_expand_to_same_rank(y_true, y_pred)
        losses, mask = fn(y_true, y_pred, **kwargs) if masked else (fn(y_true, y_pred, **kwargs), None)
        return keras_reduce_weighted_values(losses, sample_weight, mask, reduction, LOSS_DTYPE)

    reference.__doc__ = (
        f"Keras loss class around ``{fn.__name__}``: float32 inputs, same-rank "
        "adjustment, then the Keras reduction." + (" The function's mask is folded into the "
                                                  "weights." if masked else "")
    )
    return reference


def _q_in_open_unit_interval(q=0.5):
    if not 0 < q < 1:
        raise TFValueError("q must be in the interval (0, 1)")


BinaryCrossentropy = loss_class(F.binary_crossentropy)
BinaryFocalCrossentropy = loss_class(F.binary_focal_crossentropy)
CategoricalCrossentropy = loss_class(F.categorical_crossentropy)
CategoricalFocalCrossentropy = loss_class(F.categorical_focal_crossentropy)
CategoricalGeneralizedCrossEntropy = loss_class(
    F.categorical_generalized_cross_entropy, validate=_q_in_open_unit_interval, defaults={"q": 0.5}
)
CategoricalHinge = loss_class(F.categorical_hinge)
Circle = loss_class(F.circle_masked, masked=True)
CosineSimilarity = loss_class(F.cosine_similarity)
CTC = loss_class(F.ctc)
Dice = loss_class(F.dice)
Hinge = loss_class(F.hinge)
Huber = loss_class(F.huber)
KLDivergence = loss_class(F.kl_divergence)
LogCosh = loss_class(F.log_cosh)
MeanAbsoluteError = loss_class(F.mean_absolute_error)
MeanAbsolutePercentageError = loss_class(F.mean_absolute_percentage_error)
MeanSquaredError = loss_class(F.mean_squared_error)
MeanSquaredLogarithmicError = loss_class(F.mean_squared_logarithmic_error)
Poisson = loss_class(F.poisson)
SparseCategoricalCrossentropy = loss_class(F.sparse_categorical_crossentropy_masked, masked=True)
SquaredHinge = loss_class(F.squared_hinge)
Tversky = loss_class(F.tversky)
