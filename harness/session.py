"""The controller's side of a run: results collected from the workers, crashes and timeouts
turned into results, and the reports and exit status written at the end."""
from __future__ import annotations

import datetime as dt
import gc
import os
import shlex
import tempfile
import time
from pathlib import Path

import pytest

from harness import atomicio
from harness.items import display_path, impl_of, impl_specs
from harness.loader import load_file
from harness.report import results as results_mod
from harness.result import CaseResult
from harness.watchdog import marker_path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


FREEZE_EVERY = 256
"""Results between two :func:`freeze_kept_objects` during a run."""


def freeze_kept_objects() -> None:
    """Move what the run keeps to its end out of the cyclic collector's reach (``gc.freeze``).

    The modules, the loaded case files, the items and then each case's result and test reports
    live until the reports are written; left tracked, every full collection would walk all of
    them again (its cost grows with the run: 12% of a goldens run's time). Called after
    collection and every :data:`FREEZE_EVERY` results, each time after collecting the young
    generations, so that the reference cycles the recent cases left behind are freed, not
    frozen; a cycle that becomes garbage only after it reached the old generation is kept
    until the process ends (the cases make few: tens of objects in a run of the suite)."""
    gc.collect(1)
    gc.freeze()


class Session:
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
        self.own_results: dict = {}
        """``{id(report): (report, result)}``: results made in this process, until logged."""
        self.loaded: dict = {}
        """The case files collection loaded, by resolved path (the coverage reads them again)."""
        self.is_worker = hasattr(config, "workerinput")
        """An xdist worker: it sends its reports to the controller, which keeps the results."""
        self.workers_coverage: list[dict] | None = None
        """xdist's controller: the coverage a worker computed from the case files it loaded."""

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

    def pytest_collection_finish(self, session) -> None:
        freeze_kept_objects()

    def publish(self) -> None:
        """Rename this run's reports into place, all of them together (see ``write_report``).

        A JUnit file pytest wrote (``--junitxml``) is published with the set; one at the report's
        own ``junit.xml`` gives way to it. When no report is written (a run interrupted before
        any case finished), pytest's file in the report directory is dropped, so the earlier
        run's set stays whole."""
        junit = [self.junit] if self.junit and self.junit[0].exists() else []
        report_dir = self.config.getoption("harness_report_dir")
        if self.report is not None:
            ours = (self.report[0] / results_mod.JUNIT_NAME).resolve()
            if junit and junit[0][1].resolve() == ours:  # the report's own junit.xml stands for pytest's
                atomicio.discard([junit.pop()[0]])
            results_mod.write_report(*self.report, junit)
        elif junit and report_dir and junit[0][1].parent.resolve() == Path(report_dir).resolve():
            atomicio.discard([junit[0][0]])
        elif junit:
            atomicio.publish(junit)

    def pytest_runtest_logreport(self, report) -> None:
        if self.is_worker:
            return
        record = getattr(report, "harness", None)
        if record is not None and report.when == "call":
            own = self.own_results.pop(id(report), None)
            self.results.append(own[1] if own is not None and own[0] is report else CaseResult.from_record(record))
            if len(self.results) % FREEZE_EVERY == 0:
                freeze_kept_objects()
        elif report.when == "???" and report.failed:  # an xdist worker died while running this item
            self.results.append(self._crash_record(report.nodeid))

    def _crash_record(self, nodeid: str) -> CaseResult:
        from harness.record import repro_command

        rel, _, case_id = nodeid.partition("::")
        full = self.config.rootpath / rel
        path = display_path(self.config, full)
        timed_out = marker_path(self.markers, nodeid).exists()
        base = case_id.split("[", 1)[0]
        line = next((c.line for c in load_file(full).cases if c.id == base), 1) if full.is_file() else 1
        timeout = self.config.getoption("harness_timeout")
        message = (f"{path}:{line}: {case_id} ran past the {timeout:g} s timeout; its worker was stopped and the run went on"
                   if timed_out else
                   f"{path}:{line}: {case_id} crashed its worker process (a TF abort or segfault?); the run went on")
        impl = impl_of(self.config, full, case_id)
        if impl:
            message += f" (implementation under test: {impl})"
        return CaseResult.not_run(case_id, "timeout" if timed_out else "crashed", message, base_id=base, file=path,
                                  line=line, repro=repro_command(path, case_id), impl=impl)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        if self.is_worker:
            self._send_coverage()
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
            "impls": list(impl_specs(self.config)),
            "interrupted": interrupted,
        }
        goldens = self.config.getoption("harness_goldens")
        if goldens:
            from harness.goldens.side import describe_goldens

            run["goldens"] = describe_goldens(goldens)
        data = results_mod.build(self.results, run=run, env=results_mod.environment(Path.cwd()), warnings=warnings,
                                 full=self.config.getoption("harness_full_results"))
        data["coverage"] = self.workers_coverage if self.workers_coverage is not None else self._coverage()
        if self.baseline_counts is not None:
            data["baseline"] = {"path": str(self.config.getoption("harness_baseline")), "counts": self.baseline_counts,
                                "fail_on": self.config.getoption("harness_fail_on")}
        self.report = (report_dir, data)
        self.written = [report_dir / name for name in results_mod.REPORT_NAMES]

    def _send_coverage(self) -> None:
        """An xdist worker has loaded every case file of the run: it computes the coverage for
        the controller (sent with the worker's output), which would otherwise load them all
        again after the last case (0.7–1.5 s on the default suite)."""
        output = getattr(self.config, "workeroutput", None)
        if output is None or not self.config.getoption("harness_report_dir"):
            return
        try:
            output["harness_coverage"] = self._coverage()
        except Exception:  # noqa: BLE001  (the controller computes it then, and reports what fails)
            output.pop("harness_coverage", None)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """xdist's controller: a worker is done; keep the first coverage one sent."""
        sent = getattr(node, "workeroutput", None) or {}
        if self.workers_coverage is None and isinstance(sent.get("harness_coverage"), list):
            self.workers_coverage = sent["harness_coverage"]

    def _coverage(self) -> list[dict]:
        """Op × argument-value coverage of the case files this run was given."""
        from harness import coverage

        paths = [Path(str(a).split("::")[0]) for a in self.config.args]
        return coverage.as_json(coverage.collect([p for p in paths if p.exists()],
                                                 all_ops=self.config.getoption("harness_all_ops"), loaded=self.loaded))

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
            tr.write_line("report: none written (add --harness-report-dir DIR for results.json, index.html and junit.xml)")
