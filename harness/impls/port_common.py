"""What the PyTorch and JAX ports share: Keras's loss-class wrapper and TF1's weighted reduction,
written once against a small array namespace (:class:`XP`) that each port fills in.

A Keras 3 loss class (``LossFunctionWrapper.__call__``): ``y_true`` and ``y_pred`` cast to
float32 (``floatx()``) whatever their dtype, squeezed/expanded to one rank, the function's
per-example losses, the sample weight (and a mask) multiplied in, then reduced:
``sum_over_batch_size``/``mean`` divide the sum by the number of losses (div_no_nan),
``mean_with_sample_weight`` by the sum of the weights, ``sum`` not at all, ``none`` returns
them. A mask makes every valid entry weigh ``total / valid`` under the mean reductions.

``tf.compat.v1.losses.compute_weighted_loss``: losses and weights in float32, then the sum
divided by the number of non-zero weights (the default), by the sum of the weights
(``weighted_mean``) or by the element count (``weighted_sum_over_batch_size``), cast back
to the losses' dtype.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

EPSILON = 1e-7
"""``keras.config.epsilon()``: the clipping bound of probabilities and denominators."""


@dataclass(frozen=True)
class XP:
    """The few array operations the shared code needs, in one framework."""

    float32: Any
    float64: Any
    cast: Callable[[Any, Any], Any]
    """``cast(x, dtype)``; ``x`` may be a Python number."""
    where: Callable[[Any, Any, Any], Any]
    size: Callable[[Any], int]
    total: Callable[[Any], Any]
    """The sum of every element."""
    dtype: Callable[[Any], Any]
    ones_like: Callable[[Any], Any]


def div_no_nan(xp: XP, a: Any, b: Any) -> Any:
    """a / b, and 0 where b is 0 (``tf.math.divide_no_nan``)."""
    safe = xp.where(b == 0, xp.cast(1, xp.dtype(b)), b)
    return xp.where(b == 0, xp.cast(0, xp.dtype(a)), a / safe)


def same_rank(a: Any, b: Any) -> tuple[Any, Any]:
    """``squeeze_or_expand_to_same_rank``: ranks one apart, the longer ending in 1: squeeze
    it, or expand a rank-1 partner instead."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if b.ndim == 1 else (a.squeeze(-1), b)
    if b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if a.ndim == 1 else (a, b.squeeze(-1))
    return a, b


def keras_reduce(xp: XP, losses: Any, sample_weight: Any = None, mask: Any = None,
                 reduction: str | None = "sum_over_batch_size") -> Any:
    """``reduce_weighted_values`` in float32: mask folded into the weights, weights to the
    losses' rank and multiplied in, then the reduction."""
    losses = xp.cast(losses, xp.float32)
    weight = None if sample_weight is None else xp.cast(sample_weight, xp.float32)
    if mask is not None:
        if reduction in ("mean", "sum_over_batch_size"):
            share = div_no_nan(xp, xp.cast(xp.size(mask), xp.float32), xp.total(xp.cast(mask, xp.float32)))
            float_mask = xp.where(mask, share, xp.cast(0, xp.float32))
        else:
            float_mask = xp.cast(mask, xp.float32)
        if weight is not None:
            float_mask, weight = same_rank(float_mask, weight)
            float_mask = float_mask * weight
        weight = float_mask
    if weight is not None:
        losses, weight = same_rank(losses, weight)
        losses = losses * weight
    if reduction in (None, "none") or tuple(losses.shape) in ((), (0,)):
        return losses
    total = xp.total(losses)
    if reduction == "sum":
        return total
    count = xp.total(weight) if reduction == "mean_with_sample_weight" and weight is not None else \
        xp.cast(xp.size(losses), xp.float32)
    return div_no_nan(xp, total, count)


def keras_class(xp: XP, fn: Callable[..., Any], masked: bool = False, **defaults: Any) -> Callable[..., Any]:
    """The port of a Keras loss class around the per-example function ``fn`` (``masked``:
    ``fn`` returns ``(losses, mask)``)."""

    def loss(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size", **kwargs):
        y_true, y_pred = same_rank(xp.cast(y_true, xp.float32), xp.cast(y_pred, xp.float32))
        out = fn(y_true, y_pred, **{**defaults, **kwargs})
        losses, mask = out if masked else (out, None)
        return keras_reduce(xp, losses, sample_weight, mask, reduction)

    loss.__doc__ = f"Keras loss class around {getattr(fn, '__name__', fn)}: float32, same rank, weighted reduction."
    return wraps(loss, "keras_class", fn)


def wraps(wrapper: Callable[..., Any], name: str, inner: Callable[..., Any]) -> Callable[..., Any]:
    """Name ``wrapper`` and remember the per-element function it wraps (the port atlas shows both)."""
    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.port_of = inner  # type: ignore[attr-defined]
    return wrapper


def compute_average_loss(xp: XP, per_example_loss: Any, sample_weight: Any = None, global_batch_size: Any = None) -> Any:
    """``tf.nn.compute_average_loss``: sum(loss * weight) / global_batch_size (the batch when not
    given; 0 for a batch of 0). The weighted product is formed in float32 and cast back; a weight
    of one more rank loses its last axis, of one less gains one."""
    losses = per_example_loss
    if sample_weight is not None:
        weight = xp.cast(sample_weight, xp.float32)
        if weight.ndim == losses.ndim + 1:
            weight = weight[..., 0]
        elif weight.ndim and weight.ndim == losses.ndim - 1:
            weight = weight[..., None]
        losses = xp.cast(xp.cast(losses, xp.float32) * weight, xp.dtype(per_example_loss))
    batch = losses.shape[0] if global_batch_size is None else global_batch_size
    total = xp.total(losses)
    return total / batch if batch else xp.cast(0, xp.dtype(total))


V1_DEFAULT = "weighted_sum_by_nonzero_weights"


def v1_loss(xp: XP, per_element: Callable[..., Any], first: str = "labels", second: str = "predictions",
            float32: bool = True) -> Callable[..., Any]:
    """The port of a ``tf.compat.v1.losses`` loss: its two tensors (by TF's keyword names) cast
    to float32 first (all but the cross-entropies), ``per_element(a, b, **rest)``, then
    :func:`v1_reduce` with ``weights`` and ``reduction``."""

    def loss(weights=1.0, reduction=V1_DEFAULT, **kwargs):
        a, b = kwargs.pop(first), kwargs.pop(second)
        if float32:
            a, b = xp.cast(a, xp.float32), xp.cast(b, xp.float32)
        return v1_reduce(xp, per_element(a, b, **kwargs), weights, reduction)

    return wraps(loss, "v1_reduce", per_element)


def v1_sparse_shapes(xp: XP, labels: Any, logits: Any, weights: Any) -> tuple[Any, Any]:
    """``tf.compat.v1.losses.sparse_softmax_cross_entropy``'s shapes: labels [B, 1] squeezed to
    [B]; weights (float32) of one more rank than the labels lose their last axis."""
    if labels.ndim == logits.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    weights = xp.cast(weights, xp.float32)
    if weights.ndim == labels.ndim + 1:
        weights = weights[..., 0]
    return labels, weights


def v1_reduce(xp: XP, losses: Any, weights: Any = 1.0, reduction: str = V1_DEFAULT) -> Any:
    """``tf.compat.v1.losses.compute_weighted_loss`` (float32 inside, cast back)."""
    dtype = xp.dtype(losses)
    losses32 = xp.cast(losses, xp.float32)
    weights32 = xp.cast(weights, xp.float32)
    weighted = losses32 * weights32
    if reduction == "none":
        return xp.cast(weighted, dtype)
    total = xp.total(weighted)
    if reduction == "weighted_mean":
        total = div_no_nan(xp, total, xp.total(xp.ones_like(losses32) * weights32))
    elif reduction == "weighted_sum_by_nonzero_weights":
        nonzero = xp.cast(weights32 != 0, xp.float32)
        if weights32.ndim == 0:  # TF's shortcut: a non-zero scalar weight counts every element
            present = nonzero * xp.cast(xp.size(losses32), xp.float32)
        else:
            present = xp.total(xp.ones_like(losses32) * nonzero)
        total = div_no_nan(xp, total, present)
    elif reduction == "weighted_sum_over_batch_size":
        total = div_no_nan(xp, total, xp.cast(xp.size(losses32), xp.float32))
    return xp.cast(total, dtype)


_FUNCTION_NAMES = {
    "huber": "huber", "poisson": "poisson", "cosine_similarity": "cosine_similarity", "hinge": "hinge",
    "squared_hinge": "squared_hinge", "categorical_hinge": "categorical_hinge",
    "binary_crossentropy": "binary_crossentropy", "categorical_crossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy": "categorical_generalized_cross_entropy", "ctc": "ctc", "dice": "dice",
    "tversky": "tversky", "MAE": "mean_absolute_error", "mae": "mean_absolute_error",
    "MAPE": "mean_absolute_percentage_error", "mape": "mean_absolute_percentage_error", "MSE": "mean_squared_error",
    "mse": "mean_squared_error", "MSLE": "mean_squared_logarithmic_error", "msle": "mean_squared_logarithmic_error",
    "KLD": "kl_divergence", "kld": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
    "logcosh": "log_cosh",
}
"""``tf.keras.losses`` function names -> the port's per-example function (the keys of ``functions``)."""

_CLASS_NAMES = {
    "MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error", "Huber": "huber", "LogCosh": "log_cosh",
    "KLDivergence": "kl_divergence", "Poisson": "poisson", "CosineSimilarity": "cosine_similarity", "Hinge": "hinge",
    "SquaredHinge": "squared_hinge", "CategoricalHinge": "categorical_hinge", "BinaryCrossentropy": "binary_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy", "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy", "CTC": "ctc", "Dice": "dice",
    "Tversky": "tversky",
}


def keras_ops(xp: XP, functions: dict) -> dict:
    """The ``tf.keras.losses`` entries of a port's OPS from its per-example functions (named as in
    Keras's source, plus ``sparse_masked`` returning ``(losses, mask)`` for ``ignore_class``):
    the function forms under their public names and aliases, and each class around its function."""
    ops = {f"tf.keras.losses.{public}": functions[name] for public, name in _FUNCTION_NAMES.items() if name in functions}
    ops.update({f"tf.keras.losses.{cls}": keras_class(xp, functions[name])
                for cls, name in _CLASS_NAMES.items() if name in functions})
    if "sparse_masked" in functions:
        ops["tf.keras.losses.SparseCategoricalCrossentropy"] = keras_class(xp, functions["sparse_masked"], masked=True)
    if "categorical_generalized_cross_entropy" in functions:
        ops["tf.keras.losses.CategoricalGeneralizedCrossEntropy"] = keras_class(
            xp, functions["categorical_generalized_cross_entropy"], q=0.5)
    return ops


def framework_free_ops(xp: XP) -> dict:
    """The OPS entries written once here for both ports: ``tf.nn.compute_average_loss`` and
    ``tf.compat.v1.losses.compute_weighted_loss``."""
    return {"tf.nn.compute_average_loss": functools.partial(compute_average_loss, xp),
            "tf.compat.v1.losses.compute_weighted_loss": functools.partial(v1_reduce, xp)}
