"""The built-in implementation ``numpy``: the registry's NumPy reference under the contract.

``op.reference(**init, **args)`` is already a keyword-only call of the case's arguments, so
each op's reference function is its entry. Gradients are the registry's (the op's analytic
gradient, else finite differences), not the generic finite differences of a user port.
"""
from __future__ import annotations

from harness.registry import registry

NAME = "numpy"
FRAMEWORK = "numpy"
IS_REFERENCE = True
OPS = {op.name: op.reference for op in registry()}
