"""Function forms of ``tf.keras.losses`` (Keras 3 ``keras.src.losses.losses``): per-example
losses, no reduction, computed in the dtype of ``y_pred`` (``y_true`` is cast to it).

Unlike the classes, the functions do not squeeze or expand ``y_true``/``y_pred`` to a
common rank first (except where noted), so ``[B]`` against ``[B, 1]`` broadcasts to
``[B, B]`` where TF's elementwise ops broadcast, and is a ValueError where Keras checks
shapes (the cross-entropies). ``mean`` over the last axis is done in float32 for
float16/bfloat16 (``keras.ops.mean``).
"""
from __future__ import annotations

import functools
import operator

import numpy as np

from harness.reference import keras_backend as kb
from harness.reference.errors import InvalidArgumentError, TFIndexError, TFValueError
from harness.reference.ctc import keras_ctc_loss
from harness.reference.reductions import keras_squeeze_or_expand_to_same_rank as same_rank
from harness.reference.rowblocks import by_row, by_rows, for_row_blocks, is_large, matmul
from harness.reference.stable import logsumexp, maximum, select
from harness.reference import summation
from harness.reference.summation import reduce_sum

EPS = kb.EPSILON


def tf_broadcasting(fn):
    """NumPy's broadcast failure becomes TF's InvalidArgumentError (the eager kernel's)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as exc:
            if "broadcast" not in str(exc) or isinstance(exc, InvalidArgumentError):
                raise
            raise InvalidArgumentError(f"Incompatible shapes: {exc}") from None

    return wrapper


def _cast_pair(y_true, y_pred):
    """``y_pred`` as is, ``y_true`` cast to its dtype (not copied when it has it already: the
    functions never write into their inputs)."""
    y_pred = np.asarray(y_pred)
    return np.asarray(y_true).astype(y_pred.dtype, copy=False), y_pred


def _c(value, like):
    return kb.const(value, like.dtype)


# --- regression -------------------------------------------------------------------


@by_rows
@tf_broadcasting
def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)**2, axis=-1) after squeezing/expanding to the same rank."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    error = np.asarray(y_true - y_pred)  # squared in place: one temporary, still in cache
    return kb.mean(np.square(error, out=error), axis=-1)


@by_rows
@tf_broadcasting
def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1) after squeezing/expanding to the same rank."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    error = np.asarray(y_true - y_pred)  # |.| in place: one temporary, still in cache
    return kb.mean(np.abs(error, out=error), axis=-1)


@by_rows
@tf_broadcasting
def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs((y_true - y_pred) / maximum(np.abs(y_true), _c(EPS, y_pred)))
        return _c(100.0, y_pred) * kb.mean(diff, axis=-1)


@by_rows
@tf_broadcasting
def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1).

    Keras quirk mirrored: eps is a float32 tensor (``ops.convert_to_tensor(epsilon())``), so
    float16/bfloat16 inputs are promoted and the result is float32, and float64 inputs meet
    1e-7 rounded to float32, 1.0000000116860974e-07 (float64 stays float64)."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    dtype = np.float64 if y_pred.dtype == np.float64 else np.float32
    y_true, y_pred = y_true.astype(dtype, copy=False), y_pred.astype(dtype, copy=False)
    eps, one = kb.const(kb.EPSILON_FLOAT32, dtype), kb.const(1.0, dtype)
    first_log = kb.log(maximum(y_pred, eps) + one)
    second_log = kb.log(maximum(y_true, eps) + one)
    return kb.mean(np.square(first_log - second_log), axis=-1)


@by_rows
@tf_broadcasting
def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): -1 for parallel vectors."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    axis = kb.canonical_axis(axis)
    y_pred = kb.l2_normalize(y_pred, axis=axis)
    y_true = kb.l2_normalize(y_true, axis=axis)
    with np.errstate(invalid="ignore"):
        return -reduce_sum(y_true * y_pred, axis=axis)


@by_rows
@tf_broadcasting
def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 e**2 if |e| <= delta else delta |e| - 0.5 delta**2, axis=-1), e = y_pred - y_true."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    delta, half = _c(delta, y_pred), _c(0.5, y_pred)
    error = y_pred - y_true
    abs_error = np.abs(error)
    with np.errstate(over="ignore", invalid="ignore"):
        per_element = select(
            abs_error <= delta, half * np.square(error), delta * abs_error - half * np.square(delta)
        )
    return kb.mean(per_element, axis=-1)


@by_rows
@tf_broadcasting
def log_cosh(y_true, y_pred):
    """mean(x + softplus(-2x) - log(2), axis=-1), x = y_pred - y_true (= log(cosh(x))).

    Keras quirk mirrored: log(2) is computed in float32 and then cast, so in float64 a
    zero error gives -1.9e-9 instead of 0."""
    y_true, y_pred = same_rank(*_cast_pair(y_true, y_pred))
    log2 = np.asarray(np.log(np.float32(2.0))).astype(y_pred.dtype)
    x = y_pred - y_true
    return kb.mean(x + kb.softplus(x * _c(-2.0, x)) - log2, axis=-1)


@by_rows
@tf_broadcasting
def kl_divergence(y_true, y_pred):
    """sum(t * log(t / p), axis=-1) with t, p clipped to [eps, 1] (no rank adjustment)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = kb.clip(y_true, EPS, 1)
    y_pred = kb.clip(y_pred, EPS, 1)
    return reduce_sum(y_true * kb.log(y_true / y_pred), axis=-1)


@by_rows
@tf_broadcasting
def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1) (no rank adjustment)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    with np.errstate(invalid="ignore"):
        return kb.mean(y_pred - y_true * kb.log(y_pred + _c(EPS, y_pred)), axis=-1)


# --- hinge ------------------------------------------------------------------------


def _all_binary(y_true) -> bool:
    """Whether every label is 0 or 1 (checked over the whole tensor)."""
    return bool(np.all((y_true == 0) | (y_true == 1)))


def _binary_labels_to_pm1(y_true, binary=None):
    """Labels that are all 0 or 1 (``binary``: :func:`_all_binary` of the whole tensor, when
    the caller has a block of it) become 2 t - 1 = -1/1; any other label tensor is used
    unchanged."""
    if _all_binary(y_true) if binary is None else binary:
        return _c(2.0, y_true) * y_true - _c(1.0, y_true)
    return y_true


@by_rows
def hinge_rows(y_true, y_pred, binary, squared=False, mean=kb.mean):
    """mean(max(1 - t p, 0), axis=-1), squared before the mean when ``squared``, with t
    mapped to -1/1 when ``binary`` (the whole label tensor's check, so that a block of rows
    is mapped as the whole tensor is); ``mean`` is Keras' (``kb.mean``) or Keras 2's."""
    y_true = _binary_labels_to_pm1(y_true, binary)
    margin = maximum(_c(1.0, y_pred) - y_true * y_pred, _c(0.0, y_pred))
    return mean(np.square(margin) if squared else margin, axis=-1)


@tf_broadcasting
def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0), axis=-1), 0/1 labels mapped to -1/1."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    return hinge_rows(y_true, y_pred, _all_binary(y_true))


@tf_broadcasting
def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)**2, axis=-1), 0/1 labels mapped to -1/1."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    return hinge_rows(y_true, y_pred, _all_binary(y_true), squared=True)


@by_rows
@tf_broadcasting
def categorical_hinge(y_true, y_pred):
    """max(max((1 - t) * p) - sum(t * p) + 1, 0) over the last axis."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    one = _c(1.0, y_pred)
    pos = reduce_sum(y_true * y_pred, axis=-1)
    neg = np.max((one - y_true) * y_pred, axis=-1)
    return maximum(neg - pos + one, _c(0.0, y_pred))


# --- cross-entropies --------------------------------------------------------------


def _check_int_axis(axis):
    if isinstance(axis, bool):
        raise TFValueError(f"`axis` must be of type `int`. Received: axis={axis} of type {type(axis)}")


def _smooth_categorical(y_true, label_smoothing):
    """t (1 - ls) + ls / num_classes; num_classes is the *last* dimension whatever ``axis``."""
    if not label_smoothing:
        return y_true
    num_classes = kb.const(y_true.shape[-1], y_true.dtype)
    return y_true * _c(1.0 - label_smoothing, y_true) + _c(label_smoothing, y_true) / num_classes


def _smooth_binary(y_true, label_smoothing):
    if not label_smoothing:
        return y_true
    return y_true * _c(1.0 - label_smoothing, y_true) + _c(0.5 * label_smoothing, y_true)


@by_rows
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(t * log p, axis): from logits via log-softmax; from probabilities Keras divides
    p by its sum and clips to [eps, 1 - eps] (so p = 0 costs -log(1e-7) = 16.118)."""
    _check_int_axis(axis)
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    return kb.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


@by_rows
@tf_broadcasting
def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """sum(alpha (1 - p)**gamma * (-t log p), axis) with p = softmax(logits) (or the given
    probabilities) divided by its sum and clipped to [eps, 1 - eps].

    Keras quirk mirrored: unlike ``categorical_crossentropy``, ``from_logits`` goes through
    the clipped probabilities, so a logit gap of 1e4 costs alpha * 16.118, not 1e4."""
    _check_int_axis(axis)
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        y_pred = kb.softmax(y_pred, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        output = by_row(np.divide, y_pred, reduce_sum(y_pred, axis=axis, keepdims=True))
    output = kb.clip(output, EPS, 1.0 - EPS)
    cce = -y_true * kb.log(output)
    weighting = np.power(_c(1.0, output) - output, _c(gamma, output)) * _c(alpha, output)
    return reduce_sum(weighting * cce, axis=axis)


def _dim(x, axis):
    """``x.shape[axis]`` as Keras reads it from a TensorShape, before any check of the axis:
    an axis outside the rank is Python's IndexError (TFIndexError: StagingError under
    ``tf.function`` and XLA)."""
    try:
        return x.shape[axis]
    except IndexError:
        raise TFIndexError("tuple index out of range") from None


def _canonicalize_axis(axis, ndim):
    """``keras.src.backend.common.backend_utils.canonicalize_axis``: the axis in [0, ndim),
    a ValueError outside [-ndim, ndim)."""
    try:
        return range(ndim)[operator.index(axis)]
    except IndexError:
        raise TFValueError(f"axis {axis} is out of bounds for an array with dimension {ndim}.") from None


@tf_broadcasting
def sparse_categorical_crossentropy_masked(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """(loss, mask) of ``sparse_categorical_crossentropy``; mask is None without ``ignore_class``.

    With ``ignore_class``: labels equal to it become 0, their prediction rows 0 (clipped to
    eps when from probabilities), and their loss 0; the boolean mask of valid entries is
    attached to the result, which the loss classes use to divide by the valid count.

    Keras quirks mirrored: labels of ``y_pred``'s rank are squeezed along ``axis`` after
    reading ``y_true.shape[axis]``, so there an axis outside the rank is an IndexError (see
    :func:`_dim`); with ``ignore_class`` the axis is then canonicalised (ValueError outside
    the rank) and a mask that does not broadcast against ``y_pred`` is the InvalidArgumentError
    of TF's ``where``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and _dim(y_true, axis) == 1:
        y_true = np.squeeze(y_true, axis=axis)
    valid = None
    if ignore_class is not None:
        class_axis = _canonicalize_axis(axis, y_pred.ndim)
        res_shape = tuple(d for i, d in enumerate(y_pred.shape) if i != class_axis)
        valid = y_true != kb.const(ignore_class, y_pred.dtype)
        y_true = select(valid, y_true, np.zeros_like(y_true))
        y_pred = select(np.expand_dims(valid, axis), y_pred, _c(0, y_pred))
    res = kb.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)
    if valid is not None:
        valid = valid.reshape(res_shape)
        res = select(valid, res, _c(0.0, res))
    return res, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """logsumexp(z) - z[label] with z the logits, or z = log(clip(p, eps, 1 - eps)) from
    probabilities (no re-normalisation: the logsumexp does it). Only the last axis."""
    return sparse_categorical_crossentropy_masked(y_true, y_pred, from_logits, ignore_class, axis)[0]


@by_rows
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(-(t log p + (1 - t) log(1 - p)), axis), p clipped to [eps, 1 - eps], or the
    sigmoid cross-entropy from logits; smoothing t (1 - ls) + ls / 2."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = _smooth_binary(y_true, label_smoothing)
    return kb.mean(kb.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=kb.canonical_axis(axis))


@by_rows
def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(w (1 - p_t)**gamma * bce, axis), p_t = t p + (1 - t)(1 - p), w = t alpha +
    (1 - t)(1 - alpha) when balancing, else 1.

    Keras quirk mirrored: with ``from_logits`` the sigmoid output carries its logits, so the
    bce term is the exact sigmoid cross-entropy of the logits (1e4 costs 1e4), while p_t uses
    the unclipped sigmoid; from probabilities the bce term is clipped."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    y_true = _smooth_binary(y_true, label_smoothing)
    if from_logits:
        bce = kb.binary_crossentropy(y_true, y_pred, from_logits=True)
        y_pred = kb.sigmoid(y_pred)
    else:
        bce = kb.binary_crossentropy(y_true, y_pred, from_logits=False)
    one = _c(1.0, y_pred)
    p_t = y_true * y_pred + (one - y_true) * (one - y_pred)
    focal_bce = np.power(one - p_t, _c(gamma, p_t)) * bce
    if apply_class_balancing:
        weight = y_true * _c(alpha, y_true) + (one - y_true) * _c(1.0 - alpha, y_true)
        focal_bce = weight * focal_bce
    return kb.mean(focal_bce, axis=kb.canonical_axis(axis))


def _picked(y_pred: np.ndarray, labels: np.ndarray, q) -> np.ndarray | None:
    """sum(y_pred * one_hot(labels), -1) of a large float ``y_pred`` with finite entries,
    gathered instead of summed: a row's one-hot sum is its picked entry plus zeros (exact),
    or zeros for a label out of range. Only the sign of a zero can differ, which ``p ** q``
    ignores for q > 0. None where that does not hold (the caller sums)."""
    if (y_pred.dtype.kind != "f" or not is_large(y_pred.nbytes) or labels.shape != y_pred.shape[:-1]
            or not np.all(np.greater(q, 0))):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isfinite(np.sum(y_pred)):
            return None
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    flat = labels.reshape(-1)
    inside = (flat >= 0) & (flat < rows.shape[1])
    p = np.zeros(flat.shape, y_pred.dtype)
    p[inside] = rows[np.flatnonzero(inside), flat[inside]]
    return p.reshape(labels.shape)


@tf_broadcasting
def categorical_generalized_cross_entropy(y_true, y_pred, q):
    """(1 - p**q) / q with p = y_pred at the integer label (summed against a one-hot).

    Keras quirk mirrored: a label outside [0, num_classes) one-hots to zeros, so p = 0 and
    the loss is 1/q instead of an error."""
    y_pred = np.asarray(y_pred)
    labels = np.trunc(np.asarray(y_true)).astype(np.int64)
    p = _picked(y_pred, labels, q)
    if p is None:
        one_hot = (labels[..., None] == np.arange(y_pred.shape[-1])).astype(y_pred.dtype)
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in TF
            p = reduce_sum(y_pred * one_hot, axis=-1)
    qq = _c(q, p)
    with np.errstate(divide="ignore", invalid="ignore"):  # p = 0 with q < 0 is inf, q = 0 NaN, as in TF
        return (_c(1, p) - np.power(p, qq)) / qq


def ctc(y_true, y_pred):
    """Per-example CTC loss; ``y_true`` ``[B, L]`` labels padded with 0 (the blank),
    ``y_pred`` ``[B, T, C]`` logits. Other ranks are a ValueError."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 2:
        raise TFValueError(
            "Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` "
            f"in integer format. Received: y_true.shape={y_true.shape}"
        )
    if y_pred.ndim != 3:
        raise TFValueError(
            "Logits `y_pred` are expected to be a tensor of shape "
            f"`(batch_size, max_length, num_classes)`. Received: y_pred.shape={y_pred.shape}"
        )
    return keras_ctc_loss(y_true, y_pred)


# --- segmentation and metric learning -----------------------------------------------


@tf_broadcasting
def dice(y_true, y_pred, axis=None):
    """1 - 2 sum(t p) / (sum(t) + sum(p) + eps), summed over ``axis`` (None: everything,
    a scalar; over 4 MB the sums are fused dot products, ``summation.dot_sum``)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    axis = kb.canonical_axis(axis)
    if axis is None and summation.by_dots(y_true, y_pred):  # fused sums of large inputs
        intersection, sum_true, sum_pred = (summation.dot_sum(y_true, y_pred), summation.dot_sum(y_true),
                                            summation.dot_sum(y_pred))
    else:
        intersection, sum_true, sum_pred = (reduce_sum(y_true * y_pred, axis=axis), reduce_sum(y_true, axis=axis),
                                            reduce_sum(y_pred, axis=axis))
    denominator = sum_true + sum_pred + _c(EPS, y_pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _c(1, y_pred) - _c(2.0, y_pred) * intersection / denominator


@tf_broadcasting
def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """1 - TP / (TP + alpha FP + beta FN + eps) with TP = sum(t p), FP = sum((1 - p) t),
    FN = sum(p (1 - t)) over ``axis``. (Keras's FP/FN naming is swapped relative to the
    usual one: alpha weighs the positives that were missed.) Over 4 MB with axis None the sums
    are fused dot products (``summation.dot_sum``)."""
    y_true, y_pred = _cast_pair(y_true, y_pred)
    axis = kb.canonical_axis(axis)
    one = _c(1, y_pred)
    if axis is None and summation.by_dots(y_true, y_pred):  # fused sums of large inputs
        intersection = summation.dot_sum(y_true, y_pred)
        fp = summation.dot_sum(one - y_pred, y_true)
        fn = summation.dot_sum(y_pred, one - y_true)
    else:
        intersection = reduce_sum(y_true * y_pred, axis=axis)
        fp = reduce_sum((one - y_pred) * y_true, axis=axis)
        fn = reduce_sum(y_pred * (one - y_true), axis=axis)
    denominator = intersection + fp * _c(alpha, fp) + fn * _c(beta, fn) + _c(EPS, fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        return one - intersection / denominator


def circle_masked(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
                  gamma=80, margin=0.4):
    """(loss, mask) of ``circle``; the mask ``loss > 0`` is what the class reduces over."""
    y_pred = np.asarray(y_pred)
    dt = y_pred.dtype
    y_true = np.trunc(np.asarray(y_true)).astype(np.int32)
    ref_embeddings = y_pred if ref_embeddings is None else np.asarray(ref_embeddings)
    ref_labels = y_true if ref_labels is None else np.trunc(np.asarray(ref_labels)).astype(np.int32)
    similarity = np.asarray(matmul(y_pred, ref_embeddings.T)).astype(dt, copy=False)
    p_loss = np.empty(similarity.shape[:1], dt)
    n_loss = np.empty(similarity.shape[:1], dt)
    columns = np.arange(ref_labels.size)

    def work(rows):
        # Every step is element-wise or along a row, so a block of rows gives the same bits.
        sim = similarity[rows]
        distances = np.maximum(_c(1, sim) - sim, _c(0.0, sim))
        positive = y_true.reshape(-1, 1)[rows] == ref_labels.reshape(-1, 1).T
        negative = ~positive
        if remove_diagonal:  # off the diagonal: ~eye, a block of its rows
            positive &= columns != np.arange(similarity.shape[0])[rows, None]
        pos_weights = np.maximum((_c(margin, distances) + distances) * positive.astype(dt), _c(0.0, distances))
        neg_weights = np.maximum((_c(1 + margin, distances) - distances) * negative.astype(dt), _c(0.0, distances))
        pos_wdists = _c(-1 * gamma, distances) * pos_weights * (_c(margin, distances) - distances)
        neg_wdists = _c(gamma, distances) * neg_weights * (_c(1 - margin, distances) - distances)
        neg_inf = _c(-np.inf, distances)
        p_loss[rows] = logsumexp(select(positive, pos_wdists, neg_inf), axis=1)
        n_loss[rows] = logsumexp(select(negative, neg_wdists, neg_inf), axis=1)

    if similarity.ndim == 2:
        for_row_blocks(work, similarity.shape[0], max(1, similarity.shape[1]), block_dtype=dt)
    else:
        work(slice(None))
    loss = kb.softplus(p_loss + n_loss)
    return loss, loss > 0


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True, gamma=80, margin=0.4):
    """Circle loss (Sun et al. 2020) on L2-normalised embeddings, per query:
    softplus(logsumexp_pos(-gamma a_p (m - d)) + logsumexp_neg(gamma a_n (1 - m - d)))
    with cosine distances d = max(1 - <x, y>, 0), a_p = max(m + d, 0) and
    a_n = max(1 + m - d, 0). A query without positives (or negatives) gets logsumexp of
    nothing = -inf, hence loss softplus(-inf) = 0."""
    return circle_masked(y_true, y_pred, ref_labels, ref_embeddings, remove_diagonal, gamma, margin)[0]
