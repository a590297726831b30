"""float32 ``exp``, ``log`` and ``reduce_logsumexp`` as TF 2.21's CPU kernels compute them.

TF's element-wise Exp and Log run Eigen's packet functions (``pexp_float`` and
``plog_impl_float`` in Eigen's GenericPacketMathFunctions.h) on whole packets of 8 floats,
polynomial approximations that are not correctly rounded (``np.exp`` of float32 differs
from them in the last bit for about 40% of inputs, ``np.log`` for about 9%), and the C
library's scalar ``expf``/``logf`` (correctly rounded but for rare inputs) on the last
``size % 8`` elements of the tensor. The functions below evaluate the same polynomials in
the same order, every multiply and add rounded to float32 (the TF wheel is built without
FMA, so Eigen's ``pmadd`` is a rounded product then a rounded sum), the tail in float64
rounded once, and flush subnormal results and inputs to zero as TF's threads do: bit for
bit equal to TF's on 1.2 million packet inputs over the whole range, and on tails but for
about 1 in 500 (where ``expf`` itself is not correctly rounded). So the argument must be the
whole tensor TF's op sees, in its layout.

Only a caller whose result amplifies single-bit differences needs them: TF's dense CTC
for labels that cannot fit adds them to log(1e-307) = -706.9, where one float32 step
is 6.1e-5 (``harness/reference/ctc.py``).
"""
from __future__ import annotations

import numpy as np

_F = np.float32
_TINY = np.finfo(np.float32).tiny
_PACKET = 8


def _madd(a, b, c):
    """Eigen's ``pmadd`` without FMA: a * b rounded, then + c rounded."""
    return a * b + c


def _tail(x: np.ndarray, packets: np.ndarray, scalar) -> np.ndarray:
    """``packets`` with the last ``x.size % 8`` elements (C order) replaced by ``scalar``
    of them in float64, rounded to float32."""
    n = x.size % _PACKET
    if not n:
        return packets
    flat = packets.flatten()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        flat[-n:] = scalar(x.ravel()[-n:].astype(np.float64)).astype(_F)
    return flat.reshape(x.shape)


def exp(x) -> np.ndarray:
    """TF's float32 Exp of the tensor ``x``: Eigen's ``pexp_float`` on whole packets (x = m ln 2
    + r, ln 2 in two parts, exp(r) by a degree-6 polynomial, times 2^m), the scalar tail
    rounded from float64; 0 below -104 and where the result is subnormal."""
    x = np.asarray(x, _F)
    out = _tail(x, _pexp(x), np.exp)
    return np.where(np.abs(out) < _TINY, _F(0), out).astype(_F)


def _pexp(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore"):
        clamped = np.minimum(x, _F(88.723))
        m = np.floor(_madd(clamped, _F(1.44269504088896341), _F(0.5)))
        r = _madd(m, _F(-0.693359375), clamped)
        r = _madd(m, _F(2.12194440e-4), r)
        r2 = r * r
        p_even = _madd(r2, _F(1.37449637986719608306884765625e-3), _F(4.166965186595916748046875e-2))
        p_odd = _madd(r2, _F(8.36894474923610687255859375e-3), _F(0.16666518151760101318359375))
        p_even = _madd(r2, p_even, _F(0.49999988079071044921875))
        y = _madd(r2, _madd(r, p_odd, p_even), r + _F(1))
        out = np.maximum(np.ldexp(y, np.nan_to_num(m).astype(np.int32)), x)
    return np.where(x < _F(-104), _F(0), out).astype(_F)


def log(x) -> np.ndarray:
    """TF's float32 Log of the tensor ``x``: Eigen's ``plog_impl_float`` on whole packets (x =
    2^e m with m in [sqrt(1/2), sqrt(2)), log(m) by a rational function of m - 1, plus e ln
    2), the scalar tail rounded from float64; -inf at 0 and subnormals, nan below 0."""
    x = np.asarray(x, _F)
    x = np.where(np.abs(x) < _TINY, _F(0), x).astype(_F)
    return _tail(x, _plog(x), np.log)


def _plog(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        mant, e = np.frexp(x)
        low = mant < _F(0.707106781186547524)
        e = e.astype(_F) - low.astype(_F)
        m = (mant - _F(1)) + np.where(low, mant, _F(0))
        p = m * _madd(_madd(_F(0.18256296349849254), m, _F(1.0000000190281063)), m, _F(1.0000000190281136))
        q = _madd(_madd(_madd(_F(0.049616247954120038), m, _F(0.59923249590823520)), m, _F(1.4999999999999927)),
                  m, _F(1.0))
        out = _madd(e, _F(0.693147180559945309), p / q)
        out = np.where(x == np.inf, _F(np.inf), np.where((x < 0) | np.isnan(x), _F(np.nan), out))
    return np.where(x == 0, _F(-np.inf), out).astype(_F)


def row_sum(x) -> np.ndarray:
    """float32 sum along the last axis in the order of Eigen's inner-dimension reducer over
    a fused expression (as in TF's Softmax kernels): packets of 8 (four accumulators over
    groups of 32, combined in order, then the remaining packets), the packet's lanes summed
    pairwise ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)), the leftover elements summed one by
    one and added last."""
    x = np.asarray(x, _F)
    n = x.shape[-1]
    packets, unrolled = n - n % _PACKET, n - n % (4 * _PACKET)
    scalars = np.zeros(x.shape[:-1], _F)
    for j in range(packets, n):
        scalars = scalars + x[..., j]
    if not packets:
        return scalars
    acc = None
    for j in range(0, unrolled, 4 * _PACKET):
        accs = [x[..., j + a * _PACKET: j + (a + 1) * _PACKET] for a in range(4)]
        if acc is None:
            acc = accs
        else:
            acc = [s + a for s, a in zip(acc, accs)]
    if acc is not None:
        acc = ((acc[0] + acc[1]) + acc[2]) + acc[3]
    for j in range(unrolled, packets, _PACKET):
        acc = x[..., j: j + _PACKET] if acc is None else acc + x[..., j: j + _PACKET]
    half = acc[..., :4] + acc[..., 4:]
    return scalars + ((half[..., 0] + half[..., 2]) + (half[..., 1] + half[..., 3]))


def log_softmax(x) -> np.ndarray:
    """TF's float32 LogSoftmax kernel along the last axis: s = x - max, then s - log(sum(exp
    s)), the exp inside the row reduction (Eigen's ``pexp_float`` on each row's whole
    packets, the row's leftover elements rounded from float64; :func:`row_sum`'s order),
    the log over the tensor of row sums (:func:`log`). Bit for bit but for about 1 element in
    1,000 (where the C library's expf or logf is not correctly rounded)."""
    x = np.asarray(x, _F)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    whole = x.shape[-1] - x.shape[-1] % _PACKET
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.concatenate([_pexp(shifted[..., :whole]), np.exp(shifted[..., whole:].astype(np.float64)).astype(_F)],
                           axis=-1)
    e = np.where(np.abs(e) < _TINY, _F(0), e).astype(_F)
    return shifted - log(row_sum(e))[..., None]


def logsumexp(x, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``tf.reduce_logsumexp`` of float32: m = max (0 where not finite), then
    log(sum(exp(x - m))) + m with TF's exp and log, the sum in TF's ``reduce_sum`` order
    (along the last axis :func:`row_sum`'s, bit for bit on the shapes checked; along
    another axis one slice at a time)."""
    x = np.asarray(x, _F)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, _F(0)).astype(_F)
    with np.errstate(invalid="ignore", over="ignore"):
        e = exp(x - m)
        if axis in (-1, x.ndim - 1):
            total = row_sum(e)[..., None]
        else:
            total = np.zeros_like(np.take(e, [0], axis=axis))
            for j in range(e.shape[axis]):
                total = total + np.take(e, [j], axis=axis)
        s = log(total) + m
    return s if keepdims else np.squeeze(s, axis=axis)
