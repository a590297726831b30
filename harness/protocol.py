"""A lean run-test protocol for the harness's items: the same reports, hooks and output as
pytest's own (``_pytest.runner.runtestprotocol``), for a fraction of its per-item cost.

A case item has no fixtures, no marks and no setup or teardown of its own, so pytest's
setup and teardown phases do nothing but cost time: three calls through the setup state,
three captures of stdout/stderr (``dup2`` each time), three report hooks, three copies of the
item's keywords. Here the ``call`` phase runs as pytest runs it (captured, through
``pytest_runtest_makereport``, so xfail handling and the harness's own report wrapper apply),
and the ``setup`` and ``teardown`` phases still advance the setup state and still send their
(passed) reports to ``pytest_runtest_logreport`` (JUnit finalizes a test case on its teardown
report; the terminal, ``-x``, ``--lf`` and xdist see what they always saw).

It is used only where nothing else would notice: when the item's per-phase hooks
(``pytest_runtest_setup/call/teardown/makereport``) have exactly the implementations of
pytest's runner, skipping and capture plugins and the harness's, and no option asks for
pytest's own phases (``--pdb``, ``--trace``, ``--setup-only/plan/show``). Anything else (a
``conftest.py`` hooking a phase, another plugin) gets pytest's protocol unchanged.
"""
from __future__ import annotations

import bdb
import os

import pytest
from _pytest.outcomes import Exit, Skipped
from _pytest.reports import TestReport
from _pytest.runner import CallInfo

EXPECTED = {
    "pytest_runtest_setup": {"runner", "skipping", "capturemanager"},
    "pytest_runtest_call": {"runner", "skipping", "capturemanager"},
    "pytest_runtest_teardown": {"runner", "capturemanager"},
    "pytest_runtest_makereport": {"runner", "skipping", "harness.plugin"},
}
"""The plugins whose phase hooks the lean protocol reproduces (by registered name)."""

OPTIONS_OFF = ("usepdb", "trace", "setuponly", "setupplan", "setupshow")
"""Options that need pytest's own phases."""


def usable(item: pytest.Item, ihook=None, _cache: dict = {}) -> bool:  # noqa: B006  (one answer per hook relay)
    """Whether :func:`run` may replace pytest's protocol for ``item`` (``ihook``: its hook relay,
    ``item.ihook``). The options are read once per run (they do not change during it)."""
    config = item.config
    ihook = item.ihook if ihook is None else ihook
    key = (id(config), id(ihook))
    kept = _cache.get(key)
    if kept is not None and kept[0] is config and kept[1] is ihook:  # held: an id is not reused for another run
        return kept[2]
    answer = not any(config.getoption(name, False) for name in OPTIONS_OFF) and all(
        {impl.plugin_name for impl in getattr(ihook, hook).get_hookimpls()} == names
        for hook, names in EXPECTED.items())
    _cache[key] = (config, ihook, answer)
    return answer


def run(item: pytest.Item, nextitem: pytest.Item | None, ihook=None) -> None:
    """One item's phases, as :func:`_pytest.runner.runtestprotocol` runs them (``ihook``: the
    item's hook relay, ``item.ihook``, when the caller has it)."""
    ihook = item.ihook if ihook is None else ihook
    config, session = item.config, item.session
    keywords = dict.fromkeys(item.keywords, 1)
    reraise = (Exit,) if config.getoption("usepdb", False) else (Exit, KeyboardInterrupt)
    setup = CallInfo.from_call(lambda: session._setupstate.setup(item), when="setup", reraise=reraise)
    if setup.excinfo is not None:  # cannot happen for a case file; pytest's own reports if it does
        report = ihook.pytest_runtest_makereport(item=item, call=setup)
        ihook.pytest_runtest_logreport(report=report)
    else:
        ihook.pytest_runtest_logreport(report=_passed(item, keywords, setup))
        os.environ["PYTEST_CURRENT_TEST"] = f"{item.nodeid} (call)".replace("\x00", "(null)")
        capman = config.pluginmanager.getplugin("capturemanager")
        with capman.item_capture("call", item):
            call = CallInfo.from_call(item.runtest, when="call", reraise=reraise)
        report = ihook.pytest_runtest_makereport(item=item, call=call)
        ihook.pytest_runtest_logreport(report=report)
        if _interactive(call, report):
            ihook.pytest_exception_interact(node=item, call=call, report=report)
    if session.shouldfail or session.shouldstop:
        nextitem = None
    teardown = CallInfo.from_call(lambda: session._setupstate.teardown_exact(nextitem), when="teardown",
                                  reraise=reraise)
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    if teardown.excinfo is not None:
        report = ihook.pytest_runtest_makereport(item=item, call=teardown)
    else:
        report = _passed(item, keywords, teardown)
    ihook.pytest_runtest_logreport(report=report)


def _passed(item: pytest.Item, keywords: dict, call: CallInfo) -> TestReport:
    """The report pytest makes of a setup or teardown phase that raised nothing."""
    return TestReport(item.nodeid, item.location, keywords, "passed", None, call.when,
                      [(f"Captured {key} {when}", content) for when, key, content in item._report_sections],
                      call.duration, call.start, call.stop, user_properties=item.user_properties)


def _interactive(call: CallInfo, report: TestReport) -> bool:
    """``_pytest.runner.check_interactive_exception``."""
    if call.excinfo is None or hasattr(report, "wasxfail"):
        return False
    return not isinstance(call.excinfo.value, (Skipped, bdb.BdbQuit))
