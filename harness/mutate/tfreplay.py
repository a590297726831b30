"""TF's results recorded once per expanded case and replayed for every mutant.

The runner reaches TensorFlow through ``tfexec.runner`` (a callable ``(tensors, cotangent)
-> (output, grads)``), ``tfexec.run`` (output and gradients once) and ``tfbridge.to_tf``.
While recording, each call's result (or the error it raised) is kept under ``(case id, n)``,
``n`` counting the case's TF calls in order; while replaying, the same calls return the
kept results without TensorFlow, so a mutant costs only the implementation's time. A call
the recording does not have (a mutant that makes the runner ask TF something new) raises
:class:`ReplayMiss`, which the runner reports like any TF error: the case's verdict changes.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Any

from harness import tfbridge, tfexec


class ReplayMiss(LookupError):
    """A TF call that was not recorded for this case."""


class TFReplay:
    def __init__(self) -> None:
        self.calls: dict[tuple[str, int], tuple[bool, Any]] = {}
        self._case: str | None = None
        self._n = 0
        self.recording = True

    def _next_key(self) -> tuple[str, int]:
        key = (self._case, self._n)
        self._n += 1
        return key

    def _through(self, compute):
        """Record ``compute()`` (result or raised error) or replay it."""
        key = self._next_key()
        if self.recording:
            tracer = sys.gettrace()
            sys.settrace(None)  # the line tracer follows the implementation, not TF's Python
            try:
                self.calls[key] = (True, compute())
            except Exception as exc:  # TF raising is a result the runner judges
                self.calls[key] = (False, exc)
            finally:
                sys.settrace(tracer)
        if key not in self.calls:
            raise ReplayMiss(f"no recorded TF result for call {key[1]} of {key[0]}")
        ok, value = self.calls[key]
        if not ok:
            raise value
        return value

    def _runner(self, real_runner):
        def runner(op, init, values, mode, grad=()):
            real = real_runner(op, init, values, mode, grad) if self.recording else None

            def fn(tensors, cotangent):
                return self._through(lambda: _numpy_pair(real(tensors, cotangent)))
            return fn
        return runner

    def _run(self, real_run):
        def run(op, init, args, mode, grad=(), cotangent=None):
            return self._through(lambda: real_run(op, init, args, mode, grad, cotangent))
        return run

    @contextlib.contextmanager
    def case(self, case_id: str):
        """TF calls inside belong to ``case_id``."""
        self._case, self._n = case_id, 0
        try:
            yield
        finally:
            self._case = None

    @contextlib.contextmanager
    def installed(self):
        """``tfexec`` and ``tfbridge`` routed through this recorder (replay: no TF at all)."""
        saved = tfexec.runner, tfexec.run, tfbridge.to_tf
        tfexec.runner, tfexec.run = self._runner(saved[0]), self._run(saved[1])
        if not self.recording:
            tfbridge.to_tf = lambda value: value
        try:
            yield self
        finally:
            tfexec.runner, tfexec.run, tfbridge.to_tf = saved


def _numpy_pair(result: tuple) -> tuple:
    out, grads = result
    return tfbridge.to_numpy(out), (None if grads is None else [tfbridge.to_numpy(g) for g in grads])
