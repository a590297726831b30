"""Pieces the op records of every family share: pre-flight checks and the plumbing of the
analytic gradients (picking the asked-for gradients, the cotangent as TF feeds it)."""
from __future__ import annotations

import numpy as np

from harness.reference import vjp


def same_shape(a: str, b: str):
    """A check that arguments ``a`` and ``b`` have one shape."""
    def check(init, args):
        if a in args and b in args and np.shape(args[a]) != np.shape(args[b]):
            return f"`{a}` shape {list(np.shape(args[a]))} != `{b}` shape {list(np.shape(args[b]))}"
        return None
    return check


def first_problem(*checks):
    """A check that reports the first problem any of ``checks`` finds."""
    def check(init, args):
        return next((p for p in (c(init, args) for c in checks) if p), None)
    return check


def pick(wrt, **grads):
    """The gradients named in ``wrt``, out of all those an analytic rule computed."""
    return {name: grads[name] for name in wrt}


def cot(cotangent, dtype):
    """The first output's cotangent as TF feeds it into an output of ``dtype``."""
    return vjp.tf_cotangent(cotangent[0], dtype)
