"""The load-time shape check passes a float tensor drawn at random as zeros of its shape.

That is only right while every op's check reads float tensors for their shapes and dtypes
alone (OpSpec.check's contract): held here on every case of every case file, with each
float argument replaced by zeros, by large negative values and by NaN. And the zeros are
built after the same checks as the real draw: the same errors, or the same shape.
"""
import math
from pathlib import Path

import numpy as np
import pytest

from harness import inputs, loader
from harness.loader import CASE_SUFFIXES
from harness.registry import registry
from harness.yamlio import LineDict

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for d in ("cases", "tests/data") for p in (ROOT / d).rglob("*") if p.suffix in CASE_SUFFIXES)


def _outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the same exception either way
        return (type(exc).__name__, str(exc))


def _variants(arrays: dict, op) -> list[dict]:
    """The arrays with every float tensor's values replaced (same shape and dtype)."""
    out = []
    for fill in (0.0, -1e30, math.nan):
        changed = dict(arrays)
        for name, value in arrays.items():
            arg = op.arg(name)
            if arg is not None and arg.role == "float" and isinstance(value, np.ndarray):
                changed[name] = np.full(value.shape, fill, dtype=value.dtype)
        out.append(changed)
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_checks_read_float_tensors_only_for_their_shapes(path):
    for case in loader.load_file(path).cases:
        op = case.op
        if op.check is None:
            continue
        for combo in loader._combos(case.data)[:loader.SHAPE_CHECK_COMBOS]:
            args, init = dict(case.data.get("args") or {}), dict(case.data.get("init") or {})
            for key, value in combo.items():
                section, name = key.split(".", 1)
                (args if section == "args" else init)[name] = value
            try:
                arrays = {name: inputs.materialize(f"args.{name}", spec, op.arg(name).role, "float64",
                                                   seed=inputs.derive_seed(case.id, name), base_dir=path.parent,
                                                   max_elements=loader.SHAPE_CHECK_ELEMENTS)
                          for name, spec in args.items()}
            except inputs.InputError:
                continue
            plain_init = {k: inputs._plain(v) for k, v in init.items()}
            want = _outcome(lambda: op.check(plain_init, arrays))
            for changed in _variants(arrays, op):
                assert _outcome(lambda: op.check(plain_init, changed)) == want, (case.id, combo)
            seen = {name: loader._shape_input(op, name, spec, case.id, path) for name, spec in args.items()}
            assert {k: (np.shape(v), getattr(v, "dtype", None)) for k, v in seen.items()} == \
                   {k: (np.shape(v), getattr(v, "dtype", None)) for k, v in arrays.items()}
            assert _outcome(lambda: op.check(plain_init, seen)) == want, (case.id, combo)


def test_every_op_with_a_check_is_held_to_it():
    """The case files give every check at least one case (so the test above covers it)."""
    used = {case.op.name for path in FILES for case in loader.load_file(path).cases}
    assert [op.name for op in registry() if op.check is not None and op.name not in used] == []


SPECS = [
    {"random": "normal", "shape": [2, 3]},
    {"random": "normal", "shape": []},
    {"random": "normal", "shape": [0, 4], "seed": 3},
    {"random": "simplex", "shape": [4, 3]},
    {"random": "simplex", "shape": [2, 0]},
    {"random": "simplex", "shape": []},
    {"random": "uniform", "shape": [3], "low": 1, "high": 0},
    {"random": "uniform", "shape": [3], "high": math.inf},
    {"random": "uniform", "shape": [3], "low": -1e308, "high": 1e308},
    {"random": "uniform", "shape": [3], "high": 10 ** 400},
    {"random": "normal", "shape": [3], "scale": -0.0},
    {"random": "normal", "shape": [3], "scale": -1},
    {"random": "normal", "shape": [3], "loc": 10 ** 400},
    {"random": "normal", "shape": [3], "loc": math.nan, "scale": math.inf},
    {"random": "normal", "shape": [3], "seed": -1},
    {"random": "normal", "shape": [3], "seed": 2 ** 200},
    {"random": "normal", "shape": [3], "std": 1},
    {"random": "normal", "shape": [1001, 1000]},
    {"random": "normal", "shape": [0, 2 ** 70]},
    {"random": "normal", "shape": [-1, 2]},
    {"random": "normal", "shape": "3"},
    {"random": "normal", "shape": [2.0]},
    {"random": "normal", "shape": [True]},
    {"random": "normal", "shape": [2], "dtype": "float16"},
    {"random": "normal", "shape": [2], "dtype": "int99"},
    {"random": "integers", "shape": [3], "high": 2 ** 70},
    {"random": "integers", "shape": [3], "high": 4},
    {"random": "bogus", "shape": [3]},
    {"random": ["normal"], "shape": [3]},
    {"random": "normal", "shape": [3], "loc": "1"},
    {"fill": 1.0, "shape": [2]},
    [1.0, 2.0],
    None,
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_a_standin_has_the_draws_errors_or_its_shape(spec):
    spec = LineDict(spec) if isinstance(spec, dict) else spec
    kwargs = dict(seed=7, base_dir=ROOT, max_elements=loader.SHAPE_CHECK_ELEMENTS)
    real = _outcome(lambda: inputs.materialize("args.x", spec, "float", "float64", **kwargs))
    standin = _outcome(lambda: inputs.shape_standin("args.x", spec, **kwargs))
    if standin[0] == "ok" and standin[1] is None:  # not a stand-in's: the loader materializes it
        return
    assert standin[0] == real[0]
    if real[0] == "ok":
        assert standin[1].shape == real[1].shape and standin[1].dtype == real[1].dtype and not standin[1].any()
    else:
        assert standin[1] == real[1]
