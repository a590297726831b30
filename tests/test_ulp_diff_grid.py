"""The HTML diff grid of a failing ``{ulp: N}`` case marks exactly the elements beyond N ULPs."""
import numpy as np
import pytest

from harness.judges import diff_grid
from harness.tolerances import Tolerance


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_ulp_grid_marks_only_elements_beyond_the_allowed_ulps(dtype):
    desired = np.array([1.0, 2.0, -3.0, 0.5, 4.0], dtype=dtype)
    steps = np.array([0, 2, 4, 5, 40])  # ULPs away from desired
    actual = desired.copy()
    for i, n in enumerate(steps):
        for _ in range(n):
            actual[i] = np.nextafter(actual[i], dtype(np.inf))
    grid = diff_grid({"_arrays": (actual, desired)}, Tolerance(rtol=0.0, atol=0.0, ulp=4))
    assert grid["mismatch"] == [False, False, False, True, True]


def test_rtol_atol_grid_unchanged():
    desired = np.array([1.0, 1.0], dtype=np.float32)
    actual = np.array([1.0 + 1e-6, 1.1], dtype=np.float32)
    grid = diff_grid({"_arrays": (actual, desired)}, Tolerance(rtol=1.3e-6, atol=1e-5))
    assert grid["mismatch"] == [False, True]
