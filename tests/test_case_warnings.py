"""What a case's warnings say beyond the verdict: argument values the case's dtype cannot hold
(finite values beyond its range become ±inf in the cast: file:line, field, how many, the fix,
in every expansion, instead of NumPy's anonymous RuntimeWarning), and what the implementation
under test warned while computing the case (instead of pytest's summary at the end)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from harness import inputs
from harness.expand import expand
from harness.loader import load_file
from harness.runner import run_expanded


def test_cast_to_names_the_field_and_counts_only_finite_values_made_infinite():
    arr = np.array([1e39, -1e39, np.inf, 1.0, 7e4])
    with pytest.warns(inputs.InputWarning) as caught:
        out = inputs.cast_to("args.y_pred", arr, np.float32)
    assert out.dtype == np.float32 and np.isinf(out[:3]).all() and out[3] == 1.0
    assert [str(w.message) for w in caught] == [
        "args.y_pred: 2 finite value(s) beyond float32's range became ±inf "
        "(write .inf or -.inf for an infinity; smaller values or a wider dtype keep them finite)"]
    with pytest.warns(inputs.InputWarning, match="args.t: 1 finite value"):
        inputs.cast_to("args.t", arr[3:], np.float16)  # 7e4 > float16's 65504


def test_cast_to_is_silent_within_range():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = inputs.cast_to("args.x", np.array([np.inf, -np.inf, np.nan, 3e38, -65504.0]), np.float32)
    assert out.dtype == np.float32


CASE = """\
cases:
  - id: too-large
    op: tf.keras.losses.MAE
    dtypes: [float32, float64]
    args:
      y_true: [[0.0, 1.0]]
      y_pred: [[1.0e39, 0.5]]
"""


def _loaded(tmp_path, name: str, text: str):
    """The one case of ``text``, written to ``tmp_path / name`` and loaded."""
    path = tmp_path / name
    path.write_text(text)
    loaded = load_file(path)
    assert loaded.errors == [] and len(loaded.cases) == 1
    return loaded.cases[0]


def test_every_expansion_of_the_case_carries_the_warning(tmp_path):
    case = _loaded(tmp_path, "range.yaml", CASE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", inputs.InputWarning)  # none escapes the runner
        warnings.simplefilter("error", RuntimeWarning)
        records = {e.id: run_expanded(e, timing_repeats=0).to_record() for e in expand(case)}
        again = run_expanded(expand(case)[0], timing_repeats=0).to_record()  # the kept array
    f32 = next(r for k, r in records.items() if "float32" in k)
    f64 = next(r for k, r in records.items() if "float64" in k)
    want = f"{case.display_path}:2: args.y_pred: 1 finite value(s) beyond float32's range became ±inf"
    assert any(w.startswith(want) for w in f32["warnings"]), f32["warnings"]
    assert any(w.startswith(want) for w in again["warnings"]), again["warnings"]
    assert not any("range became" in w for w in f64["warnings"])  # float64 holds 1e39


PORT = """\
import warnings
import numpy as np

def mae(y_true, y_pred):
    warnings.warn("careful: this port averages over everything", UserWarning)
    warnings.warn("careful: this port averages over everything", UserWarning)  # once in the case
    warnings.warn("old_name is deprecated", DeprecationWarning)
    return np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred)), axis=-1)

OPS = {"tf.keras.losses.MAE": mae}
"""

PORT_CASE = """\
cases:
  - id: warned
    op: tf.keras.losses.MAE
    args:
      y_true: [[0.0, 1.0]]
      y_pred: [[0.5, 0.5]]
"""


def test_an_implementations_warnings_are_the_cases(tmp_path):
    port = tmp_path / "chatty_port.py"
    port.write_text(PORT)
    (exp,) = expand(_loaded(tmp_path, "warned.yaml", PORT_CASE), (str(port),))
    with pytest.warns(DeprecationWarning, match="old_name is deprecated"):  # passed on to Python
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # the port's UserWarning does not escape
            record = run_expanded(exp, timing_repeats=3).to_record()
    assert record["status"] == "passed"
    noted = [w for w in record["warnings"] if "warned" in w]
    assert noted == ["chatty_port warned: UserWarning: careful: this port averages over everything"]
