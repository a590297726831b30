"""The mutants of the row-thread pool, its load estimate and the gathered generalized
cross-entropy reviewed as equivalent in harness/mutate/equivalent.yaml (branch i16-r2), run
for real: each is applied to the live reference (``harness.mutate.mutants.applied``) and the
ops that reach it must return the same bits as the unmutated reference, with two row threads
and small blocks, so that the threaded paths and the gather run on small arrays."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.mutate import mutants
from harness.reference import keras_functions as F
from harness.reference import nn, rowblocks
from tests.test_fast_path_mutants import assert_same_under


@pytest.fixture
def threaded(monkeypatch):
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 4096)
    monkeypatch.setattr(rowblocks, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(rowblocks, "FUSED_MIN_BYTES", 1 << 14)
    monkeypatch.setattr(rowblocks, "ROW_THREADS", 2)


def _reviewed(function: str) -> dict:
    """The mutants of ``function`` (rowblocks.py or keras_functions.py) that each reviewed entry
    of harness/mutate/equivalent.yaml names, by entry: its change, on its source line if it
    gives one (an entry can name several mutants of one line, e.g. both ``1 -> 2`` of
    ``reshape(-1, shape[-1])``; the one that survives the cases is the one reviewed)."""
    import yaml

    rows = yaml.safe_load(Path("harness/mutate/equivalent.yaml").read_text(encoding="utf-8"))
    found: dict = {}
    for module in (rowblocks, F):
        path = Path(module.__file__)
        for r in rows:
            if r["function"] != function or not r["file"].endswith(path.name):
                continue
            named = [(module, path, m) for m in mutants.generate(path, path.name) if m.function == function
                     and m.change == r["change"] and r.get("source") in (None, m.source_line)]
            if named:
                found[(r["change"], r.get("source"))] = named
    return found


def _same_bits(mutated, calls) -> bool:
    try:
        assert_same_under(mutated, calls)
    except AssertionError:
        return False
    return True


def _calls(rng):
    x = rng.normal(size=(130, 40)).astype(np.float32)
    y = rng.uniform(0.05, 1.0, size=(130, 40)).astype(np.float32)
    labels = rng.integers(-2, 43, size=130).astype(np.float32)
    with_inf = y.copy()
    with_inf[3, 4] = np.inf
    cube = rng.uniform(0.05, 1.0, size=(10, 13, 40)).astype(np.float32)
    cube_labels = rng.integers(0, 40, (10, 13))
    ids, embeddings = rng.integers(0, 4, 30), rng.normal(size=(30, 8)).astype(np.float32)
    return [lambda: nn.softmax(x), lambda: nn.log_softmax(x),
            lambda: F.mean_squared_error(x, y), lambda: F.kl_divergence(y, y[::-1].copy()),
            lambda: F.categorical_generalized_cross_entropy(labels, y, 0.7),
            lambda: F.categorical_generalized_cross_entropy(labels, y, 2),
            lambda: F.categorical_generalized_cross_entropy(labels, with_inf, 0.7),
            lambda: F.categorical_generalized_cross_entropy(labels[:1], y, 0.7),
            lambda: F.categorical_generalized_cross_entropy(cube_labels, cube, 0.7),
            lambda: F.categorical_generalized_cross_entropy(labels, y, -0.5),
            lambda: F.circle(ids, embeddings), lambda: F.dice(y, y[::-1].copy()),
            lambda: F.tversky(y, y[::-1].copy(), 0.8, 0.1)]


@pytest.mark.parametrize("function", ["threads_now", "others_load", "busy_seconds", "_new_pool", "in_threads",
                                      "_picked", "circle_masked"])
def test_reviewed_mutants_give_the_same_bits(threaded, monkeypatch, function):
    reviewed = _reviewed(function)
    assert reviewed, function
    if function in ("threads_now", "others_load", "busy_seconds"):  # the load decides, as outside make mutate
        monkeypatch.setattr(rowblocks, "THREADS_BY_LOAD", True)
    for key, named in reviewed.items():
        assert any(_same_bits(mutated, _calls(np.random.default_rng(61))) for mutated in named), key
