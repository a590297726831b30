"""Op outputs as trees: an array, or a list/tuple of outputs (``tf.clip_by_global_norm``
returns ``([t1, t2], norm)``). One flattening serves the runner, the TF executor, the
gradient and arbitration code."""
from __future__ import annotations

from typing import Any

import numpy as np


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

