"""Mutation testing of an implementation under test against the cases.

1. **Baseline**, once, in this process: every expanded case runs on the unmutated
   implementation with a TF side (live TF, or TF's results read from goldens), recording
   TF's answers (:class:`harness.mutate.tfreplay.ReplayTF`),
   each case's verdict and the lines of the target files it executes (``sys.settrace``).
2. **Mutants**, in forked worker processes that inherit the baseline: a mutant's code is put
   in its live function, and only the cases that executed its line run, cheapest first, with
   TF replayed. The first case whose verdict differs from its baseline kills the mutant (a
   mutant running past its time budget is killed by timeout); otherwise it survived, and the
   cases whose outputs it changed within tolerance are kept: a survivor that changed none is
   a candidate equivalent, one that changed some slipped through the tolerance.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import signal
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from harness.expand import Expanded, expand
from harness.impls import DEFAULT as DEFAULT_IMPL
from harness.loader import discover, load_file
from harness.mutate.mutants import Mutant, applied
from harness.mutate.tfreplay import ReplayTF

JUDGED = ("passed", "xfailed")
"""Baseline verdicts a mutant can change; failing, erroring and skipped cases select no mutant."""
MUTANT_BUDGET_S = 20.0
"""Seconds a mutant may take beyond ten times its cases' baseline time before it counts as killed (timeout)."""


@dataclass
class Target:
    """A file under mutation: its path, the name shown, and its imported module."""

    path: Path
    display: str
    module: types.ModuleType


@dataclass
class Baseline:
    exps: list[Expanded]
    status: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    lines: dict[str, set] = field(default_factory=dict)  # case id -> {(file, line)}
    inputs: dict[str, dict] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)  # case id -> its outputs as JSON text
    replay: ReplayTF | None = None


def load_cases(paths: list[Path], ops: set[str] | None = None, modes: tuple[str, ...] | None = None,
               impl: str | None = None) -> tuple[list[Expanded], list[str]]:
    """Expanded cases under ``paths`` (only those of ``ops`` and ``modes`` when given) and the load
    problems; ``impl``: the SPEC of the implementation under test (``verify --impl``), default the reference."""
    exps, problems = [], []
    for path in discover(paths):
        loaded = load_file(path, shown(path))
        problems += [f"{e.file}:{e.line}: {e.field}: {e.problem}" for e in loaded.errors]
        for case in loaded.cases:
            if ops is None or case.op.name in ops:
                exps += [e for e in expand(case, (impl or DEFAULT_IMPL,))
                         if e.impl == (impl or DEFAULT_IMPL) and (modes is None or e.mode in modes)]
    return exps, problems


def shown(path: Path) -> str:
    """``path`` relative to the working directory when under it (as case files are named), else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _field(result, name: str):
    return result[name] if isinstance(result, dict) else getattr(result, name)


def _status(result) -> str:
    return _field(result, "status")


def _outputs_text(result) -> str:
    """A case's reported outputs (both sides, gradients) as comparable text (NaN equals NaN)."""
    return json.dumps(_field(result, "outputs"), sort_keys=True, default=str)


class _LineTracer:
    """``sys.settrace`` hook collecting (file, line) of the target files' executed lines."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files  # co_filename -> display name
        self.hits: set = set()

    def __call__(self, frame, event, arg):
        shown = self.files.get(frame.f_code.co_filename)
        if shown is None:
            return None
        self.hits.add((shown, frame.f_lineno))

        def local(frame, event, arg):
            if event == "line":
                self.hits.add((shown, frame.f_lineno))
            return local
        return local


MUTATE_ROW_THREADS = 2
"""Row threads of the reference's large inputs while mutants run, whatever the load."""


@contextlib.contextmanager
def pinned_threads():
    """The reference's large inputs on ``MUTATE_ROW_THREADS`` threads while the block runs
    (restored after): its thread count otherwise follows the machine's load
    (``rowblocks.threads_now``), and a mutant of the threaded paths would be run or not by how
    busy the machine is."""
    from harness.reference import rowblocks

    saved = rowblocks.ROW_THREADS, rowblocks.THREADS_BY_LOAD
    rowblocks.ROW_THREADS, rowblocks.THREADS_BY_LOAD = MUTATE_ROW_THREADS, False
    try:
        yield
    finally:
        rowblocks.ROW_THREADS, rowblocks.THREADS_BY_LOAD = saved


M_PERTURB = -6
"""glibc's ``mallopt`` parameter for the byte that fills each block malloc returns (xor 0xFF) and frees."""
PERTURB_BYTE = 0x5A


def _glibc():
    """The C library when it is glibc (``mallopt(M_PERTURB)`` exists there), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


@contextlib.contextmanager
def poisoned_allocations():
    """Every block glibc's malloc hands out filled with ``PERTURB_BYTE ^ 0xFF`` while the block
    runs (``mallopt(M_PERTURB)``, what ``MALLOC_PERTURB_`` sets; off again after): NumPy's
    ``np.empty`` then never holds a freed array's values. A mutant that leaves part of an
    ``np.empty`` result unwritten (``rowblocks.by_elements`` writing only the first element)
    otherwise survives whenever the allocator hands back the memory of the baseline's own,
    identical result, and is killed when it does not. Elsewhere than glibc nothing changes."""
    libc = _glibc()
    if libc is None or not libc.mallopt(M_PERTURB, PERTURB_BYTE):
        yield
        return
    try:
        yield
    finally:
        libc.mallopt(M_PERTURB, 0)


def run_baseline(exps: list[Expanded], targets: list[Target], progress=None, tf_side=None) -> Baseline:
    """Every case once with ``tf_side`` (default live TF; :class:`harness.goldens.side.GoldenTF`
    reads TF's recorded results): verdicts, TF's answers, the target lines each executes."""
    from harness import tfexec
    from harness.runner import run_expanded

    base = Baseline(exps, replay=ReplayTF(tfexec.LIVE_TF if tf_side is None else tf_side))
    files = {str(t.path.resolve()): t.display for t in targets}
    files.update({t.module.__file__: t.display for t in targets})
    for i, exp in enumerate(exps):
        tracer = _LineTracer(files)
        t0 = time.perf_counter()
        base.replay.start_case()
        sys.settrace(tracer)
        try:
            result = run_expanded(exp, timing_repeats=0, tf_side=base.replay)
        finally:
            sys.settrace(None)
        base.seconds[exp.id] = time.perf_counter() - t0
        base.status[exp.id] = _status(result)
        base.lines[exp.id] = tracer.hits
        base.inputs[exp.id] = dict(_field(result, "inputs"))
        base.outputs[exp.id] = _outputs_text(result)
        if progress:
            progress(i + 1, len(exps))
    base.replay.recording = False
    return base


class _Timeout(BaseException):
    """Raised by the alarm inside a mutant's cases (a BaseException: the runner does not catch it)."""


def _alarm(signum, frame):
    raise _Timeout()


_STATE: dict = {}


def covering(base: Baseline, mutant: Mutant) -> list[Expanded]:
    """The judged cases that execute the mutant's line, cheapest first."""
    key = (mutant.file, mutant.line)
    found = [e for e in base.exps if base.status[e.id] in JUDGED and key in base.lines[e.id]]
    return sorted(found, key=lambda e: base.seconds[e.id])


def run_mutant(mutant: Mutant) -> dict:
    """One mutant in this (forked) process: ``{status, killed_by, detail, cases_run, covering}``."""
    from harness.runner import run_expanded

    base: Baseline = _STATE["baseline"]
    target: Target = _STATE["targets"][mutant.file]
    cases = covering(base, mutant)
    out = {"id": mutant.id, "covering": [e.id for e in cases], "cases_run": 0, "killed_by": None, "detail": "",
           "changed_within_tolerance": []}
    if not cases:
        return {**out, "status": "survived", "detail": "no case executes this line"}
    mutation = applied(target.module, target.path, mutant)
    if not mutation.swaps:
        return {**out, "status": "survived", "detail": "no live function holds this code (it never runs)"}
    budget = MUTANT_BUDGET_S + 10 * sum(base.seconds[e.id] for e in cases)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    exp = cases[0]
    try:
        with mutation, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a mutant's overflow or invalid-value warnings are its own
            for exp in cases:
                out["cases_run"] += 1
                base.replay.start_case()
                result = run_expanded(exp, timing_repeats=0, tf_side=base.replay)
                if _status(result) != base.status[exp.id]:
                    return {**out, "status": "killed", "killed_by": exp.id,
                            "detail": f"{base.status[exp.id]} -> {_status(result)}"}
                if _outputs_text(result) != base.outputs[exp.id]:
                    out["changed_within_tolerance"].append(exp.id)
    except _Timeout:
        return {**out, "status": "killed", "killed_by": exp.id, "detail": f"timeout after {budget:.0f} s"}
    except Exception as exc:  # the mutant broke the harness around the case: a detected change
        return {**out, "status": "killed", "killed_by": exp.id, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return {**out, "status": "survived"}


def run_mutants(mutants: list[Mutant], base: Baseline, targets: list[Target], jobs: int, progress=None) -> list[dict]:
    """Each mutant's outcome, in the mutants' order; ``jobs`` forked processes."""
    _STATE.update(baseline=base, targets={t.display: t for t in targets})
    results: dict[str, dict] = {}
    if jobs <= 1:
        for m in mutants:
            results[m.id] = run_mutant(m)
            if progress:
                progress(len(results), len(mutants))
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs, maxtasksperchild=200) as pool:
            for r in pool.imap_unordered(run_mutant, mutants, chunksize=2):
                results[r["id"]] = r
                if progress:
                    progress(len(results), len(mutants))
    return [results[m.id] for m in mutants]
