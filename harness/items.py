"""The pytest items of the harness: a case file, each expanded case in it, and each invalid
entry, with the result each produces (:class:`~harness.result.CaseResult`)."""
from __future__ import annotations

import gc
import os
import traceback
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import pytest

from harness.impls import DEFAULT as IMPL_DEFAULT
from harness.impls import ImplError, ImplUnavailable
from harness.loader import CaseError, load_file
from harness.result import CaseResult
from harness.watchdog import watchdog


class CaseFailed(Exception):
    """A case failed or is invalid; its message is the whole report (no traceback)."""


def display_path(config: pytest.Config, path: Path) -> str:
    try:
        rel = os.path.relpath(path, config.invocation_params.dir)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


class CaseFile(pytest.File):
    @cached_property
    def relpath(self) -> str:
        """The file's path as pytest's item locations give it (relative to the root directory)."""
        return self.session._node_location_to_relpath(Path(os.path.abspath(self.path)))

    def collect(self):
        with _gc_paused():
            return list(self._collect())

    def _collect(self):
        from harness.expand import expand

        loaded = load_file(self.path, display_path(self.config, self.path))
        session = getattr(self.config, "_harness", None)
        if session is not None:  # the end-of-run coverage reads the same files
            session.loaded[self.path.resolve()] = loaded
        names: set[str] = set()
        for err in loaded.errors:
            name = f"{err.case_id or 'INVALID'}@{err.line}"
            while name in names:
                name += "+"
            names.add(name)
            yield InvalidItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", error=err)
        for case in loaded.cases:
            try:
                expanded = expand(case, impl_specs(self.config))
            except ImplUnavailable as exc:  # an optional framework is not installed: its cases are skipped
                name = f"{case.id}@{case.line}"
                yield SkippedItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", case=case, reason=str(exc))
                continue
            except ImplError as exc:  # a case's own `impl:` that does not load
                err = CaseError(case.display_path, case.line, "impl", str(exc), "see README 'Checking a port'", case.id)
                name = f"{case.id}@{case.line}"
                yield InvalidItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", error=err)
                continue
            for exp in expanded:
                # The node id is given as text, so pytest parses ``ID[float32]`` as a name and its
                # parameters exactly as it parses the ids in its cache: ``--lf`` finds the case again.
                yield CaseItem.from_parent(self, name=exp.id, nodeid=f"{self.nodeid}::{exp.id}", expanded=exp)


@contextmanager
def _gc_paused():
    """The cyclic garbage collector off while a file's cases are loaded and its items built:
    that makes no garbage cycles, only objects the run keeps, which every collection would
    walk again (the session moves them out of its reach once collection is over)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def impl_specs(config: pytest.Config) -> tuple[str, ...]:
    """The ``--impl`` SPECs of this run (the NumPy reference when none is given)."""
    return tuple(config.getoption("harness_impl") or (IMPL_DEFAULT,))


def impl_of(config: pytest.Config, path: Path, case_id: str) -> str | None:
    """The name of the implementation an expanded case id ran against (for a crash or timeout)."""
    from harness.expand import expand
    from harness.record import impl_name

    base = case_id.split("[", 1)[0]
    for case in load_file(path).cases if path.is_file() else ():
        if case.id == base:
            return next((impl_name(e) for e in expand(case, impl_specs(config)) if e.id == case_id), None)
    return None


class HarnessItem(pytest.Item):
    result: CaseResult | None = None

    def repr_failure(self, excinfo, style=None):
        if excinfo.errisinstance(CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class InvalidItem(HarnessItem):
    def __init__(self, *, error: CaseError, **kwargs) -> None:
        super().__init__(**kwargs)
        self.error = error

    def reportinfo(self):
        return self.path, self.error.line - 1, f"invalid input: {self.error.field}"

    def runtest(self) -> None:
        self.result = invalid_record(self.error)
        raise CaseFailed(str(self.error))


class SkippedItem(HarnessItem):
    """A case whose implementation's framework (an optional extra) is not installed."""

    def __init__(self, *, case, reason: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.case, self.reason = case, reason

    def runtest(self) -> None:
        case = self.case
        self.result = CaseResult.not_run(self.name, "skipped", self.reason, base_id=case.id, file=case.display_path,
                                         line=case.line, op=case.op.name,
                                         repro=f"python -m harness verify {case.display_path}")
        pytest.skip(self.reason)


def invalid_record(err: CaseError, **fields) -> CaseResult:
    """The result of a case that could not run: ``invalid_input`` unless the harness failed."""
    from harness.record import repro_command

    fields = {"case_id": err.case_id or f"{err.path}:{err.line}", "invalid_input": True, **fields}
    return CaseResult.not_run(status="error", message=str(err), base_id=err.case_id, file=err.path, line=err.line,
                              repro=repro_command(err.path), **fields)


class CaseItem(HarnessItem):
    def __init__(self, *, expanded, **kwargs) -> None:
        super().__init__(**kwargs)
        self.expanded = expanded
        self.duplicate_of: str | None = None

    def reportinfo(self):
        return self.path, self.expanded.case.line - 1, self.name

    @cached_property
    def location(self) -> tuple[str, int | None, str]:
        """pytest's ``Item.location`` from :meth:`reportinfo`, the file's relative path found once per file."""
        return self.parent.relpath, self.expanded.case.line - 1, self.name

    def runtest(self) -> None:
        from harness.runner import run_expanded

        exp = self.expanded
        if self.duplicate_of:
            err = CaseError(exp.case.display_path, exp.case.line, "id", f"duplicate id {exp.case.id!r}",
                            f"also at {self.duplicate_of}", exp.case.id)
            self.result = invalid_record(err)
            raise CaseFailed(str(err))
        goldens = self.config.getoption("harness_goldens")
        try:
            with watchdog(self, live_tf=not goldens):
                tf_side = None
                if goldens:
                    from harness.goldens.side import golden_side

                    tf_side = golden_side(goldens)
                self.result = run_expanded(exp, timing_repeats=self.config.getoption("harness_timing_repeats"),
                                           strict=self.config.getoption("harness_strict"), tf_side=tf_side)
        except Exception as exc:
            detail = traceback.format_exc() if self.config.getoption("harness_debug") else f"{type(exc).__name__}: {exc}"
            self.result = invalid_record(CaseError(exp.case.display_path, exp.case.line, "(harness)",
                                                   f"internal error while running {exp.id}: {detail}",
                                                   "rerun with --debug for the traceback", exp.case.id),
                                         case_id=exp.id, op=exp.op.name, dtype=exp.dtype, invalid_input=False)
            raise CaseFailed(self.result.message) from None
        status, message = self.result.status, self.result.message
        if status == "skipped":
            pytest.skip(message)
        if status in ("failed", "error"):
            from harness.record import failure_text

            raise CaseFailed(failure_text(self.result))
