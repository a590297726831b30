"""The pytest plugin: YAML case files are collected as pytest items.

Load it with ``-p harness.plugin`` (``python -m harness verify`` does). Each expanded case
is one item named by its expanded id, so ``-k``, ``-x``, ``--lf``, ``--junitxml`` and
pytest-xdist's ``-n`` behave as usual. Results travel from xdist workers to the controller
on the test report (``report.harness``); the controller writes ``results.json`` and
``index.html`` at the end of the session and sets the exit status: 0 nothing failed,
1 a case failed, 2 some input was invalid.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import os
import shlex
import tempfile
import threading
import zlib
import sys
import time
import traceback
from pathlib import Path

import pytest

from harness import atomicio
from harness.loader import CASE_SUFFIXES, CaseError, load_file
from harness.report import results as results_mod
from harness.result import CaseResult

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class CaseFailed(Exception):
    """A case failed or is invalid; its message is the whole report (no traceback)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "tf-parity harness")
    group.addoption("--harness-report-dir", default=None, help="write results.json and index.html here")
    group.addoption("--harness-timing-repeats", type=int, default=5,
                    help="timed calls per side after the warm-up, fewer once 10 ms are spent (median reported; 0 disables timing)")
    group.addoption("--harness-debug", action="store_true", help="show tracebacks for harness errors")
    group.addoption("--harness-timeout", type=float, default=60.0,
                    help="seconds a case may run before its worker is stopped and the case reported as timeout (0: none)")
    group.addoption("--harness-baseline", default=None, help="an earlier results.json to compare with")
    group.addoption("--harness-fail-on", choices=("any", "new"), default="any",
                    help="'new': only new failures (against --harness-baseline) fail the run")
    group.addoption("--harness-shard", default=None, help="I/N: run the I-th of N stable shares of the expanded cases")
    group.addoption("--harness-all-ops", action="store_true",
                    help="coverage of every registered op, not only of those the cases use")
    group.addoption("--harness-strict", action="store_true",
                    help="a check whose outputs are NaN/inf on both sides everywhere (positions only) fails")
    group.addoption("--harness-command", default=None, help=argparse.SUPPRESS)
    group.addoption("--harness-goldens", default=None,
                    help="judge against TF results recorded in this goldens directory instead of running TF")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker where to leave timeout markers."""
    node.workerinput["harness_markers"] = node.config._harness.markers  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)  # before pytest's junitxml plugin reads --junitxml
def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TF import, here and in xdist workers
    workers = getattr(config, "workerinput", {}).get("workercount")
    if workers:  # an xdist worker: share the cores with the other workers instead of each TF using all of them
        threads = str(max(1, (os.cpu_count() or 1) // int(workers)))
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", threads)
    config._harness = _Session(config)  # type: ignore[attr-defined]
    config.pluginmanager.register(config._harness, "harness-session")  # type: ignore[attr-defined]
    config._harness.stage_junit()  # type: ignore[attr-defined]


def _display_path(config: pytest.Config, path: Path) -> str:
    try:
        rel = os.path.relpath(path, config.invocation_params.dir)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def pytest_unconfigure(config: pytest.Config) -> None:
    """The reports are renamed into place here, after pytest has written its JUnit file."""
    session = getattr(config, "_harness", None)
    if session is not None and not session.is_worker:
        session.publish()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in CASE_SUFFIXES:
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self):
        from harness.expand import expand

        loaded = load_file(self.path, _display_path(self.config, self.path))
        names: set[str] = set()
        for err in loaded.errors:
            name = f"{err.case_id or 'INVALID'}@{err.line}"
            while name in names:
                name += "+"
            names.add(name)
            yield InvalidItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}", error=err)
        for case in loaded.cases:
            for exp in expand(case):
                # The node id is given as text, so pytest parses ``ID[float32]`` as a name and its
                # parameters exactly as it parses the ids in its cache: ``--lf`` finds the case again.
                yield CaseItem.from_parent(self, name=exp.id, nodeid=f"{self.nodeid}::{exp.id}", expanded=exp)


class _HarnessItem(pytest.Item):
    result: CaseResult | None = None

    def repr_failure(self, excinfo, style=None):
        if excinfo.errisinstance(CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class InvalidItem(_HarnessItem):
    def __init__(self, *, error: CaseError, **kwargs) -> None:
        super().__init__(**kwargs)
        self.error = error

    def reportinfo(self):
        return self.path, self.error.line - 1, f"invalid input: {self.error.field}"

    def runtest(self) -> None:
        self.result = invalid_record(self.error)
        raise CaseFailed(str(self.error))


def invalid_record(err: CaseError, **fields) -> CaseResult:
    """The result of a case that could not run: ``invalid_input`` unless the harness failed."""
    from harness.record import repro_command

    fields = {"case_id": err.case_id or f"{err.path}:{err.line}", "invalid_input": True, **fields}
    return CaseResult.not_run(status="error", message=str(err), base_id=err.case_id, file=err.path, line=err.line,
                              repro=repro_command(err.path), **fields)


class CaseItem(_HarnessItem):
    def __init__(self, *, expanded, **kwargs) -> None:
        super().__init__(**kwargs)
        self.expanded = expanded
        self.duplicate_of: str | None = None

    def reportinfo(self):
        return self.path, self.expanded.case.line - 1, self.name

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
            with _watchdog(self, live_tf=not goldens):
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
            where = f"{exp.case.display_path}:{exp.case.line}: {exp.id} ({exp.op.name}, {exp.dtype})"
            raise CaseFailed(f"{where}\n{message}\nrepro: {self.result.repro}")


def _marker_path(markers: str, nodeid: str) -> Path:
    return Path(markers) / hashlib.sha1(nodeid.encode()).hexdigest()


class _Watchdog:
    """Stops the process when a case hangs past ``--harness-timeout``.

    A hang inside a TF kernel cannot be interrupted from Python, so the worker leaves a
    marker naming the case and exits; pytest-xdist reports the item as crashed and starts a
    new worker, and the controller turns the marker into status ``timeout``. One daemon
    thread per process polls the running case's deadline: arming it for a case costs two
    assignments, not a thread."""

    POLL_S = 0.25

    def __init__(self) -> None:
        self.running: tuple[pytest.Item, float, float] | None = None  # (item, seconds, deadline)
        threading.Thread(target=self._watch, name="harness-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.POLL_S)
            running = self.running
            if running is not None and time.monotonic() > running[2]:
                item, seconds, _ = running
                markers = getattr(item.config, "workerinput", {}).get("harness_markers")
                if markers:
                    _marker_path(markers, item.nodeid).write_text(str(seconds))
                sys.stderr.write(f"harness: {item.nodeid} ran past the {seconds:g} s timeout; stopping this process\n")
                sys.stderr.flush()
                os._exit(70)

    @contextlib.contextmanager
    def guard(self, item: pytest.Item):
        seconds = item.config.getoption("harness_timeout")
        if not seconds:
            yield
            return
        self.running = (item, seconds, time.monotonic() + seconds)
        try:
            yield
        finally:
            self.running = None


_WATCHDOG: _Watchdog | None = None


def _watchdog(item: pytest.Item, live_tf: bool = True):
    global _WATCHDOG
    if _WATCHDOG is None:
        if live_tf:
            from harness import tfbridge

            tfbridge.tf()  # importing TF takes seconds: not part of any case's time
        _WATCHDOG = _Watchdog()
    return _WATCHDOG.guard(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    rep = outcome.get_result()
    if call.when != "call" or not isinstance(item, _HarnessItem) or item.result is None:
        return
    result = item.result
    rep.harness = result.to_record()  # travels from an xdist worker to the controller
    if result.status == "xfailed":
        rep.outcome, rep.wasxfail, rep.longrepr = "skipped", result.xfail_reason or "", None
    elif result.status == "xpassed":
        rep.outcome, rep.wasxfail = "passed", result.xfail_reason or ""
    if isinstance(item, CaseItem):
        for key in ("op", "dtype", "status", "max_abs_err", "max_ulp"):
            item.user_properties.append((key, str(getattr(result, key))))
        item.user_properties.append(("location", f"{result.file}:{result.line}"))
        rep.user_properties = list(item.user_properties)


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report, config):
    """pytest's own counts name what the harness's do, so the run ends on one summary line:
    invalid input is an ``error`` (as a collection error is in pytest), a case whose worker
    died is ``crashed``, or ``timeout`` when the watchdog stopped it."""
    if report.when == "call" and getattr(report, "harness", {}).get("status") == "error":
        return "error", "E", "ERROR"
    if report.when == "???" and report.failed:  # pytest-xdist: the worker died running this item
        if _marker_path(config._harness.markers, report.nodeid).exists():
            return "timeout", "T", "TIMEOUT"
        return "crashed", "C", "CRASHED"
    return None


def pytest_collection_modifyitems(session, config, items) -> None:
    shard = config.getoption("harness_shard")
    if shard:
        index, count = _parse_shard(shard)
        keep = [it for it in items if zlib.crc32(it.name.encode()) % count == index - 1]
        config.hook.pytest_deselected(items=[it for it in items if it not in keep])
        items[:] = keep
    first: dict[str, str] = {}
    for item in items:
        if isinstance(item, CaseItem):
            case = item.expanded.case
            where = f"{case.display_path}:{case.line}"
            if first.setdefault(case.id, where) != where:
                item.duplicate_of = first[case.id]


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise pytest.UsageError(f"--shard {text!r}: expected I/N, e.g. 1/4") from None
    if not 1 <= index <= count:
        raise pytest.UsageError(f"--shard {text!r}: I must be between 1 and N")
    return index, count


class _Session:
    """Controller-side collection of results and report writing."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: list[CaseResult] = []
        self.started = dt.datetime.now(dt.timezone.utc)
        self.t0 = time.perf_counter()
        self.written: list[Path] = []
        self.run_warnings: list[str] = []
        self.baseline_counts: dict | None = None
        self.markers = getattr(config, "workerinput", {}).get("harness_markers") or tempfile.mkdtemp(prefix="tf-parity-")
        self.run_id = results_mod.new_run_id(self.started)
        self.report: tuple[Path, dict] | None = None
        """``(report dir, results)`` once the session is over, written by :meth:`publish`."""
        self.junit: tuple[Path, Path] | None = None
        """``(temporary, final)``: pytest writes its JUnit XML to the temporary file."""

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def stage_junit(self) -> None:
        """With a report directory, point pytest's ``--junitxml`` at a temporary file next to it;
        :meth:`publish` renames it into place with the other reports."""
        xmlpath = getattr(self.config.option, "xmlpath", None)
        if xmlpath and not self.is_worker and self.config.getoption("harness_report_dir"):
            final = Path(os.path.expanduser(os.path.expandvars(xmlpath)))
            self.junit = (atomicio.temp_path(final), final)
            self.config.option.xmlpath = str(self.junit[0])

    def pytest_sessionstart(self, session) -> None:
        try:
            from _pytest.junitxml import xml_key
        except ImportError:
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is not None:
            xml.add_global_property("tf_parity_run_id", self.run_id)

    def publish(self) -> None:
        """Rename this run's reports into place, all of them together (see ``write_report``).

        A JUnit file in the report directory belongs to the set: when no report is written
        (a run interrupted before any case finished), the earlier run's set stays whole."""
        junit = [self.junit] if self.junit and self.junit[0].exists() else []
        report_dir = self.config.getoption("harness_report_dir")
        if self.report is not None:
            results_mod.write_report(*self.report, junit)
        elif junit and report_dir and junit[0][1].parent.resolve() == Path(report_dir).resolve():
            atomicio.discard([junit[0][0]])
        elif junit:
            atomicio.publish(junit)

    def pytest_runtest_logreport(self, report) -> None:
        record = getattr(report, "harness", None)
        if record is not None and report.when == "call":
            self.results.append(CaseResult.from_record(record))
        elif report.when == "???" and report.failed:  # an xdist worker died while running this item
            self.results.append(self._crash_record(report.nodeid))

    def _crash_record(self, nodeid: str) -> CaseResult:
        from harness.record import repro_command

        rel, _, case_id = nodeid.partition("::")
        full = self.config.rootpath / rel
        path = _display_path(self.config, full)
        timed_out = _marker_path(self.markers, nodeid).exists()
        base = case_id.split("[", 1)[0]
        line = next((c.line for c in load_file(full).cases if c.id == base), 1) if full.is_file() else 1
        timeout = self.config.getoption("harness_timeout")
        message = (f"{path}:{line}: {case_id} ran past the {timeout:g} s timeout; its worker was stopped and the run went on"
                   if timed_out else
                   f"{path}:{line}: {case_id} crashed its worker process (a TF abort or segfault?); the run went on")
        return CaseResult.not_run(case_id, "timeout" if timed_out else "crashed", message, base_id=base, file=path,
                                  line=line, repro=repro_command(path, case_id))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        if self.is_worker:
            return
        from harness import baseline

        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if self.config.getoption("harness_baseline"):
            try:
                before = baseline.load(Path(self.config.getoption("harness_baseline")))
            except baseline.BaselineError as exc:
                self.run_warnings.append(f"baseline not used: {exc}")
            else:
                self.baseline_counts = baseline.classify(self.results, before)
        code = baseline.exit_code(self.results, self.config.getoption("harness_fail_on"))
        if code or (self.results and not interrupted):
            session.exitstatus = code
        elif exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = EXIT_INVALID
        report_dir = self.config.getoption("harness_report_dir")
        if report_dir and (self.results or exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED):
            self._write(Path(report_dir), interrupted)

    def _write(self, report_dir: Path, interrupted: bool) -> None:
        warnings = [w for r in self.results for w in r.warnings] + self.run_warnings
        if not self.results:
            warnings.append("no cases were collected: check the paths and the -k expression")
        run = {
            "id": self.run_id,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "duration_s": round(time.perf_counter() - self.t0, 3),
            "command": self.config.getoption("harness_command") or shlex.join(["pytest", *map(str, self.config.invocation_params.args)]),
            "argv": list(self.config.invocation_params.args),
            "paths": [str(a) for a in self.config.args],
            "interrupted": interrupted,
        }
        goldens = self.config.getoption("harness_goldens")
        if goldens:
            from harness.goldens.side import describe_goldens

            run["goldens"] = describe_goldens(goldens)
        data = results_mod.build(self.results, run=run, env=results_mod.environment(Path.cwd()), warnings=warnings)
        data["coverage"] = self._coverage()
        if self.baseline_counts is not None:
            data["baseline"] = {"path": str(self.config.getoption("harness_baseline")), "counts": self.baseline_counts,
                                "fail_on": self.config.getoption("harness_fail_on")}
        self.report = (report_dir, data)
        self.written = [report_dir / "results.json", report_dir / "index.html"]

    def _coverage(self) -> list[dict]:
        """Op × argument-value coverage of the case files this run was given."""
        from harness import coverage

        paths = [Path(str(a).split("::")[0]) for a in self.config.args]
        return coverage.as_json(coverage.collect([p for p in paths if p.exists()],
                                                 all_ops=self.config.getoption("harness_all_ops")))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        """Crashes and timeouts (pytest prints invalid input and failures itself), the counts
        against a baseline, and the reports written; pytest's last line is the summary."""
        if self.is_worker or not self.results:
            return
        tr = terminalreporter
        lost = [r for r in self.results if r.status in ("crashed", "timeout")]
        if lost:
            tr.section("crashes and timeouts", sep="-", red=True)
            for r in sorted(lost, key=lambda r: (r.file, r.line)):
                tr.write_line(r.message.splitlines()[0])
        if self.baseline_counts is not None:
            counts = ", ".join(f"{n} {label}" for label, n in self.baseline_counts.items())
            fail_on = self.config.getoption("harness_fail_on")
            tr.write_line(f"baseline {self.config.getoption('harness_baseline')}: {counts}"
                          + (" (only new failures fail the run: --fail-on new)" if fail_on == "new" else ""))
        for path in self.written:
            tr.write_line(f"report: {path}")
        if self.config.getoption("harness_report_dir") is None:  # plain pytest: like --junitxml, only when asked
            tr.write_line("report: none written (add --harness-report-dir DIR for results.json and index.html)")
