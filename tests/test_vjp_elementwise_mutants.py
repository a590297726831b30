"""The mutants of harness/reference/vjp_elementwise.py reviewed as equivalent in
harness/mutate/equivalent.yaml, run for real: each is applied to the live module (as
``harness mutate`` applies it) and the rule must return the same bits on inputs that reach
both sides of its test, ties included (the only inputs where the two sides differ in
which branch they take)."""
from __future__ import annotations

import numpy as np
import pytest

from harness.reference import vjp_elementwise as VE
from tests.test_fast_path_mutants import assert_same_under, mutant

MODULE = "harness.reference.vjp_elementwise"


def _errors(delta):
    """Errors exactly +-delta (the tie), inside, outside, 0 and -0.0, in float64 and in
    float32 values (the v1 rule's inputs)."""
    d = abs(delta)
    return np.array([d, -d, 0.5 * d, -0.5 * d, 2.0 * d, -3.0 * d, 0.0, -0.0, np.nextafter(d, 0), np.nextafter(d, 9)])


@pytest.mark.parametrize("delta", [1.0, 0.75, 0.1, 1.0e-7, 3.0, 0.0])
def test_huber_at_the_delta_tie(delta):
    """``np.abs(x) <= delta -> <``: at |x| = delta, x and delta * sign(x) are the same float."""
    calls = []
    for labels in (np.zeros(10), np.linspace(-2, 2, 10)):
        t = labels.reshape(2, 5)
        p = (labels + _errors(delta)).reshape(2, 5)
        # the errors are p - t as the rule computes them: rebuild t so that p - t is exact
        t = p - _errors(delta).reshape(2, 5)
        for dtype in (np.float32, np.float64):
            a, b = t.astype(dtype), p.astype(dtype)
            calls.append(lambda a=a, b=b: VE.per_example_vjp("huber", a, b, np.ones(2), delta=delta))
    assert_same_under(mutant(MODULE, "_huber", "np.abs(x) <= delta  ->  np.abs(x) < delta"), calls)


@pytest.mark.parametrize("delta", [1.0, 0.75, 0.1, 3.0, 0.0])
def test_v1_huber_at_the_delta_tie(delta):
    """``a <= np.float32(delta) -> <``: at |e| = delta, a and float32(delta) are the same float."""
    calls = []
    d32 = float(np.float32(delta))
    for base in (0.0, 0.5, -1.25):
        labels = np.full(10, base, np.float32)
        preds = (labels.astype(np.float64) + _errors(d32)).astype(np.float32)
        calls.append(lambda l=labels, p=preds: VE.v1_terms_vjp("huber_loss", l, p, np.ones(10), delta=delta))
    assert_same_under(mutant(MODULE, "_v1_huber", "a <= np.float32(delta)  ->  a < np.float32(delta)"), calls)


KERAS2_BCE_CLIP = "o = _clip(output, EPSILON, 1.0 - EPSILON)"


@pytest.mark.parametrize("change", ["1.0 - EPSILON  ->  1.0 + EPSILON", "1.0  ->  2.0"])
def test_keras2_binary_vjp_clip_bound_only_reaches_masked_elements(change):
    """vjp.keras2_binary_vjp's ``o = clip(p, eps, 1 - eps)``: o differs from the clip with a
    higher bound only where p > 1 - eps, which the clip mask then zeroes: same bits."""
    from harness.reference import vjp

    ps = np.array([-0.5, 0.0, 1.0e-7, 1.0e-3, 0.5, 1.0 - 1.0e-7, 0.99999988, 1.0, 1.0 + 1.0e-7, 1.5, 2.5, 3.0])
    calls = []
    for dtype in (np.float16, np.float32, np.float64):
        p = ps.astype(dtype).reshape(3, 4)
        for t in (np.zeros((3, 4)), np.ones((3, 4)), np.full((3, 4), 0.25)):
            calls.append(lambda t=t, p=p: vjp.keras2_binary_vjp(t, p, np.ones(3, p.dtype)))
    assert_same_under(mutant("harness.reference.vjp", "keras2_binary_vjp", change, KERAS2_BCE_CLIP), calls)
