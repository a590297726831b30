"""Gradient parity, execution modes and trace reuse, with real TensorFlow."""
import dataclasses

import numpy as np
import pytest

from harness import finite_differences, tfexec
from harness.expand import expand
from harness.loader import load_file
from harness.registry import get_op, registry
from harness.runner import run_expanded

CASE = """\
cases:
  - id: g
    op: {op}
    dtypes: [float32, float64]
    modes: [eager, function]
    grad: [logits]
    cotangent: {{random: normal}}
    args:
      labels: {labels}
      logits: {{random: normal, shape: [6, 4], scale: 2.0}}
"""


def run_case(write_case, text):
    loaded = load_file(write_case("g.yaml", text))
    assert loaded.errors == [], [str(e) for e in loaded.errors]
    return [run_expanded(e, timing_repeats=0) for c in loaded.cases for e in expand(c)]


def test_sparse_xent_gradient_matches_tf_in_every_mode(write_case):
    results = run_case(write_case, CASE.format(op="tf.nn.sparse_softmax_cross_entropy_with_logits",
                                               labels="{random: integers, low: 0, high: 4, shape: [6]}"))
    assert [r.status for r in results] == ["passed"] * 4, [r.message for r in results]
    assert all(any(c["name"].startswith("grad logits") for c in r.checks) for r in results)


def test_a_wrong_analytic_gradient_is_caught_with_its_worst_index(write_case, monkeypatch):
    op = get_op("tf.nn.softmax_cross_entropy_with_logits")

    def wrong(init, args, cotangent, wrt):
        logits = np.asarray(args["logits"], dtype=np.float64)
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        g = (p - args["labels"]) * np.asarray(cotangent[0])[:, None]
        g[2, 1] += 0.5  # the planted bug
        return {"logits": g.astype(args["logits"].dtype)}

    monkeypatch.setitem(registry()._ops, op.name, dataclasses.replace(op, grad=wrong))
    results = run_case(write_case, CASE.format(op=op.name, labels="{one_hot: [0, 1, 2, 3, 0, 1], depth: 4}"))
    assert {r.status for r in results} == {"failed"}
    for r in results:
        check = next(c for c in r.checks if c["name"].startswith("grad logits"))
        assert not check["ok"] and check["worst_index"] == [2, 1]
        assert "Worst index: (2, 1)" in r.message
        assert r.grad_method == "analytic"


def test_finite_differences_are_accurate_for_a_smooth_op():
    op = get_op("tf.nn.softmax")
    x = np.random.default_rng(0).normal(size=(3, 5))
    cot = [np.random.default_rng(1).normal(size=(3, 5))]
    grads, precision = finite_differences.finite_difference(op, {}, {"logits": x}, ("logits",), cot)
    p = np.exp(x - x.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    exact = p * (cot[0] - (cot[0] * p).sum(-1, keepdims=True))
    assert precision == "float64"
    np.testing.assert_allclose(grads["logits"], exact, rtol=1e-8, atol=1e-10)


def test_function_mode_reuses_one_trace_across_cases_of_one_signature(write_case):
    text = "cases:\n" + "".join(
        f"  - id: t{i}\n    op: tf.nn.log_softmax\n    modes: [function]\n"
        f"    args: {{logits: {{random: normal, shape: [5, 7], seed: {i}}}}}\n" for i in range(4))
    before = sum(n for k, n in tfexec.TRACES.items() if k[0] == "tf.nn.log_softmax" and k[3] == "function")
    results = run_case(write_case, text)
    assert [r.status for r in results] == ["passed"] * 4
    after = sum(n for k, n in tfexec.TRACES.items() if k[0] == "tf.nn.log_softmax" and k[3] == "function")
    assert after - before <= 1


def test_xla_nan_versus_eager_error_is_a_documented_passing_case(write_case):
    text = """\
cases:
  - id: oob
    op: tf.nn.sparse_softmax_cross_entropy_with_logits
    modes: [eager, xla]
    args: {labels: [3, 0], logits: [[2.0, -1.0, 3.0], [1.0, 0.0, -0.5]]}
    expect_error: {eager: InvalidArgumentError}
    expect: {xla: [.nan, 0.4643688]}
"""
    results = run_case(write_case, text)
    assert [r.status for r in results] == ["passed", "passed"], [r.message for r in results]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_dtypes_run(write_case, dtype):
    text = f"cases:\n  - id: lp\n    op: tf.nn.softmax\n    dtypes: [{dtype}]\n    args: {{logits: [[1.0, 2.0, 3.0]]}}\n"
    (result,) = run_case(write_case, text)
    assert result.status in ("passed", "skipped"), result.message


def test_arbitration_names_the_side_further_from_the_exact_value(write_case, monkeypatch):
    op = get_op("tf.nn.log_softmax")

    def sloppy(logits, axis=None):  # right formula, computed in float16 for float32 inputs
        x = np.asarray(logits)
        low = x.astype(np.float16) if x.dtype == np.float32 else x
        out = low - np.log(np.exp(low - low.max(-1, keepdims=True)).sum(-1, keepdims=True)) - low.max(-1, keepdims=True)
        return out.astype(x.dtype)

    monkeypatch.setitem(registry()._ops, op.name, dataclasses.replace(op, reference=sloppy))
    text = "cases:\n  - id: a\n    op: tf.nn.log_softmax\n    args: {logits: {random: normal, shape: [4, 6], scale: 3.0}}\n"
    (result,) = run_case(write_case, text)
    assert result.status == "failed"
    verdict = result.arbitration
    assert verdict["closer"] == "tf" and verdict["reference_ulp"] > verdict["tf_ulp"]
    assert verdict["verdict"].startswith("the reference is off by")
