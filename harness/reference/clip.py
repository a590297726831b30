"""Reference for ``tf.clip_by_global_norm``."""
from __future__ import annotations

import numpy as np

from harness.reference.summation import reduce_sum
from harness.reference.errors import InvalidArgumentError, TFTypeError
from harness.reference.nn import l2_loss


def global_norm(t_list):
    """sqrt(2 * sum_i l2_loss(t_i)) = sqrt(sum of all squares), skipping ``None`` entries.

    In the tensors' dtype: each l2_loss is rounded to it, so a float16 half-squared norm
    above 65504 is ``inf``. Tensors of different dtypes cannot be stacked
    (``InvalidArgumentError``)."""
    values = [np.asarray(t) for t in t_list if t is not None]
    dtypes = {v.dtype for v in values}
    if len(dtypes) > 1:
        raise InvalidArgumentError(
            f"cannot compute Pack: inputs have different dtypes {sorted(d.name for d in dtypes)}"
        )
    dtype = values[0].dtype
    half_squared = reduce_sum(np.stack([l2_loss(v) for v in values]))
    with np.errstate(over="ignore"):
        return np.sqrt(np.asarray(half_squared * dtype.type(2.0)).astype(dtype))


def clip_by_global_norm(t_list, clip_norm, use_norm=None):
    """t_i * clip_norm / max(global_norm, clip_norm), returned as (list, global_norm).

    TF's formula, in the norm's dtype: scale = clip_norm * min(1 / norm, 1 / clip_norm)
    + (norm - norm). The added (norm - norm) is TF's deliberate NaN: an infinite or NaN
    norm makes every clipped tensor NaN. A zero norm leaves the tensors unchanged.
    ``None`` entries stay ``None``; ``use_norm`` replaces the computed norm."""
    if not isinstance(t_list, (list, tuple)):
        raise TFTypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    t_list = list(t_list)
    norm = global_norm(t_list) if use_norm is None else np.asarray(use_norm)
    dt = norm.dtype.type
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        clip = dt(clip_norm)
        scale = clip * np.minimum(dt(1.0) / norm, dt(1.0) / clip) + (norm - norm)
        clipped = [
            None if t is None else (np.asarray(t) * np.asarray(scale).astype(np.asarray(t).dtype))
            for t in t_list
        ]
    return clipped, np.asarray(norm)
