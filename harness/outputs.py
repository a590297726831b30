"""Op outputs as trees: an array, or a list/tuple of outputs (``tf.clip_by_global_norm``
returns ``([t1, t2], norm)``). One flattening serves the runner, the TF executor, the
gradient and arbitration code."""
from __future__ import annotations

import math
from typing import Any

import ml_dtypes
import numpy as np

MAX_REPORTED_ELEMENTS = 1000
"""Elements of an output written to results.json (the first ones, flattened, beyond this)."""
_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def flatten(tree: Any) -> list:
    """The leaves of an output tree, as they are (NumPy arrays or TF tensors)."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in flatten(item)]
    return [tree]


def leaf_arrays(tree: Any) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in flatten(tree)]


def leaves(tree: Any, path: str = "") -> list[tuple[str, np.ndarray]]:
    """(path, array) of every leaf: ``""`` for a single array, ``[0][1]`` inside lists."""
    if isinstance(tree, (list, tuple)):
        return [pair for i, v in enumerate(tree) for pair in leaves(v, f"{path}[{i}]")]
    return [(path, np.asarray(tree))]



def jsonable(x: Any, limit: int = MAX_REPORTED_ELEMENTS) -> Any:
    """Arrays -> nested lists with non-finite floats as strings ("nan", "inf", "-inf")."""
    if isinstance(x, (list, tuple)):
        return [jsonable(v, limit) for v in x]
    arr = np.asarray(x)
    floats = arr.dtype.kind in "fcV" or arr.dtype == _BFLOAT16
    if floats:
        arr = arr.astype(np.float64)
    if arr.size <= limit and (not floats or np.isfinite(arr).all()):
        return arr.tolist()
    flat = arr.ravel()[:limit].tolist()
    if floats:
        flat = [v if math.isfinite(v) else str(v) for v in flat]
    if arr.ndim == 0:
        return flat[0]
    if arr.size > limit:
        return flat
    return np.array(flat, dtype=object).reshape(arr.shape).tolist()
