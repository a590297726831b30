"""The only place that imports TensorFlow (lazily), and the conversions at its border."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

_tf = None


def tf():
    """TensorFlow, imported on first use with its C++ log noise turned down."""
    global _tf
    if _tf is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow

        tensorflow.get_logger().setLevel("ERROR")
        _tf = tensorflow
    return _tf


def to_tf(value: Any) -> Any:
    """NumPy arrays (and lists of them) -> tf constants of the same dtype; others unchanged."""
    if isinstance(value, np.ndarray):
        return tf().constant(value)
    if isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        return [tf().constant(v) for v in value]
    return value


def to_numpy(value: Any) -> Any:
    """TF results -> NumPy arrays, keeping list/tuple structure (clip_by_global_norm's pair)."""
    if isinstance(value, (list, tuple)):
        return type(value)(to_numpy(v) for v in value)
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def error_names(exc: BaseException) -> list[str]:
    """Class names of an exception and its bases: a TF InvalidArgumentError also answers
    to OpError; a reference TFValueError answers to ValueError."""
    return [c.__name__ for c in type(exc).__mro__]
