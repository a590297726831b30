"""Registry entries for the TF1 names in ``tf.compat.v1.nn`` that the documents teach.

``softmax_cross_entropy_with_logits`` (v1, deprecated in TF 1.5) and ``..._v2`` compute the
same forward value as ``tf.nn.softmax_cross_entropy_with_logits``; they differ in the
gradient: v1 stops it at the labels, v2 (TF 2's default) backpropagates into the labels.
Both take the class axis as ``dim`` (TF1) or ``axis``.
"""
from harness.ops.nn import xent_check
from harness.reference import nn
from harness.registry import Arg, OpSpec


def _xent_v1_axis(labels, logits, dim=-1, axis=None):
    """Forward value of the TF1 spelling: ``axis`` wins over ``dim`` when both are given."""
    return nn.softmax_cross_entropy_with_logits(labels, logits, axis=dim if axis is None else axis)


def _v1_axis(args):
    """The class axis as ``_xent_v1_axis`` resolves it."""
    return args.get("dim", -1) if args.get("axis") is None else args["axis"]


_ARGS = (
    Arg("labels", "float", doc="class probabilities (one-hot or soft), same shape as logits"),
    Arg("logits", "float", doc="unscaled log-probabilities"),
    Arg("dim", "value", default=-1, doc="the class axis (TF1 name)"),
    Arg("axis", "value", default=None, doc="the class axis (alias of dim)"),
)

OPS = [
    OpSpec(
        name="tf.compat.v1.nn.softmax_cross_entropy_with_logits",
        reference=_xent_v1_axis,
        args=_ARGS,
        differentiable=("logits",),
        summary="TF1 softmax cross-entropy: no gradient into labels",
        check=xent_check(_v1_axis),
    ),
    OpSpec(
        name="tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2",
        reference=_xent_v1_axis,
        args=_ARGS,
        differentiable=("labels", "logits"),
        summary="TF1.5+ softmax cross-entropy: gradient into labels and logits",
        check=xent_check(_v1_axis),
    ),
]
