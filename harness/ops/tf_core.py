"""Op records for top-level ``tf`` functions."""
from __future__ import annotations

import numpy as np

from harness.ops.common import pick
from harness.reference import clip
from harness.reference import vjp as V
from harness.registry import Arg, OpSpec


def clip_by_global_norm_grad(init, args, cotangent, wrt):
    """Outputs (clipped list, norm): one cotangent per clipped tensor, then the norm's. The
    op takes a list, which finite differences do not step through."""
    t_list = args["t_list"]
    dt = np.asarray(t_list[0]).dtype
    cots = [V.tf_cotangent(c, dt) for c in cotangent]
    if args.get("use_norm") is not None:
        raise NotImplementedError("the analytic gradient of tf.clip_by_global_norm covers use_norm=None only")
    return pick(wrt, t_list=V.clip_by_global_norm_vjp(t_list, args["clip_norm"], cots[:-1], cots[-1]))


OPS = [
    OpSpec(
        name="tf.clip_by_global_norm",
        reference=clip.clip_by_global_norm,
        args=(
            Arg("t_list", "float_list", doc="tensors to clip together"),
            Arg("clip_norm", "value", doc="the largest global norm kept"),
            Arg("use_norm", "float", default=None, doc="a precomputed global norm (None: compute it)", kind="positive"),
        ),
        differentiable=("t_list",),
        grad=clip_by_global_norm_grad,
        summary="scale tensors so their joint L2 norm is at most clip_norm; returns (list, norm)",
        fuzz="clip_by_global_norm",
        bench="clip_by_global_norm",
    ),
]
