"""Registry entries for ``tf.compat.v1.losses``."""
from __future__ import annotations

import numpy as np

from harness.reference import losses_v1
from harness.reference.reductions import V1_REDUCTIONS, V1_SUM_BY_NONZERO_WEIGHTS
from harness.registry import Arg, OpSpec

REDUCTION = Arg(
    "reduction", "value", default=V1_SUM_BY_NONZERO_WEIGHTS,
    doc="a tf.compat.v1.losses.Reduction string", choices=V1_REDUCTIONS,
)
WEIGHTS = Arg("weights", "float", default=1.0,
              doc="scalar, or the loss's rank with each dimension 1 or equal")


def _same_shape(a: str, b: str):
    def check(init, args):
        if a in args and b in args and np.shape(args[a]) != np.shape(args[b]):
            return f"`{a}` shape {list(np.shape(args[a]))} != `{b}` shape {list(np.shape(args[b]))}"
        return None
    return check


def _pair_op(name, reference, labels, predictions, summary, extra=(), reduction=True):
    args = (Arg(labels, "float"), Arg(predictions, "float"), WEIGHTS) + tuple(extra)
    if reduction:
        args += (REDUCTION,)
    return OpSpec(
        name=f"tf.compat.v1.losses.{name}",
        reference=reference,
        args=args,
        differentiable=(labels, predictions, "weights"),
        summary=summary,
        check=_same_shape(labels, predictions),
    )


OPS = [
    OpSpec(
        name="tf.compat.v1.losses.compute_weighted_loss",
        reference=losses_v1.compute_weighted_loss,
        args=(Arg("losses", "float"), WEIGHTS, REDUCTION),
        differentiable=("losses", "weights"),
        summary="weights and reduces a loss tensor (float32 inside, cast back)",
    ),
    OpSpec(
        name="tf.compat.v1.losses.softmax_cross_entropy",
        reference=losses_v1.softmax_cross_entropy,
        args=(
            Arg("onehot_labels", "float", doc="one-hot (or soft) labels, same shape as logits"),
            Arg("logits", "float"),
            Arg("weights", "float", default=1.0, doc="scalar or per-example [batch]"),
            Arg("label_smoothing", "value", default=0, doc="smooth towards 1/num_classes"),
            REDUCTION,
        ),
        differentiable=("logits", "weights"),
        summary="softmax cross-entropy, weighted and reduced",
        check=_same_shape("onehot_labels", "logits"),
    ),
    OpSpec(
        name="tf.compat.v1.losses.sparse_softmax_cross_entropy",
        reference=losses_v1.sparse_softmax_cross_entropy,
        args=(
            Arg("labels", "int", doc="class indices, logits.shape[:-1] (a trailing 1 is squeezed)"),
            Arg("logits", "float"),
            Arg("weights", "float", default=1.0, doc="scalar or per-example [batch] ([batch, 1] is squeezed)"),
            REDUCTION,
        ),
        differentiable=("logits", "weights"),
        summary="sparse softmax cross-entropy, weighted and reduced",
    ),
    OpSpec(
        name="tf.compat.v1.losses.sigmoid_cross_entropy",
        reference=losses_v1.sigmoid_cross_entropy,
        args=(
            Arg("multi_class_labels", "float", doc="targets in {0, 1}, same shape as logits"),
            Arg("logits", "float"),
            WEIGHTS,
            Arg("label_smoothing", "value", default=0, doc="smooth towards 1/2"),
            REDUCTION,
        ),
        differentiable=("multi_class_labels", "logits", "weights"),
        summary="element-wise logistic loss, weighted and reduced",
        check=_same_shape("multi_class_labels", "logits"),
    ),
    _pair_op("absolute_difference", losses_v1.absolute_difference, "labels", "predictions",
             "|predictions - labels| (float32), weighted and reduced"),
    _pair_op("mean_squared_error", losses_v1.mean_squared_error, "labels", "predictions",
             "(predictions - labels)^2 (float32), weighted and reduced"),
    _pair_op("hinge_loss", losses_v1.hinge_loss, "labels", "logits",
             "max(0, 1 - (2 * labels - 1) * logits) (float32), weighted and reduced"),
    _pair_op("huber_loss", losses_v1.huber_loss, "labels", "predictions",
             "Huber loss (float32), weighted and reduced",
             extra=(Arg("delta", "value", default=1.0, doc="where the loss turns linear"),)),
    _pair_op("log_loss", losses_v1.log_loss, "labels", "predictions",
             "binary log loss on probabilities (float32), weighted and reduced",
             extra=(Arg("epsilon", "value", default=1e-7, doc="added inside both logs"),)),
    _pair_op("cosine_distance", losses_v1.cosine_distance, "labels", "predictions",
             "1 - sum(labels * predictions, axis) (float32), weighted and reduced",
             extra=(Arg("axis", "value", default=None, doc="required: the vector axis"),
                    Arg("dim", "value", default=None, doc="deprecated name of axis"))),
    _pair_op("mean_pairwise_squared_error", losses_v1.mean_pairwise_squared_error, "labels", "predictions",
             "mean squared difference of pairwise differences per example, summed over the batch",
             reduction=False),
]
