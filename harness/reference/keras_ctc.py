"""CTC negative log-likelihood as ``keras.ops.ctc_loss`` computes it on the TF backend
(``tf.nn.ctc_loss`` with dense labels, blank index 0, batch-major logits)."""
from __future__ import annotations

import numpy as np

from harness.reference import stable


def _logsumexp_pair(a, b):
    with np.errstate(invalid="ignore"):
        return np.logaddexp(a, b)


def ctc_nll(labels, log_probs) -> np.float32:
    """-log p(labels | frames) by the forward (alpha) recursion in log space.

    ``labels`` are class ids without blanks (blank = 0); ``log_probs`` is ``[T, C]``.
    The extended sequence interleaves blanks, l' = (0, l1, 0, l2, ..., 0); a step may stay,
    advance by one, or skip a blank between two different labels. A label sequence that
    cannot fit in T frames has probability 0 and loss ``inf``."""
    ext = np.zeros(2 * len(labels) + 1, dtype=np.int64)
    ext[1::2] = labels
    n_states = len(ext)
    dtype = log_probs.dtype.type
    neg_inf = dtype(-np.inf)
    can_skip = np.zeros(n_states, dtype=bool)
    can_skip[2:] = (ext[2:] != 0) & (ext[2:] != ext[:-2])
    alpha = np.full(n_states, neg_inf, dtype=dtype)
    alpha[0] = log_probs[0, ext[0]]
    if n_states > 1:
        alpha[1] = log_probs[0, ext[1]]
    for t in range(1, log_probs.shape[0]):
        stay_or_step = alpha.copy()
        stay_or_step[1:] = _logsumexp_pair(alpha[1:], alpha[:-1])
        skip = np.full(n_states, neg_inf, dtype=dtype)
        skip[2:] = np.where(can_skip[2:], alpha[:-2], neg_inf)
        alpha = _logsumexp_pair(stay_or_step, skip) + log_probs[t, ext]
    final = alpha[-1] if n_states == 1 else _logsumexp_pair(alpha[-1], alpha[-2])
    return -final


def ctc_loss(target, output, mask_index=0) -> np.ndarray:
    """``keras.losses.ctc`` backend: per-example CTC loss, ``[batch]``.

    Label lengths are the number of non-zero entries of each ``target`` row (0 pads);
    every example uses all ``T`` frames. Keras quirk mirrored: float16/bfloat16 and float64
    logits are all computed in float32; the result is float32 for the 16-bit types and the
    float32 value cast to float64 for float64 (``result_type(dtype, float32)``)."""
    target = np.asarray(target).astype(np.int32)
    output = np.asarray(output)
    result_dtype = np.float64 if output.dtype == np.float64 else np.float32
    log_probs = stable.log_softmax_shifted(output.astype(np.float32), axis=-1)
    lengths = np.sum(target != mask_index, axis=-1)
    losses = [ctc_nll(row[:n], lp) for row, n, lp in zip(target, lengths, log_probs)]
    return np.asarray(losses, dtype=np.float32).astype(result_dtype)
