"""The pytest plugin: its hooks. YAML case files are collected as pytest items (:mod:`harness.items`).

Load it with ``-p harness.plugin`` (``python -m harness verify`` does). Each expanded case
is one item named by its expanded id, so ``-k``, ``-x``, ``--lf``, ``--junitxml`` and
pytest-xdist's ``-n`` behave as usual. Results travel from xdist workers to the controller
on the test report (``report.harness``); the controller (:mod:`harness.session`) writes
``results.json`` and ``index.html`` at the end of the session and sets the exit status:
0 nothing failed, 1 a case failed, 2 some input was invalid. A case that hangs stops its
worker (:mod:`harness.watchdog`).
"""
from __future__ import annotations

import marshal
import os
import zlib
from pathlib import Path

import pytest

from harness import protocol, xdistbatch
from harness.items import CaseFile, CaseItem, HarnessItem
from harness.loader import CASE_SUFFIXES
from harness.options import OPTIONS
from harness.report.results import case_record
from harness.session import Session
from harness.watchdog import marker_path


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "tf-parity harness")
    for option in OPTIONS:
        group.addoption(f"--harness-{option.name}", **option.pytest_kwargs())


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist controller: tell each worker where to leave timeout markers, and take each
    item's messages as one (:mod:`harness.xdistbatch`)."""
    node.workerinput["harness_markers"] = node.config._harness.markers  # type: ignore[attr-defined]
    xdistbatch.install_controller(node)


@pytest.hookimpl(tryfirst=True)  # before pytest's junitxml plugin reads --junitxml
def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before any TF import, here and in xdist workers
    workers = getattr(config, "workerinput", {}).get("workercount")
    if workers:  # an xdist worker: share the cores with the other workers instead of each TF using all of them
        threads = str(max(1, (os.cpu_count() or 1) // int(workers)))
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", threads)
    if workers:
        xdistbatch.install_worker(config)
    config._harness = Session(config)  # type: ignore[attr-defined]
    config.pluginmanager.register(config._harness, "harness-session")  # type: ignore[attr-defined]
    config._harness.stage_junit()  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """An xdist worker's terminal reporter writes to /dev/null (xdist points the worker's
    stdout there; the controller prints the run): it is unregistered, so each item's three
    reports are not formatted, status-hooked and written (unbuffered: a system call each)
    for nobody. The worker still sends every report to the controller."""
    config = session.config
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if hasattr(config, "workerinput") and reporter is not None and not getattr(reporter, "isatty", False):
        config.pluginmanager.unregister(reporter)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The reports are renamed into place here, after pytest has written its JUnit file."""
    session = getattr(config, "_harness", None)
    if session is not None and not session.is_worker:
        session.publish()


PACKED = "harness.packed"
"""The key of a test report packed by :func:`pytest_report_to_serializable`."""


@pytest.hookimpl(hookwrapper=True)
def pytest_report_to_serializable(config, report):
    """An xdist worker's test report travels to the controller as one ``marshal`` blob.

    execnet's own serializer walks the case record (``report.harness``, about 1.5 KB of
    nested dicts) in Python: about 0.13 ms to pack in the worker and 0.14 ms to unpack in
    the controller, per case, where marshal takes 0.01 ms each. It keeps every type execnet
    keeps (tuples, int keys); a report marshal cannot hold (another plugin's object) goes
    unchanged. The controller unpacks it in :func:`pytest_report_from_serializable`."""
    outcome = yield
    data = outcome.get_result()
    if not isinstance(data, dict) or data.get("$report_type") != "TestReport":
        return
    try:
        blob = marshal.dumps(data, 4)
    except ValueError:  # an object marshal cannot hold: execnet's serializer as before
        return
    outcome.force_result({"$report_type": "TestReport", PACKED: blob})


@pytest.hookimpl(hookwrapper=True)
def pytest_report_from_serializable(config, data):
    """The controller's side of :func:`pytest_report_to_serializable`: the packed report's
    fields back in ``data`` (beside the keys xdist added on the way) before pytest reads it."""
    blob = data.pop(PACKED, None) if isinstance(data, dict) else None
    if blob is not None:
        data.update(marshal.loads(blob))
    yield


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix in CASE_SUFFIXES:
        return CaseFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """A case item's phases through :mod:`harness.protocol` (pytest's reports at less cost)."""
    if not isinstance(item, HarnessItem):
        return None
    ihook = item.ihook
    if not protocol.usable(item, ihook):
        return None
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    protocol.run(item, nextitem, ihook)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    rep = outcome.get_result()
    if call.when != "call" or not isinstance(item, HarnessItem) or item.result is None:
        return
    result = item.result
    # An xdist worker sends the record to the controller: a passed case already without its
    # outputs (case_record), a smaller message; in one process results.json's build trims it.
    worker = hasattr(item.config, "workerinput")
    rep.harness = case_record(result, not worker or item.config.getoption("harness_full_results"))
    if not worker:  # the session here takes the result itself, not a copy read back from the record
        item.config._harness.own_results[id(rep)] = (rep, result)
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
        if marker_path(config._harness.markers, report.nodeid).exists():
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
