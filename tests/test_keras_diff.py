"""The Keras 2 -> Keras 3 difference table: rows only from passing comparison cases, the
measured difference (or why the values cannot be subtracted), and the file it writes."""
from __future__ import annotations

import json

from harness import keras_diff


def _case(cid, status="passed", kind="same_as", err=0.0, tf=1.0, op="tf_keras.losses.Huber"):
    return {"id": cid, "op": op, "dtype": "float32", "status": status, "description": "Keras 2 vs Keras 3: defaults",
            "outputs": {"tf": tf}, "checks": [{"name": "reference vs tf", "ok": True},
                                              {"name": f"{kind}[0] tf.keras.losses.Huber (tf)", "ok": True, "max_abs_err": err},
                                              {"name": f"{kind}[0] tf.keras.losses.Huber (reference)", "ok": True, "max_abs_err": err}]}


def test_rows_come_from_passing_comparisons_only():
    results = {"cases": [_case("a[float32]"), _case("b[float32]", kind="differs_from", err=0.5, tf=2.0),
                         _case("c[float32]", status="failed"),
                         _case("d[float32]", op="tf.keras.losses.Huber"),
                         {"id": "e", "op": "tf_keras.losses.mse", "status": "passed", "checks": []}]}
    rows, missing = keras_diff.rows(results)
    assert [(r["case"], r["verdict"], r["difference"]) for r in rows] == [
        ("a[float32]", "same", "0 (bit-identical)"), ("b[float32]", "different", "0.5 (0.25 relative)")]
    assert rows[0]["setting"] == "defaults" and rows[0]["keras3"] == "Huber"
    assert missing == ["c[float32]"]


def test_unsubtractable_differences_say_why():
    nan_case = _case("n", kind="differs_from", err=None, tf="nan")
    shape_case = _case("s", kind="differs_from", err=None, tf=[1.0, 2.0])
    rows, _ = keras_diff.rows({"cases": [nan_case, shape_case]})
    assert {r["case"]: r["difference"] for r in rows} == {"n": "NaN vs a number", "s": "shapes differ"}


def test_cli_writes_between_markers_and_fails_without_comparisons(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"cases": [_case("a[float32]")]}))
    page = tmp_path / "README.md"
    page.write_text(f"# title\n{keras_diff.BEGIN}\nold\n{keras_diff.END}\ntail\n")
    assert keras_diff.main([str(results), "-o", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# title\n") and text.endswith("tail\n") and "old" not in text
    assert "| `Huber` | `Huber` | defaults | float32 | same | 0 (bit-identical) | `a[float32]` |" in text
    results.write_text(json.dumps({"cases": []}))
    assert keras_diff.main([str(results)]) == 2
    assert keras_diff.main([str(tmp_path / "missing.json")]) == 2


def test_cli_refuses_results_without_the_outputs_of_passed_cases(tmp_path, capsys):
    trimmed = {k: v for k, v in _case("a[float32]").items() if k != "outputs"}
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"cases": [trimmed]}))
    assert keras_diff.main([str(results)]) == 2
    assert "--full-results" in capsys.readouterr().err
