"""The TF side read from goldens instead of run: ``verify --goldens DIR``.

:class:`GoldenTF` is a TF side (:class:`harness.sides.TFSide`): it answers the runner's TF
calls of one expanded case (the op's result, its gradient, each ``same_as`` / ``differs_from``
computation; the invocation's ``case`` and ``name``) from the case's recorded entry (looked up by case file and expanded id): the
recorded call whose content key equals the key computed from the inputs this run built. A
case that was never recorded, or none of whose recorded calls has that key (the case, its
inputs or a generator seed changed since recording), raises :class:`GoldenMissing`, which
the runner reports as status ``error`` with the record command to run.

A recorded error is raised again as an exception whose class has the recorded name and
bases (Python's own class when it is a builtin, e.g. ``ValueError``), so ``expect_error``,
the skip rule for missing low-precision kernels and the judges see what they would see from
live TF. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import builtins
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable

from harness.goldens import codec
from harness.goldens.store import GoldenError, GoldenStore, record_command
from harness.sides import Invocation


class GoldenMissing(GoldenError):
    """No recorded TF result for a call as this run builds it."""


@lru_cache(maxsize=None)
def error_class(names: tuple[str, ...]) -> type:
    """An exception class named ``names[0]`` whose bases are named ``names[1:]`` (most derived
    first, ending at ``Exception``); builtin exception classes are used as they are."""
    base: type = Exception
    for name in reversed(names):
        known = getattr(builtins, name, None)
        if isinstance(known, type) and issubclass(known, base):
            base = known
        elif name != "Exception":
            base = type(name, (base,), {"__module__": "recorded"})
    return base


def replay(call: dict) -> Any:
    """A recorded call's result: its output tree, ``{arg: gradient}``, or its error raised."""
    if "error" in call:
        names = tuple(str(n) for n in call.get("names") or [call["error"]])
        raise error_class(names)(str(call.get("message", "")))
    if "grads" in call:
        return {k: codec.decode_tree(v) for k, v in call["grads"].items()}
    return codec.decode_tree(call["out"])


class GoldenTF:
    """The recorded TF results of one goldens directory, as a TF side."""

    name = "tf"
    timed = False  # a recorded result has no time worth measuring

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.store = GoldenStore(directory)

    def describe(self) -> dict:
        v = self.store.versions
        return {"dir": self.directory, "tensorflow": v.get("tensorflow"), "keras": v.get("keras"),
                "tf_keras": v.get("tf_keras"),
                "numpy": v.get("numpy"), "python": v.get("python"), "platform": v.get("platform"),
                "recorded": self.store.manifest.get("recorded"), "text": self.store.describe()}

    def prepare(self, inv: Invocation) -> Callable[[], Any]:
        return lambda: self.call(inv)

    def call(self, inv: Invocation) -> Any:
        """TF's recorded result of the invocation: its output tree, or its recorded error raised."""
        return self._replay(inv)

    def gradients(self, inv: Invocation, cotangent: list, wrt: tuple[str, ...]) -> dict:
        """TF's recorded ``{arg: gradient}`` of ``sum(output * cotangent)``."""
        return self._replay(replace(inv, name="grad"), tuple(wrt), cotangent)

    def _replay(self, inv: Invocation, wrt: tuple = (), cotangent: list | None = None) -> Any:
        exp, op = inv.case, inv.op
        call = self.recorded(exp, f"its {inv.name} call ({op.name})",
                             codec.call_key(op.name, inv.init, inv.args, exp.mode, wrt, cotangent))
        if "error" in call:
            replay(call)  # the recorded error, raised as live TF would raise it
        try:
            return replay(call)
        except (KeyError, TypeError, AttributeError, codec.CodecError) as exc:
            raise self.unreadable(exp, exc) from None

    def recorded(self, exp, what: str, key: str) -> dict:
        """The recorded call of ``exp`` with content ``key`` (``what`` names it in messages)."""
        entry = (self.store.cases_of(exp.case.display_path) or {}).get(exp.tf_id)
        if entry is None:
            raise self._missing(exp, "this case was not recorded")
        call = next((c for c in entry.get("calls", {}).values() if isinstance(c, dict) and c.get("key") == key), None)
        if call is None:
            raise self._missing(exp, f"{what} differs from every recorded call: the case or its inputs changed "
                                     "after recording")
        return call

    def _missing(self, exp, why: str) -> GoldenMissing:
        command = record_command([exp.case.display_path], self.directory)
        return GoldenMissing(f"{exp.case.display_path}:{exp.case.line}: {exp.id}: no golden for this case as written "
                             f"({why}; goldens in {self.directory}: {self.store.describe()}); run: {command}")

    def unreadable(self, exp, exc: Exception) -> GoldenError:
        golden = self.store.dir / self.store.manifest["files"][exp.case.display_path]["golden"]
        return GoldenError(f"{golden}: {exp.id}: unreadable recorded result ({type(exc).__name__}: {exc}); "
                           f"re-record: {record_command([exp.case.display_path], self.directory)}")


_SIDES: dict[str, GoldenTF] = {}


def golden_side(directory: str) -> GoldenTF:
    """One :class:`GoldenTF` per directory and process (golden files are read once)."""
    if directory not in _SIDES:
        _SIDES[directory] = GoldenTF(directory)
    return _SIDES[directory]


def describe_goldens(directory: str) -> dict:
    """Where a run's TF results came from, for ``results.json``'s ``run.goldens``."""
    try:
        return golden_side(directory).describe()
    except GoldenError as exc:
        return {"dir": directory, "text": str(exc)}
