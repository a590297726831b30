"""A new user's first hour: the points of a first run that did not hold, each held here.

Real TensorFlow throughout: cases run through ``python -m harness`` in a subprocess (as a
user runs them) or through the runner in-process.
"""
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness import cli as harness_cli
from harness.baseline import exit_code
from harness.cli import template
from harness.expand import expand
from harness.loader import load_file
from harness.report import html, ledger
from harness.result import CaseResult
from harness.runner import run_expanded

from conftest import ROOT, run_cli

GOOD_AND_WRONG = """\
cases:
  - id: good
    op: tf.nn.softmax
    args: {logits: [1.0, 2.0]}
  - id: wrong
    op: tf.nn.softmax
    args: {logits: [1.0, 2.0]}
    expect: [0.5, 0.5]
"""
INVALID = """\
cases:
  - id: typo
    op: tf.nn.softmaxx
    args: {logits: [1.0, 2.0]}
"""
INVALID_LINE = "cases/b.yaml:3: cases[0].op: unknown op 'tf.nn.softmaxx'"
ALL_NAN = """\
cases:
  - id: poisson-negative-rates
    op: tf.keras.losses.Poisson
    args:
      y_true: [[1.0, 2.0], [0.0, 1.0]]
      y_pred: [[-1.0, -2.0], [-0.5, -3.0]]
"""


def _run_cases(tmp_path: Path, name: str, text: str, **kw) -> list[dict]:
    path = tmp_path / name
    path.write_text(text)
    loaded = load_file(path)
    assert loaded.errors == [], [str(e) for e in loaded.errors]
    return [run_expanded(e, timing_repeats=0, **kw).to_record() for c in loaded.cases for e in expand(c)]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """One passing, one failing and one invalid case, run as a user runs them: in a project
    directory, with relative paths."""
    work = tmp_path_factory.mktemp("first_hour")
    (work / "cases").mkdir()
    (work / "cases" / "a.yaml").write_text(GOOD_AND_WRONG)
    (work / "cases" / "b.yaml").write_text(INVALID)
    out = run_cli("verify", "cases", "--report-dir", "reports", "-n", "0", cwd=work)
    return work, out, json.loads((work / "reports" / "results.json").read_text())


# --- 1. all-non-finite outputs verify only positions ------------------------------------------

def test_all_nan_outputs_pass_with_a_positions_only_warning_and_fail_under_strict(tmp_path):
    (case,) = _run_cases(tmp_path, "nan.yaml", ALL_NAN)
    assert case["status"] == "passed"
    assert any("only their positions were compared" in w for w in case["warnings"]), case["warnings"]
    (entry,) = [e for e in ledger.case_entries(case) if e["label"] == "value"]
    assert "positions-only" in entry["flags"]
    (strict,) = _run_cases(tmp_path, "nan.yaml", ALL_NAN, strict=True)
    assert strict["status"] == "failed" and "--strict" in strict["message"]


def test_strict_option_fails_the_run(cli, tmp_path):
    path = tmp_path / "nan.yaml"
    path.write_text(ALL_NAN)
    out = cli("verify", str(path), "--report-dir", str(tmp_path / "rep"), "-n", "0", "--strict")
    assert out.returncode == 1, out.stdout + out.stderr
    (case,) = json.loads((tmp_path / "rep" / "results.json").read_text())["cases"]
    assert case["status"] == "failed"


def test_a_case_that_states_its_nan_result_gets_no_warning(tmp_path):
    text = ALL_NAN + "    expect: .nan\n"
    (case,) = _run_cases(tmp_path, "nan.yaml", text, strict=True)
    assert case["status"] == "passed" and not any("positions" in w for w in case["warnings"])


POSITIVE = "{random: uniform, low: 0.1, high: 3.0, shape: [4, 3]}"
PROBABILITY = "{random: uniform, low: 0.05, high: 0.95, shape: [4, 3]}"
ROWS = "{random: simplex, shape: [4, 3]}"


@pytest.mark.parametrize("op, arg, spec", [
    ("tf.keras.losses.Poisson", "y_pred", POSITIVE), ("tf.keras.losses.poisson", "y_pred", POSITIVE),
    ("tf.compat.v1.losses.log_loss", "predictions", PROBABILITY),
    ("tf.keras.losses.BinaryCrossentropy", "y_pred", PROBABILITY),
    ("tf.keras.losses.KLDivergence", "y_true", ROWS),
    ("tf.keras.losses.CategoricalCrossentropy", "y_pred", ROWS),
])
def test_new_templates_draw_inputs_from_the_ops_domain(tmp_path, op, arg, spec):
    text = template(op)
    assert f"      {arg}: {spec}   # required" in text, text
    cases = _run_cases(tmp_path, "new.yaml", text)
    for case in cases:
        assert case["status"] == "passed", case["message"]
        assert not any("positions" in w for w in case["warnings"]), case["warnings"]
        values = [v for v in ledger.leaves(case["outputs"]["tf"])]
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), values


def test_new_template_class_ids_are_below_the_class_count():
    text = template("tf.nn.sparse_softmax_cross_entropy_with_logits")
    assert "labels: [2, 0, 1, 1]" in text and "logits: {random: normal, shape: [4, 3]" in text


def test_new_template_gives_the_values_an_op_needs_in_practice(tmp_path):
    text = template("tf.compat.v1.losses.cosine_distance")  # axis: optional in the signature, needed by TF
    assert "      axis: -1   # default null" in text
    assert {c["status"] for c in _run_cases(tmp_path, "cos.yaml", text)} == {"passed"}


def test_every_argument_kind_has_a_template_value():
    from harness.registry import KINDS

    kinds = set(KINDS) - {k for k in KINDS if k.endswith("_or_logits")}  # probabilities or logits, by from_logits
    assert kinds <= set(harness_cli.KIND_EXAMPLES), kinds - set(harness_cli.KIND_EXAMPLES)


# --- 2. the tolerance follows the precision of TF's result, for float16 too --------------------

FLOAT16_KERAS = """\
cases:
  - id: bce-half
    op: tf.keras.losses.BinaryCrossentropy
    dtypes: [float16]
    args:
      y_true: [[0.0, 1.0], [1.0, 0.0]]
      y_pred: [[0.4, 0.6], [0.7, 0.3]]
"""


def test_float16_keras_class_is_judged_at_float32_tolerance(tmp_path):
    (exact,) = _run_cases(tmp_path, "half.yaml", FLOAT16_KERAS)
    value = float(exact["outputs"]["tf"])
    assert (exact["rtol"], exact["atol"]) == (1.3e-6, 1e-5)
    assert "TF returns float32 for float16 inputs: compared at float32's tolerance" in exact["warnings"]
    rounded = round(value, 3)
    assert rounded != value and abs(rounded - value) / value < 1e-3  # would pass at float16's rtol
    (case,) = _run_cases(tmp_path, "half.yaml", FLOAT16_KERAS + f"    expect: {rounded}\n")
    assert case["status"] == "failed"
    assert [c["name"] for c in case["checks"] if not c["ok"]] == ["expect vs tf", "expect vs reference"]


def test_float16_op_that_returns_float16_keeps_float16_tolerance(tmp_path):
    text = "cases:\n  - id: s\n    op: tf.nn.softmax\n    dtypes: [float16]\n    args: {logits: [1.0, 2.0, 3.0]}\n"
    (case,) = _run_cases(tmp_path, "s.yaml", text)
    assert (case["rtol"], case["status"]) == (1e-3, "passed") and not case["warnings"]


# --- 3. --lf reruns invalid and failing cases ---------------------------------------------------

def test_lf_reruns_the_invalid_and_the_failing_case(first_run):
    work, _, _ = first_run
    out = run_cli("verify", "cases", "--report-dir", "reports/lf", "-n", "0", "--lf", cwd=work)
    assert out.returncode == 2, out.stdout + out.stderr
    ids = sorted(c["id"] for c in json.loads((work / "reports" / "lf" / "results.json").read_text())["cases"])
    assert ids == ["typo", "wrong[float32]"]


# --- 4. a failed expect is reported with its error ----------------------------------------------

def test_failed_expect_shows_its_error_in_table_ledger_and_histogram(first_run):
    _, _, data = first_run
    case = next(c for c in data["cases"] if c["id"] == "wrong[float32]")
    assert case["max_abs_err"] == pytest.approx(0.2310586, rel=1e-6) and case["max_ulp"] > 1e6
    view = html.build_view(data)
    row = next(r for r in view["table"] if r["id"] == "wrong[float32]")
    assert row["abs"] != "0"
    entries = [r for r in view["ledger"]["rows"] if r["id"] == "wrong[float32]"]
    assert any(r["what"] == "expect" and "exceeded" in r["flags"] for r in entries), entries
    assert view["ledger"]["exceeded"] == 1
    failure = next(f for f in view["failures"] if f["id"] == "wrong[float32]")
    assert failure["hist"], "the failed expect gets an error histogram"


# --- 5. the repro command ---------------------------------------------------------------------

def test_repro_command_runs_in_process_into_its_own_report_dir(first_run):
    work, out, data = first_run
    case = next(c for c in data["cases"] if c["id"] == "wrong[float32]")
    assert case["repro"] == "python -m harness verify 'cases/a.yaml::wrong[float32]' --report-dir reports/repro -n 0"
    assert f"repro: {case['repro']}" in out.stdout
    before = (work / "reports" / "results.json").read_bytes()
    argv = shlex.split(case["repro"])
    assert argv[:3] == ["python", "-m", "harness"]
    rerun = run_cli(*argv[3:], cwd=work)
    assert rerun.returncode == 1
    assert [c["id"] for c in json.loads((work / "reports" / "repro" / "results.json").read_text())["cases"]] == [
        "wrong[float32]"]
    assert (work / "reports" / "results.json").read_bytes() == before


# --- 6. one summary line; an invalid input printed once -----------------------------------------

def test_one_summary_line_and_invalid_input_printed_once(first_run):
    _, out, data = first_run
    lines = out.stdout.splitlines()
    assert not any(ln.startswith("tf-parity: ") for ln in lines)
    assert re.fullmatch(r"1 failed, 1 passed, 1 error(, \d+ warnings?)? in [\d.]+s( \(\S+\))?", lines[-1]), out.stdout[-3000:]
    assert {k: v for k, v in data["summary"].items() if v} == {"passed": 1, "failed": 1, "error": 1}
    assert sum(INVALID_LINE in ln for ln in lines) == 1, out.stdout


# --- 8. --baseline with --fail-on new ----------------------------------------------------------

def test_fail_on_new_still_exits_2_on_invalid_input_and_prints_the_counts(first_run):
    work, _, _ = first_run
    out = run_cli("verify", "cases", "--report-dir", "reports/again", "-n", "0", "--baseline",
                  "reports/results.json", "--fail-on", "new", cwd=work)
    assert out.returncode == 2, out.stdout + out.stderr
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("baseline reports/results.json: "))
    assert "0 new-failure, 0 fixed, 2 still-failing, 0 new-case, 1 unchanged" in line


def test_exit_code_of_invalid_input_does_not_depend_on_the_baseline():
    cases = [CaseResult("x", "error", baseline="still-failing"), CaseResult("y", "passed")]
    assert exit_code(cases, "new") == 2 and exit_code(cases, "any") == 2


# --- 9. coverage of the ops the given paths use -------------------------------------------------

def test_coverage_is_scoped_to_the_ops_of_the_paths(capsys):
    assert harness_cli.main(["coverage", str(ROOT / "cases" / "keras")]) == 0
    text = capsys.readouterr().out
    assert "tf.keras.losses.Poisson:" in text
    assert "NO CASES" not in text and not re.search(r"^tf\.nn\.", text, re.M)
    assert harness_cli.main(["coverage", str(ROOT / "cases" / "keras"), "--all-ops"]) == 1
    text = capsys.readouterr().out
    assert re.search(r"^tf\.nn\.softmax: 0 cases.*NO CASES", text, re.M)


def test_report_coverage_lists_the_ops_the_run_used(first_run):
    _, _, data = first_run
    assert [row["op"] for row in data["coverage"]] == ["tf.nn.softmax"]
    assert "registered op(s) no case exercises" not in html.render_html(data)


# --- 10. plain pytest and the report ------------------------------------------------------------

def test_plain_pytest_says_how_to_write_the_report(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD_AND_WRONG.split("  - id: wrong")[0])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.plugin", "a.yaml", "-p", "no:cacheprovider"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "add --harness-report-dir DIR" in out.stdout
    readme = (ROOT / "README.md").read_text()
    assert "pytest -p harness.plugin cases/ --harness-report-dir reports/" in readme


# --- 11. set-up: one lock for Linux x86_64/aarch64, macOS and Windows ---------------------------

PLATFORMS = {
    "linux-x86_64": ({"platform_system": "Linux", "platform_machine": "x86_64", "sys_platform": "linux", "os_name": "posix"},
                     ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
                     "tensorflow-cpu"),
    "linux-aarch64": ({"platform_system": "Linux", "platform_machine": "aarch64", "sys_platform": "linux", "os_name": "posix"},
                      ["manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
                      "tensorflow"),
    "macos-arm64": ({"platform_system": "Darwin", "platform_machine": "arm64", "sys_platform": "darwin", "os_name": "posix"},
                    ["macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_12_0_arm64", "macosx_11_0_arm64",
                     "macosx_11_0_universal2", "macosx_10_9_universal2"], "tensorflow"),
    "windows-amd64": ({"platform_system": "Windows", "platform_machine": "AMD64", "sys_platform": "win32", "os_name": "nt"},
                      ["win_amd64"], "tensorflow-cpu"),
}


def _lock_for(environment: dict) -> list[str]:
    """The lock's requirements whose markers hold on ``environment`` (pip's ``--platform``
    chooses wheels but evaluates markers on the running machine, so they are evaluated here)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    env = {"python_version": "3.11", "python_full_version": "3.11.7", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", **environment}
    reqs = [Requirement(ln) for ln in (ROOT / "requirements.lock").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    return [f"{canonicalize_name(r.name)}{r.specifier}" for r in reqs if r.marker is None or r.marker.evaluate(env)]


def _pypi_reachable() -> bool:
    import urllib.request

    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_lock_resolves_with_tensorflow_on_each_platform(name):
    environment, tags, tensorflow = PLATFORMS[name]
    reqs = _lock_for(environment)
    assert [r for r in reqs if r.startswith("tensorflow")] == [f"{tensorflow}==2.21.0"]
    if not _pypi_reachable():
        pytest.skip("pypi.org is not reachable: the lock's wheels cannot be resolved for other platforms")
    with tempfile.TemporaryDirectory() as tmp:
        lock = Path(tmp) / "lock.txt"
        lock.write_text("\n".join(reqs) + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--only-binary=:all:", "--python-version",
               "3.11", "--target", str(Path(tmp) / "x"), "--ignore-installed", "--report", str(Path(tmp) / "r.json"),
               "-r", str(lock), *[arg for tag in tags for arg in ("--platform", tag)]]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        report = json.loads((Path(tmp) / "r.json").read_text())
    installed = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"] for i in report["install"]}
    assert installed.get(tensorflow) == "2.21.0", sorted(installed)


def test_outside_the_environment_the_command_says_where_to_run_it():
    """A Python without the dependencies (here: ``ml_dtypes`` made unimportable) gets one line."""
    code = ("import runpy, sys; sys.modules['ml_dtypes'] = None; sys.argv[1:] = ['list-ops']; "
            "runpy.run_module('harness', run_name='__main__')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip().endswith("`. .venv/bin/activate` first, or `.venv/bin/python -m harness`")


def test_readme_says_how_to_run_inside_the_environment():
    readme = (ROOT / "README.md").read_text()
    assert ". .venv/bin/activate" in readme and ".venv/bin/python -m harness" in readme
    assert "tf-parity verify" in readme


# --- 12. smaller points ------------------------------------------------------------------------

def test_report_command_is_the_command_typed(first_run):
    _, _, data = first_run
    assert data["run"]["command"] == "python -m harness verify cases --report-dir reports -n 0"
    page = html.render_html(data)
    assert "<code>python -m harness verify cases --report-dir reports -n 0</code>" in page
    assert "--harness-report-dir" not in re.search(r"<dt>command</dt><dd>(.*?)</dd>", page).group(1)


def test_banner_does_not_say_all_match_when_some_are_xfailed():
    counts = dict.fromkeys(html.STATUSES, 0)
    counts.update(passed=3047, xfailed=10)
    text = html._verdict(counts)["text"]
    assert "all" not in text and "3047 of 3057" in text and "10 known divergences (xfailed)" in text
    counts.update(xfailed=0)
    assert html._verdict(counts)["text"] == "PASSED — all 3047 cases match TensorFlow"


def test_list_ops_describes_each_op_and_lists_the_examples_last(capsys):
    assert harness_cli.main(["list-ops"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [ln for ln in lines if ln and not ln.startswith(" ")][:-1]
    assert names[0].startswith("tf.") and names[-1] == "examples.linear_softmax_clipped_grads"
    described = lines[lines.index("examples.linear_softmax_clipped_grads") + 1]
    assert described.startswith("    not a TF API: document 000")


def test_readme_puts_usage_before_the_documents_verdicts():
    readme = (ROOT / "README.md").read_text()
    headings = [ln for ln in readme.splitlines() if ln.startswith("## ")]
    verdicts = headings.index("## What the documents' numbers turned out to be")
    assert headings.index("## Command line") < verdicts and headings.index("## The case format") < verdicts
    assert "examples.linear_softmax_clipped_grads" in readme
