"""A user's port outside the repository, written only to the documented contract (README,
"Checking a port"), checked on the default cases with ``verify --impl PATH`` against real
TensorFlow: the planted bugs are found at the right cases, ops it lacks are skipped, and a port
that raises, hangs, returns the wrong shape or dtype or modifies its inputs is reported
against the case, naming the port, while the run goes on."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from harness.expand import expand
from harness.loader import discover, load_file

ROOT = Path(__file__).resolve().parents[1]

BUGGY_PORT = '''
"""A NumPy port of three TF losses, with two planted bugs."""
import numpy as np

from myport_helpers import per_example_huber  # a sibling module

NAME = "myport"
DTYPES = ["float32", "float64"]


def mse(y_true, y_pred):
    return np.mean(np.square(y_pred - y_true.astype(y_pred.dtype)), axis=-1)


def huber(y_true, y_pred, delta=1.0, sample_weight=None, reduction="sum_over_batch_size"):
    losses = per_example_huber(y_true.astype(np.float32), y_pred.astype(np.float32), 1.0)  # BUG: delta ignored
    weights = None if sample_weight is None else np.asarray(sample_weight, np.float32)
    if weights is not None:
        losses = losses * weights
    if reduction in ("none", None):
        return losses
    total = np.sum(losses, dtype=np.float32)
    if reduction == "sum":
        return total
    count = np.sum(weights) if reduction == "mean_with_sample_weight" and weights is not None else losses.size
    return np.float32(total / count)


def sparse_xent(labels, logits):
    log_sum = np.log(np.sum(np.exp(logits), axis=-1))  # BUG: no shift by the maximum, exp overflows
    picked = np.take_along_axis(logits, labels[..., None].astype(np.intp), axis=-1)[..., 0]
    return (log_sum - picked).astype(logits.dtype)


OPS = {
    "tf.keras.losses.mse": mse,
    "tf.keras.losses.Huber": huber,
    "tf.nn.sparse_softmax_cross_entropy_with_logits": sparse_xent,
}
'''

HELPERS = '''
import numpy as np


def per_example_huber(y_true, y_pred, delta):
    err = np.abs(y_pred - y_true)
    return np.mean(np.where(err <= delta, 0.5 * err ** 2, delta * err - 0.5 * delta ** 2), axis=-1)
'''

FAULTY_PORT = '''
"""A PyTorch port whose every op misbehaves in its own way."""
import time

import torch

NAME = "faulty"
FRAMEWORK = "torch"


def raises(y_true, y_pred):
    raise ValueError("not ported yet")


def hangs(y_true, y_pred):
    time.sleep(600)


def wrong_shape(y_true, y_pred):
    return ((y_pred - y_true) ** 2)  # forgot the mean over the last axis


def wrong_dtype(y_true, y_pred):
    return torch.mean(torch.abs(y_pred - y_true), dim=-1).double()


def modifies(y_true, y_pred):
    y_pred.clamp_(min=1e-7)
    return torch.mean((torch.log(y_pred + 1) - torch.log(torch.clamp(y_true, min=1e-7) + 1)) ** 2, dim=-1)


OPS = {
    "tf.keras.losses.kld": raises,
    "tf.keras.losses.poisson": hangs,
    "tf.keras.losses.mse": wrong_shape,
    "tf.keras.losses.mae": wrong_dtype,
    "tf.keras.losses.msle": modifies,
}
'''


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _records(report_dir: Path) -> list[dict]:
    return json.loads((report_dir / "results.json").read_text())["cases"]


def _expanded_init(case_id: str) -> dict:
    """The constructor arguments an expanded case ran with (its ``init`` and matrix values)."""
    base = case_id.split("[", 1)[0]
    for path in discover([ROOT / "cases"]):
        for case in load_file(path).cases:
            if case.id == base:
                return next(e.init for e in expand(case) if e.id.split("[")[1] == case_id.split("[")[1])
    raise LookupError(case_id)


@pytest.fixture(scope="module")
def buggy_run(tmp_path_factory):
    """``verify cases/ --impl myport.py`` on a port written outside the repository."""
    from tests.conftest import run_cli

    outside = tmp_path_factory.mktemp("elsewhere")
    port = _write(outside / "ports", "myport.py", BUGGY_PORT)
    _write(outside / "ports", "myport_helpers.py", HELPERS)
    report = outside / "report"
    proc = run_cli("verify", "cases/", "--impl", str(port), "--report-dir", str(report), "-n", "0",
                   "--timing-repeats", "0", timeout=1500)
    return proc, [r for r in _records(report) if r.get("impl") == "myport"]


def test_user_port_exits_1_and_every_case_names_it(buggy_run):
    proc, records = buggy_run
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(records) > 2500
    assert all("[" in r["id"] and not r["id"].endswith("-myport]") for r in records)  # one --impl: ids unchanged


def test_ops_it_lacks_and_dtypes_it_does_not_run_are_skipped(buggy_run):
    _, records = buggy_run
    mine = {"tf.keras.losses.mse", "tf.keras.losses.Huber", "tf.nn.sparse_softmax_cross_entropy_with_logits"}
    for r in records:
        if r["op"] not in mine:
            assert r["status"] == "skipped" and r["message"] == f"myport does not implement {r['op']}", r["id"]
        elif r["dtype"] in ("float16", "bfloat16"):
            assert r["status"] == "skipped" and r["message"].startswith(f"myport does not run {r['dtype']}"), r["id"]


def test_the_delta_bug_fails_exactly_the_huber_cases_with_another_delta(buggy_run):
    _, records = buggy_run
    huber = [r for r in records if r["op"] == "tf.keras.losses.Huber" and r["status"] != "skipped"]
    assert huber
    for r in huber:
        delta = _expanded_init(r["id"]).get("delta", 1.0)
        assert (r["status"] == "failed") == (float(delta) != 1.0), (r["id"], delta, r["status"], r["message"][:300])
        if r["status"] == "failed":
            assert "myport vs tf" in r["message"] and "myport:" in r["message"]


def test_the_overflow_bug_is_found_at_large_logits(buggy_run):
    _, records = buggy_run
    by_id = {r["id"]: r for r in records}
    extreme = by_id["nn-sparse-extreme[float32]"]
    assert extreme["status"] == "failed" and "Inf positions differ" in extreme["message"]
    assert "myport inf vs tf" in extreme["message"]
    ran = [r for r in records if r["op"] == "tf.nn.sparse_softmax_cross_entropy_with_logits"
           and r["status"] != "skipped"]
    assert sum(r["status"] == "passed" for r in ran) >= 20  # moderate logits: the naive formula is right there


def test_ops_it_implements_pass_on_their_merits(buggy_run):
    _, records = buggy_run
    mse = {r["id"]: r for r in records if r["op"] == "tf.keras.losses.mse" and r["status"] != "skipped"}
    assert mse["keras-fn-mse-docstring[float32]"]["status"] == "passed"
    grad = mse["grad-keras-fn-mse[float32]"]
    assert grad["status"] == "passed" and grad["grad_method"] == "finite-difference/float64"
    # the port does not squeeze [B, 1] against [B] as Keras does, nor raise TF's error on mismatched shapes
    assert mse["keras-fn-mse-rank-adjusted[float32]"]["status"] == "failed"
    assert "myport raised ValueError" in mse["keras-fn-mse-shape-mismatch[float32]"]["message"]


def test_a_misbehaving_port_is_reported_per_case_and_the_run_goes_on(tmp_path):
    from tests.conftest import run_cli

    port = _write(tmp_path / "elsewhere", "faulty.py", FAULTY_PORT)
    cases = _write(tmp_path / "cases", "faulty_cases.yaml", """
        defaults: {dtypes: [float32]}
        cases:
          - {id: c-raises, op: tf.keras.losses.kld, args: {y_true: [[0.2, 0.8]], y_pred: [[0.4, 0.6]]}}
          - {id: c-hangs, op: tf.keras.losses.poisson, args: {y_true: [[1.0, 2.0]], y_pred: [[1.5, 0.5]]}}
          - {id: c-shape, op: tf.keras.losses.mse, args: {y_true: [[1.0, 2.0]], y_pred: [[1.5, 0.5]]}}
          - {id: c-dtype, op: tf.keras.losses.mae, args: {y_true: [[1.0, 2.0]], y_pred: [[1.5, 0.5]]}}
          - {id: c-modifies, op: tf.keras.losses.msle, args: {y_true: [[1.0, 2.0]], y_pred: [[-1.5, 0.5]]}}
          - {id: c-lacking, op: tf.keras.losses.huber, args: {y_true: [[1.0, 2.0]], y_pred: [[1.5, 0.5]]}}
    """)
    report = tmp_path / "report"
    proc = run_cli("verify", str(cases), "--impl", str(port), "--report-dir", str(report), "-n", "1",
                   "--timeout", "20", "--timing-repeats", "0", timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    by_id = {r["id"]: r for r in _records(report)}
    assert len(by_id) == 6 and all(r["impl"] == "faulty" for r in by_id.values())
    assert by_id["c-raises[float32]"]["status"] == "failed"
    assert "faulty raised ValueError: not ported yet" in by_id["c-raises[float32]"]["message"]
    assert by_id["c-hangs[float32]"]["status"] == "timeout"
    assert "implementation under test: faulty" in by_id["c-hangs[float32]"]["message"]
    assert "Shapes differ: faulty (1, 2) vs tf (1,)" in by_id["c-shape[float32]"]["message"]
    assert "Dtypes differ: faulty float64 vs tf float32" in by_id["c-dtype[float32]"]["message"]
    modified = by_id["c-modifies[float32]"]
    assert modified["status"] == "failed" and "faulty modified its input y_pred in place" in modified["message"]
    assert by_id["c-lacking[float32]"]["status"] == "skipped"
    assert by_id["c-lacking[float32]"]["message"] == "faulty does not implement tf.keras.losses.huber"
