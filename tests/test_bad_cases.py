"""Every user mistake in a case file gets one clear line: ``path:line: field: problem (hint)``.

``tests/data/bad_cases/`` holds one mistake per file, named after it. :data:`EXPECTED` pins
each file's whole message (the path as the loader shows it, relative to the repository
root, and the exact line). One mistake the loader cannot see is pinned at run time:
``expect_wrong_shape.yaml`` (the op's output shape is only known once it runs), which the
runner reports as a failed ``expect`` check. ``empty_dir/`` holds no case file at all.

The command-line checks run ``python -m harness verify`` once over the whole corpus and
``cases/docs`` (importing TensorFlow is slow): bad files become ``error`` records, one
line each in the "invalid input" section, and the good cases beside them still run.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.expand import expand
from harness.loader import CASE_SUFFIXES, load_file

ROOT = Path(__file__).resolve().parents[1]
REL = "tests/data/bad_cases"
BAD = ROOT / REL
RUN_TIME = {"expect_wrong_shape.yaml": "expect vs tf\nShapes differ: tf (2,) vs expect (3,)"}
"""Files that load cleanly; the runner reports the mistake (pinned: status failed, message start)."""
MESSAGE = re.compile(r"^(?P<path>[^:\s]+\.ya?ml):(?P<line>[1-9]\d*): (?P<field>\S+): (?P<problem>.+) \((?P<hint>.+)\)$")

EXPECTED = {
    "alias_bomb.yaml": (
        "alias_bomb.yaml:7: (file): the YAML aliases expand to more than 1,000,000 values (an alias bomb?) "
        "(write the values out instead of nesting anchors)"
    ),
    "arg_in_wrong_section.yaml": (
        "arg_in_wrong_section.yaml:8: cases[0].args.from_logits: unknown argument (from_logits is a "
        "constructor argument of tf.keras.losses.SparseCategoricalCrossentropy: put it under init:)"
    ),
    "args_not_mapping.yaml": (
        "args_not_mapping.yaml:5: cases[0].args: must be a mapping or null, got a list [[1.0, 2.0]] (e.g. "
        "args: {logits: [1.0, 2.0]})"
    ),
    "bad_choice.yaml": (
        "bad_choice.yaml:8: cases[0].args.reduction: 'mean' is not allowed (one of 'none', 'weighted_sum', "
        "'weighted_mean', 'weighted_sum_over_batch_size', 'weighted_sum_by_nonzero_weights')"
    ),
    "bad_expect_error_type.yaml": (
        "bad_expect_error_type.yaml:9: cases[0].expect_error.type: must be a string, got a list "
        "['InvalidArgumentError'] (e.g. type: InvalidArgumentError)"
    ),
    "bad_id_chars.yaml": (
        "bad_id_chars.yaml:3: cases[0].id: 'softmax of x/2' has characters other than letters, digits, '.', "
        "'_' and '-' (e.g. id: softmax-of-x-2)"
    ),
    "bad_npy.yaml": (
        "bad_npy.yaml:6: cases[0].args.logits.npy: 'data/not_an_array.npy' is not a .npy file (write it with "
        "numpy.save)"
    ),
    "bool_in_tensor.yaml": (
        "bool_in_tensor.yaml:6: cases[0].args.logits[0]: boolean true where a number is required (write 1.0 "
        "or 0.0)"
    ),
    "case_not_mapping.yaml": (
        "case_not_mapping.yaml:3: cases[0]: a case must be a mapping, got a string 'tf.nn.softmax' (start it "
        "with `- id: ...` and put `op: ...` under it)"
    ),
    "cases_empty.yaml": "cases_empty.yaml:2: cases: the list is empty (add a case, or delete the file)",
    "cases_not_list.yaml": (
        "cases_not_list.yaml:2: cases: must be a list of cases, got a mapping (each case starts with `- id: "
        "...` under `cases:`)"
    ),
    "defaults_unknown_key.yaml": (
        "defaults_unknown_key.yaml:3: defaults.dtype: unknown key (did you mean 'dtypes'?)"
    ),
    "dtypes_not_list.yaml": (
        "dtypes_not_list.yaml:5: cases[0].dtypes: must be a list, got a string 'float64' (e.g. dtypes: "
        "[float32, float64])"
    ),
    "duplicate_id.yaml": (
        "duplicate_id.yaml:6: cases[1].id: duplicate id 'twice' (also at "
        "tests/data/bad_cases/duplicate_id.yaml:3)"
    ),
    "duplicate_key.yaml": (
        "duplicate_key.yaml:7: cases[0].args: key 'args' also written at line 5; YAML would silently keep "
        "only this one (merge the two into one args:)"
    ),
    "empty.yaml": "empty.yaml:1: (file): empty file (a case file needs `cases:` with a list of cases)",
    "expect_not_numeric.yaml": (
        "expect_not_numeric.yaml:6: cases[0].expect[1]: non-numeric value 'half' (published values are "
        "numbers, .inf, -.inf or .nan)"
    ),
    "float_labels.yaml": (
        "float_labels.yaml:6: cases[0].args.labels: float values where integers are required (write class "
        "indices like [2, 0])"
    ),
    "generator_unknown_key.yaml": (
        "generator_unknown_key.yaml:6: cases[0].args.logits.std: unknown key for a random generator (did you "
        "mean 'scale'? a random generator takes: dtype, high, loc, low, random, scale, seed, shape)"
    ),
    "grad_integer_arg.yaml": (
        "grad_integer_arg.yaml:8: cases[0].grad[1]: labels is an integer tensor: it has no gradient "
        "(differentiable arguments of tf.nn.sparse_softmax_cross_entropy_with_logits: logits)"
    ),
    "id_not_string.yaml": (
        "id_not_string.yaml:3: cases[0].id: must be a string, got a number 42 (quote it: id: '42')"
    ),
    "init_without_class.yaml": (
        "init_without_class.yaml:5: cases[0].init.from_logits: unknown argument (tf.nn.softmax is a "
        "function: init: is for Keras loss classes; call arguments go under args:)"
    ),
    "integers_empty_range.yaml": (
        "integers_empty_range.yaml:6: cases[0].args.labels.high: high 3 must be above low 3: integers are "
        "drawn from [low, high) (e.g. low: 3, high: 13)"
    ),
    "integers_missing_high.yaml": (
        "integers_missing_high.yaml:6: cases[0].args.labels.high: missing: random integers need an exclusive "
        "upper bound (add high: N, e.g. high: 10)"
    ),
    "matrix_bad_key.yaml": (
        "matrix_bad_key.yaml:7: cases[0].matrix.axis: matrix key 'axis' does not say which arguments it "
        "varies (write args.axis for a call argument or init.axis for a constructor argument)"
    ),
    "matrix_empty.yaml": (
        "matrix_empty.yaml:7: cases[0].matrix.args.axis: needs at least one value (e.g. args.axis: [value1, "
        "value2], or remove it)"
    ),
    "matrix_unknown_arg.yaml": (
        "matrix_unknown_arg.yaml:7: cases[0].matrix.args.axes: unknown argument (did you mean 'axis'? "
        "tf.nn.softmax takes args: logits, axis)"
    ),
    "missing_cases.yaml": "missing_cases.yaml:2: cases: missing (add `cases:` with a list of cases)",
    "missing_id.yaml": "missing_id.yaml:3: cases[0].id: missing required key (add id: softmax-basic)",
    "missing_npy.yaml": (
        "missing_npy.yaml:6: cases[0].args.logits.npy: file 'data/no_such_file.npy' not found (paths are "
        "relative to the case file's directory)"
    ),
    "missing_op.yaml": "missing_op.yaml:3: cases[0].op: missing required key (add op: tf.nn.softmax)",
    "missing_required_arg.yaml": (
        "missing_required_arg.yaml:5: cases[0].args.logits: missing required argument "
        "(tf.nn.sparse_softmax_cross_entropy_with_logits needs labels, logits)"
    ),
    "modes_unknown.yaml": (
        "modes_unknown.yaml:6: cases[0].modes[1]: 'graph' is not allowed (one of eager, function, xla)"
    ),
    "negative_scale.yaml": (
        "negative_scale.yaml:6: cases[0].args.logits.scale: must be >= 0, got -2.0 (e.g. scale: 1.0)"
    ),
    "negative_seed.yaml": (
        "negative_seed.yaml:6: cases[0].args.logits.seed: must be >= 0, got -1 (e.g. seed: 1)"
    ),
    "negative_shape.yaml": (
        "negative_shape.yaml:6: cases[0].args.logits.shape: negative dimension in [-1, 10] (dimensions must "
        "be >= 0)"
    ),
    "negative_tolerance.yaml": (
        "negative_tolerance.yaml:6: cases[0].tolerance.rtol: must be >= 0, got -1e-05 (tolerances are "
        "distances: e.g. rtol: 1e-5)"
    ),
    "non_integer_shape.yaml": (
        "non_integer_shape.yaml:6: cases[0].args.logits.shape: must be a list of integers, got [4, 2.5] "
        "(e.g. shape: [64, 10])"
    ),
    "non_numeric.yaml": (
        "non_numeric.yaml:6: cases[0].args.logits[0][1]: non-numeric element 'two' (use numbers, .inf, -.inf "
        "or .nan)"
    ),
    "non_utf8.yaml": "non_utf8.yaml:5: (file): not UTF-8 (byte 0xe9) (save the file as UTF-8)",
    "not_mapping.yaml": (
        "not_mapping.yaml:2: (file): top level is a list, not a mapping (start the file with `cases:` and "
        "indent the list of cases under it)"
    ),
    "one_hot_bad_depth.yaml": (
        "one_hot_bad_depth.yaml:6: cases[0].args.labels.depth: must be a positive integer, got 0 (e.g. "
        "depth: 3)"
    ),
    "one_hot_float_index.yaml": (
        "one_hot_float_index.yaml:6: cases[0].args.labels.one_hot: class indices must be integers, got [1.0, "
        "0.5] (e.g. one_hot: [2, 0, 1])"
    ),
    "override_without_reason.yaml": (
        "override_without_reason.yaml:6: cases[0].tolerance.reason: an override needs a reason (add reason: "
        "why this op needs it)"
    ),
    "path_escape.yaml": (
        "path_escape.yaml:6: cases[0].args.logits.npy: path '../../../cases/escape.npy' escapes the case "
        "directory (keep data files in the case file's directory or below it)"
    ),
    "ragged.yaml": (
        "ragged.yaml:6: cases[0].args.logits[1]: ragged nested list: logits[1] has 2 items, logits[0] has 3 "
        "items (every row needs the same length)"
    ),
    "required_value_null.yaml": (
        "required_value_null.yaml:7: cases[0].args.clip_norm: is null, but a value is required "
        "(tf.clip_by_global_norm needs clip_norm: the largest global norm kept)"
    ),
    "same_as_bad_ref.yaml": (
        "same_as_bad_ref.yaml:8: cases[0].same_as[0].args.logits: $x names no argument of this case (this "
        "case has args: logits)"
    ),
    "same_as_drop_unknown.yaml": (
        "same_as_drop_unknown.yaml:11: cases[0].same_as[0].drop[0]: drops 'weight', which this case does not "
        "pass (did you mean 'weights'? this case has args: onehot_labels, logits, weights)"
    ),
    "same_as_unknown_arg.yaml": (
        "same_as_unknown_arg.yaml:8: cases[0].same_as[0].args.logit: unknown argument (did you mean "
        "'logits'? tf.nn.log_softmax takes args: logits, axis)"
    ),
    "same_as_unknown_op.yaml": (
        "same_as_unknown_op.yaml:7: cases[0].same_as[0].op: unknown op 'tf.nn.softmaks' (did you mean "
        "tf.nn.softmax, tf.nn.log_softmax, tf.nn.sampled_softmax_loss?)"
    ),
    "same_shape_rejected.yaml": (
        "same_shape_rejected.yaml:6: cases[0].args.labels: `labels` shape [4, 3] != `logits` shape [4, 5] "
        "(TF would reject these inputs; fix the shapes, or add expect_error to test the rejection)"
    ),
    "shape_rejected.yaml": (
        "shape_rejected.yaml:6: cases[0].args.labels: labels shape [3] must equal logits shape without its "
        "last axis [2] (TF would reject these inputs; fix the shapes, or add expect_error to test the "
        "rejection)"
    ),
    "tab_indent.yaml": (
        "tab_indent.yaml:5: (file): YAML syntax error: found character '\\t' that cannot start any token "
        "(indent with spaces: YAML does not allow tabs)"
    ),
    "tolerance_ulp_and_rtol.yaml": (
        "tolerance_ulp_and_rtol.yaml:6: cases[0].tolerance.ulp: give either ulp or rtol/atol, not both (ulp "
        "replaces rtol and atol: keep one or the other)"
    ),
    "tolerance_unknown_key.yaml": (
        "tolerance_unknown_key.yaml:6: cases[0].tolerance.rtl: unknown key (did you mean 'rtol'?)"
    ),
    "too_many_elements.yaml": (
        "too_many_elements.yaml:6: cases[0].args.logits.shape: [100000, 100000] has 10,000,000,000 elements, "
        "over the cap of 50,000,000 (use a smaller shape, or raise the cap with TF_PARITY_MAX_ELEMENTS=N)"
    ),
    "unknown_arg.yaml": (
        "unknown_arg.yaml:8: cases[0].args.dim: unknown argument (did you mean 'axis'? "
        "tf.nn.softmax_cross_entropy_with_logits takes args: labels, logits, axis)"
    ),
    "unknown_case_key.yaml": (
        "unknown_case_key.yaml:6: cases[0].expected: unknown key (did you mean 'expect'?)"
    ),
    "unknown_dtype.yaml": (
        "unknown_dtype.yaml:5: cases[0].dtypes[1]: 'float31' is not allowed (did you mean 'float32'? one of "
        "float16, bfloat16, float32, float64)"
    ),
    "unknown_generator.yaml": (
        "unknown_generator.yaml:6: cases[0].args.logits.random: unknown generator 'gaussian' (one of normal, "
        "uniform, integers, simplex)"
    ),
    "unknown_op.yaml": (
        "unknown_op.yaml:4: cases[0].op: unknown op 'tf.nn.sparse_softmax_cross_entropy_with_logit' (did you "
        "mean tf.nn.sparse_softmax_cross_entropy_with_logits, tf.nn.softmax_cross_entropy_with_logits, "
        "tf.compat.v1.nn.softmax_cross_entropy_with_logits?)"
    ),
    "unknown_top_key.yaml": (
        "unknown_top_key.yaml:2: default: unknown top-level key (did you mean 'defaults'?)"
    ),
    "unsafe_tag.yaml": (
        "unsafe_tag.yaml:4: (file): YAML tag !!python/object/apply:os.system refused: case files are loaded "
        "safely (remove the tag and write a plain value)"
    ),
    "xfail_empty.yaml": (
        "xfail_empty.yaml:6: cases[0].xfail: must not be empty (e.g. xfail: why this case is expected to "
        "fail)"
    ),
    "yaml_syntax.yaml": (
        "yaml_syntax.yaml:5: (file): YAML syntax error: expected ',' or ']', but got '}' (check indentation, "
        "brackets and quoting)"
    ),
}


def message(name: str) -> str:
    return f"{REL}/{EXPECTED[name]}"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m harness ARGS`` from the repository root, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def test_corpus_has_one_pinned_message_per_file():
    files = {p.name for p in BAD.iterdir() if p.suffix in CASE_SUFFIXES}
    assert files == set(EXPECTED) | set(RUN_TIME)
    assert len(files) >= 30
    assert all(EXPECTED[name].startswith(f"{name}:") for name in EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_gets_one_clear_line(name):
    loaded = load_file(BAD / name, f"{REL}/{name}")
    errors = [str(e) for e in loaded.errors]
    assert errors == [message(name)]
    line = errors[0]
    parts = MESSAGE.match(line)
    assert parts, f"not `path:line: field: problem (hint)`: {line}"
    assert parts["path"] == f"{REL}/{name}"
    assert "\n" not in line and "Traceback" not in line
    assert loaded.cases == [] or name == "duplicate_id.yaml"  # its first case is fine


def test_duplicate_id_names_both_places():
    (error,) = load_file(BAD / "duplicate_id.yaml", f"{REL}/duplicate_id.yaml").errors
    assert (error.line, error.hint) == (6, f"also at {REL}/duplicate_id.yaml:3")


@pytest.mark.parametrize("name", sorted(RUN_TIME))
def test_run_time_mistake_loads_cleanly(name):
    loaded = load_file(BAD / name, f"{REL}/{name}")
    assert loaded.errors == [] and len(loaded.cases) == 1


def test_empty_dir_holds_no_case_file():
    assert [p for p in (BAD / "empty_dir").rglob("*") if p.suffix in CASE_SUFFIXES] == []


# --- the command line, once over the corpus and cases/docs ------------------------------------

@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    report = tmp_path_factory.mktemp("bad_cases_report")
    out = run_cli("verify", REL, "cases/docs", "--report-dir", str(report))
    return out, json.loads((report / "results.json").read_text()) if (report / "results.json").exists() else None


def _invalid_lines(stdout: str) -> list[str]:
    """The lines naming a bad file's invalid input: pytest's ERRORS section prints each once
    (the files of run-time mistakes fail as cases, under FAILURES)."""
    return [ln for ln in stdout.splitlines() if ln.startswith(f"{REL}/") and ln.split(":", 1)[0].rsplit("/", 1)[1] in EXPECTED]


def test_cli_exits_2_without_tracebacks(corpus_run):
    out, data = corpus_run
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stdout + out.stderr
    assert data is not None


def test_cli_prints_one_line_per_bad_file_and_a_summary(corpus_run):
    out, data = corpus_run
    assert sorted(_invalid_lines(out.stdout)) == sorted(message(name) for name in EXPECTED)
    summary = out.stdout.splitlines()[-1]  # pytest's summary line, in the harness's statuses
    counts = {status.replace("errors", "error"): int(n) for n, status in re.findall(r"(\d+) (\w+) ?", summary)
              if status != "in"}
    assert counts == {status: n for status, n in data["summary"].items() if n}
    assert counts["error"] == len(EXPECTED)


def test_results_json_lists_every_bad_file_as_error(corpus_run):
    _, data = corpus_run
    errors = {c["file"]: c for c in data["cases"] if c["status"] == "error"}
    assert set(errors) == {f"{REL}/{name}" for name in EXPECTED}
    for name in EXPECTED:
        record = errors[f"{REL}/{name}"]
        assert record["message"] == message(name)
        assert record["line"] == int(EXPECTED[name].split(":")[1])


def test_results_json_pins_the_run_time_mistakes(corpus_run):
    _, data = corpus_run
    for name, start in RUN_TIME.items():
        records = [c for c in data["cases"] if c["file"] == f"{REL}/{name}"]
        assert records and all(c["status"] == "failed" for c in records)
        assert all(c["message"].startswith(start) for c in records), [c["message"] for c in records]


def test_docs_cases_still_get_a_verdict(corpus_run):
    """Bad files beside them do not stop the document cases: each expanded case has a verdict."""
    _, data = corpus_run
    expected = {e.id for p in sorted((ROOT / "cases" / "docs").glob("*.yaml"))
                for case in load_file(p).cases for e in expand(case)}
    got = {c["id"]: c["status"] for c in data["cases"] if c["file"].startswith("cases/docs/")}
    assert set(got) == expected
    assert set(got.values()) <= {"passed", "failed", "skipped", "xfailed", "xpassed"}, got


# --- a directory without case files ---------------------------------------------------------

@pytest.fixture(scope="module")
def empty_dir_run(tmp_path_factory):
    report = tmp_path_factory.mktemp("empty_dir_report")
    return run_cli("verify", f"{REL}/empty_dir", "-n", "0", "--report-dir", str(report)), report


def test_empty_dir_is_invalid_input(empty_dir_run):
    out, report = empty_dir_run
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    data = json.loads((report / "results.json").read_text())
    assert data["cases"] == []
    assert data["warnings"] == ["no cases were collected: check the paths and the -k expression"]


def test_empty_dir_is_named_in_one_line(empty_dir_run):
    out, _ = empty_dir_run
    assert (f"harness: {REL}/empty_dir: no case files (*.yaml, *.yml) found "
            "(give a case file or a directory holding them)") in out.stderr.splitlines()
