"""Eigen's float16/bfloat16 sum tree in summation.eigen_sum: the leaf sizes (1,600 / 1,024)
and the split at the tensor's packet boundary, against values TF 2.21 gives (one intra-op
thread; the same inputs are TF parity cases in cases/mutation/lowprec_sums.yaml)."""
from pathlib import Path

import ml_dtypes
import numpy as np

from harness.reference import summation

DATA = Path(__file__).resolve().parents[1] / "cases" / "mutation" / "lowprec_data"


def test_float16_leaf_is_1600_elements():
    # TF's l2_loss of 2,048 float16 0.1s (halves 0.005) is 10.2421875 and of 1,601 2.25s 4052.
    assert summation.eigen_sum(np.full(2048, 0.005, np.float16)) == np.float16(10.2421875)
    halves = (np.float32(np.float16(2.25)) ** 2 * np.float32(0.5)).astype(np.float16)
    assert summation.eigen_sum(np.full(1601, halves, np.float16)) == np.float16(4052)


def test_a_row_splits_at_the_tensors_packet_boundary():
    # Row 1 of two rows of 1,700 starts 4 past a packet boundary: TF splits it at 852, so the
    # exp(-8) terms in the lane of the maximum at 852 round away (sum 1.009: TF's log_softmax
    # there is -0.00875); alone (at offset 0) it splits at 856 and they add up (1.018).
    x = np.load(DATA / "f16_two_rows_1700.npy")
    e = np.exp(x.astype(np.float32)).astype(np.float16)
    both = summation.eigen_sum(e, axis=-1)
    assert both[1] == np.float16(1.009)
    assert summation.eigen_sum(e[1:], axis=-1)[0] == np.float16(1.018)
    np.testing.assert_array_equal(summation.eigen_sum(e.T, axis=0), both)


def test_bfloat16_split_rounds_half_up():
    # 2,049 bfloat16 terms split at 8 * ceil(ceil(2049 / 2) / 8) = 1,032, not 1,024.
    x = np.load(DATA / "bf16_ceil_split_2049.npy")[0].astype(np.float32)
    e = np.exp(x).astype(ml_dtypes.bfloat16)
    left = summation.eigen_sum(e[:1032])
    right = summation.eigen_sum(e[1032:])
    expected = (np.float32(left) + np.float32(right)).astype(ml_dtypes.bfloat16)
    assert summation.eigen_sum(e) == expected
