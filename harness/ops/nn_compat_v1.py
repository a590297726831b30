"""Op records for the TF1 names in ``tf.compat.v1.nn`` that the documents teach.

``softmax_cross_entropy_with_logits`` (v1, deprecated in TF 1.5) and ``..._v2`` compute the
same forward value as ``tf.nn.softmax_cross_entropy_with_logits``; they differ in the
gradient: v1 stops it at the labels, v2 (TF 2's default) backpropagates into the labels.
Both take the class axis as ``dim`` (TF1) or ``axis``, never both: v1's ``dim`` defaults
to -1, so v1 rejects any ``axis`` unless ``dim=None`` is passed too (TF's ValueError
"Cannot specify both 'dim' and 'axis'."); v2's ``dim`` defaults to None.
"""
import numpy as np

from harness.ops.common import cot, pick
from harness.ops.nn import xent_check
from harness.reference import nn
from harness.reference import vjp as V
from harness.reference.errors import TFValueError
from harness.registry import Arg, OpSpec


def _class_axis(dim, axis):
    """TF's ``deprecated_argument_lookup``: one of ``axis``/``dim``; None means -1."""
    if axis is not None and dim is not None:
        raise TFValueError("Cannot specify both 'dim' and 'axis'.")
    axis = dim if axis is None else axis
    return -1 if axis is None else axis


def _xent_v1(labels, logits, dim=-1, axis=None):
    """Forward value of ``tf.compat.v1.nn.softmax_cross_entropy_with_logits``."""
    return nn.softmax_cross_entropy_with_logits(labels, logits, axis=_class_axis(dim, axis))


def _xent_v2(labels, logits, axis=None, dim=None):
    """Forward value of ``tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2``."""
    return nn.softmax_cross_entropy_with_logits(labels, logits, axis=_class_axis(dim, axis))


def _axis_check(dim_default):
    """``xent_check`` after the rule that ``axis`` and ``dim`` are not both given."""
    shapes = xent_check(lambda args: _class_axis(args.get("dim", dim_default), args.get("axis")))

    def check(init, args):
        if args.get("axis") is not None and args.get("dim", dim_default) is not None:
            shown = "" if "dim" in args else f" (dim defaults to {dim_default}: pass dim: null with axis)"
            return f"axis and dim are both given{shown} (TF raises ValueError: Cannot specify both 'dim' and 'axis')"
        return shapes(init, args)
    return check


def _xent_grad(init, args, cotangent, wrt):
    x = args["logits"]
    return V.softmax_xent_vjp(args["labels"], x, cot(cotangent, x.dtype), _class_axis(args.get("dim"), args.get("axis")))


def xent_v1_grad(init, args, cotangent, wrt):
    """Labels behind ``stop_gradient``: their gradient is zero."""
    dlabels, dlogits = _xent_grad(init, args, cotangent, wrt)
    return pick(wrt, labels=np.zeros_like(dlabels), logits=dlogits)


def xent_v2_grad(init, args, cotangent, wrt):
    dlabels, dlogits = _xent_grad(init, args, cotangent, wrt)
    return pick(wrt, labels=dlabels, logits=dlogits)


def _args(dim_default) -> tuple[Arg, ...]:
    return (
        Arg("labels", "float", doc="class probabilities (one-hot or soft), same shape as logits",
            kind="probabilities"),
        Arg("logits", "float", doc="unscaled log-probabilities", kind="logits"),
        Arg("dim", "value", default=dim_default, doc="the class axis (TF1 name); None means -1"),
        Arg("axis", "value", default=None, doc="the class axis (alias of dim; give only one)"),
    )


OPS = [
    OpSpec(
        name="tf.compat.v1.nn.softmax_cross_entropy_with_logits",
        reference=_xent_v1,
        args=_args(-1),
        differentiable=("logits",),
        grad=xent_v1_grad,
        summary="TF1 softmax cross-entropy: no gradient into labels",
        quirks="the labels are wrapped in stop_gradient: their gradient is zero",
        check=_axis_check(-1),
    ),
    OpSpec(
        name="tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2",
        reference=_xent_v2,
        args=_args(None),
        differentiable=("labels", "logits"),
        grad=xent_v2_grad,
        summary="TF1.5+ softmax cross-entropy: gradient into labels and logits",
        check=_axis_check(None),
    ),
]
