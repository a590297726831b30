"""The suite figures of ``make bench``: how the steady state is computed from a run's timeline."""
from bench.figures import _steady, describe


def _case(tf_s, check_s, traced, op="tf.nn.softmax"):
    return {"op": op, "cost": {"check_s": check_s, "tf_s": tf_s, "reference_s": 1e-5, "timing_s": 0.0, "traced": traced}}


def test_steady_state_leaves_out_checks_that_traced_and_splits_the_time():
    processes = [{"items": [[0.001, False, 2e-4, "tf.nn.softmax"], [0.001, False, 3e-4, "tf.nn.softmax"],
                            [0.5, True, 0.49, "tf.nn.softmax"], [0.004, False, 3e-3, "tf.keras.losses.Hinge"]]}]
    results = {"cases": [_case(2e-4, 6e-4, False), _case(3e-4, 6e-4, False), _case(0.49, 0.499, True),
                         _case(3e-3, 3.5e-3, False, "tf.keras.losses.Hinge")]}
    out = _steady(processes, results)
    assert (out["steady_checks"], out["traced_checks"], out["traced_checks_s"]) == (3, 1, 0.5)
    assert out["steady_checks_per_s"] == 500.0  # 3 checks in 6 ms
    assert out["steady_by_family"]["tf.nn"] == {"checks": 2, "checks_per_s": 1000.0}
    assert out["steady_by_family"]["tf.keras.losses"] == {"checks": 1, "checks_per_s": 250.0}
    assert out["steady_by_family"]["TF call < 0.5 ms"]["checks"] == 2
    per = out["per_steady_check"]
    assert abs(per["item_s"] - 0.002) < 1e-12 and abs(per["tf_s"] - 0.0011666666666666668) < 1e-12
    assert abs(per["runner_s"] - (per["item_s"] - per["pytest_s"] - per["tf_s"] - per["reference_s"])) < 1e-12
    assert abs(per["harness_s"] - (per["runner_s"] + per["pytest_s"])) < 1e-12
    text = describe({"suite": {"jobs": "-n 0", **out}})
    assert "steady state" in text and "x TF's time" in text


def test_two_processes_add_their_rates():
    one = {"items": [[0.002, False, 1e-3, "tf.nn.softmax"]] * 10}
    assert _steady([one, one], None)["steady_checks_per_s"] == 1000.0


def test_ratios_time_both_sides_of_every_op_with_inputs(monkeypatch):
    """The ratio section times the real reference and real TF of the ops it is given."""
    from bench import figures
    from harness import registry as reg

    ops = [reg.get_op("tf.nn.softmax"), reg.get_op("tf.nn.l2_loss")]
    monkeypatch.setattr(reg, "registry", lambda: ops)
    out = figures.ratios("small", repeats=3)
    assert [r["op"] for r in sorted(out["per_op"], key=lambda r: r["op"])] == ["tf.nn.l2_loss", "tf.nn.softmax"]
    for row in out["per_op"]:
        assert row["reference_median_s"] > 0 and row["tf_median_s"] > 0
        assert row["ratio"] == float(f"{row['reference_median_s'] / row['tf_median_s']:.3g}")
    assert out["over_max"] == [r["op"] for r in out["per_op"] if r["ratio"] > 1.0]
    assert "ratios at small" in figures.describe({"ratios": out})
