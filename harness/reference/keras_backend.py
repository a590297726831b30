"""The pieces of Keras 3's TensorFlow backend (``keras.src.backend.tensorflow``) that the
losses use, in NumPy.

Arithmetic stays in the input dtype, as in TF: every Python constant is first converted
to that dtype (``const``), which is what TF does with a Python scalar operand. That matters
for the 1e-7 clipping: in float16 the bounds become 1.19e-7 (a subnormal) and exactly 1.0,
in bfloat16 1.0012e-7 and 1.0, in float32 1e-7 and 0.99999988.
Sums are ``tf.reduce_sum``'s (:mod:`harness.reference.summation`); ``mean`` of
float16/bfloat16 accumulates in float32 and rounds once at the end, as Keras casts.
"""
from __future__ import annotations

import numpy as np

from harness.reference import nn, rowblocks, stable
from harness.reference.dtypes import compute_dtype
from harness.reference.summation import reduce_sum
from harness.reference.errors import SOFTMAX_AXIS, InvalidArgumentError, TFValueError, check_axis

EPSILON = 1e-7
"""``keras.backend.epsilon()``."""
EPSILON_FLOAT32 = np.float32(EPSILON)
"""``ops.convert_to_tensor(keras.backend.epsilon())``: a float32 tensor, which a float64
operand meets as 1.0000000116860974e-07 (MSLE)."""

def const(value, dtype) -> np.ndarray:
    """A Python scalar converted to ``dtype`` (0-d), as TF converts a scalar operand."""
    with np.errstate(over="ignore"):
        return np.asarray(value, dtype=dtype)


def canonical_axis(axis):
    """NumPy wants a tuple where Keras accepts a list of axes."""
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def mean(x, axis=None, keepdims=False) -> np.ndarray:
    """``keras.ops.mean``: float16/bfloat16 are averaged in float32 and cast back (Keras
    does this explicitly to avoid float16 overflow). Along one axis of a block of a large
    ``rowblocks.by_rows`` input (``rowblocks.fused``): ``rowblocks.axis_means``."""
    x = np.asarray(x)
    check_axis(axis, x.ndim)
    if rowblocks.fused(axis):
        return rowblocks.axis_means(x, axis, keepdims)
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.mean(x, axis=canonical_axis(axis), keepdims=keepdims, dtype=compute_dtype(x))
    return np.asarray(m).astype(x.dtype)


def clip(x, low, high) -> np.ndarray:
    """``tf.clip_by_value`` with Python bounds converted to ``x``'s dtype."""
    x = np.asarray(x)
    return stable.clip(x, const(low, x.dtype), const(high, x.dtype))


def log(x) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow, in the dtype of ``x``."""
    x = np.asarray(x)
    one = const(1, x.dtype)
    e = np.exp(-np.abs(x))
    return stable.select(x >= const(0, x.dtype), one / (one + e), e / (one + e))


def softplus(x) -> np.ndarray:
    """``tf.math.softplus``: max(x, 0) + log1p(exp(-|x|)) (TF's kernel uses thresholds;
    the two agree to a few ulp)."""
    x = np.asarray(x)
    return stable.maximum(x, const(0, x.dtype)) + np.log1p(np.exp(-np.abs(x)))


def softmax(x, axis=-1) -> np.ndarray:
    """``keras.ops.softmax``: ``tf.nn.softmax``, whose error an axis outside [-rank, rank) gets."""
    x = np.asarray(x)
    check_axis(axis, x.ndim, SOFTMAX_AXIS)
    e = np.exp(stable.shift_by_max(x, axis))
    return rowblocks.by_row(np.divide, e, reduce_sum(e, axis=axis, keepdims=True))


def l2_normalize(x, axis=-1) -> np.ndarray:
    """``keras.ops.normalize(order=2)``: x * min(rsqrt(sum(x**2)), 1/epsilon).

    Keras quirk mirrored: the cap 1/epsilon = 1e7 is converted to ``x``'s dtype, which in
    float16 is ``inf``, so a zero vector gives 0 * inf = NaN there (0 elsewhere)."""
    x = np.asarray(x)
    square_sum = reduce_sum(np.square(x), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        inv_norm = const(1, x.dtype) / np.sqrt(square_sum)
    inv_norm = stable.minimum(inv_norm, const(1.0 / EPSILON, x.dtype))
    with np.errstate(invalid="ignore"):
        return rowblocks.by_row(np.multiply, x, inv_norm)


# --- tf.nn kernels ------------------------------------------------------------------


def softmax_cross_entropy_with_logits(labels, logits, axis=-1) -> np.ndarray:
    """The TF backend calls ``tf.nn.softmax_cross_entropy_with_logits``: the same reference
    (float16/bfloat16 logits computed in float32, as TF's wrapper does)."""
    return nn.softmax_cross_entropy_with_logits(labels, logits, axis=axis)


def sparse_softmax_cross_entropy_with_logits(labels, logits) -> np.ndarray:
    """The TF backend calls ``tf.nn.sparse_softmax_cross_entropy_with_logits``: the same
    reference (out-of-range labels raise InvalidArgumentError on CPU)."""
    return nn.sparse_softmax_cross_entropy_with_logits(labels, logits)


def sigmoid_cross_entropy_with_logits(labels, logits) -> np.ndarray:
    """max(x, 0) - x * z + log1p(exp(-|x|)), TF's formulation."""
    x = np.asarray(logits)
    zero = const(0, x.dtype)
    return stable.select(x >= zero, x, zero) - x * labels + np.log1p(np.exp(-np.abs(x)))


# --- keras.src.backend.tensorflow.nn --------------------------------------------------


def _same_shape(target, output):
    if target.ndim != output.ndim:
        raise TFValueError(
            "Arguments `target` and `output` must have the same rank (ndim). Received: "
            f"target.shape={target.shape}, output.shape={output.shape}"
        )
    if target.shape != output.shape:
        raise TFValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={target.shape}, output.shape={output.shape}"
        )


def binary_crossentropy(target, output, from_logits=False) -> np.ndarray:
    """Per element: from logits ``sigmoid_cross_entropy_with_logits``; from probabilities
    -(t log(p) + (1 - t) log(1 - p)) with p clipped to [eps, 1 - eps] in the input dtype
    (so in float16 the upper bound is 1.0 and p = 1 with t = 0 gives inf).

    A rank or shape mismatch is a ValueError (no broadcasting)."""
    target, output = np.asarray(target), np.asarray(output)
    _same_shape(target, output)
    if from_logits:
        return sigmoid_cross_entropy_with_logits(target, output)
    output = clip(output, EPSILON, 1.0 - EPSILON)
    one = const(1, output.dtype)
    with np.errstate(invalid="ignore"):
        bce = target * log(output)
        bce = bce + (one - target) * log(one - output)
    return -bce


def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> np.ndarray:
    """From logits: ``softmax_cross_entropy_with_logits``. From probabilities: Keras
    re-normalises ``output / sum(output, axis)`` first, clips to [eps, 1 - eps], then
    -sum(target * log(output)). Rank < 1, a rank or a shape mismatch is a ValueError."""
    target, output = np.asarray(target), np.asarray(output)
    if target.ndim < 1:
        raise TFValueError(
            "Arguments `target` and `output` must be at least rank 1. Received: "
            f"target.shape={target.shape}, output.shape={output.shape}"
        )
    _same_shape(target, output)
    if from_logits:
        return softmax_cross_entropy_with_logits(target, output, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        output = rowblocks.by_row(np.divide, output, reduce_sum(output, axis=axis, keepdims=True))
    output = clip(output, EPSILON, 1.0 - EPSILON)
    with np.errstate(invalid="ignore"):
        return -reduce_sum(target * log(output), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1) -> np.ndarray:
    """Integer targets (cast to int64, truncating float labels; a trailing dimension of 1
    squeezed). From probabilities: clip to [eps, 1 - eps] then log, *without* the
    re-normalisation the dense version does, and feed that to the sparse softmax
    cross-entropy, which normalises through its logsumexp.

    ValueError for ``axis`` other than the last, and for shapes that do not match
    ``output.shape[:-1]``; InvalidArgumentError for an out-of-range label."""
    output = np.asarray(output)
    if axis != -1 and axis != output.ndim - 1:
        raise TFValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    target = np.trunc(np.asarray(target)).astype(np.int64)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = np.squeeze(target, axis=-1)
    if output.ndim < 1:
        raise TFValueError(f"Argument `output` must be at least rank 1. Received: output.shape={output.shape}")
    nn.require_class_axis_shapes(target, output, (
        "Argument `output` must have rank (ndim) `target.ndim - 1`. Received: target.shape={}, output.shape={}",
        "Arguments `target` and `output` must have the same shape up until the last dimension: "
        "target.shape={}, output.shape={}"))
    if from_logits or output.size == 0:
        if not from_logits:
            output = log(clip(output, EPSILON, 1.0 - EPSILON))
        return sparse_softmax_cross_entropy_with_logits(target, output)
    return _sparse_xent_of_probabilities(target, output)


def _sparse_xent_of_probabilities(target: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The sparse softmax cross-entropy of ``log(clip(output))``, a block of rows at a time
    (``rowblocks.for_row_blocks``): the clipped logs of one block exist at once, never a second
    and third copy of ``output``. Blocks run in order, so an out-of-range label is reported
    as the unblocked call reports it (the first in row-major order)."""
    classes = output.shape[-1]
    probs, labels = output.reshape(-1, classes), target.reshape(-1)
    parts: list[np.ndarray] = []

    def block(rows: slice) -> None:
        logits = log(clip(probs[rows], EPSILON, 1.0 - EPSILON))
        parts.append(sparse_softmax_cross_entropy_with_logits(labels[rows], logits))

    rowblocks.for_row_blocks(block, probs.shape[0], classes, block_dtype=output.dtype, threads=1)
    return np.concatenate(parts).reshape(target.shape)
