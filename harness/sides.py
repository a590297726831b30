"""The two sides of a check and the small interface each is called through.

An :class:`Invocation` is one concrete computation: an op record, its constructor arguments
and its materialized arguments, in one TF execution mode. Each side answers it:

* the **TF side** (:class:`TFSide`): ``prepare(inv)`` gives a zero-argument callable that
  runs the computation once (inputs converted beforehand, so timing it measures the call
  only); ``call(inv)`` its result as NumPy arrays; ``gradients(inv, cotangent, wrt)`` the
  vector-Jacobian product of ``sum(output * cotangent)``; ``timed``: whether its calls are
  worth timing. Live TensorFlow is :class:`harness.tfexec.LiveTF`; TF's recorded results
  are :class:`harness.goldens.side.GoldenTF` (``verify --goldens``).
* the **implementation under test** (:class:`Implementation`): the same three methods, with
  ``gradients`` also naming how it took them (``analytic``, ``finite-difference/float64``).
  The NumPy reference is :class:`NumpyReference`; a port or a user's module of ops
  (``verify --impl``) is :class:`harness.impls.side.PortSide`, which may also answer
  ``not_run_reason(op, dtype)`` (an op or dtype it does not run: the case is skipped) and
  ``modified`` (the inputs its last call changed in place: the case fails).

Either side may raise: :func:`attempt` keeps a raised error as a value (:class:`Raised`),
which the judges compare like any result. A side that cannot answer at all (no recorded
result for this call) raises :class:`SideUnavailable`: the case is an ``error``, not a result.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Protocol

from harness import tfbridge
from harness.vocab import DEFAULT_MODE

if TYPE_CHECKING:
    from harness.registry import OpSpec


@dataclass(frozen=True)
class Invocation:
    """One computation: ``op`` on ``args`` (materialized arrays and plain values), constructed
    with ``init`` (Keras loss classes), in TF execution ``mode``; ``dtype`` is the case's.
    ``case`` (the expanded case) and ``name`` (``tf``, ``grad``, ``same_as[0]`` ...) say which
    of a case's computations it is, for a side that looks results up instead of computing."""

    op: OpSpec
    init: dict = field(default_factory=dict)
    args: dict = field(default_factory=dict)
    mode: str = DEFAULT_MODE
    dtype: str | None = None
    case: Any = None
    name: str = "tf"

    def with_args(self, args: dict) -> "Invocation":
        return replace(self, args=args)


class SideUnavailable(Exception):
    """A side cannot answer this computation at all (not an error of the computation)."""


class TFSide(Protocol):
    name: str
    timed: bool

    def prepare(self, inv: Invocation) -> Callable[[], Any]: ...

    def call(self, inv: Invocation) -> Any: ...

    def gradients(self, inv: Invocation, cotangent: list, wrt: tuple[str, ...]) -> dict: ...


class Implementation(Protocol):
    name: str

    def prepare(self, inv: Invocation) -> Callable[[], Any]: ...

    def call(self, inv: Invocation) -> Any: ...

    def gradients(self, inv: Invocation, cotangent: list, wrt: tuple[str, ...]) -> tuple[dict, str]: ...


class NumpyReference:
    """The NumPy reference (``harness/reference``) through each op record's ``reference``."""

    name = "reference"

    def prepare(self, inv: Invocation) -> Callable[[], Any]:
        return lambda: inv.op.run_reference(inv.init, inv.args)

    def call(self, inv: Invocation) -> Any:
        return inv.op.run_reference(inv.init, inv.args)

    def gradients(self, inv: Invocation, cotangent: list, wrt: tuple[str, ...]) -> tuple[dict, str]:
        """``(gradients, method)``: the op's analytic gradient or finite differences of the reference."""
        from harness import finite_differences

        return finite_differences.reference_gradient(inv.op, inv.init, inv.args, wrt, cotangent)


NUMPY_REFERENCE = NumpyReference()


class Raised:
    """An exception caught from one side, kept as a value; ``names`` are its class and bases."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.names = tfbridge.error_names(exc)

    def __str__(self) -> str:
        lines = [ln.strip() for ln in str(self.exc).strip().splitlines() if ln.strip()]
        text = lines[0] if lines else ""
        if text.endswith(":") and len(lines) > 1:  # tf.function's "in user code:" preamble: the cause is last
            text = f"{text} ... {lines[-1]}"
        return f"{type(self.exc).__name__}: {text}"[:500]


class NotRun(Raised):
    """``reference: false``: the case checks TF against itself (an identity) or a published value."""

    def __init__(self) -> None:
        super().__init__(LookupError("reference: false"))


NOT_RUN = NotRun()


def attempt(fn: Callable[[], Any]) -> Any:
    """``fn()``, or the exception it raised as :class:`Raised`."""
    try:
        return fn()
    except SideUnavailable:
        raise
    except Exception as exc:  # a side raising is a result, judged by the caller
        return Raised(exc)


def raised(value: Any) -> bool:
    return isinstance(value, Raised)
