"""``harness.reference.eigen_math``: TF's own float32 exp, log and log_softmax, bit for bit.

The expected results were recorded from TF 2.21.0 on x86-64 (``tf.exp``, ``tf.math.log``,
``tf.nn.log_softmax``; kept as digests of their bytes); NumPy's float32 exp and log differ
from them on these inputs, which is why the module exists (TF's dense CTC gradient: ``ctc.dense_gradient``).
"""
import hashlib

import numpy as np

from harness.reference import eigen_math

_RNG = np.random.default_rng(5)
EXP_X = (-_RNG.exponential(3, size=64)).astype(np.float32)[:16]
LOG_X = _RNG.uniform(0.5, 20, size=16).astype(np.float32)
SOFT_X = (_RNG.normal(size=(3, 2, 9)) * 2).astype(np.float32)
TF_SHA256 = {  # the first 32 hex digits of sha256 of TF 2.21.0's float32 results' bytes
    "exp": "e9b2f7e8250ab499a0cf4e916af8a0a9",  # tf.exp(EXP_X)
    "log": "57a6ba0eb478fb465538292f679874aa",  # tf.math.log(LOG_X)
    "log_softmax": "c11187dd9452aa028d7e7280af29e8d7",  # tf.nn.log_softmax(SOFT_X)
}


def _sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, np.float32).tobytes()).hexdigest()[:32]


def test_exp_is_tfs_on_whole_packets_and_the_tail():
    assert _sha(eigen_math.exp(EXP_X)) == TF_SHA256["exp"]  # 16 = 2 packets
    head = eigen_math.exp(EXP_X[:13])  # 1 packet (Eigen's polynomial), a tail of 5 (the C library's expf)
    assert np.array_equal(head[:8], eigen_math.exp(EXP_X)[:8])
    assert np.array_equal(head[8:], np.exp(EXP_X[8:13].astype(np.float64)).astype(np.float32))
    assert _sha(np.exp(EXP_X)) != TF_SHA256["exp"]


def test_log_is_tfs():
    assert _sha(eigen_math.log(LOG_X)) == TF_SHA256["log"]
    assert _sha(np.log(LOG_X)) != TF_SHA256["log"]
    head = eigen_math.log(LOG_X[:11])
    assert np.array_equal(head[:8], eigen_math.log(LOG_X)[:8])
    assert np.array_equal(head[8:], np.log(LOG_X[8:11].astype(np.float64)).astype(np.float32))


def test_log_softmax_is_tfs_kernel():
    assert _sha(eigen_math.log_softmax(SOFT_X)) == TF_SHA256["log_softmax"]


def test_special_values_and_flush_to_zero():
    x = np.array([-np.inf, -200, -104.5, -90, 0, 89, np.inf, np.nan], np.float32)
    e = eigen_math.exp(x)
    assert e[:4].tolist() == [0, 0, 0, 0] and e[4] == 1 and e[5] == np.inf == e[6] and np.isnan(e[7])
    tiny = np.finfo(np.float32).tiny
    y = np.array([0, -0.0, tiny / 4, -1, np.inf, np.nan, 1, 2], np.float32)
    lg = eigen_math.log(y)
    assert lg[:3].tolist() == [-np.inf] * 3 and np.isnan(lg[3]) and lg[4] == np.inf and np.isnan(lg[5])
    assert lg[6] == 0 and lg[7] == np.float32(np.log(2))


def test_row_sum_order_and_logsumexp():
    x = np.float32([1e8, 1, -1e8, 1, 3, 5, 7, 9, 0.5])
    # lanes ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), then the leftover 0.5 first
    expected = np.float32(0.5) + ((np.float32(1e8 + 3) + np.float32(-1e8 + 7)) + (np.float32(6) + np.float32(10)))
    assert eigen_math.row_sum(x) == expected
    rows = np.random.default_rng(0).normal(size=(5, 40)).astype(np.float32)
    np.testing.assert_allclose(eigen_math.row_sum(rows), rows.sum(-1), rtol=1e-6)
    np.testing.assert_allclose(eigen_math.logsumexp(rows), np.log(np.exp(rows.astype(np.float64)).sum(-1)), rtol=1e-6)
    assert eigen_math.logsumexp(np.full((2, 3), -np.inf, np.float32)).tolist() == [-np.inf, -np.inf]
