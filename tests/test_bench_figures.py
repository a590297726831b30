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
    floor = out["softmax_floor"]  # timed for real beside the softmax
    assert floor["op"] == "tf.nn.softmax" and floor["shape"] == "8x10"
    assert floor["exp_pass_median_s"] > 0 and floor["copy_median_s"] > 0 and floor["tf_median_s"] > 0
    assert floor["exp_pass_over_tf"] == float(f"{floor['exp_pass_median_s'] / floor['tf_median_s']:.3g}")


def test_the_softmax_floor_times_numpys_exp_of_the_logits(monkeypatch):
    """The floor's exp pass is np.exp of every logit into a new array, block by block."""
    import numpy as np

    from bench import figures

    seen = {}

    def record(calls, repeats):
        seen.update({name: call() for name, call in calls.items() if name != "tf"})
        return {name: 1.0 for name in calls}

    monkeypatch.setattr(figures, "_interleaved", record)
    logits = np.random.default_rng(0).standard_normal((300, 7)).astype(np.float32)
    kept = logits.copy()
    out = figures.softmax_floor(logits, lambda: None, repeats=2)
    np.testing.assert_array_equal(logits, kept)  # the logits are only read
    np.testing.assert_array_equal(seen["exp_pass"], np.exp(logits))
    np.testing.assert_array_equal(seen["copy"], logits)
    e = np.exp(logits.astype(np.float64))
    np.testing.assert_allclose(seen["fewest_passes"], e / e.sum(axis=1, keepdims=True), rtol=1e-6)
    assert out["exp_pass_over_tf"] == 1.0 and out["shape"] == "300x7"
    assert out["floor_above_goal"] is False  # 1.0 is within the goal


def test_the_goldens_goal_counts_every_process_cpu_on_the_cores_the_run_used():
    """-n 2: 4,000 checks in 3.6 s after a 1.5 s start-up; the workers' 5.2 s and the
    controller's 2.0 s of CPU on two cores give 1,111 checks/s; -n 0: one process, one core."""
    from bench.figures import _goal

    two = {"processes": 2, "cases": 4000, "run_s": 3.6, "run_checks_per_s": 1111.1, "run_cpu_s": 5.2,
           "controller_cpu_s": 2.0, "startup_and_collection_s": 1.5}
    goal = _goal(two)
    assert goal["met_wall"] and goal["met_per_cpu_s"] and goal["cores"] == 2
    assert two["run_checks_per_cpu_s"] == 1111.1
    slow_start = {**two, "startup_and_collection_s": 2.1}
    assert not _goal(slow_start)["met_wall"] and not _goal(slow_start)["met_per_cpu_s"]
    one = {"processes": 1, "cases": 4000, "run_s": 6.0, "run_checks_per_s": 666.7, "run_cpu_s": 5.9,
           "controller_cpu_s": 0.0, "startup_and_collection_s": 1.5}
    goal = _goal(one)
    assert not goal["met_wall"] and not goal["met_per_cpu_s"] and round(one["run_checks_per_cpu_s"]) == 678
    text = describe({"goldens": {**one, "goal": goal, "without_ports_n2": {**two, "goal": _goal(two), "jobs": "-n 2"}}})
    assert "on both cores, the median of 1 run (1111.1 checks/s): the goal's figure" in text and "met from CPU time" in text


def test_interleaved_abba_gives_both_sides_the_same_predecessors():
    """ABBA rounds after a warm-up that ended with the first name: each side is first in half of
    the rounds, straight after itself in half of its calls and after the other in the rest; the
    medians per predecessor are kept beside the overall one."""
    from bench import figures

    log = []
    calls = {"reference": lambda: log.append("R"), "tf": lambda: log.append("T")}
    out = figures._interleaved(calls, 10)
    assert "".join(log) == "RTTR" * 5
    seq = ["R"] + log  # the warm-up's last call was the reference's
    for side in "RT":
        prev = [seq[i - 1] for i in range(1, len(seq)) if seq[i] == side]
        assert prev.count(side) == 5 and len(prev) == 10, side
    assert set(out) == {"reference", "tf", "after_other", "after_self"}
    assert set(out["after_other"]) == set(out["after_self"]) == {"reference", "tf"}


def test_ratios_keep_the_in_turn_figures_beside_the_abba_ones(monkeypatch):
    from bench import figures

    def fake(calls, repeats):
        if "exp_pass" in calls:  # the softmax floor
            return {"tf": 4.0, "exp_pass": 3.0, "fewest_passes": 5.0, "copy": 1.0}
        return {"reference": 2.0, "tf": 4.0, "after_other": {"reference": 3.0, "tf": 2.0},
                "after_self": {"reference": 1.0, "tf": 4.0}}

    from harness import registry as reg

    ops = [reg.get_op("tf.nn.softmax")]
    monkeypatch.setattr(reg, "registry", lambda: ops)
    monkeypatch.setattr(figures, "_interleaved", fake)
    out = figures.ratios("small", repeats=2)
    row = out["per_op"][0]
    assert (row["ratio"], row["ratio_in_turn"], row["ratio_after_self"]) == (0.5, 1.5, 0.25)
    assert out["geomean_ratio"] == 0.5 and out["geomean_ratio_in_turn"] == 1.5
    assert out["over_max"] == [] and out["over_max_in_turn"] == ["tf.nn.softmax"]
    assert out["met"] is False and out["met_in_turn"] is False  # 0.5 > 0.35
    floor = out["softmax_floor"]
    assert (floor["fewest_passes_over_tf"], floor["exp_pass_over_tf"], floor["copy_over_tf"]) == (1.25, 0.75, 0.25)
    text = figures.describe({"ratios": out})
    assert "ABBA" in text and "former in-turn order" in text
    assert ("exp, row sums and scaling with no overflow guard 1.25x, the exp pass alone 0.75x, a plain copy 0.25x; "
            "above the goal of 1.0 before any guard: no NumPy formulation meets it in this run") in text
    assert floor["floor_above_goal"] is True


def test_the_goals_figure_is_the_median_run_with_every_runs_rate():
    from bench.figures import _median_run

    runs = [{"run_checks_per_s": 990.0, "cases": 1}, {"run_checks_per_s": None, "error": "crashed"},
            {"run_checks_per_s": 1040.0, "cases": 2}]
    median = _median_run(runs)
    assert median["run_checks_per_s"] == 990.0 and median["rates_of_runs"] == [990.0, None, 1040.0]
    assert "rates_of_runs" not in runs[0]
    text = describe({"goldens": {"jobs": "-n 0", "without_ports_n2": {**median, "jobs": "-n 2"}}})
    assert "the median of 3 runs (990.0, None, 1040.0 checks/s): the goal's figure" in text


def test_the_report_figures_say_so_when_chromium_is_missing(monkeypatch, tmp_path):
    """Without Chromium the 100,000-case page is not built; the suite's page is still measured
    and the figures say what to install instead of stopping on Selenium's error."""
    from bench import figures, report_scale

    monkeypatch.setattr(report_scale, "CHROMEDRIVER", tmp_path / "no-chromedriver")
    results = tmp_path / "results.json"
    results.write_text(report_scale.SAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    out = figures.report_figures(results, n=10)
    assert out["suite"]["cases"] > 0 and out["suite"]["page_bytes"] > 0
    assert out["big"] == {"cases": 10, "error": f"not installed: {tmp_path / 'no-chromedriver'} (run `make browser`)"}
    assert "report: the 10-case page was not measured: not installed:" in figures.describe({"report": out})
