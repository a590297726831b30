"""The last survivors of ``make mutate`` outside vjp_elementwise.py (branch mutrest), run for
real: each mutant applied to the live reference as ``harness mutate`` applies it.

- ``vjp.keras2_binary_vjp``'s clip of the output (line 461) is reviewed as equivalent: the
  clip's upper bound only matters where the output is above 1 - eps, where the mask (line 466)
  gives the gradient 0 whatever the clipped value; the same bits on every dtype and every
  value around the bounds (the mask's own mutants are killed by
  cases/mutation/rest_survivors.yaml).
- ``rowblocks.is_large``'s ``>= -> >`` is reviewed as ``kind: rounding``: an input of exactly
  ``FUSED_MIN_BYTES`` takes np.sum's path instead of the fused dot products: a few ulp.
- ``dtypes.dtype_name``'s memo miss (``is None -> is not None``) is killed once ``harness
  mutate`` empties the module's ``__memos__`` while a mutant runs.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from harness.mutate import mutants
from harness.reference import dtypes, nn, rowblocks
from test_fast_path_mutants import DTYPES, assert_rounding_only, assert_same_under, mutant, outcome

CLIP_SOURCE = "o = _clip(output, EPSILON, 1.0 - EPSILON)"


def _binary_vjp_calls():
    """keras2_binary_vjp on probabilities at, around and beyond both clip bounds (float32's
    and float64's 1 - eps and eps, 1, 1.5, 2 - eps, 2, 3, negatives, NaN, inf), every dtype,
    labels 0, 1 and soft."""
    from harness.reference import vjp

    f32_hi = float(np.float32(1.0 - 1e-7))
    probs = [0.0, -0.5, 1e-8, 1e-7, 2e-7, 0.25, 0.5, 1.0 - 2e-7, f32_hi, float(np.nextafter(np.float32(f32_hi), 1)),
             1.0 - 1e-7, 1.0 - 1e-8, 1.0, 1.0 + 1e-8, 1.0 + 1e-7, 1.5, 2.0 - 1e-7, 2.0, 3.0, np.inf, -np.inf, np.nan]
    calls = []
    for dtype in DTYPES:
        p = np.array([probs] * 3, dtype=np.float64).astype(dtype)
        t = np.array([[0.0] * len(probs), [1.0] * len(probs), [0.3] * len(probs)]).astype(dtype)
        g = np.array([1.5, -2.0, 0.75]).astype(dtype)
        calls.append(lambda t=t, p=p, g=g: vjp.keras2_binary_vjp(t, p, g))
        calls.append(lambda t=t, p=p, g=g: vjp.keras2_binary_vjp(t.T, p.T, g[:1].repeat(len(probs)), axis=-1))
    return calls


@pytest.mark.parametrize("change", ["1.0 - EPSILON  ->  1.0 + EPSILON", "1.0  ->  2.0"])
def test_keras2_binary_clip_bound_gives_the_same_bits(change):
    assert_same_under(mutant("harness.reference.vjp", "keras2_binary_vjp", change, CLIP_SOURCE), _binary_vjp_calls())


def test_keras2_binary_mask_bound_is_told_apart():
    """The mask's own mutants (line 466) change the gradient of p = 1.0: the cases kill them."""
    module, path, m = mutant("harness.reference.vjp", "keras2_binary_vjp", "1.0 - EPSILON  ->  1.0 + EPSILON",
                             "return stable.select(_clip_mask(output, EPSILON, 1.0 - EPSILON), d_o, np.zeros_like(d_o))")
    calls = _binary_vjp_calls()
    want = [outcome(c) for c in calls]
    with mutants.applied(module, path, m):
        got = [outcome(c) for c in calls]
    assert got != want


def _fused_calls(n_rows, n_cols, dtype):
    from harness.reference import keras_functions as F

    rng = np.random.default_rng(53)
    x = rng.standard_normal((n_rows, n_cols)).astype(dtype)
    labels = rng.uniform(size=x.shape).astype(dtype)
    y_pred = rng.uniform(0.01, 1.0, size=x.shape).astype(dtype)
    index = rng.integers(0, n_cols, n_rows)
    return [lambda: nn.softmax(x), lambda: nn.log_softmax(x),
            lambda: nn.softmax_cross_entropy_with_logits(labels, x),
            lambda: nn.sparse_softmax_cross_entropy_with_logits(index, x),
            lambda: F.mean_squared_error(labels, y_pred), lambda: F.categorical_crossentropy(labels, y_pred),
            lambda: F.kl_divergence(labels, y_pred)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_is_large_tie_rounds_otherwise_only(monkeypatch, dtype):
    """``nbytes >= FUSED_MIN_BYTES -> >``: an input of exactly FUSED_MIN_BYTES (here lowered to
    64 KiB) takes np.sum and a division instead of the fused dot products and a reciprocal:
    within 16 ulp of the original's results; one row more or fewer, the same bits."""
    monkeypatch.setattr(rowblocks, "FUSED_MIN_BYTES", 1 << 16)
    monkeypatch.setattr(rowblocks, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 4096)
    module, path, m = mutant("harness.reference.rowblocks", "is_large", "nbytes >= FUSED_MIN_BYTES  ->  nbytes > FUSED_MIN_BYTES")
    n_cols = 128
    n_rows = (1 << 16) // (n_cols * np.dtype(dtype).itemsize)
    assert_rounding_only((module, path, m), _fused_calls(n_rows, n_cols, dtype), dtype)
    for rows in (n_rows - 1, n_rows + 1):
        assert_same_under((module, path, m), _fused_calls(rows, n_cols, dtype))


def test_dtype_name_memo_miss_is_run_by_the_mutant():
    """``harness mutate`` forks its workers after the baseline, which fills ``dtype_name``'s memo
    with every dtype; ``applied`` empties the module's ``__memos__``, so the mutated miss branch
    runs (it returns None) and the memo is rebuilt unmutated afterwards."""
    module, path, m = mutant("harness.reference.dtypes", "dtype_name", "name is None  ->  name is not None")
    probe = [np.dtype(np.float32), np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
    assert [dtypes.dtype_name(d) for d in probe] == ["float32", "float16", "bfloat16"]
    with mutants.applied(module, path, m):
        assert [dtypes.dtype_name(d) for d in probe] == [None, None, None]
        assert not dtypes.is_low(np.float16)
    assert [dtypes.dtype_name(d) for d in probe] == ["float32", "float16", "bfloat16"]
    assert dtypes.is_low(np.float16)
