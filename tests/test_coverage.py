"""Every registered op has cases, and every op the project promises is registered."""
from pathlib import Path

import pytest

from harness import coverage
from harness.registry import registry

ROOT = Path(__file__).resolve().parents[1]

PROMISED = [f"tf.nn.{n}" for n in (
    "softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits",
    "weighted_cross_entropy_with_logits", "log_poisson_loss", "l2_loss", "compute_average_loss",
    "scale_regularization_loss", "softmax", "log_softmax", "sampled_softmax_loss", "nce_loss")] + [
    f"tf.compat.v1.losses.{n}" for n in (
    "absolute_difference", "compute_weighted_loss", "cosine_distance", "hinge_loss", "huber_loss", "log_loss",
    "mean_pairwise_squared_error", "mean_squared_error", "sigmoid_cross_entropy", "softmax_cross_entropy",
    "sparse_softmax_cross_entropy")] + [
    f"tf.keras.losses.{n}" for n in (
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy", "CategoricalHinge", "Circle", "CosineSimilarity", "Dice", "Hinge", "Huber",
    "KLDivergence", "LogCosh", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "Tversky", "CTC")] + [
    "tf.clip_by_global_norm"]


@pytest.fixture(scope="module")
def table():
    return coverage.collect([ROOT / "cases"], all_ops=True)


@pytest.mark.parametrize("name", PROMISED)
def test_promised_op_is_registered(name):
    assert name in registry().names()


def test_every_registered_op_has_a_case(table):
    assert [c.op for c in table.values() if c.cases == 0] == []


def test_every_registered_op_runs_in_float32_and_float64(table):
    thin = [c.op for c in table.values() if not {"float32", "float64"} & set(registry().get(c.op).dtypes) <= c.dtypes]
    assert thin == []


def test_coverage_table_flags_an_op_without_cases(tmp_path):
    (tmp_path / "a.yaml").write_text("cases:\n  - id: s\n    op: tf.nn.softmax\n    args: {logits: [1.0]}\n")
    text = coverage.format_table(coverage.collect([tmp_path], all_ops=True))
    assert "tf.nn.softmax: 1 cases, dtypes float32, modes eager, grad -" in text
    assert "tf.nn.log_softmax: 0 cases, dtypes -, modes -, grad -  NO CASES" in text
    assert "tf.nn.log_softmax" not in coverage.format_table(coverage.collect([tmp_path]))  # scoped by default


def test_every_differentiable_op_has_a_grad_case(table):
    missing = [op.name for op in registry() if op.differentiable and not table[op.name].grads]
    assert missing == []
