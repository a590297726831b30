"""Ops that misbehave on purpose, registered only when a test sets $TF_PARITY_EXTRA_OPS."""
import os
import time

import numpy as np

from harness.registry import Arg, OpSpec


def _identity(x):
    return np.asarray(x)


def _abort(tf, init, args):
    os.abort()  # what a TF CHECK failure does to the process


def _hang(tf, init, args):
    time.sleep(3600)


OPS = [
    OpSpec(name="harness.testing.abort", reference=_identity, args=(Arg("x", "float"),), tf_call=_abort,
           summary="aborts the process on the TF side"),
    OpSpec(name="harness.testing.hang", reference=_identity, args=(Arg("x", "float"),), tf_call=_hang,
           summary="never returns on the TF side"),
]
