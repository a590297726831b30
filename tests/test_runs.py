"""Across runs: baselines, shards and merging, determinism."""
import json
import time
import xml.etree.ElementTree as ET

from harness.baseline import classify, exit_code, label
from harness.report.merge import merge
from harness.result import CaseResult

CASES = """\
defaults:
  dtypes: [float32, float64]
cases:
  - id: random-softmax
    op: tf.nn.softmax
    args: {logits: {random: normal, shape: [16, 5], scale: 3.0}}
  - id: random-sparse
    op: tf.nn.sparse_softmax_cross_entropy_with_logits
    args:
      labels: {random: integers, low: 0, high: 5, shape: [16]}
      logits: {random: normal, shape: [16, 5]}
  - id: wrong
    op: tf.nn.softmax
    args: {logits: [1.0, 2.0]}
    expect: [0.5, 0.5]
"""
VOLATILE_CASE_KEYS = ("time_reference_s", "time_tf_s", "cost")


def _stable(data: dict) -> dict:
    data = {k: v for k, v in data.items() if k not in ("run",)}
    data["cases"] = [{k: v for k, v in c.items() if k not in VOLATILE_CASE_KEYS} for c in data["cases"]]
    return data


def test_two_runs_give_identical_results_apart_from_timings(cli, write_case, tmp_path):
    path = write_case("cases/a.yaml", CASES)
    for name in ("one", "two"):
        cli("verify", str(path), "--report-dir", str(tmp_path / name), "-n", "0")
    one, two = (json.loads((tmp_path / n / "results.json").read_text()) for n in ("one", "two"))
    assert _stable(one) == _stable(two)
    assert len(one["cases"]) == 6


def test_shards_partition_the_cases_and_merge_back(cli, write_case, tmp_path):
    path = write_case("cases/a.yaml", CASES)
    ids = []
    for i in (1, 2, 3):
        out = cli("verify", str(path), "--report-dir", str(tmp_path / f"s{i}"), "--shard", f"{i}/3", "-n", "0")
        assert out.returncode in (0, 1, 5) or "no cases" in out.stdout, out.stdout
        part = tmp_path / f"s{i}" / "results.json"
        if part.exists():
            ids += [c["id"] for c in json.loads(part.read_text())["cases"]]
    assert sorted(ids) == sorted(f"{b}[{d}]" for b in ("random-softmax", "random-sparse", "wrong") for d in ("float32", "float64"))
    out = cli("merge", *[str(tmp_path / f"s{i}") for i in (1, 2, 3) if (tmp_path / f"s{i}" / "results.json").exists()],
              "--report-dir", str(tmp_path / "merged"))
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert sorted(c["id"] for c in merged["cases"]) == sorted(ids)
    assert merged["summary"]["failed"] == 2 and out.returncode == 1
    assert (tmp_path / "merged" / "index.html").exists()
    junit = ET.parse(tmp_path / "merged" / "junit.xml").getroot()  # the merged set has its JUnit file too
    assert sorted(tc.get("name") for tc in junit.iter("testcase")) == sorted(ids)
    assert [tc.get("name") for tc in junit.iter("testcase") if tc.find("failure") is not None] == \
        ["wrong[float32]", "wrong[float64]"]


def test_baseline_labels_and_fail_on_new(cli, write_case, tmp_path):
    path = write_case("cases/a.yaml", CASES)
    before = {"schema_version": 1, "cases": [
        {"id": "wrong[float32]", "status": "failed"},        # still failing
        {"id": "wrong[float64]", "status": "passed"},        # new failure
        {"id": "random-softmax[float32]", "status": "failed"},  # fixed
    ]}
    (tmp_path / "baseline.json").write_text(json.dumps(before))
    out = cli("verify", str(path), "--report-dir", str(tmp_path / "rep"), "--baseline", str(tmp_path / "baseline.json"),
              "--fail-on", "new", "-n", "0")
    data = json.loads((tmp_path / "rep" / "results.json").read_text())
    labels = {c["id"]: c["baseline"] for c in data["cases"]}
    assert labels["wrong[float32]"] == "still-failing"
    assert labels["wrong[float64]"] == "new-failure"
    assert labels["random-softmax[float32]"] == "fixed"
    assert labels["random-sparse[float32]"] == "new-case"
    assert data["baseline"]["counts"]["new-failure"] == 1
    assert out.returncode == 1  # wrong[float64] is new


def test_fail_on_new_ignores_known_failures():
    cases = [CaseResult("a", "failed"), CaseResult("b", "passed")]
    classify(cases, {"a": "failed", "b": "passed"})
    assert exit_code(cases, "new") == 0 and exit_code(cases, "any") == 1
    assert label("error", None) == "new-case"
    cases = [CaseResult("c", "error")]
    classify(cases, {})
    assert exit_code(cases, "new") == 2


def test_merge_keeps_first_of_duplicate_ids():
    part = {"run": {"started": "a", "finished": "b", "duration_s": 1}, "environment": {}, "warnings": [],
            "cases": [{"id": "x", "status": "passed", "file": "f", "line": 1}]}
    data = merge([part, part])
    assert len(data["cases"]) == 1 and any("appears in more than one part" in w for w in data["warnings"])


def test_timing_stops_once_its_budget_is_spent():
    from harness.runner import median_time

    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.004)

    assert median_time(slow, 5, budget_s=0.01) >= 0.004
    # A sleep lasts at least 4 ms, so three of them pass the 10 ms budget (a loaded machine
    # may get there sooner): the budget ends it before the 5 repeats.
    assert 1 <= len(calls) <= 3
    calls.clear()
    median_time(lambda: calls.append(1), 5, budget_s=0.01)
    assert len(calls) == 5  # fast calls get every repeat
    assert median_time(slow, 0, budget_s=0.01) is None
