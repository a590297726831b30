"""CTC (connectionist temporal classification) as TF computes it: the negative
log-likelihood of a label sequence over the frames' class distributions, and its gradient.

One core serves both APIs:

* ``tf.nn.ctc_loss`` (:func:`ctc_loss`): dense labels (``ctc_loss_dense``, a batched
  forward-backward in float32) or a ``tf.SparseTensor`` (the ``CTCLoss`` kernel, in the
  logits' float32 or float64), any ``blank_index``, time- or batch-major logits, per-example
  label and logit lengths;
* ``keras.losses.ctc`` (:func:`keras_ctc_loss`): dense labels, blank 0, label lengths from
  the zero padding, every frame used.

TF's states (``_ctc_state_trans``): ``2 (L + 1)`` of them for a label row of L, label states
0..L (0 the start, before the first frame) then blank states 0..L (blank i follows label i),
with the blank class moved to index 0 first.
"""
from __future__ import annotations

import numpy as np

from harness.reference import eigen_math, stable
from harness.reference.errors import InvalidArgumentError, TFValueError

LOG_0 = np.float32(np.log(1e-307))
"""TF's stand-in for log(0) in the CTC start/final state vectors: float32(log(1e-307))."""


def _transitions(labels) -> np.ndarray:
    """log of TF's ``_ctc_state_trans`` matrix ``[to, from]``. Moves: self-loops, start ->
    label 1, blank i-1 -> label i, label i -> blank i, label i-1 -> label i unless the two
    labels are equal."""
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


def _emissions(labels, log_probs) -> np.ndarray:
    """log p(state's class) per frame ``[T, 2 (L + 1)]``: the start state emits nothing,
    label states their label, blank states the blank (class 0)."""
    n = len(labels) + 1
    return np.concatenate([np.full((log_probs.shape[0], 1), -np.inf, log_probs.dtype), log_probs[:, labels],
                           np.repeat(log_probs[:, :1], n, axis=1)], axis=1)


def _final_states(n: int, length: int, dtype) -> np.ndarray:
    """0 at label state ``length`` and the blank after it, ``LOG_0`` elsewhere."""
    beta = np.full(2 * n, LOG_0, dtype=dtype)
    beta[length] = beta[n + length] = 0
    return beta


def ctc_nll(labels, length, log_probs) -> np.floating:
    """-log p(labels[:length] | frames), TF's dense CTC (``ctc_loss_dense``), in
    ``log_probs``' dtype ``[T, C]`` (blank at class 0).

    ``labels`` is the padded row (the padding states exist, as in TF). The backward
    recursion starts from :func:`_final_states`, renormalises at every frame (accumulating
    the normalisers) and reads the start state.

    TF quirk mirrored: a label sequence that cannot fit in T frames is not ``inf`` but about
    ``-LOG_0`` = 706.9 plus the cost of the best path ending in a non-final state."""
    dtype = log_probs.dtype
    bwd_trans = _transitions(labels).T.astype(dtype)
    emissions = _emissions(labels, log_probs)
    beta = _final_states(len(labels) + 1, length, dtype)
    cum = dtype.type(0)
    for t in range(log_probs.shape[0] - 1, -1, -1):
        beta = stable.logsumexp(bwd_trans + (beta + emissions[t])[None, :], axis=-1)
        norm = stable.logsumexp(beta, axis=-1)
        beta = beta - norm
        cum = cum + norm
    return -(beta[0] + cum)


def _posteriors(labels, length, log_probs) -> np.ndarray:
    """log P(state at frame t = s | frames) by forward-backward in float64, with TF's
    initial (start 0, else ``LOG_0``) and final (:func:`_final_states`) state vectors (the
    sparse labels' gradient: the ``CTCLoss`` kernel, float32 or float64)."""
    n = len(labels) + 1
    trans = _transitions(labels).astype(np.float64)  # [to, from]
    emissions = _emissions(labels, log_probs)
    alpha = np.full(2 * n, np.float64(LOG_0))
    alpha[0] = 0.0
    alphas = []
    for t in range(log_probs.shape[0]):
        alpha = stable.logsumexp(trans + alpha[None, :], axis=-1) + emissions[t]
        alphas.append(alpha)
    beta = _final_states(n, length, np.float64)
    betas = [None] * log_probs.shape[0]
    for t in range(log_probs.shape[0] - 1, -1, -1):
        betas[t] = beta
        beta = stable.logsumexp(trans + (emissions[t] + beta)[:, None], axis=0)
    joint = np.stack(alphas) + np.stack(betas)
    return joint - stable.logsumexp(joint, axis=-1, keepdims=True)


def dense_gradient(rows, lengths, frames, logits) -> np.ndarray:
    """d loss_b / d logits ``[B, T, C]`` of TF's dense CTC (``ctc_loss_and_grad``), float32,
    from the whole batch's batch-major logits ``[B, T, C]`` (blank at class 0): softmax(x) -
    exp(olabel), olabel the log posterior that a frame emits a class, 0 past each example's
    frames.

    Mirrors ``ctc_loss_and_grad`` step by step on TF's time-major ``[T, B, ...]`` tensors:
    ``log_softmax``, the forward and backward state vectors renormalised at every frame
    (the backward one masked past ``frames``), their sum renormalised, summed into classes
    (``_state_to_olabel``), every ``reduce_logsumexp`` and exp with TF's own float32 exp and
    log (:mod:`eigen_math`, whose results depend on the tensor's layout: hence the batch).

    TF quirk mirrored: when the labels cannot fit their frames no path joins the start state
    to a final one, so every joint forward-backward value is about ``LOG_0`` = -706.9 plus a
    path's cost; float32 holds those to its spacing there (6.1e-5), and TF's posteriors, so
    its gradient, carry that rounding (up to 3e-5 absolute, beyond float32's tolerance):
    float64 posteriors rounded once (:func:`frame_gradient`) miss it."""
    f32, lse = np.float32, eigen_math.logsumexp
    rows = np.asarray(rows)
    batch, width = rows.shape
    n = width + 1
    if not np.shape(logits)[1]:
        return np.zeros(np.shape(logits), f32)
    lp = eigen_math.log_softmax(np.swapaxes(np.asarray(logits, f32), 0, 1))  # [T, B, C]
    steps, classes = lp.shape[0], lp.shape[-1]
    trans = np.stack([_transitions(row) for row in rows])  # [B, to, from]
    obs = np.stack([_emissions(row, lp[:, b]) for b, row in enumerate(rows)], axis=1)  # [T, B, S]
    final = np.stack([_final_states(n, length, f32) for length in lengths])
    mask = (np.arange(steps)[:, None] < np.asarray(frames)[None, :]).astype(f32)  # [T, B]
    alpha = np.full((batch, 2 * n), LOG_0, f32)
    alpha[:, 0] = 0
    fwd = []
    for t in range(steps):
        alpha = lse(alpha[:, None, :] + trans) + obs[t]
        alpha = alpha - lse(alpha, keepdims=True)
        fwd.append(alpha)
    beta = final
    bwd = [final] * steps
    for t in range(steps - 1, 0, -1):
        state = lse((beta + obs[t])[:, None, :] + np.swapaxes(trans, 1, 2))
        state = state - lse(state, keepdims=True)
        beta = bwd[t - 1] = state * mask[t][:, None] + final * (1 - mask[t])[:, None]
    joint = np.stack(fwd) + np.stack(bwd)
    with np.errstate(divide="ignore"):
        post = joint - lse(joint, keepdims=True) + np.log(mask)[..., None]
    one_hot = np.where(rows[:, :, None] - 1 == np.arange(classes - 1), f32(0), f32(-np.inf))  # [B, L, C - 1]
    olabel = np.concatenate([lse(post[:, :, n:], keepdims=True),
                             lse(post[:, :, 1:n, None] + one_hot[None], axis=2)], axis=-1)
    grad = (eigen_math.exp(lp) - eigen_math.exp(olabel)) * mask[..., None]
    return np.swapaxes(grad, 0, 1)


def frame_gradient(labels, length, log_probs) -> np.ndarray:
    """d nll / d logits ``[T, C]`` in float64: softmax(x) - exp(olabel), olabel[t, c] the
    log posterior that frame t emits class c (blank at class 0), posteriors by
    :func:`_posteriors` (the sparse labels' ``CTCLoss`` kernel; TF's dense CTC, which
    ``_state_to_olabel`` below describes, is :func:`dense_gradient`), for a label sequence
    that fits its frames (so at least one frame: :func:`ctc_loss_vjp` checks).

    TF quirk mirrored: ``_state_to_olabel`` credits a label state to its class through
    ``one_hot(label - 1, C - 1)``, so a label state holding the blank (a 0 inside a label
    such as [1, 2, 0, 2]) is credited to no class: TF's gradient then is not the derivative
    of its loss (the frame's gradient sums to that state's posterior, not 0). Padding
    states past the label length have no posterior, so padding is unaffected."""
    log_probs = np.asarray(log_probs, np.float64)
    n = len(labels) + 1
    post = _posteriors(labels, length, log_probs)
    olabel = np.full(log_probs.shape, -np.inf)
    olabel[:, 0] = stable.logsumexp(post[:, n:], axis=-1)
    for c in range(1, log_probs.shape[-1]):
        states = [s + 1 for s, label in enumerate(labels) if label == c]
        if states:
            olabel[:, c] = stable.logsumexp(post[:, states], axis=-1)
    return np.exp(log_probs) - np.exp(olabel)


# --- keras.losses.ctc -----------------------------------------------------------------


def keras_ctc_loss(target, output, mask_index=0) -> np.ndarray:
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


def keras_ctc_vjp(target, output, g) -> np.ndarray:
    """doutput (float32, ``[B, T, C]``) of ``keras.losses.ctc``: g_b times
    :func:`dense_gradient` (Keras runs ``tf.nn.ctc_loss`` with dense labels), logits taken in
    float32 as Keras casts them."""
    target, output = np.asarray(target).astype(np.int64), np.asarray(output).astype(np.float32)
    out = dense_gradient(target, np.sum(target != 0, axis=-1), np.full(len(target), output.shape[1]), output)
    gb = np.asarray(g).astype(np.float32).astype(np.float64)[:, None, None]
    return (gb * out.astype(np.float32)).astype(np.float32)


# --- tf.nn.ctc_loss -------------------------------------------------------------------


def _blank_order(classes: int, blank_index) -> list[int]:
    """The classes with the blank (``blank_index``, default 0, negative from the end) first."""
    blank = 0 if blank_index is None else (blank_index + classes if blank_index < 0 else blank_index)
    return [blank] + [c for c in range(classes) if c != blank]


def _blank_first(labels, logits, blank_index):
    """``ctc_loss_dense``'s move of the blank to class 0 (batch-major logits ``[B, T, C]``):
    the blank's column first, labels below it shifted up by one. A label equal to the blank
    index keeps its value, so it stands for the class just below the blank, as in TF."""
    order = _blank_order(logits.shape[-1], blank_index)
    if order[0] == 0:
        return labels, logits
    return np.where(labels < order[0], labels + 1, labels), logits[..., order]


def _compute_dtype(logits, sparse_labels: bool):
    """float32 for every dtype but float64, which only the sparse (``CTCLoss``) kernel runs.

    TF quirk mirrored: dense labels with float64 logits fail inside ``ctc_loss_dense``
    (its float32 state vectors meet the float64 log-probabilities)."""
    if logits.dtype != np.float64:
        return np.dtype(np.float32)
    if not sparse_labels:
        raise InvalidArgumentError("cannot compute Mul as input #1(zero-based) was expected to be a double tensor "
                                   "but is a float tensor (dense labels with float64 logits)")
    return np.dtype(np.float64)


def _check_sparse(labels, label_length, logit_length, blank_index) -> None:
    """The ``CTCLoss`` kernel's rules: a ``blank_index`` is required (ValueError); example
    by example, a label sequence may not be empty nor longer than its frames
    (InvalidArgumentError)."""
    if blank_index is None:
        raise TFValueError("Argument `blank_index` must be provided when `labels` is a `SparseTensor`.")
    for b, (n, frames) in enumerate(zip(label_length, logit_length)):
        if n == 0:
            raise InvalidArgumentError(f"Labels length is zero in batch {b}")
        if n > frames:
            raise InvalidArgumentError(f"Not enough time for target transition sequence (required: {n}, "
                                       f"available: {frames})")


def _fits(row, n, frames) -> bool:
    """Whether a label sequence fits its frames: one per label, plus a blank between repeats."""
    seq = row[:n]
    return n + int(np.sum(seq[1:] == seq[:-1])) <= frames


def _prepared(labels, logits, label_length, logit_length, logits_time_major, blank_index, sparse_labels):
    """(labels with the blank at 0, batch-major logits in the compute dtype with the blank's
    column first, lengths, frames, dtype)."""
    logits = np.asarray(logits)
    labels = np.asarray(labels).astype(np.int64)
    label_length, logit_length = np.asarray(label_length).astype(int), np.asarray(logit_length).astype(int)
    dtype = _compute_dtype(logits, sparse_labels)
    if sparse_labels:
        _check_sparse(labels, label_length, logit_length, blank_index)
    x = logits.astype(dtype)
    x = np.swapaxes(x, 0, 1) if logits_time_major else x
    labels, x = _blank_first(labels, x, blank_index)
    return labels, x, label_length, logit_length, dtype


def ctc_loss(labels, logits, label_length, logit_length, logits_time_major=True, unique=None, blank_index=None,
             sparse_labels=False) -> np.ndarray:
    """``tf.nn.ctc_loss``: -log p(labels[b, :label_length[b]] | the first logit_length[b]
    frames) per example, ``[batch]``; ``sparse_labels`` stands for labels given as a
    ``tf.SparseTensor`` of the same rows. ``unique`` only selects a faster TF path.

    The blank is ``blank_index`` (default 0 for dense labels; negative counts from the last
    class). Frames past an example's ``logit_length`` are ignored, as TF's masked backward
    recursion does. float16/bfloat16 are computed in float32 and the loss cast back; float32
    in float32; float64 only with sparse labels (dense ones fail: :func:`_compute_dtype`).
    Sparse labels raise where the ``CTCLoss`` kernel does (:func:`_check_sparse`) and give
    ``inf`` for a sequence whose repeats do not fit (the kernel checks the label count
    only); dense ones give about 706.9 for a sequence that does not fit (see
    :func:`ctc_nll`)."""
    rows, x, lengths, frames, dtype = _prepared(labels, logits, label_length, logit_length, logits_time_major,
                                                blank_index, sparse_labels)
    log_probs = stable.log_softmax_shifted(x, axis=-1)
    losses = [ctc_nll(row, n, lp[:t]) if not sparse_labels or _fits(row, n, t) else np.inf
              for row, n, t, lp in zip(rows, lengths, frames, log_probs)]
    out_dtype = np.asarray(logits).dtype if np.asarray(logits).dtype != np.float64 else dtype
    return np.asarray(losses, dtype=dtype).astype(out_dtype)


def ctc_loss_vjp(labels, logits, label_length, logit_length, g, logits_time_major=True, blank_index=None,
                 sparse_labels=False) -> np.ndarray:
    """dlogits of :func:`ctc_loss` (shape and dtype of ``logits``): g_b times the frame
    gradient (dense labels: :func:`dense_gradient` of the batch; sparse labels:
    :func:`frame_gradient` of each example) over each example's first logit_length[b]
    frames, 0 past them (TF's ``logit_mask``), in the compute dtype, the blank's column
    moved back.

    TF quirk mirrored: a sparse label sequence whose repeats do not fit its frames (an
    infinite loss) has no valid path; the ``CTCLoss`` kernel then gives the softmax itself
    (``dy_b = y``), not the derivative of anything."""
    logits = np.asarray(logits)
    rows, x, lengths, frames, dtype = _prepared(labels, logits, label_length, logit_length, logits_time_major,
                                                blank_index, sparse_labels)
    if sparse_labels:
        log_probs = stable.log_softmax_shifted(x, axis=-1)
        grad = np.zeros(log_probs.shape, dtype)
        for b, (row, n, t) in enumerate(zip(rows, lengths, frames)):
            lp = log_probs[b, :t]
            grad[b, :t] = (frame_gradient(row, n, lp) if _fits(row, n, t) else np.exp(lp)).astype(dtype)
    else:
        grad = dense_gradient(rows, lengths, frames, x)
    grad = grad * np.asarray(g).astype(logits.dtype).astype(dtype)[:, None, None]
    grad = grad[..., np.argsort(_blank_order(logits.shape[-1], blank_index))]
    grad = np.swapaxes(grad, 0, 1) if logits_time_major else grad
    return grad.astype(logits.dtype)
