"""The precision TF's result carries, which decides the default tolerance it is judged at.

A result carries the precision of its dtype, except a float64 array whose every finite value
is a float32 number (and not all float16 numbers, so that 0.5 or 1.0 alone do not count):
``tf.compat.v1.losses`` compute in float32 and cast back to float64. Keras loss classes
return float32 for float64 inputs, and for float16 and bfloat16 inputs. A default tolerance
follows the precision the result carries, with a warning; an override (a case's own
``tolerance:``) is kept as written. A gradient is judged no finer than its inputs.

:func:`result_precision` is that rule (:func:`gradient_precision` for gradients);
:func:`possible_precisions` lists what it can give
for a case dtype (the ledger uses it to tell a default from an override).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from harness.reference.dtypes import dtype_name

from harness.outputs import leaves
from harness.tolerances import DEFAULTS
from harness.vocab import FLOAT_DTYPES


def coarsest(dtypes) -> str:
    """The coarsest of some float dtype names (by their default ``rtol``)."""
    return max(dtypes, key=_coarseness)


def _coarseness(dtype: str) -> float:
    return DEFAULTS[dtype][0]


def precision_of(arr: np.ndarray) -> str:
    """A float array's dtype name, or ``float32`` for a float64 array whose every finite
    value is a float32 number but not all float16 numbers (so 0.5 or 1.0 alone do not count)."""
    name = dtype_name(arr.dtype)
    if name != "float64" or arr.size == 0:
        return name
    finite = arr[np.isfinite(arr)]
    with np.errstate(over="ignore"):
        as32 = finite.astype(np.float32).astype(np.float64)
        as16 = finite.astype(np.float16).astype(np.float64)
    if finite.size and np.array_equal(as32, finite) and not np.array_equal(as16, finite):
        return "float32"
    return name


def result_precision(dtype: str, result: Any) -> str:
    """The precision TF's ``result`` (an output tree) carries for inputs of ``dtype``: the
    coarsest :func:`precision_of` of its float output leaves, or ``dtype`` when none is a
    float. It may be finer than the inputs: Keras 3 loss classes return float32 for float16
    and bfloat16 inputs (they cast to float32 and compute there)."""
    carried = {precision_of(leaf) for _, leaf in leaves(result)} & DEFAULTS.keys()
    return coarsest(carried or {dtype})


def gradient_precision(dtype: str, result: Any) -> str:
    """The precision a gradient carries: that of TF's result, but no finer than the inputs
    (a gradient is returned in the input dtype)."""
    return coarsest({result_precision(dtype, result), dtype})


def possible_precisions(dtype: str | None) -> tuple[str, ...]:
    """Every precision :func:`result_precision` can give for inputs of ``dtype``."""
    return FLOAT_DTYPES if dtype in DEFAULTS else ()
