"""The reference's own dtype rules (it imports nothing from the rest of the harness).

TF computes float16 and bfloat16 element-wise ops in float32 and rounds once (Eigen), and
several wrappers (the softmax cross-entropies, Keras' mean) upcast the 16-bit types to
float32 for the whole computation.
"""
from __future__ import annotations

import numpy as np

LOW_PRECISION = ("float16", "bfloat16")


def dtype_of(x) -> np.dtype:
    """The dtype of an array or scalar, or ``x`` read as a dtype."""
    return x.dtype if isinstance(x, (np.ndarray, np.generic)) else np.dtype(x)


_NAMES: dict = {}
__memos__ = ("_NAMES",)
"""Memo caches ``harness mutate`` empties while a mutant of this module runs (see
``harness.mutate.mutants.applied``)."""


def dtype_name(dtype: np.dtype) -> str:
    """``dtype.name``, remembered per dtype (NumPy computes the name in Python each time)."""
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES[dtype] = dtype.name
    return name


def is_low(x) -> bool:
    """Whether ``x`` (an array or a dtype) is float16 or bfloat16."""
    return dtype_name(dtype_of(x)) in LOW_PRECISION


def compute_dtype(x) -> np.dtype:
    """float32 for float16/bfloat16 (TF's upcast), else x's own dtype."""
    return np.dtype(np.float32) if is_low(x) else dtype_of(x)


TRUEDIV = {"int8": "float32", "uint8": "float32", "int16": "float32", "uint16": "float32",
           "int32": "float64", "uint32": "float64", "int64": "float64", "uint64": "float64"}
"""The dtype TF's true division (``tf.math.truediv``, ``div_no_nan``, ``/``) casts integers
to before dividing (``math_ops._TRUEDIV_TABLE``); floats divide in their own dtype."""


def truediv_dtype(x) -> np.dtype:
    """The dtype of TF's true division of ``x``'s dtype (:data:`TRUEDIV`)."""
    dt = dtype_of(x)
    return np.dtype(TRUEDIV.get(dt.name, dt))
