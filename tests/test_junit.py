"""junit.xml (harness.report.junit): rendered from the results, one testcase per case, the
outcome element by status, the failure's text as the terminal prints it, valid XML whatever
the messages hold."""
import xml.etree.ElementTree as ET

from harness.record import failure_text
from harness.report import junit
from harness.report.results import REPORT_NAMES


def _case(case_id: str, status: str, **fields) -> dict:
    base = {"id": case_id, "file": "cases/a.yaml", "line": 3, "op": "tf.nn.softmax", "dtype": "float32",
            "status": status, "message": "", "max_abs_err": 0.0, "max_ulp": 0.0, "repro": f"python -m harness verify 'cases/a.yaml::{case_id}'",
            "checks": [], "cost": {"check_s": 0.0015, "timing_s": 0.001}}
    base.update(fields)
    return base


RESULTS = {
    "run": {"id": "20261206T000000Z-abcdef", "started": "2026-12-06T00:00:00+00:00", "duration_s": 1.5},
    "cases": [
        _case("ok[float32]", "passed"),
        _case("bad[float32]", "failed", message="reference vs tf\nNot equal to tolerance rtol=1e-06\nMax ULP difference: 9",
              max_abs_err=0.5, max_ulp=9.0),
        {"id": "cases/b.yaml:7", "file": "cases/b.yaml", "line": 7, "status": "error", "invalid_input": True,
         "message": "cases/b.yaml:7: op: unknown op 'tf.nn.softmaxx' (did you mean tf.nn.softmax?)"},
        _case("lost[float32]", "crashed", message="cases/a.yaml:3: lost[float32] crashed its worker process"),
        _case("slow[float32]", "timeout", message="cases/a.yaml:3: slow[float32] ran past the 60 s timeout"),
        _case("f8[float8]", "skipped", message="tf.nn.softmax is not run in float8"),
        _case("known[float32]", "xfailed", message="mismatch", xfail_reason="TF rounds here\nsee issue"),
        _case("lucky[float32]", "xpassed", message="expected to fail (x) but passed", xfail_reason="x"),
        _case("odd\x01<&>\"[float32]", "failed", message="bytes \x00\x1b and <tags> & \"quotes\""),
    ],
}
for _c in RESULTS["cases"]:
    if _c["status"] in ("crashed", "timeout"):
        del _c["checks"]  # did not run


def _testcases() -> dict:
    root = ET.fromstring(junit.render(RESULTS))
    return root, {tc.get("name"): tc for tc in root.iter("testcase")}


def test_the_suite_counts_and_carries_the_run_id():
    root, _ = _testcases()
    (suite,) = root.iter("testsuite")
    assert root.tag == "testsuites" and suite.get("name") == junit.SUITE
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "9", "failures": "2", "errors": "3", "skipped": "2"}
    assert suite.get("time") == "1.500" and suite.get("timestamp") == RESULTS["run"]["started"]
    assert [(p.get("name"), p.get("value")) for p in suite.find("properties")] == \
        [("tf_parity_run_id", RESULTS["run"]["id"])]


def test_one_testcase_per_case_in_the_results_order_with_its_outcome():
    root, cases = _testcases()
    names = [tc.get("name") for tc in root.iter("testcase")]
    assert names == [c["id"].replace("\x01", "#x01") for c in RESULTS["cases"]]
    outcome = {name: [child.tag for child in tc if child.tag != "properties"] for name, tc in cases.items()}
    assert outcome["ok[float32]"] == [] and outcome["lucky[float32]"] == []
    assert outcome["bad[float32]"] == ["failure"]
    assert outcome["cases/b.yaml:7"] == outcome["lost[float32]"] == outcome["slow[float32]"] == ["error"]
    assert outcome["f8[float8]"] == outcome["known[float32]"] == ["skipped"]
    assert cases["known[float32]"].find("skipped").get("type") == "pytest.xfail"
    assert cases["known[float32]"].find("skipped").get("message") == "TF rounds here\nsee issue"
    assert cases["f8[float8]"].find("skipped").get("type") == "pytest.skip"
    ok = cases["ok[float32]"]
    assert ok.get("classname") == "cases.a.yaml" and ok.get("time") == "0.003"


def test_a_failure_carries_the_terminals_text_and_its_first_line():
    _, cases = _testcases()
    bad = RESULTS["cases"][1]
    failure = cases["bad[float32]"].find("failure")
    assert failure.text == failure_text(bad)
    assert failure.text.startswith("cases/a.yaml:3: bad[float32] (tf.nn.softmax, float32)\nreference vs tf\n")
    assert failure.text.endswith("\nrepro: python -m harness verify 'cases/a.yaml::bad[float32]'")
    assert failure.get("message") == "cases/a.yaml:3: bad[float32] (tf.nn.softmax, float32)"
    invalid = cases["cases/b.yaml:7"].find("error")
    assert invalid.text == RESULTS["cases"][2]["message"]  # it did not run: its message, nothing added


def test_properties_of_a_case_that_ran_and_of_one_that_did_not():
    _, cases = _testcases()
    props = {name: {p.get("name"): p.get("value") for p in tc.find("properties")} for name, tc in cases.items()}
    assert props["bad[float32]"] == {"op": "tf.nn.softmax", "dtype": "float32", "status": "failed",
                                     "max_abs_err": "0.5", "max_ulp": "9.0", "location": "cases/a.yaml:3"}
    assert props["cases/b.yaml:7"] == {"status": "error", "location": "cases/b.yaml:7"}


def test_characters_xml_cannot_hold_are_written_out_and_markup_is_escaped():
    _, cases = _testcases()
    odd = cases["odd#x01<&>\"[float32]"].find("failure")
    assert "bytes #x00#x1B and <tags> & \"quotes\"" in odd.text


def test_a_report_directory_holds_the_three_files():
    assert REPORT_NAMES == ("results.json", "index.html", "junit.xml")


# --- end to end ------------------------------------------------------------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASE = """\
cases:
  - id: soft
    op: tf.nn.softmax
    args: {logits: [[1.0, 2.0, 3.0]]}
  - id: wrong
    op: tf.nn.softmax
    args: {logits: [[1.0, 2.0, 3.0]]}
    expect: [[0.3, 0.3, 0.4]]
"""


def _pytest(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.plugin", "a.yaml", "-p", "no:cacheprovider",
                           "--harness-report-dir", "rep", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)


def test_verify_writes_junit_whose_failure_is_the_terminals_and_pytests_own_still_works(tmp_path):
    """The report directory's junit.xml is the harness's; ``--junitxml`` elsewhere still gets
    pytest's own file, and ``--junitxml`` at the report's junit.xml gives way to the report's."""
    (tmp_path / "a.yaml").write_text(CASE)
    out = _pytest(tmp_path, "--junitxml", "other.xml")
    assert out.returncode == 1, out.stdout + out.stderr
    ours = ET.parse(tmp_path / "rep" / "junit.xml").getroot()
    assert next(ours.iter("testsuite")).get("name") == junit.SUITE
    failure = next(tc for tc in ours.iter("testcase") if tc.get("name") == "wrong[float32]").find("failure")
    assert failure.text.startswith("a.yaml:5: wrong[float32] (tf.nn.softmax, float32)\n")
    assert failure.text.splitlines()[-1] in out.stdout and failure.text.splitlines()[0] in out.stdout
    theirs = ET.parse(tmp_path / "other.xml").getroot()
    assert sorted(tc.get("name") for tc in theirs.iter("testcase")) == ["soft[float32]", "wrong[float32]"]
    out = _pytest(tmp_path, "--junitxml", "rep/junit.xml")
    assert out.returncode == 1, out.stdout + out.stderr
    assert next(ET.parse(tmp_path / "rep" / "junit.xml").getroot().iter("testsuite")).get("name") == junit.SUITE
    assert sorted(os.listdir(tmp_path / "rep")) == [".tf-parity.lock", *sorted(REPORT_NAMES)]
