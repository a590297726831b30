"""End to end: ``python -m harness`` with real TensorFlow, as a user runs it."""
import json
import xml.etree.ElementTree as ET

import pytest

from harness import xdistbatch
from harness.cli import template
from harness.loader import load_file
from harness.registry import registry

SPARSE = """\
cases:
  - id: sparse-doc
    op: tf.nn.sparse_softmax_cross_entropy_with_logits
    dtypes: [float32, float64]
    args:
      labels: [2, 0]
      logits: [[2.0, -1.0, 3.0], [1.0, 0.0, -0.5]]
    expect: [0.32656264, 0.4643688]
"""
WRONG = """\
cases:
  - id: wrong-expect
    op: tf.nn.sparse_softmax_cross_entropy_with_logits
    args:
      labels: [2, 0]
      logits: [[2.0, -1.0, 3.0], [1.0, 0.0, -0.5]]
    expect: [0.32656264, 0.5643688]
"""
UNKNOWN = """\
cases:
  - id: typo
    op: tf.nn.sparse_softmax_cross_entropy_with_logit
    args: {labels: [1], logits: [[1.0, 2.0]]}
"""


def results(report_dir):
    return json.loads((report_dir / "results.json").read_text())


def test_results_json_keeps_a_passed_case_without_its_outputs_unless_full_results(cli, write_case, tmp_path):
    """A passed case leaves out its outputs and inputs and keeps the ledger's headrooms, so the
    tolerance ledger reads the same; a failed case keeps everything; --full-results keeps all."""
    from harness.report import ledger

    path = write_case("cases/a.yaml", SPARSE + WRONG.replace("cases:\n", ""))
    runs = {}
    for name, extra in (("trimmed", []), ("full", ["--full-results"])):
        out = cli("verify", str(path), "--report-dir", str(tmp_path / name), "-n", "0", *extra)
        assert out.returncode == 1, out.stdout + out.stderr
        runs[name] = {c["id"]: c for c in results(tmp_path / name)["cases"]}
    trimmed, full = runs["trimmed"], runs["full"]
    assert {c["status"] for c in trimmed.values()} == {"passed", "failed"}
    for cid, case in trimmed.items():
        if case["status"] == "passed":
            assert "outputs" not in case and "inputs" not in case and set(case["ledger"]) == {"value", "expect"}
        else:
            assert case["outputs"] == full[cid]["outputs"] and case["inputs"] == full[cid]["inputs"]
        assert "outputs" in full[cid] and "ledger" not in full[cid]
        assert ledger.case_entries(case) == ledger.case_entries(full[cid])


def test_passing_suite_exits_0_and_writes_three_reports(cli, write_case, tmp_path):
    path = write_case("cases/a.yaml", SPARSE)
    out = cli("verify", str(path.parent), "--report-dir", str(tmp_path / "rep"), "-n", "0")
    assert out.returncode == 0, out.stdout + out.stderr
    data = results(tmp_path / "rep")
    assert data["schema_version"] == 3
    assert data["summary"]["passed"] == 2
    assert {"python", "numpy", "tensorflow", "keras", "git_commit"} <= set(data["environment"])
    case = data["cases"][0]
    for key in ("id", "file", "line", "op", "dtype", "status", "message", "max_abs_err", "max_rel_err", "max_ulp",
                "rtol", "atol", "time_reference_s", "time_tf_s", "repro"):
        assert key in case, key
    assert case["id"] == "sparse-doc[float32]" and case["line"] == 2
    assert case["time_tf_s"] > 0 and case["time_reference_s"] > 0
    suites = ET.parse(tmp_path / "rep" / "junit.xml").getroot()
    assert sum(int(s.get("tests")) for s in suites.iter("testsuite")) == 2
    assert "sparse-doc[float32]" in (tmp_path / "rep" / "index.html").read_text()


def test_wrong_expect_exits_1_and_the_report_shows_the_diff(cli, write_case, tmp_path):
    path = write_case("cases/wrong.yaml", WRONG)
    out = cli("verify", str(path), "--report-dir", str(tmp_path / "rep"), "-n", "0")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Mismatched elements: 1 / 2 (50%)" in out.stdout
    assert "Worst index: (1,)" in out.stdout
    assert f"repro: python -m harness verify '{path}::wrong-expect[float32]'" in out.stdout
    (case,) = results(tmp_path / "rep")["cases"]
    assert case["status"] == "failed"
    failing = [c for c in case["checks"] if not c["ok"]]
    assert [c["name"] for c in failing] == ["expect vs tf", "expect vs reference"]
    assert failing[0]["worst_index"] == [1]
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "wrong-expect[float32]" in html and "0.5643688" in html


def test_unknown_op_exits_2_in_one_line_and_other_files_still_run(cli, write_case, tmp_path):
    good = write_case("cases/good.yaml", SPARSE)
    bad = write_case("cases/bad.yaml", UNKNOWN)
    out = cli("verify", str(good.parent), "--report-dir", str(tmp_path / "rep"))
    assert out.returncode == 2, out.stdout + out.stderr
    line = (f"{bad}:3: cases[0].op: unknown op 'tf.nn.sparse_softmax_cross_entropy_with_logit' "
            "(did you mean tf.nn.sparse_softmax_cross_entropy_with_logits")
    assert any(ln.startswith(line) for ln in out.stdout.splitlines()), out.stdout
    assert "Traceback" not in out.stdout + out.stderr
    data = results(tmp_path / "rep")
    assert data["summary"]["passed"] == 2 and data["summary"]["error"] == 1
    err = next(c for c in data["cases"] if c["status"] == "error")
    assert err["file"] == str(bad) and err["line"] == 3


def test_k_selects_and_xdist_runs(cli, write_case, tmp_path):
    path = write_case("cases/a.yaml", SPARSE)
    out = cli("verify", str(path), "--report-dir", str(tmp_path / "rep"), "-k", "float64", "-n", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [c["id"] for c in results(tmp_path / "rep")["cases"]] == ["sparse-doc[float64]"]


def test_no_case_files_is_invalid_input(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    out = cli("verify", str(tmp_path / "empty"), "--report-dir", str(tmp_path / "rep"), "-n", "0")
    assert out.returncode == 2


def test_list_ops_prints_the_registry(cli):
    out = cli("list-ops")
    assert out.returncode == 0
    assert "tf.nn.sparse_softmax_cross_entropy_with_logits" in out.stdout
    assert f"{len(registry())} ops" in out.stdout


@pytest.mark.parametrize("name", registry().names())
def test_new_template_is_a_valid_case_file(tmp_path, name):
    path = tmp_path / "t.yaml"
    path.write_text(template(name))
    loaded = load_file(path)
    structural = [e for e in loaded.errors if e.field.endswith(".op") or "unknown" in e.problem]
    assert structural == [], [str(e) for e in structural]


def test_new_unknown_op_exits_2(cli):
    out = cli("new", "tf.nn.softmaxx")
    assert out.returncode == 2 and "did you mean tf.nn.softmax" in out.stderr


def test_xdist_workers_send_the_same_results_as_one_process(cli, write_case, tmp_path, monkeypatch):
    """Results travel from xdist workers packed (harness.plugin), each item's messages as one
    (harness.xdistbatch; ``plain``: xdist's own messages), and the coverage a worker computed
    (harness.session): results.json and the JUnit file of ``-n 2`` hold what ``-n 0`` writes,
    failures' outputs and inputs included."""
    path = write_case("cases/a.yaml", SPARSE + WRONG.replace("cases:\n", ""))
    marks = tmp_path / "marks"
    marks.mkdir()
    write_case("cases/conftest.py", f"""\
import os, pathlib
def pytest_collection_finish(session):
    config = session.config
    if hasattr(config, "workerinput"):
        batched = any(getattr(getattr(p, "sendevent", None), "__qualname__", "") == "WorkerBatches.sendevent"
                      for p in config.pluginmanager.get_plugins())
        pathlib.Path({str(marks)!r}, os.environ["{xdistbatch.ENV}"] + config.workerinput["workerid"]).write_text(str(batched))
""")
    runs = {}
    for n, batch in (("0", "1"), ("2", "1"), ("plain", "0")):
        monkeypatch.setenv(xdistbatch.ENV, batch)
        out = cli("verify", str(path), "--report-dir", str(tmp_path / n), "-n", "0" if n == "0" else "2", "--full-results")
        assert out.returncode == 1, out.stdout + out.stderr
        runs[n] = results(tmp_path / n)
    assert {p.name: p.read_text() for p in marks.iterdir()} == {"1gw0": "True", "1gw1": "True",
                                                                "0gw0": "False", "0gw1": "False"}
    volatile = {"time_reference_s", "time_tf_s", "cost", "timing"}

    def kept(data):
        return sorted((json.dumps({k: v for k, v in c.items() if k not in volatile}, sort_keys=True)
                       for c in data["cases"]))

    assert len(runs["0"]["cases"]) == 3 and kept(runs["0"]) == kept(runs["2"]) == kept(runs["plain"])
    assert runs["0"]["coverage"] == runs["2"]["coverage"] and runs["2"]["coverage"][0]["cases"] == 2
    failed = [c for c in runs["2"]["cases"] if c["status"] == "failed"]
    assert [c["id"] for c in failed] == ["wrong-expect[float32]"] and "outputs" in failed[0]
    junit = {n: sorted(tc.get("name") for tc in ET.parse(tmp_path / n / "junit.xml").iter("testcase")) for n in runs}
    assert junit["0"] == junit["2"] == junit["plain"] and len(junit["0"]) == 3


def test_xdist_workers_keep_no_terminal_reporter_and_the_controller_prints_the_run(cli, write_case, tmp_path):
    """A worker's terminal writes to /dev/null: harness.plugin unregisters it there; the
    controller's prints the progress and the summary as before."""
    path = write_case("cases/a.yaml", SPARSE)
    marks = tmp_path / "marks"
    marks.mkdir()
    write_case("cases/conftest.py", f"""\
import pathlib
def pytest_collection_finish(session):
    config = session.config
    name = getattr(config, "workerinput", {{}}).get("workerid", "controller")
    has = config.pluginmanager.getplugin("terminalreporter") is not None
    pathlib.Path({str(marks)!r}, name).write_text(str(has))
""")
    out = cli("verify", str(path), "--report-dir", str(tmp_path / "rep"), "-n", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert {p.name: p.read_text() for p in marks.iterdir()} == {"gw0": "False", "gw1": "False"}
    assert "2 passed" in out.stdout and "[2/2]" in out.stdout
