"""The report's fast paths print and compute exactly what their plain definitions do.

``format_array`` formats each element once (remembering values it has printed), the ledger
judges small outputs in plain floats instead of NumPy, the diff grid finds each output leaf
once, and Jinja reads the view's dicts key first. Each is checked here against the plain
definition on seeded random inputs, including the edge cases the shortcuts must keep:
signed zeros, NaN and infinities, ints and bools that equal floats, ragged nesting, and
the line wrapping of 1-D arrays.
"""
from __future__ import annotations

import gc
import math
import random
import struct

import jinja2
import numpy as np
import pytest

from harness.report import diffview, html, ledger
from harness.report.fmt import depth, fmt_value, format_array

DTYPES = ("float16", "bfloat16", "float32", "float64", None, "int32")
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.1, 2.5, 1e-5, 1e16, 65504.0, 7e4, 3.4e38, 1e39, 5e-324, 1.7976931348623157e308,
           math.nan, math.inf, -math.inf, "nan", "inf", "-inf", None, True, False, 1, -7, "…", "", "x"]


def reference_format_array(value, dtype=None, line_width=76, max_chars=60_000):
    """The definition: measure every column with ``fmt_value``, then lay the rows out greedily."""
    if not isinstance(value, list):
        return fmt_value(value, dtype)
    ndim = depth(value)
    widths: dict[int, int] = {}

    def measure(node):
        for j, item in enumerate(node):
            if isinstance(item, list):
                measure(item)
            else:
                key = j if ndim > 1 else 0
                widths[key] = max(widths.get(key, 0), len(fmt_value(item, dtype)))

    def render(node, level):
        if not node:
            return "[]"
        if not any(isinstance(item, list) for item in node):
            lines, line = [], ""
            for j, item in enumerate(node):
                cell = fmt_value(item, dtype).rjust(widths.get(j if ndim > 1 else 0, 0))
                cell += "," if j < len(node) - 1 else ""
                if line and level == 0 and len(line) + 1 + len(cell) + 1 > line_width:
                    lines.append(line)
                    line = cell
                else:
                    line = f"{line} {cell}" if line else cell
            lines.append(line)
            return "[" + ("\n" + " " * (level + 1)).join(lines) + "]"
        sep = "," + "\n" * max(1, ndim - level - 1) + " " * (level + 1)
        return "[" + sep.join(render(item, level + 1) if isinstance(item, list) else fmt_value(item, dtype)
                              for item in node) + "]"

    measure(value)
    text = render(value, 0)
    if len(text) > max_chars:
        text = text[:max_chars] + "\n… (cut for display; every value is in results.json)"
    return text


def _leaf(rng: random.Random):
    if rng.random() < 0.35:
        return rng.choice(SPECIAL)
    return rng.choice([rng.uniform(-10, 10), 10 ** rng.uniform(-12, 12), -(10 ** rng.uniform(-40, 40)),
                       round(rng.uniform(-3, 3), 2)])


def _tree(rng: random.Random, levels: int):
    if levels == 0 or rng.random() < 0.1:
        return _leaf(rng)
    return [_tree(rng, levels - 1) for _ in range(rng.randint(0, 7))]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # float16/float32 overflow of the huge leaves
def test_format_array_matches_its_definition_on_random_trees():
    rng = random.Random(20261122)
    for _ in range(800):
        tree = _tree(rng, rng.randint(1, 4))
        for dtype in DTYPES:
            for line_width in (76, 17):
                expected = reference_format_array(tree, dtype, line_width, 400)
                assert format_array(tree, dtype, line_width, 400) == expected, (tree, dtype, line_width)


def test_format_array_wraps_equal_cells_exactly_as_the_greedy_layout():
    rng = random.Random(7)
    for n in range(1, 20):
        for width in range(0, 7):
            for line_width in range(1, 40):
                cells = ["x" * rng.randint(0, width) for _ in range(n)]
                cells[rng.randrange(n)] = "y" * width
                for value in (cells, [cells, cells[:2]]):
                    assert format_array(value, None, line_width) == reference_format_array(value, None, line_width)


def test_fmt_value_keeps_signed_zero_and_the_type_of_equal_numbers():
    for dtype in DTYPES:
        assert fmt_value(1.0, dtype) == fmt_value(1.0, dtype)  # remembered
        assert fmt_value(1, dtype) == "1" and fmt_value(True, dtype) == "true"
        assert fmt_value(0.0, dtype) != fmt_value(-0.0, dtype)
    assert format_array([0.0, -0.0, 0.0], "float32") == "[ 0.0, -0.0,  0.0]"
    assert format_array([1.0, 1, True], "float64") == "[ 1.0,    1, true]"


def test_float64_prints_as_numpy_prints_its_scalars():
    rng = random.Random(3)
    values = [1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 5e-324, 0.1, 1e15, 123456789.123]
    for _ in range(20_000):
        f = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isfinite(f):
            values.append(f)
        values.append(10 ** rng.uniform(-8, 20))
    for f in values:
        assert fmt_value(f, "float64") == str(np.float64(f))


def _numpy_headroom(actual, desired, rtol, atol, **maxes):
    return ledger.headroom(ledger.element_errors(actual, desired, "float32"), rtol=rtol, atol=atol, ulp=None, **maxes)


def _same(a, b) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NumPy definition overflows on the extreme values
def test_ledger_headroom_matches_the_numpy_definition():
    rng = random.Random(11)
    extremes = [0.0, -0.0, 1.0, 1e-300, 1e300, -1e300, 1.7e308, math.inf, -math.inf, math.nan, 3.0000001]
    tolerances = [None, 0.0, 1e-7, 1.3e-6, 1e-3, 1.0, 1e300]

    def value():
        r = rng.random()
        if r < 0.4:
            return rng.choice(extremes)
        return rng.uniform(-2, 2) if r < 0.7 else rng.choice([0.5, 2.0]) * (1 + rng.choice([0, 1e-7, -1e-5, 1e-16]))

    for _ in range(8_000):
        actual = [value() for _ in range(rng.randint(1, 6))]
        desired = [x if rng.random() < 0.3 else value() for x in actual]
        rtol, atol = rng.choice(tolerances), rng.choice(tolerances)
        maxes = {"max_abs": rng.choice([None, 0.0, 1e-3, math.inf]), "max_rel": rng.choice([None, 0.0, 1e-3])}
        case = {"dtype": "float32", "rtol": rtol, "atol": atol, "max_abs_err": maxes["max_abs"],
                "max_rel_err": maxes["max_rel"], "outputs": {"reference": actual, "tf": desired}}
        if maxes["max_abs"] is None:
            case["max_ulp"] = 0
        entry = ledger.case_entries(case)[0]
        room = _numpy_headroom(actual, desired, rtol, atol, **maxes)
        assert _same(entry["observed"], room.observed) and _same(entry["allowed"], room.allowed)
        assert _same(entry["headroom"], room.headroom) and entry["bound"] == room.bound


def test_ledger_gradients_use_the_same_headroom():
    case = {"dtype": "float64", "rtol": 1e-7, "atol": 1e-7, "max_abs_err": 0.0, "grad_method": "analytic",
            "grad_tolerance": {"rtol": 1e-5, "atol": 0.0},
            "outputs": {"reference": [1.0], "tf": [1.0],
                        "grads": {"x": {"reference": [0.5, 1.0, 0.0], "tf": [0.5, 1.00001, 0.0]},
                                  "y": {"reference": [1.0], "tf": [1.0, 2.0]}}}}
    entries = ledger.case_entries(case)
    assert [e["label"] for e in entries] == ["value", "grad x"]  # y does not pair
    room = ledger.headroom(ledger.element_errors([0.5, 1.0, 0.0], [0.5, 1.00001, 0.0], "float64"),
                           rtol=1e-5, atol=0.0, ulp=None)
    assert (entries[1]["observed"], entries[1]["allowed"], entries[1]["headroom"]) == \
        (room.observed, room.allowed, room.headroom)


def test_leaves_flatten_in_order():
    assert ledger.leaves(3.0) == [3.0]
    assert ledger.leaves([]) == [] and ledger.leaves([[], [[]]]) == []
    assert ledger.leaves([1, [2, [3, 4]], [], 5, [[6]]]) == [1, 2, 3, 4, 5, 6]


def test_value_at_indexes_a_flattened_leaf_in_c_order():
    flat = list(range(24))
    for shape in ((24,), (4, 6), (2, 3, 4)):
        for index in np.ndindex(*shape):
            assert diffview.value_at(flat, (), index, shape) == int(np.ravel_multi_index(index, shape))
    assert diffview.value_at(flat, (), (4, 0), (4, 6)) is None  # out of the shape
    assert diffview.value_at(flat[:5], (), (1, 0), (4, 6)) is None  # past the truncated list
    tree = [[[1.0, 2.0], [3.0, 4.0]], [9.0]]
    assert diffview.value_at(tree, (0,), (1, 0), None) == 3.0
    assert diffview.value_at(tree, (1,), (0,), None) == 9.0
    assert diffview.value_at(tree, (2,), (0,), None) is None


def test_jinja_reads_dict_keys_first_and_falls_back_to_attributes():
    env = html._jinja()
    page = env.from_string("{{ d.items }}|{{ d.status }}").render(d={"items": "key", "status": "<b>"})
    assert page == "key|&lt;b&gt;"
    assert env.from_string('{{ {"a": "b"}.get("a") }}').render() == "b"
    assert env.from_string("{{ s.upper() }}").render(s="x") == "X"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ d.missing }}").render(d={})


@pytest.mark.parametrize("enabled", [True, False])
def test_render_html_leaves_garbage_collection_as_it_was(enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        html.render_html({"cases": []})
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
