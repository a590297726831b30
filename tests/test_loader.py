"""The loader's one-line errors: ``path:line: field: problem (hint)``."""
from pathlib import Path

import pytest

from harness.loader import load_file


def errors_of(path: Path) -> list[str]:
    return [str(e) for e in load_file(path, path.name).errors]


GOOD = """\
cases:
  - id: ok
    op: tf.nn.softmax
    args: {logits: [[1.0, 2.0]]}
"""


def test_valid_file_loads(write_case):
    loaded = load_file(write_case("a.yaml", GOOD))
    assert loaded.errors == []
    assert [c.id for c in loaded.cases] == ["ok"]
    assert loaded.cases[0].line == 2


@pytest.mark.parametrize("text, expected", [
    ("cases: [\n", "a.yaml:2: (file): YAML syntax error"),
    ("", "a.yaml:1: (file): empty file (a case file needs `cases:` with a list of cases)"),
    ("- 1\n- 2\n", "a.yaml:1: (file): top level is a LineList, not a mapping (start with `cases:`)"),
    ("defaults: {}\n", "a.yaml:1: cases: missing (add `cases:` with a list of cases)"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    expected: 1\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].expected: unknown key (did you mean 'expect'?)"),
    ("cases:\n  - id: 'bad id'\n    op: tf.nn.softmax\n    args: {logits: [1.0]}\n",
     "a.yaml:2: cases[0].id: 'bad id' does not match"),
    ("cases:\n  - id: x\n    op: tf.nn.softmaxx\n    args: {logits: [1.0]}\n",
     "a.yaml:3: cases[0].op: unknown op 'tf.nn.softmaxx' (did you mean tf.nn.softmax"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args: {logit: [1.0]}\n",
     "a.yaml:4: cases[0].args.logit: unknown argument (did you mean 'logits'?; tf.nn.softmax takes args: logits, axis)"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args: {axis: 0}\n",
     "a.yaml:4: cases[0].args.logits: missing required argument"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args:\n      logits: [[1.0, 2.0], [3.0]]\n",
     "a.yaml:5: cases[0].args.logits: ragged nested list"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args:\n      logits: [1.0, abc]\n",
     "a.yaml:5: cases[0].args.logits[1]: non-numeric element 'abc'"),
    ("cases:\n  - id: x\n    op: tf.nn.sparse_softmax_cross_entropy_with_logits\n    args:\n      labels: [1.0, 0.0]\n"
     "      logits: [[1.0, 2.0], [3.0, 4.0]]\n",
     "a.yaml:5: cases[0].args.labels: float values where integers are required"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    dtypes: [float32, float31]\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].dtypes[1]: 'float31' is not allowed"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    tolerance: {rtol: 0.1}\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].tolerance"),
    ("cases:\n  - id: x\n    op: tf.nn.sparse_softmax_cross_entropy_with_logits\n    grad: [labels]\n"
     "    args: {labels: [0], logits: [[1.0, 2.0]]}\n",
     "a.yaml:4: cases[0].grad: labels is an integer tensor: it has no gradient (differentiable arguments of "
     "tf.nn.sparse_softmax_cross_entropy_with_logits: logits)"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    modes: [eager, graph]\n    args: {logits: [1.0]}\n",
     "a.yaml:4: cases[0].modes[1]: 'graph' is not allowed (one of eager, function, xla)"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args:\n      logits: {random: normal, shape: [-1, 3]}\n",
     "a.yaml:5: cases[0].args.logits.shape: negative dimension in [-1, 3]"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args:\n      logits: {npy: ../outside.npy}\n",
     "a.yaml:5: cases[0].args.logits.npy: path '../outside.npy' escapes the case directory"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args:\n      logits: {npy: missing.npy}\n",
     "a.yaml:5: cases[0].args.logits.npy: file 'missing.npy' not found"),
    ("cases:\n  - id: x\n    op: !!python/object/apply:os.system ['true']\n",
     "a.yaml:3: (file): unsafe or unknown YAML tag"),
    ("cases:\n  - id: x\n    op: tf.nn.softmax\n    args: {logits: [1.0]}\n  - id: x\n    op: tf.nn.softmax\n"
     "    args: {logits: [2.0]}\n",
     "a.yaml:5: cases[1].id: duplicate id 'x' (also at a.yaml:2)"),
])
def test_error_messages(write_case, text, expected):
    errs = errors_of(write_case("a.yaml", text))
    assert errs, "expected an error"
    assert errs[0].startswith(expected), errs


def test_bad_case_does_not_spoil_its_file(write_case):
    text = GOOD + "  - id: bad\n    op: tf.nn.nope\n"
    loaded = load_file(write_case("a.yaml", text))
    assert [c.id for c in loaded.cases] == ["ok"]
    assert len(loaded.errors) == 1 and loaded.errors[0].line == 6


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"cases:\n  - id: \xff\n")
    assert errors_of(path)[0].startswith("a.yaml:2: (file): not UTF-8 (byte 0xff)")


def test_alias_bomb_is_bounded(write_case):
    lines = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    lines.append("cases: []")
    errs = errors_of(write_case("a.yaml", "\n".join(lines) + "\n"))
    assert "YAML aliases" in errs[0]


def test_generator_element_cap(write_case):
    text = "cases:\n  - id: x\n    op: tf.nn.softmax\n    args:\n      logits: {random: normal, shape: [100000, 100000]}\n"
    assert "over the cap of 50,000,000" in errors_of(write_case("a.yaml", text))[0]


def test_defaults_merge_and_matrix_expand(write_case):
    from harness.expand import expand

    text = ("defaults:\n  dtypes: [float32, float64]\ncases:\n  - id: m\n    op: tf.nn.softmax\n"
            "    args: {logits: [[1.0, 2.0]]}\n    matrix: {args.axis: [0, -1]}\n")
    (case,) = load_file(write_case("a.yaml", text)).cases
    ids = [e.id for e in expand(case)]
    assert ids == ["m[0-float32]", "m[0-float64]", "m[-1-float32]", "m[-1-float64]"]
