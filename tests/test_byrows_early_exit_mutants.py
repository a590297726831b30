"""The reviews of ``rowblocks.by_rows``' early exit (branch i13-rate2), run for real: each
mutant applied to the live reference as ``harness mutate`` applies it.

The wrapper returns ``fn(*args, **kwargs)`` at once when no argument is an array of at least
``PARALLEL_MIN_BYTES`` (no signature binding for small inputs); otherwise ``_apart_by_rows``
decides, as before. Its three mutants only move inputs between the two ways of computing
them, which give the same bits except on inputs of fused size (``is_large``), where the
row-blocked path sums along rows by dot products: a few ulp (``kind: rounding``).
"""
from __future__ import annotations

import numpy as np
import pytest

from harness.mutate import mutants
from harness.reference import rowblocks
from test_fast_path_mutants import assert_rounding_only, assert_same_under, mutant

SOURCE = ("if not any(isinstance(a, np.ndarray) and a.nbytes >= PARALLEL_MIN_BYTES "
          "for a in (*args, *kwargs.values())):")
CHANGES = {
    "and": "isinstance(a, np.ndarray) and a.nbytes >= PARALLEL_MIN_BYTES  ->  "
           "isinstance(a, np.ndarray) or a.nbytes >= PARALLEL_MIN_BYTES",
    "tie": "a.nbytes >= PARALLEL_MIN_BYTES  ->  a.nbytes > PARALLEL_MIN_BYTES",
}
N_COLS = 128


@pytest.fixture
def small_thresholds(monkeypatch):
    """Row blocks and fused sums from 64 KiB (4 MiB in a run), blocks of 4 KiB."""
    monkeypatch.setattr(rowblocks, "PARALLEL_MIN_BYTES", 1 << 16)
    monkeypatch.setattr(rowblocks, "FUSED_MIN_BYTES", 1 << 16)
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 4096)


def _calls(n_rows, dtype, as_kwargs=False):
    """by_rows losses (Keras 3 functions) on [n_rows, 128] inputs, positional or by keyword."""
    from harness.reference import keras_functions as F

    rng = np.random.default_rng(61)
    labels = rng.uniform(size=(n_rows, N_COLS)).astype(dtype)
    y_pred = rng.uniform(0.01, 1.0, size=(n_rows, N_COLS)).astype(dtype)
    fns = [F.mean_squared_error, F.mean_absolute_error, F.categorical_crossentropy, F.kl_divergence,
           F.cosine_similarity, F.huber, F.log_cosh]
    if as_kwargs:
        return [lambda f=f: f(y_true=labels, y_pred=y_pred) for f in fns]
    return [lambda f=f: f(labels, y_pred) for f in fns]


def _tie_rows(dtype) -> int:
    return (1 << 16) // (N_COLS * np.dtype(dtype).itemsize)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_and_or_gives_the_same_bits(small_thresholds, dtype):
    """``and -> or``: any array argument sends the call to the signature binding, the wrapper's
    way before the early exit, where ``_apart_by_rows`` decides as before (every caller passes
    ``y_true``, an array, first: ``a.nbytes`` is never read of anything else)."""
    mutated = mutant("harness.reference.rowblocks", "by_rows", CHANGES["and"], SOURCE)
    for rows in (1, 3, _tie_rows(dtype) - 1, _tie_rows(dtype), 3 * _tie_rows(dtype)):
        assert_same_under(mutated, _calls(rows, dtype) + _calls(rows, dtype, as_kwargs=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tie_rounds_otherwise_only(small_thresholds, dtype):
    """``>= -> >``: an input of exactly PARALLEL_MIN_BYTES is computed whole (np.sum) instead of
    in fused row blocks: within 16 ulp; one row more or fewer, the same bits."""
    mutated = mutant("harness.reference.rowblocks", "by_rows", CHANGES["tie"], SOURCE)
    assert_rounding_only(mutated, _calls(_tie_rows(dtype), dtype), dtype)
    for rows in (_tie_rows(dtype) - 1, _tie_rows(dtype) + 1):
        assert_same_under(mutated, _calls(rows, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverted_exit_rounds_otherwise_only(small_thresholds, dtype):
    """``not any -> any``: small inputs bind the signature (and ``_apart_by_rows`` refuses them:
    the same bits); large ones are computed whole instead of in fused row blocks: within 16 ulp."""
    mutated = _not_mutant()
    for rows in (1, 3, _tie_rows(dtype) - 1):
        assert_same_under(mutated, _calls(rows, dtype))
    assert_rounding_only(mutated, _calls(3 * _tie_rows(dtype), dtype), dtype)


def _not_mutant():
    from pathlib import Path

    path = Path(rowblocks.__file__)
    found = [m for m in mutants.generate(path, path.name)
             if m.function == "by_rows" and m.operator == "not x -> x" and m.source_line == SOURCE]
    assert len(found) == 1
    return rowblocks, path, found[0]
