"""The diff grid of a failing ``{ulp: N}`` case marks exactly the elements beyond N ULPs.

The op's TF side is real TensorFlow (``tf.identity``); its reference returns the input moved
by 0, 1, ..., 5 float32 ULPs, so with ``ulp: 2`` the last three elements fail and the first
three pass although their absolute errors are not zero."""
from pathlib import Path

import numpy as np

from harness.expand import expand
from harness.loader import Case
from harness.registry import Arg, OpSpec
from harness.report.diffview import build_grid
from harness.runner import run_expanded

STEPS = np.arange(6)


def _nudged(x):
    """``x`` moved up by 0, 1, ..., 5 ULPs, element by element."""
    x = np.asarray(x)
    return (x.view(np.int32) + STEPS.astype(np.int32)).view(np.float32)


OP = OpSpec(name="harness.testing.nudged_identity", reference=_nudged, args=(Arg("x", "float"),),
            tf_call=lambda tf, init, args: tf.identity(args["x"]), dtypes=("float32",))


def test_ulp_diff_grid_marks_exactly_the_elements_beyond_the_allowed_ulps():
    data = {"id": "ulp-grid", "op": OP.name, "args": {"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]},
            "tolerance": {"ulp": 2, "reason": "a test of the diff grid"}}
    path = Path("cases/ulp-grid.yaml")
    [exp] = expand(Case(id="ulp-grid", op=OP, data=data, path=path, display_path=str(path), line=1))
    record = run_expanded(exp, timing_repeats=0)
    assert record.status == "failed" and "Mismatched elements: 3 / 6" in record.message
    beyond = (STEPS > 2).tolist()
    assert record.diff["mismatch"] == beyond
    assert all(err > 0 for err in record.diff["abs_err"][1:])  # within the ULPs, yet not equal
    grid = build_grid(record)
    marked = ["mm" in cell["cls"].split() for row in grid["rows"] for cell in row["cells"] if cell]
    assert marked == beyond and grid["mismatches"] == 3
