"""CTC negative log-likelihood as ``keras.ops.ctc_loss`` computes it on the TF backend
(``tf.nn.ctc_loss`` with dense labels, blank index 0, batch-major logits)."""
from __future__ import annotations

import numpy as np

from harness.reference import stable


LOG_0 = np.float32(np.log(1e-307))
"""TF's stand-in for log(0) in the CTC start/final state vectors: float32(log(1e-307))."""


def _transitions(labels) -> np.ndarray:
    """log of TF's ``_ctc_state_trans`` matrix ``[to, from]`` over ``2 (L + 1)`` states:
    label states 0..L (0 = start, before the first frame) then blank states 0..L (blank
    i follows label i). Moves: self-loops, start -> label 1, blank i-1 -> label i,
    label i -> blank i, label i-1 -> label i unless the two labels are equal."""
    n = len(labels) + 1
    trans = np.eye(2 * n, dtype=np.float32)
    trans[1, 0] = 1
    for i in range(1, n):
        trans[i, n + i - 1] = 1
    for i in range(n):
        trans[n + i, i] = 1
    for i in range(2, n):
        trans[i, i - 1] = 0 if labels[i - 2] == labels[i - 1] else 1
    with np.errstate(divide="ignore"):
        return np.log(trans)


def ctc_nll(labels, length, log_probs) -> np.float32:
    """-log p(labels[:length] | frames), TF's dense CTC (``ctc_loss_dense``) in float32.

    ``labels`` is the zero-padded row (the padding states exist and emit the blank class,
    as in TF); ``log_probs`` is ``[T, C]``. The backward recursion starts from 0 at the two
    final states (label ``length`` and the blank after it) and ``LOG_0`` elsewhere,
    renormalises at every frame (accumulating the normalisers) and reads the start state.

    TF quirk mirrored: a label sequence that cannot fit in T frames is not ``inf`` but about
    ``-LOG_0`` = 706.9 plus the cost of the best path ending in a non-final state."""
    n = len(labels) + 1
    bwd_trans = _transitions(labels).T
    emissions = np.concatenate(
        [np.full((log_probs.shape[0], 1), -np.inf, np.float32),
         log_probs[:, labels],
         np.repeat(log_probs[:, :1], n, axis=1)],
        axis=1,
    )
    beta = np.full(2 * n, LOG_0, dtype=np.float32)
    beta[length] = beta[n + length] = 0
    cum = np.float32(0)
    for t in range(log_probs.shape[0] - 1, -1, -1):
        beta = stable.logsumexp(bwd_trans + (beta + emissions[t])[None, :], axis=-1)
        norm = stable.logsumexp(beta, axis=-1)
        beta = beta - norm
        cum = cum + norm
    return -(beta[0] + cum)


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
    losses = [ctc_nll(row, n, lp) for row, n, lp in zip(target, lengths, log_probs)]
    return np.asarray(losses, dtype=np.float32).astype(result_dtype)
