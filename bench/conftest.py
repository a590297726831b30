"""pytest-benchmark suite over the registry: one benchmark per op x size x side.

Every (op, size, side) is collected, so nothing is dropped silently: an op without inputs
at a size, or one whose side raises on them, is skipped with the reason, and the reasons
are saved in the benchmark JSON under ``tf_parity.skipped`` (``reports/timing.html`` lists
them).
"""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.inputs import SIDES, SIZES  # noqa: E402
from harness.registry import registry  # noqa: E402

_SKIPPED: list[dict] = []


def pytest_generate_tests(metafunc):
    if "bench_case" in metafunc.fixturenames:
        cases = [(op.name, size, side) for op in registry() for size in SIZES for side in SIDES]
        metafunc.parametrize("bench_case", cases, ids=["-".join(c) for c in cases])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and hasattr(item, "callspec") and "bench_case" in item.callspec.params:
        op, size, side = item.callspec.params["bench_case"]
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        _SKIPPED.append({"op": op, "size": size, "side": side, "reason": reason.removeprefix("Skipped: ")})


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter):
    """A regression found by ``--benchmark-compare-fail`` fails the run (exit 1) with
    pytest-benchmark's own list of regressions above, instead of an internal-error traceback."""
    from pytest_benchmark.session import PerformanceRegression

    try:
        return (yield)
    except PerformanceRegression:
        terminalreporter.write_line("bench: performance regressed beyond --benchmark-compare-fail (listed above)", red=True)
        terminalreporter._session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return None


def pytest_benchmark_update_json(config, benchmarks, output_json):
    output_json["tf_parity"] = {
        "sizes": {name: list(shape) for name, shape in SIZES.items()},
        "ops": len(registry()),
        "skipped": _SKIPPED,
    }
