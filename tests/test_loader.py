"""The loader's one-line errors: ``path:line: field: problem (hint)``."""
from pathlib import Path

import pytest

from harness import inputs, loader
from harness.loader import load_file


def errors_of(path: Path) -> list[str]:
    return [str(e) for e in load_file(path, path.name).errors]


GOOD = """\
cases:
  - id: ok
    op: tf.nn.softmax
    args: {logits: [[1.0, 2.0]]}
"""
SOFTMAX = "cases:\n  - id: x\n    op: tf.nn.softmax\n"


def test_valid_file_loads(write_case):
    loaded = load_file(write_case("a.yaml", GOOD))
    assert loaded.errors == []
    assert [c.id for c in loaded.cases] == ["ok"]
    assert loaded.cases[0].line == 2


@pytest.mark.parametrize("text, expected", [
    ("cases: [\n", "a.yaml:2: (file): YAML syntax error: expected the node content, but found '<stream end>' "
                   "(check indentation, brackets and quoting)"),
    ("", "a.yaml:1: (file): empty file (a case file needs `cases:` with a list of cases)"),
    ("# only a comment\n", "a.yaml:1: (file): empty file (a case file needs `cases:` with a list of cases)"),
    ("- 1\n- 2\n", "a.yaml:1: (file): top level is a list, not a mapping "
                   "(start the file with `cases:` and indent the list of cases under it)"),
    ("defaults: {}\n", "a.yaml:1: cases: missing (add `cases:` with a list of cases)"),
    (SOFTMAX + "    expected: 1\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].expected: unknown key (did you mean 'expect'?)"),
    ("cases:\n  - id: 'bad id'\n    op: tf.nn.softmax\n    args: {logits: [1.0]}\n",
     "a.yaml:2: cases[0].id: 'bad id' has characters other than letters, digits, '.', '_' and '-' (e.g. id: bad-id)"),
    ("cases:\n  - id: x\n    op: tf.nn.softmaxx\n    args: {logits: [1.0]}\n",
     "a.yaml:3: cases[0].op: unknown op 'tf.nn.softmaxx' "
     "(did you mean tf.nn.softmax, tf.nn.log_softmax, tf.nn.sampled_softmax_loss?)"),
    (SOFTMAX + "    args: {logit: [1.0]}\n",
     "a.yaml:4: cases[0].args.logit: unknown argument (did you mean 'logits'? tf.nn.softmax takes args: logits, axis)"),
    (SOFTMAX + "    args: {axis: 0}\n",
     "a.yaml:4: cases[0].args.logits: missing required argument (tf.nn.softmax needs logits)"),
    (SOFTMAX + "    args:\n      logits: [[1.0, 2.0], [3.0]]\n",
     "a.yaml:5: cases[0].args.logits[1]: ragged nested list: logits[1] has 1 item, logits[0] has 2 items "
     "(every row needs the same length)"),
    (SOFTMAX + "    args:\n      logits:\n        - [1.0, 2.0]\n        - [3.0, [4.0]]\n",
     "a.yaml:7: cases[0].args.logits[1][1]: ragged nested list: logits[1][1] has 1 item, logits[1][0] is a number "
     "(every row needs the same length)"),
    (SOFTMAX + "    args:\n      logits: [1.0, abc]\n",
     "a.yaml:5: cases[0].args.logits[1]: non-numeric element 'abc' (use numbers, .inf, -.inf or .nan)"),
    (SOFTMAX + "    args:\n      logits:\n        - 1.0\n        - abc\n",
     "a.yaml:7: cases[0].args.logits[1]: non-numeric element 'abc' (use numbers, .inf, -.inf or .nan)"),
    ("cases:\n  - id: x\n    op: tf.nn.sparse_softmax_cross_entropy_with_logits\n    args:\n      labels: [1.0, 0.0]\n"
     "      logits: [[1.0, 2.0], [3.0, 4.0]]\n",
     "a.yaml:5: cases[0].args.labels: float values where integers are required (write class indices like [2, 0])"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    dtypes: [float32, float31]\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].dtypes[1]: 'float31' is not allowed (did you mean 'float32'? one of float16, bfloat16, float32, "
     "float64)"),
    (SOFTMAX + "    tolerance: {rtol: 0.1}\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].tolerance.reason: an override needs a reason (add reason: why this op needs it)"),
    (SOFTMAX + "    args: {logits: [1.0]}\n    expect:\n      value: 0.5\n      tolerance: {atol: 0.1}\n",
     "a.yaml:7: cases[0].expect.tolerance.reason: an override needs a reason (add reason: why this op needs it)"),
    (SOFTMAX + "    args: {logits: [1.0]}\n    expect: {eager: [1.0], xla: [one]}\n",
     "a.yaml:5: cases[0].expect.xla[0]: non-numeric value 'one' (published values are numbers, .inf, -.inf or .nan)"),
    ("cases:\n  - id: x\n    op: tf.nn.sparse_softmax_cross_entropy_with_logits\n    grad: [labels]\n"
     "    args: {labels: [0], logits: [[1.0, 2.0]]}\n",
     "a.yaml:4: cases[0].grad[0]: labels is an integer tensor: it has no gradient (differentiable arguments of "
     "tf.nn.sparse_softmax_cross_entropy_with_logits: logits)"),
    (SOFTMAX + "    modes: [eager, graph]\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].modes[1]: 'graph' is not allowed (one of eager, function, xla)"),
    ("cases:\n  - id: x\n    op: tf.compat.v1.losses.get_losses\n    modes: [eager, function]\n"
     "    args: {losses: [[1.0]]}\n",
     "a.yaml:4: cases[0].modes[1]: tf.compat.v1.losses.get_losses does not run in function mode "
     "(modes of tf.compat.v1.losses.get_losses: eager)"),
    (SOFTMAX + "    args:\n      logits: {random: normal, shape: [-1, 3]}\n",
     "a.yaml:5: cases[0].args.logits.shape: negative dimension in [-1, 3] (dimensions must be >= 0)"),
    (SOFTMAX + "    args:\n      logits: {npy: ../outside.npy}\n",
     "a.yaml:5: cases[0].args.logits.npy: path '../outside.npy' escapes the case directory "
     "(keep data files in the case file's directory or below it)"),
    (SOFTMAX + "    args:\n      logits: {npy: missing.npy}\n",
     "a.yaml:5: cases[0].args.logits.npy: file 'missing.npy' not found (paths are relative to the case file's directory)"),
    (SOFTMAX + "    args:\n      logits:\n        random: normal\n        shape: [2, 3]\n        seed: 1.5\n",
     "a.yaml:8: cases[0].args.logits.seed: must be an integer, got 1.5 (e.g. seed: 1)"),
    (SOFTMAX + "    args:\n      logits: {random: simplex}\n",
     "a.yaml:5: cases[0].args.logits.shape: simplex needs at least one dimension (e.g. shape: [64, 10])"),
    (SOFTMAX + "    args:\n      logits: {fill: [1.0, 2.0], shape: [3]}\n",
     "a.yaml:5: cases[0].args.logits.fill: must be one number, got [1.0, 2.0] (e.g. fill: 0.5)"),
    (SOFTMAX + "    args:\n      logits: {randm: normal}\n",
     "a.yaml:5: cases[0].args.logits: not a value or a generator (keys: randm) (did you mean 'random'?)"),
    ("cases:\n  - id: x\n    op: !!python/object/apply:os.system ['true']\n",
     "a.yaml:3: (file): YAML tag !!python/object/apply:os.system refused: case files are loaded safely "
     "(remove the tag and write a plain value)"),
    ("cases:\n  - ? [a]\n    : 1\n", "a.yaml:2: (file): a mapping key is a list or a mapping (keys are plain names, e.g. logits:)"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args: {logits: [1.0]}\n  - id: x\n    op: tf.nn.softmax\n"
     "    args: {logits: [2.0]}\n",
     "a.yaml:5: cases[1].id: duplicate id 'x' (also at a.yaml:2)"),
    (SOFTMAX + "    args:\n      logits: [1.0]\n      logits: [2.0]\n",
     "a.yaml:6: cases[0].args.logits: key 'logits' also written at line 5; YAML would silently keep only "
     "this one (keep one of them)"),
    ("cases: []\ncases: []\n",
     "a.yaml:2: cases: also written at line 1; YAML would silently keep only this one (merge the two into one cases:)"),
    ("defaults: [float32]\n" + GOOD,
     "a.yaml:1: defaults: must be a mapping, got a list (e.g. defaults: {dtypes: [float32, float64]})"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args: {logits: [1.0]}\n    same_as:\n      - op: tf.nn.softmax\n"
     "        args: {logits: {random: normal, shape: [2], scale: big}}\n",
     "a.yaml:7: cases[0].same_as[0].args.logits.scale: must be a number, got 'big' (e.g. scale: 1.0)"),
    (SOFTMAX + "    args: {logits: [1.0]}\n    grad: [logits]\n    cotangent: {random: normal, scale: -1.0}\n",
     "a.yaml:6: cases[0].cotangent.scale: must be >= 0, got -1.0 (e.g. scale: 1.0)"),
])
def test_error_messages(write_case, text, expected):
    assert errors_of(write_case("a.yaml", text)) == [expected]


def test_bad_case_does_not_spoil_its_file(write_case):
    text = GOOD + "  - id: bad\n    op: tf.nn.nope\n"
    loaded = load_file(write_case("a.yaml", text))
    assert [c.id for c in loaded.cases] == ["ok"]
    assert len(loaded.errors) == 1 and loaded.errors[0].line == 6


def test_unknown_top_level_key_stops_the_file(write_case):
    """With `default:` misspelt, running the cases would silently drop the defaults."""
    loaded = load_file(write_case("a.yaml", "default: {dtypes: [float64]}\n" + GOOD))
    assert loaded.cases == []
    assert [str(e) for e in loaded.errors] == [f"{loaded.path}:1: default: unknown top-level key (did you mean 'defaults'?)"]


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"cases:\n  - id: \xff\n")
    assert errors_of(path) == ["a.yaml:2: (file): not UTF-8 (byte 0xff) (save the file as UTF-8)"]


def _bomb(levels: int) -> str:
    lines = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines + ["cases: []"]) + "\n"


def test_alias_bomb_is_bounded_by_alias_count(write_case):
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\ncases: []\n"
    assert errors_of(write_case("a.yaml", text)) == [
        "a.yaml:2: (file): more than 100 YAML aliases (an alias bomb?) (write the values out instead of repeating anchors)"]


def test_alias_bomb_is_bounded_by_expanded_size(write_case):
    """Nine anchors of ten aliases (90 uses, under the alias count) would expand to 10^9 values."""
    assert errors_of(write_case("a.yaml", _bomb(9))) == [
        "a.yaml:6: (file): the YAML aliases expand to more than 1,000,000 values (an alias bomb?) "
        "(write the values out instead of nesting anchors)"]


def test_recursive_alias_is_refused(write_case):
    assert errors_of(write_case("a.yaml", "cases: &c [*c]\n")) == [
        "a.yaml:1: (file): alias *c is inside its own anchor &c (a recursive value) "
        "(write the value out instead of referring to itself)"]


def test_generator_element_cap(write_case):
    text = SOFTMAX + "    args:\n      logits: {random: normal, shape: [100000, 100000]}\n"
    assert errors_of(write_case("a.yaml", text)) == [
        "a.yaml:5: cases[0].args.logits.shape: [100000, 100000] has 10,000,000,000 elements, over the cap of 50,000,000 "
        "(use a smaller shape, or raise the cap with TF_PARITY_MAX_ELEMENTS=N)"]


def test_element_cap_is_configurable(write_case, monkeypatch):
    text = SOFTMAX + "    args:\n      logits: {random: normal, shape: [10, 10]}\n"
    path = write_case("a.yaml", text)
    assert errors_of(path) == []
    monkeypatch.setenv(inputs.MAX_ELEMENTS_ENV, "50")
    assert errors_of(path) == [
        "a.yaml:5: cases[0].args.logits.shape: [10, 10] has 100 elements, over the cap of 50 "
        "(use a smaller shape, or raise the cap with TF_PARITY_MAX_ELEMENTS=N)"]


def test_loader_never_raises(write_case, monkeypatch):
    """A bug inside validation becomes one error line for that case; the file's other cases still load."""
    def broken(*args, **kwargs):
        raise KeyError("boom")

    text = GOOD + "  - id: other\n    op: tf.nn.log_softmax\n    args: {logits: [1.0]}\n"
    path = write_case("a.yaml", text)
    real = loader._validate_case
    monkeypatch.setattr(loader, "_validate_case",
                        lambda data, *a: broken() if data["id"] == "ok" else real(data, *a))
    loaded = load_file(path, "a.yaml")
    assert [c.id for c in loaded.cases] == ["other"]
    assert [str(e) for e in loaded.errors] == [
        "a.yaml:2: cases[0]: internal error while loading: KeyError: 'boom' "
        "(a harness bug: please report it with this case file)"]
    monkeypatch.setattr(loader, "load_yaml", broken)
    assert [str(e) for e in load_file(path, "a.yaml").errors] == [
        "a.yaml:1: (harness): internal error while loading: KeyError: 'boom' "
        "(a harness bug: please report it with this case file)"]


def test_shape_check_runs_on_matrix_values(write_case):
    text = ("cases:\n  - id: x\n    op: tf.nn.sparse_softmax_cross_entropy_with_logits\n"
            "    args: {logits: [[1.0, 2.0], [2.0, 1.0]]}\n    matrix:\n      args.labels: [[1, 0], [1, 0, 1]]\n")
    assert errors_of(write_case("a.yaml", text)) == [
        "a.yaml:6: cases[0].args.labels: labels shape [3] must equal logits shape without its last axis [2] "
        "(TF would reject these inputs; fix the shapes, or add expect_error to test the rejection)"]


def test_shape_check_is_skipped_when_the_case_expects_the_error(write_case):
    text = ("cases:\n  - id: x\n    op: tf.nn.sparse_softmax_cross_entropy_with_logits\n"
            "    args: {labels: [1, 0, 1], logits: [[1.0, 2.0], [2.0, 1.0]]}\n    expect_error: InvalidArgumentError\n")
    assert errors_of(write_case("a.yaml", text)) == []


def test_defaults_merge_and_matrix_expand(write_case):
    from harness.expand import expand

    text = ("defaults:\n  dtypes: [float32, float64]\ncases:\n  - id: m\n    op: tf.nn.softmax\n"
            "    args: {logits: [[1.0, 2.0]]}\n    matrix: {args.axis: [0, -1]}\n")
    (case,) = load_file(write_case("a.yaml", text)).cases
    ids = [e.id for e in expand(case)]
    assert ids == ["m[0-float32]", "m[0-float64]", "m[-1-float32]", "m[-1-float64]"]


def test_a_cases_expansions_share_read_only_inputs(write_case):
    """The expansions of one case (here its matrix values) get the same input arrays, read-only
    (inputs.materialize_shared): an in-place change raises instead of reaching the next check;
    another dtype gets its own arrays."""
    from harness.expand import expand
    from harness.runner import case_inputs

    text = ("cases:\n  - id: m\n    op: tf.nn.softmax\n    dtypes: [float32, float64]\n"
            "    args: {logits: {random: normal, shape: [2, 3]}}\n    matrix: {args.axis: [0, -1]}\n")
    (case,) = load_file(write_case("a.yaml", text)).cases
    arrays = [case_inputs(e)[0]["logits"] for e in expand(case)]
    assert arrays[0] is arrays[2] and arrays[1] is arrays[3] and arrays[0] is not arrays[1]
    assert [a.dtype.name for a in arrays[:2]] == ["float32", "float64"]
    assert not arrays[0].flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        arrays[0][0, 0] = 1.0
    assert case_inputs(expand(case)[0])[0]["logits"].tolist() == arrays[0].tolist()
