"""The mutants of harness/reference/eigen_math.py and ctc.py reviewed in
harness/mutate/equivalent.yaml (branch ctc32), run for real: each mutant is applied to the live
reference (``harness.mutate.mutants.applied``, as ``harness mutate`` applies it).

- Same bits: every float32 input around the bounds they move (``exp``'s flush of results
  below float32's smallest normal, TINY, its 0 below -104 and its clamp at 88.723; ``log``'s
  NaN below 0), and, for the ones that only the callers' inputs make equivalent, the callers
  (``log_softmax``, ``logsumexp``, ``ctc.dense_gradient``, ``keras_ctc_vjp``) on random and
  extreme inputs.
- ``kind: rounding``: the packet/scalar split of ``log_softmax``'s exps, ``_plog``'s tie at
  sqrt(1/2), the sparse forward vector's start value: bounded differences, checked here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.mutate import mutants
from harness.reference import ctc, eigen_math
from test_fast_path_mutants import assert_same_under, mutant, outcome

F = np.float32
TINY = np.finfo(F).tiny
EM = "harness.reference.eigen_math"


def _floats(lo: float, hi: float) -> np.ndarray:
    """Every float32 from lo to hi (same sign)."""
    a, b = np.array([lo, hi], F).view(np.int32)
    return np.arange(min(a, b), max(a, b) + 1, dtype=np.int32).view(F)


SPECIAL = np.array([0.0, -0.0, TINY, TINY / 4, -TINY, 1.0, -1.0, np.inf, -np.inf, np.nan, 88.7, 88.72284, 89.0,
                    -87.33654, -103.99999, -104.0, -104.00001, -105.0], F)


def _exp_calls():
    """exp over every float32 in [-106, -86] (the flush of results below TINY, the 0 below
    -104) and [88, 90.5] (the clamp), as whole packets and with a scalar tail of 1 to 7."""
    xs = [np.concatenate([_floats(-106.0, -86.0), _floats(88.0, 90.5), SPECIAL])]
    xs += [np.resize(xs[0], 8 * 4096 + k) for k in range(1, 8)]
    return [lambda x=x: eigen_math.exp(x) for x in xs]


@pytest.mark.parametrize("function, change", [
    ("exp", "np.abs(out) < _TINY  ->  np.abs(out) <= _TINY"),
    ("_pexp", "88.723  ->  89.723"),
    ("_pexp", "x < _F(-104)  ->  x <= _F(-104)"),
    ("_pexp", "104  ->  105"),
])
def test_exp_bounds_same_bits(function, change):
    assert_same_under(mutant(EM, function, change), _exp_calls())


def test_no_float32_exp_is_exactly_tiny():
    """Why the flushes' ``< TINY -> <= TINY`` (exp, log_softmax) change nothing: neither Eigen's
    polynomial nor the correctly rounded expf returns exactly TINY for any float32 (exp is
    increasing, and every float32 from -88 to -86 misses it)."""
    x = _floats(-88.0, -86.0)
    assert not np.any(eigen_math._pexp(x) == TINY)
    assert not np.any(np.exp(x.astype(np.float64)).astype(F) == TINY)
    assert eigen_math._pexp(np.float32([-88.0]))[0] < TINY < eigen_math._pexp(np.float32([-86.0]))[0]


def _rows(rng):
    """Rows for log_softmax and logsumexp: random widths 1 to 70 (packets, unrolled groups
    and leftovers), spreads up to +-150 (exps that underflow and flush), rows of -inf, of
    NaN, with +inf, and 3-D tensors."""
    out = []
    for width in (1, 3, 8, 13, 32, 43, 64, 70):
        for scale in (1.0, 10.0, 150.0):
            out.append((rng.normal(size=(5, width)) * scale).astype(F))
    odd = rng.normal(size=(6, 13)).astype(F)
    odd[0] = -np.inf
    odd[1, 3] = np.nan
    odd[2, 5] = np.inf
    odd[3, :6] = -np.inf
    odd[4, 2] = -np.inf
    out.append(odd)
    out.append((rng.normal(size=(3, 4, 11)) * 40).astype(F))
    return out


def _dense_ctc_calls(rng):
    """ctc_loss_vjp of dense labels (dense_gradient): labels that fit, that do not fit, empty,
    repeats, 4 to 70 classes, frames 1 to 5 and past some examples' logit_length."""
    calls = []
    for classes, scale in ((4, 1.5), (13, 3.0), (43, 1.5), (70, 40.0)):
        for frames in (1, 3, 5):
            labels = rng.integers(1, classes, size=(4, 4))
            labels[0, 1] = labels[0, 0]
            x = (rng.normal(size=(frames, 4, classes)) * scale).astype(F)
            g = rng.normal(size=4).astype(F)
            ll, fl = np.array([4, 3, 0, 2]), np.array([frames, max(frames - 1, 0), frames, 1])
            calls.append(lambda a=labels, x=x, ll=ll, fl=fl, g=g: ctc.ctc_loss_vjp(a, x, ll, fl, g))
    target = np.array([[1, 1, 2, 0], [2, 3, 1, 2], [3, 1, 0, 0]])
    for frames in (2, 3, 6):
        y = (rng.normal(size=(3, frames, 4)) * 1.5).astype(F)
        calls.append(lambda t=target, y=y: ctc.keras_ctc_vjp(t, y, np.float32([1.0, -0.5, 2.0])))
    return calls


def _caller_calls():
    rng = np.random.default_rng(32)
    calls = []
    for r in _rows(rng):
        calls += [lambda r=r: eigen_math.log_softmax(r), lambda r=r: eigen_math.logsumexp(r),
                  lambda r=r: eigen_math.logsumexp(r, keepdims=True), lambda r=r: eigen_math.logsumexp(r, axis=0)]
    return calls + _dense_ctc_calls(rng)


PLOG_NAN = "out = np.where(x == np.inf, _F(np.inf), np.where((x < 0) | np.isnan(x), _F(np.nan), out))"


@pytest.mark.parametrize("function, change, source", [
    ("log", "np.abs(x) < _TINY  ->  np.abs(x) <= _TINY", None),
    ("_plog", "x < 0  ->  x <= 0", None),
    ("_plog", "0  ->  1", PLOG_NAN),
    ("log_softmax", "np.abs(e) < _TINY  ->  np.abs(e) <= _TINY", None),
    ("logsumexp", "0  ->  1", "m = np.where(np.isfinite(m), m, _F(0)).astype(_F)"),
    ("logsumexp", "x.ndim - 1  ->  x.ndim + 1", None),
])
def test_eigen_math_callers_same_bits(function, change, source):
    """log's argument in its callers is a sum of exps that holds exp(0) = 1 (the max's), so at
    least 1, or 0 (a row of -inf), inf or NaN: never TINY nor in (0, 1); a max that is not
    finite shifts nothing whatever value stands in for it; logsumexp's callers name the last
    axis -1."""
    assert_same_under(mutant(EM, function, change, source), _caller_calls())


def test_plog_x_below_zero_same_bits_everywhere():
    """``x < 0 -> x <= 0`` only adds x == 0 (and -0) to the NaN mask, which the line after it
    overrides with -inf: the same bits on every input, not only the callers'."""
    rng = np.random.default_rng(1)
    xs = [SPECIAL, np.concatenate([SPECIAL, rng.uniform(-2, 30, size=997).astype(F)]), _floats(0.0, 1e-36)]
    assert_same_under(mutant(EM, "_plog", "x < 0  ->  x <= 0"), [lambda x=x: eigen_math.log(x) for x in xs])


def test_plog_tie_at_sqrt_half_rounding_only():
    """``mant < sqrt(1/2) -> <=`` moves only the float32s whose frexp mantissa is exactly
    float32(sqrt(1/2)) to the other reduction (log(2m) - ln 2 instead of log(m)): within 2
    ulp of each other there, the same bits everywhere else."""
    module, path, m = mutant(EM, "_plog", "mant < _F(0.7071067811865476)  ->  mant <= _F(0.7071067811865476)")
    tie = np.array([np.ldexp(F(0.707106781186547524), e) for e in range(-125, 129)], F)
    rng = np.random.default_rng(2)
    other = np.concatenate([rng.uniform(0.5, 2.0, size=4096), rng.uniform(1, 1e6, size=4096)]).astype(F)
    other = other[np.frexp(other)[0] != F(0.707106781186547524)]
    want_tie, want_other = eigen_math.log(tie), eigen_math.log(other)
    with mutants.applied(module, path, m):
        got_tie, got_other = eigen_math.log(tie), eigen_math.log(other)
    assert np.array_equal(got_other, want_other)
    ulps = np.abs(got_tie.view(np.int32).astype(np.int64) - want_tie.view(np.int32).astype(np.int64))
    assert ulps.max() <= 2


@pytest.mark.parametrize("change", [
    "x.shape[-1] - x.shape[-1] % _PACKET  ->  x.shape[-1] + x.shape[-1] % _PACKET",
    "x.shape[-1] % _PACKET  ->  x.shape[-1] * _PACKET",
    "-1  ->  +1",
    "1  ->  2",
])
def test_log_softmax_packet_split_rounding_only(change):
    """The split of each row into Eigen's packets (polynomial exp) and leftovers (expf) moved:
    each exp differs by at most 1 ulp, so log_softmax by a few ulp (a shift common to the
    row), and the dense CTC gradient within float32's tolerance (the forward and backward
    vectors renormalise every frame)."""
    found = [m for m in mutants.generate(Path(eigen_math.__file__), "eigen_math.py")
             if m.function == "log_softmax" and m.change == change and m.line == _line("whole = x.shape[-1]")]
    assert found
    rng = np.random.default_rng(3)
    rows = [(rng.normal(size=(9, w)) * 3).astype(F) for w in (3, 8, 13, 43, 70)]
    rows += [(rng.normal(size=(4, 5, w)) * 3).astype(F) for w in (3, 13)]
    calls = _dense_ctc_calls(rng)
    for m in found:
        want_rows = [eigen_math.log_softmax(r) for r in rows]
        want = [c() for c in calls]
        with np.errstate(all="ignore"), mutants.applied(eigen_math, Path(eigen_math.__file__), m):
            got_rows = [eigen_math.log_softmax(r) for r in rows]
            got = [c() for c in calls]
        for g, w in zip(got_rows, want_rows):
            np.testing.assert_allclose(g, w, rtol=4 * np.finfo(F).eps, atol=4 * np.finfo(F).eps)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1.3e-6)


def _line(text: str) -> int:
    lines = open(eigen_math.__file__).read().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_sparse_start_value_rounding_only():
    """``_posteriors``' start ``alpha[0] = 0.0 -> 1.0``: every forward value of a path from the
    start rises by 1, which the normalisation of the joint (joint - logsumexp(joint)) takes
    off but for float64 rounding; the paths from the LOG_0 states (weight 1e-307 against the
    start's) change by e^1 relative, 1e-307 of the posteriors. Sparse gradients of labels that
    fit (the only ones that reach it) within 1e-12."""
    rng = np.random.default_rng(4)
    calls = []
    for dtype in (np.float32, np.float64):
        for labels, ll, frames in (([[1, 2, 1]], [3], 3), ([[2, 1, 1], [3, 1, 0]], [3, 2], 5), ([[3, 1]], [2], 2)):
            x = (rng.normal(size=(frames, len(labels), 5)) * 2).astype(dtype)
            g = rng.normal(size=len(labels)).astype(dtype)
            calls.append(lambda a=np.array(labels), x=x, ll=np.array(ll), g=g, t=frames: ctc.ctc_loss_vjp(
                a, x, ll, np.full(len(a), t), g, blank_index=0, sparse_labels=True))
    module, path, m = mutant("harness.reference.ctc", "_posteriors", "0.0  ->  1.0")
    want = [c() for c in calls]
    with mutants.applied(module, path, m):
        got = [c() for c in calls]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12 if w.dtype == np.float64 else 1e-6, atol=1e-12)


def test_keras_ctc_vjp_axis_same_bits():
    """``keras_ctc_vjp``'s label count along axis -1 -> +1: the target is [batch, label length],
    2-D, so axis 1 is the last axis."""
    rng = np.random.default_rng(5)
    calls = []
    for target in ([[1, 1, 2, 0], [2, 3, 1, 2], [3, 1, 0, 0]], [[1, 2], [0, 0]], [[2]]):
        t = np.array(target)
        y = (rng.normal(size=(len(t), 3, 4)) * 1.5).astype(F)
        calls.append(lambda t=t, y=y: ctc.keras_ctc_vjp(t, y, np.ones(len(t), F)))
    source = ("out = dense_gradient(target, np.sum(target != 0, axis=-1), np.full(len(target), output.shape[1]), "
              "output)")
    assert_same_under(mutant("harness.reference.ctc", "keras_ctc_vjp", "-1  ->  +1", source), calls)


def test_outcome_helper_sees_a_change():
    """The comparison is not vacuous: a mutant that changes the output is seen."""
    module, path, m = mutant(EM, "log_softmax", "0  ->  1")
    x = np.float32([[0.0, -100.0, 1.0]])
    want = outcome(lambda: eigen_math.log_softmax(x))
    with mutants.applied(module, path, m):
        assert outcome(lambda: eigen_math.log_softmax(x)) != want
