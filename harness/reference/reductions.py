"""Every reduction, written once.

Section 1: ``tf.compat.v1.losses`` reductions (``compute_weighted_loss``).
Section 2: Keras 3 reductions (``keras.losses.Loss.__call__``).
"""
from __future__ import annotations

import numpy as np

# --- Section 1: tf.compat.v1.losses -------------------------------------------------
from harness.reference import stable as _stable  # noqa: E402
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
    losses32 = losses.astype(np.float32)
    weights32 = np.asarray(weights).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        weighted = losses32 * weights32
        if reduction == V1_NONE:
            loss = weighted
        else:
            loss = np.sum(weighted, dtype=np.float32)
            if reduction == V1_MEAN:
                denom = np.sum(np.ones_like(losses32) * weights32, dtype=np.float32)
                loss = _stable.div_no_nan(loss, denom)
            elif reduction == V1_SUM_BY_NONZERO_WEIGHTS:
                loss = _stable.div_no_nan(loss, v1_num_present(losses32, weights))
            elif reduction == V1_SUM_OVER_BATCH_SIZE:
                loss = _stable.div_no_nan(loss, np.float32(losses32.size))
    return np.asarray(loss).astype(input_dtype)



# --- Section 2: Keras 3 -------------------------------------------------------------
