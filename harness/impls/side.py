"""An implementation under test as the runner's implementation side.

:class:`PortSide` answers an invocation (``op``, ``init``, ``args``, ``dtype``) with the
three calls the runner makes of any implementation: ``prepare`` (a zero-argument callable
to time), ``call`` (the result as NumPy) and ``gradients`` (``(gradients, method)``). It
raises :class:`~harness.impls.adapter.ImplSkipped` for an op or dtype the implementation
does not run, and keeps the names of the inputs the last call modified in place.
"""
from __future__ import annotations

from typing import Any, Callable

from harness.impls import PortModule, adapter


class PortSide:
    """The runner's view of one :class:`~harness.impls.PortModule`."""

    def __init__(self, impl: PortModule) -> None:
        self.impl = impl
        self.name = impl.name
        self.modified: list[str] = []

    def _check(self, inv: Any) -> None:
        adapter.check_runs(self.impl, inv.op, inv.dtype or "float32")

    def not_run_reason(self, op: Any, dtype: str) -> str | None:
        """Why this implementation does not run ``op`` in ``dtype`` (asked before TF runs), or None."""
        try:
            adapter.check_runs(self.impl, op, dtype)
        except adapter.ImplSkipped as exc:
            return str(exc)
        return None

    def prepare(self, inv: Any) -> Callable[[], Any]:
        self._check(inv)
        return adapter.timer(self.impl, inv.op, inv.init, inv.args)

    def call(self, inv: Any) -> Any:
        self._check(inv)
        self.modified = []
        try:
            called = adapter.call(self.impl, inv.op, inv.init, inv.args)
        except Exception as exc:
            reason = adapter.unsupported_dtype(self.impl, exc, inv.dtype or "")
            if reason:
                raise adapter.ImplSkipped(reason) from exc
            raise
        self.modified = called.modified
        return called.value

    def gradients(self, inv: Any, cotangent: list, wrt: tuple[str, ...]) -> tuple[dict, str]:
        self._check(inv)
        try:
            return adapter.gradient(self.impl, inv.op, inv.init, inv.args, wrt, cotangent)
        except Exception as exc:
            reason = adapter.unsupported_dtype(self.impl, exc, inv.dtype or "")
            if reason:
                raise adapter.ImplSkipped(reason) from exc
            raise


_SIDES: dict[str, Any] = {}


def implementation_side(spec: str) -> Any:
    """The runner's side for SPEC: the NumPy reference itself for ``numpy``, else a :class:`PortSide`."""
    from harness import impls
    from harness.sides import NUMPY_REFERENCE

    if spec not in _SIDES:
        impl = impls.load(spec)
        _SIDES[spec] = NUMPY_REFERENCE if impl.is_reference else PortSide(impl)
    return _SIDES[spec]


def skip_reason(value: Any) -> str | None:
    """The reason when a side's result is an :class:`~harness.impls.adapter.ImplSkipped` kept
    as a value (anything with an ``exc`` attribute), else None."""
    exc = getattr(value, "exc", None)
    return str(exc) if isinstance(exc, adapter.ImplSkipped) else None
