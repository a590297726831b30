"""Reference vs TensorFlow (eager) time for every registered op at each size.

Inputs are built once per (op, size) and shared by both sides; TF gets them as tensors
before timing, so only the call is timed. The first call of each side is a warm-up that
also proves the op runs on these inputs (a side that raises is skipped with its error).
"""
from __future__ import annotations

import pytest

from bench.inputs import CannotBuild, build, side_call
from harness.registry import get_op

_last: dict = {}


def _inputs(op, size):
    """Inputs of the latest (op, size) only: large inputs are not all kept alive."""
    key = (op.name, size)
    if key not in _last:
        _last.clear()
        try:
            _last[key] = build(op, size)
        except CannotBuild as exc:
            _last[key] = exc
    return _last[key]


def test_op(benchmark, bench_case):
    name, size, side = bench_case
    op = get_op(name)
    built = _inputs(op, size)
    if isinstance(built, CannotBuild):
        pytest.skip(f"no inputs: {built}")
    call = side_call(op, built, side)
    try:
        call()
    except Exception as exc:  # the op does not run on these inputs: say so, do not time it
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        pytest.skip(f"{side} raised {type(exc).__name__}: {first}")
    benchmark.group = f"{name} {size}"
    benchmark.extra_info.update(op=name, size=size, side=side, shape=built.shape_text, elements=built.elements)
    benchmark(call)
