"""Registry entries for ``tf.nn``."""
from harness.reference import nn
from harness.registry import Arg, OpSpec

OPS = [
    OpSpec(
        name="tf.nn.softmax",
        reference=nn.softmax,
        args=(Arg("logits", "float"), Arg("axis", "value", default=-1)),
        differentiable=("logits",),
        summary="softmax along an axis",
    ),
    OpSpec(
        name="tf.nn.sparse_softmax_cross_entropy_with_logits",
        reference=nn.sparse_softmax_cross_entropy_with_logits,
        args=(
            Arg("labels", "int", doc="class indices, shape = logits.shape[:-1]"),
            Arg("logits", "float", doc="unscaled log-probabilities"),
        ),
        differentiable=("logits",),
        summary="per-example cross-entropy with integer labels",
    ),
]
