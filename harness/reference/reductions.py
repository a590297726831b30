"""Every reduction, written once.

Section 1: ``tf.compat.v1.losses`` reductions (``compute_weighted_loss``).
Section 2: Keras 3 reductions (``keras.losses.Loss.__call__``).
"""
from __future__ import annotations

import numpy as np

# --- Section 1: tf.compat.v1.losses -------------------------------------------------
from harness.reference import stable as _stable  # noqa: E402
from harness.reference import summation as _summation  # noqa: E402
from harness.reference.errors import TFValueError as _TFValueError  # noqa: E402

V1_NONE = "none"
V1_SUM = "weighted_sum"
V1_SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
V1_MEAN = "weighted_mean"
V1_SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
V1_SUM_OVER_NONZERO_WEIGHTS = V1_SUM_BY_NONZERO_WEIGHTS  # the same string in TF
V1_REDUCTIONS = (V1_NONE, V1_SUM, V1_MEAN, V1_SUM_OVER_BATCH_SIZE, V1_SUM_BY_NONZERO_WEIGHTS)
"""``tf.compat.v1.losses.Reduction``'s string constants (SUM_OVER_NONZERO_WEIGHTS is an
alias of SUM_BY_NONZERO_WEIGHTS)."""


def v1_validate_reduction(reduction: str) -> None:
    """``Reduction.validate``: an unknown key is a ValueError."""
    if reduction not in V1_REDUCTIONS:
        raise _TFValueError(f"Invalid Reduction Key {reduction}. Key should be one of {V1_REDUCTIONS}.")


def v1_assert_broadcastable(weights, values) -> None:
    """TF's limited weight broadcasting for v1 losses: ``weights`` is a scalar, or has the
    rank of ``values`` with every dimension 1 or equal to that of ``values``.
    Anything else is a ValueError (static shapes)."""
    w_shape, v_shape = np.shape(weights), np.shape(values)
    if len(w_shape) == 0:
        return
    if len(w_shape) != len(v_shape):
        raise _TFValueError(
            f"weights can not be broadcast to values. values.rank={len(v_shape)}. "
            f"weights.rank={len(w_shape)}. values.shape={v_shape}. weights.shape={w_shape}."
        )
    for i, (w, v) in enumerate(zip(w_shape, v_shape)):
        if w not in (1, v):
            raise _TFValueError(
                f"weights can not be broadcast to values. Mismatch at dim {i}. "
                f"values.shape={list(v_shape)}, weights.shape={list(w_shape)}."
            )


def v1_num_present(losses, weights, per_batch: bool = False) -> np.ndarray:
    """Number of entries of ``losses`` whose broadcast weight is non-zero (float32).

    With ``per_batch`` the count is per example (summed over axes 1..), keepdims.
    TF quirk mirrored (eager mode): a scalar non-zero weight short-cuts to the total
    element count of ``losses`` even when ``per_batch`` is asked for; inside a
    ``tf.function`` the same call counts per example."""
    losses = np.asarray(losses)
    weights = np.asarray(weights).astype(np.float32)
    if weights.ndim == 0 and weights != 0:
        return np.float32(losses.size)
    present = np.broadcast_to(np.where(weights == 0, np.float32(0), np.float32(1)), losses.shape)
    if per_batch:
        return np.sum(present, axis=tuple(range(1, losses.ndim)), keepdims=True, dtype=np.float32)
    return np.sum(present, dtype=np.float32)


def v1_compute_weighted_loss(losses, weights=1.0, reduction: str = V1_SUM_BY_NONZERO_WEIGHTS):
    """``tf.compat.v1.losses.compute_weighted_loss``.

    weighted = losses * weights (broadcast under ``v1_assert_broadcastable``), then
    NONE: weighted; SUM: sum; MEAN: sum / sum(weights broadcast);
    SUM_OVER_BATCH_SIZE: sum / losses.size; SUM_BY_NONZERO_WEIGHTS: sum / number of
    non-zero broadcast weights. Every division is ``div_no_nan`` (0 when the divisor is 0).

    TF quirk mirrored: losses and weights are cast to float32, the reduction runs in
    float32 and the result is cast back to the input dtype, so float64 losses come back
    with float32 precision (and float16 ones are reduced without float16 overflow)."""
    v1_validate_reduction(reduction)
    losses = np.asarray(losses)
    v1_assert_broadcastable(weights, losses)
    input_dtype = losses.dtype
    losses32 = losses.astype(np.float32, copy=False)
    weights32 = np.asarray(weights).astype(np.float32, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        weighted = np.multiply(losses32, weights32)
        if reduction == V1_NONE:
            return np.asarray(weighted).astype(input_dtype)
        total = np.sum(weighted, dtype=np.float32)
        loss = _v1_divide(total, reduction, weights, losses32,
                          lambda: np.sum(np.ones_like(losses32) * weights32, dtype=np.float32))
    return np.asarray(loss).astype(input_dtype)


def _v1_divide(total, reduction: str, weights, like: np.ndarray, weight_total):
    """The v1 reductions after the sum: ``total`` as is (SUM) or divided (div_no_nan) by
    ``weight_total()`` (MEAN: the broadcast weights' sum), by the number of non-zero broadcast
    weights (``v1_num_present`` of an array ``like`` the losses), or by the losses' size."""
    if reduction == V1_MEAN:
        return _stable.div_no_nan(total, weight_total())
    if reduction == V1_SUM_BY_NONZERO_WEIGHTS:
        return _stable.div_no_nan(total, v1_num_present(like, weights))
    if reduction == V1_SUM_OVER_BATCH_SIZE:
        return _stable.div_no_nan(total, np.float32(like.size))
    return total


def v1_weighted_loss_of(terms, arrays: tuple, weights=1.0, reduction: str = V1_SUM_BY_NONZERO_WEIGHTS):
    """``v1_compute_weighted_loss(terms(*arrays), weights, reduction)``, the same bits, for an
    element-wise ``terms`` (the per-element losses, float32 or float64).

    With a scalar weight and a reduction that sums, large arrays
    (``summation.in_runs``) never hold their losses whole: ``summation.sum_of`` sums
    float32(losses) * weight in NumPy's pairwise order a run at a time on two threads, as
    the whole-array ``np.sum`` would; everything else goes through ``v1_compute_weighted_loss``."""
    w = np.asarray(weights)
    if reduction == V1_NONE or w.ndim != 0 or not _summation.in_runs(*arrays):
        return v1_compute_weighted_loss(terms(*arrays), weights, reduction)
    v1_validate_reduction(reduction)
    w32 = w.astype(np.float32)
    dtypes: list = []

    def weighted(*parts):
        losses = terms(*parts)
        dtypes.append(losses.dtype)
        with np.errstate(invalid="ignore", over="ignore"):
            return np.multiply(losses.astype(np.float32, copy=False), w32)

    def weight_total():
        return _summation.sum_of(lambda part: np.ones_like(part, dtype=np.float32) * w32, arrays[0])

    with np.errstate(invalid="ignore", over="ignore"):
        total = _summation.sum_of(weighted, *arrays)
        loss = _v1_divide(total, reduction, weights, np.broadcast_to(np.float32(0), arrays[0].shape), weight_total)
    return np.asarray(loss).astype(dtypes[0])



# --- Section 2: Keras 3 -------------------------------------------------------------
from harness.reference.errors import InvalidArgumentError as _InvalidArgumentError  # noqa: E402
from harness.reference.errors import TFValueError as _KerasValueError  # noqa: E402
from harness.reference.stable import div_no_nan as _div_no_nan  # noqa: E402

KERAS_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
"""``keras.losses.Loss(reduction=...)``'s accepted values (``"none"`` and ``None`` alike)."""


def keras_standardize_reduction(reduction):
    """``loss.standardize_reduction``: anything outside ``KERAS_REDUCTIONS`` is a ValueError
    raised by the constructor."""
    if reduction not in KERAS_REDUCTIONS:
        raise _KerasValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{set(KERAS_REDUCTIONS)}. Received: reduction={reduction}"
        )
    return reduction


def keras_squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """``loss.squeeze_or_expand_to_same_rank``: when the ranks differ by exactly one and the
    longer one ends in a dimension of 1, that dimension is squeezed, except that a rank-1
    partner is expanded instead (so losses ``[B]`` with weights ``[B, 1]`` become ``[B, 1]``)."""
    x1, x2 = np.asarray(x1), np.asarray(x2)
    if x1.ndim == x2.ndim:
        return x1, x2
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = np.squeeze(x1, axis=-1)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = np.squeeze(x2, axis=-1)
    return x1, x2


def keras_multiply(x, y):
    """x * y with TF's broadcasting; incompatible shapes are an InvalidArgumentError
    (raised by the eager Mul kernel), not NumPy's ValueError."""
    try:
        np.broadcast_shapes(np.shape(x), np.shape(y))
    except ValueError:
        raise _InvalidArgumentError(
            f"Incompatible shapes: {list(np.shape(x))} vs. {list(np.shape(y))} [Op:Mul]"
        ) from None
    with np.errstate(invalid="ignore", over="ignore"):
        return np.multiply(x, y)


def keras_apply_mask(sample_weight, mask, dtype, reduction):
    """``loss.apply_mask``: folds a Keras mask into the sample weights.

    For ``"mean"``/``"sum_over_batch_size"`` a valid entry weighs ``total / valid``
    (div_no_nan, so all-masked gives 0) and a masked one 0, so that the later division by
    the element count divides by the number of valid entries; for the other reductions the
    mask is a plain 0/1 weight."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask, dtype=bool)
    if reduction in ("mean", "sum_over_batch_size"):
        total = np.asarray(mask.size, dtype=dtype)
        valid = np.sum(mask, dtype=dtype)
        float_mask = np.where(mask, _div_no_nan(total, valid).astype(dtype), dtype(0))
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = keras_squeeze_or_expand_to_same_rank(
        float_mask, np.asarray(sample_weight).astype(dtype)
    )
    return keras_multiply(sample_weight, float_mask)


def keras_reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """``loss.reduce_values``: ``None``/``"none"`` and losses of shape ``()`` or ``(0,)`` come
    back unreduced; otherwise sum, divided (div_no_nan) for ``"sum_over_batch_size"``/
    ``"mean"`` by the element count of ``values`` and for ``"mean_with_sample_weight"`` by
    ``sum(sample_weight)`` (the count when no weight was given).

    Keras quirk mirrored: the divisor is the sum of the weights *before* they are
    broadcast against the losses, so a scalar weight w gives ``sum(losses)``, not the mean."""
    values = np.asarray(values)
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    dtype = values.dtype.type
    loss = np.sum(values, dtype=dtype)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = np.sum(np.asarray(sample_weight), dtype=dtype)
    else:
        divisor = np.asarray(values.size, dtype=dtype)
    return _div_no_nan(loss, divisor).astype(dtype)


def keras_reduce_weighted_values(values, sample_weight=None, mask=None,
                                 reduction="sum_over_batch_size", dtype=np.float32):
    """``loss.reduce_weighted_values``: losses, weights and mask cast to the loss dtype
    (float32 by default: ``floatx()``), the mask folded into the weights, weights squeezed
    or expanded to the losses' rank and multiplied in (TF broadcasting), then reduced."""
    keras_standardize_reduction(reduction)
    values = np.asarray(values).astype(dtype)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight).astype(dtype)
    sample_weight = keras_apply_mask(sample_weight, mask, dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = keras_squeeze_or_expand_to_same_rank(values, sample_weight)
        values = keras_multiply(values, sample_weight)
    return keras_reduce_values(values, sample_weight, reduction)


# --- Section 3: Keras 2 (tf_keras) --------------------------------------------------------
from harness.reference.summation import reduce_sum as _reduce_sum  # noqa: E402

KERAS2_REDUCTIONS = ("auto", "none", "sum", "sum_over_batch_size")
"""``tf_keras.losses.Reduction.all()``; ``auto`` means ``sum_over_batch_size`` outside a
distribution strategy. Keras 3's ``mean``, ``mean_with_sample_weight`` and ``None`` are
ValueErrors here."""


def keras2_validate_reduction(reduction) -> None:
    """``ReductionV2.validate``: a key outside ``KERAS2_REDUCTIONS`` is a ValueError."""
    if reduction not in KERAS2_REDUCTIONS:
        raise _TFValueError(f'Invalid Reduction Key: {reduction}. Expected keys are "{KERAS2_REDUCTIONS}"')


def keras2_remove_squeezable_dimensions(labels, predictions):
    """``losses_utils.remove_squeezable_dimensions``: when the ranks differ by one and the
    longer one ends in a dimension of 1, that dimension is squeezed. Never expands (Keras
    3's ``keras_squeeze_or_expand_to_same_rank`` expands a rank-1 partner instead)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    rank_diff = predictions.ndim - labels.ndim
    if rank_diff == 1 and predictions.shape[-1] == 1:
        predictions = np.squeeze(predictions, axis=-1)
    elif rank_diff == -1 and labels.shape[-1] == 1:
        labels = np.squeeze(labels, axis=-1)
    return labels, predictions


def keras2_adjust_weights(losses, sample_weight):
    """``squeeze_or_expand_dimensions(losses, None, sample_weight)``: a weight of one rank
    more loses its last dimension (which must be 1), one of one rank less gains a trailing
    dimension of 1, so per-example weights ``[B]`` scale every element of ``[B, T]`` losses."""
    losses, sample_weight = np.asarray(losses), np.asarray(sample_weight)
    if sample_weight.ndim == losses.ndim + 1:
        if sample_weight.shape[-1] != 1:
            raise _InvalidArgumentError(
                f"Can not squeeze dim[{sample_weight.ndim - 1}], expected a dimension of 1, "
                f"got {sample_weight.shape[-1]} [Op:Squeeze]")
        return np.squeeze(sample_weight, axis=-1)
    if sample_weight.ndim and sample_weight.ndim == losses.ndim - 1:
        return sample_weight[..., None]
    return sample_weight


def keras2_valid_mask_weights(sample_weight, mask, reduction, dtype):
    """``apply_valid_mask`` then ``apply_mask``: for ``auto``/``sum_over_batch_size`` the
    0/1 mask is scaled by total / valid with a plain division (all masked: 0 * inf = NaN,
    where Keras 3's div_no_nan gives 0), then multiplied into the weights."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask).astype(dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if reduction in ("auto", "sum_over_batch_size"):
            mask = mask * (np.asarray(mask.size, dtype=dtype) / _reduce_sum(mask))
        if sample_weight is None:
            return mask
        return keras_multiply(keras2_adjust_weights(mask, np.asarray(sample_weight).astype(dtype)), mask)


def keras2_compute_weighted_loss(losses, sample_weight=None, reduction="auto", mask=None):
    """``Loss.__call__`` after the function: the mask folded into the weights, the weights
    cast to the losses' dtype (no float32 cast: float16 losses are reduced in float16),
    squeezed or expanded by ``keras2_adjust_weights`` and multiplied in, then ``none``: the
    weighted losses; ``sum``: their sum (``tf.reduce_sum``); ``auto``/``sum_over_batch_size``:
    ``divide_no_nan(sum, size)``, the size cast to the losses' dtype, so an empty batch
    gives 0 (Keras 3 returns the empty losses)."""
    keras2_validate_reduction(reduction)
    losses = np.asarray(losses)
    dtype = losses.dtype.type
    sample_weight = keras2_valid_mask_weights(sample_weight, mask, reduction, dtype)
    weights = np.asarray(1.0 if sample_weight is None else sample_weight).astype(dtype)
    weighted = keras_multiply(losses, keras2_adjust_weights(losses, weights))
    if reduction == "none":
        return weighted
    total = _reduce_sum(weighted)
    if reduction == "sum":
        return total
    with np.errstate(over="ignore"):
        size = np.asarray(weighted.size, dtype=dtype)  # float16: inf beyond 65504 elements
    return _div_no_nan(total, size).astype(dtype)
