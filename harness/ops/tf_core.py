"""Registry entries for top-level ``tf`` functions."""
from __future__ import annotations

from harness.reference import clip
from harness.registry import Arg, OpSpec

OPS = [
    OpSpec(
        name="tf.clip_by_global_norm",
        reference=clip.clip_by_global_norm,
        args=(
            Arg("t_list", "float_list", doc="tensors to clip together"),
            Arg("clip_norm", "value", doc="the largest global norm kept"),
            Arg("use_norm", "float", default=None, doc="a precomputed global norm (None: compute it)"),
        ),
        differentiable=("t_list",),
        summary="scale tensors so their joint L2 norm is at most clip_norm; returns (list, norm)",
    ),
]
