"""A pytest plugin that times the phases of a ``python -m harness verify`` run.

Loaded through ``PYTEST_PLUGINS=bench.timeline`` with ``BENCH_TIMELINE=<prefix>``; every
process that runs cases (the only one with ``-n 0``, each xdist worker otherwise) writes
``<prefix>.<worker>.json``:

``session_start``  pytest_sessionstart (``time.time()``, comparable across processes)
``collected``      end of collection
``tf_import_s``    importing TensorFlow, done here once before the first case so that the
                   case loop that follows is the steady state (not with ``--goldens``: that
                   run must not import it, and ``tf_imported`` says whether anything did)
``first_start``    first case started (after the import)
``last_finish``    last case finished
``run_cpu_s``      CPU time (user + system) of this process from the first case's start to
                   the last case's finish: a rate that other load on the machine changes less
``cases``          cases run by this process
``items``          per case run here: ``[seconds from logstart to logfinish, traced, tf_s, op]``
                   from the case's ``cost`` (``traced``: it paid for a tf.function trace or an
                   XLA compile; ``tf_s``: the time of its TF calls)
``finish_start``   pytest_sessionfinish began (the harness then writes its reports)
``finish_end``     pytest_sessionfinish ended

The process that writes the reports (``main`` with ``-n 0``, ``controller`` otherwise) also
writes its file, so the time spent after the last case is accounted for.
"""
from __future__ import annotations

import json
import os
import sys
import time

import pytest

_state: dict = {"cases": 0, "first_start": None, "last_finish": None, "tf_import_s": 0.0, "items": []}
_item: dict = {}


def _runs_cases(config) -> bool:
    """False only on an xdist controller (its workers run the cases)."""
    return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_sessionstart(session) -> None:
    _state["session_start"] = time.time()


def pytest_collection_finish(session) -> None:
    _state["collected"] = time.time()
    if _runs_cases(session.config) and not session.config.getoption("harness_goldens", None):
        from harness import tfbridge

        t0 = time.perf_counter()
        tfbridge.tf()
        _state["tf_import_s"] = time.perf_counter() - t0


def pytest_runtest_logstart(nodeid, location) -> None:
    now = time.time()
    if _state["first_start"] is None:
        _state["first_start"] = now
        _state["first_start_cpu"] = time.process_time()
    _item.update(start=now, traced=False, tf_s=None, op=None)


def pytest_runtest_logreport(report) -> None:
    record = getattr(report, "harness", None)
    if report.when == "call" and record:
        cost = record.get("cost") or {}
        _item.update(traced=bool(cost.get("traced")), tf_s=cost.get("tf_s"), op=record.get("op"))


def pytest_runtest_logfinish(nodeid, location) -> None:
    now = time.time()
    _state["cases"] += 1
    _state["last_finish"] = now
    _state["run_cpu_s"] = time.process_time() - _state["first_start_cpu"]
    if "start" in _item:
        _state["items"].append([round(now - _item["start"], 6), _item["traced"], _item["tf_s"], _item["op"]])


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    _state["finish_start"] = time.time()
    yield
    _state["finish_end"] = time.time()
    _state["tf_imported"] = "tensorflow" in sys.modules
    prefix = os.environ.get("BENCH_TIMELINE")
    config = session.config
    if not prefix:
        return
    worker = getattr(config, "workerinput", {}).get("workerid") or ("main" if _runs_cases(config) else "controller")
    with open(f"{prefix}.{worker}.json", "w") as fh:
        json.dump({**_state, "worker": worker}, fh)
