"""Running an op in TensorFlow in one of three modes, optionally with its gradient.

``eager``     the op is called directly.
``function``  under ``tf.function``.
``xla``       under ``tf.function(jit_compile=True)``.

Traces are reused: one ``tf.function`` is kept per (op, constructor args, plain-value args,
mode, differentiated args), and tensors are passed as arguments, so cases of the same op
and input signature (shapes and dtypes) share one trace. :data:`TRACES` counts traces per
key, so a run can report how many it made.

With ``grad``, the differentiated quantity is ``sum(output * cotangent)`` over every output
leaf (the cotangent defaults to ones), so the gradient is the vector-Jacobian product; TF's
``None`` for an argument the output does not depend on (e.g. labels under a
``stop_gradient``) is returned as zeros.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import numpy as np

from harness import tfbridge
from harness.outputs import flatten
from harness.registry import OpSpec
from harness.sides import Invocation

TRACES: Counter = Counter()
_FUNCTIONS: dict = {}


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _body(op: OpSpec, init: dict, values: dict, grad: tuple[str, ...], key=None):
    tf = tfbridge.tf()

    def call(tensors: dict, cotangent: list | None):
        if key is not None:
            TRACES[key] += 1  # Python side effect: runs once per trace, not per call
        if not grad:
            return op.run_tf(tf, init, {**tensors, **values}), None
        with tf.GradientTape() as tape:
            for name in grad:
                tape.watch(tensors[name])
            out = op.run_tf(tf, init, {**tensors, **values})
            total = tf.add_n([tf.reduce_sum(tf.cast(leaf, tf.float64 if leaf.dtype == tf.float64 else tf.float32)
                                            * tf.cast(c, tf.float64 if leaf.dtype == tf.float64 else tf.float32))
                              for leaf, c in zip(flatten(out), cotangent)])
        grads = tape.gradient(total, [tensors[name] for name in grad])
        grads = [_dense(tf, tensors[name], g) for name, g in zip(grad, grads)]
        return out, grads

    return call


def _dense(tf, x: Any, g: Any) -> Any:
    """TF's gradient as dense tensors: None -> zeros, IndexedSlices (sampled losses'
    weights) -> a dense tensor, lists (a float_list argument) element by element."""
    if isinstance(g, (list, tuple)):
        return [_dense(tf, xi, gi) for xi, gi in zip(x, g)]
    if g is None:
        return tf.zeros_like(x)
    if isinstance(g, tf.IndexedSlices):
        return tf.convert_to_tensor(g)
    return g


def runner(op: OpSpec, init: dict, values: dict, mode: str, grad: tuple[str, ...] = ()):
    """A callable ``(tensors, cotangent) -> (output, grads)`` for this op in this mode."""
    if mode == "eager":
        return _body(op, init, values, grad)
    key = (op.name, _freeze(init), _freeze(values), mode, grad)
    fn = _FUNCTIONS.get(key)
    if fn is None:
        tf = tfbridge.tf()
        fn = tf.function(_body(op, init, values, grad, key), jit_compile=(mode == "xla"), reduce_retracing=False)
        _FUNCTIONS[key] = fn
    return fn


def split_args(args: dict) -> tuple[dict, dict]:
    """``(tensors, values)``: arrays (and lists of arrays) converted to TF constants once, and
    the plain values a traced function closes over."""
    tensors = {k: tfbridge.to_tf(v) for k, v in args.items() if _is_tensor(v)}
    return tensors, {k: v for k, v in args.items() if not _is_tensor(v)}


class LiveTF:
    """TensorFlow itself: the one way the harness calls TF (runner, fuzz and bench), in the
    invocation's mode, with traces reused as described above."""

    name = "tf"
    timed = True

    def prepare(self, inv: Invocation) -> Callable[[], Any]:
        """A zero-argument callable running the op once on tensors converted now (TF's raw result)."""
        tensors, values = split_args(inv.args)
        fn = runner(inv.op, inv.init, values, inv.mode)
        return lambda: fn(tensors, None)[0]

    def call(self, inv: Invocation) -> Any:
        """The op's result as NumPy arrays (list/tuple structure kept)."""
        return tfbridge.to_numpy(self.prepare(inv)())

    def gradients(self, inv: Invocation, cotangent: list, wrt: tuple[str, ...]) -> dict:
        """``{arg: d sum(output * cotangent) / d arg}`` as NumPy arrays, from ``tf.GradientTape``."""
        tensors, values = split_args(inv.args)
        fn = runner(inv.op, inv.init, values, inv.mode, tuple(wrt))
        _, grads = fn(tensors, [tfbridge.to_tf(np.asarray(c)) for c in cotangent])
        return {name: tfbridge.to_numpy(g) for name, g in zip(wrt, grads)}


LIVE_TF = LiveTF()


def run(op: OpSpec, init: dict, args: dict, mode: str, grad: tuple[str, ...] = (), cotangent: list | None = None):
    """Run once through :data:`LIVE_TF`; returns (output as NumPy, {arg: gradient as NumPy} or None)."""
    inv = Invocation(op, init, args, mode)
    out = LIVE_TF.call(inv)
    return out, (LIVE_TF.gradients(inv, cotangent, grad) if grad else None)


def _is_tensor(v: Any) -> bool:
    return isinstance(v, np.ndarray) or (isinstance(v, list) and bool(v) and all(isinstance(x, np.ndarray) for x in v))
