"""Reference for ``tf.nn`` losses and activations (TF 2.21 semantics).

Each function follows TF's own sequence of operations in TF's compute dtype, so the
rounding of float16/bfloat16 results matches TF as closely as the dtype allows.
"""
from __future__ import annotations

import numpy as np

from harness.reference import dtypes, rowblocks, stable, summation
from harness.reference.errors import SOFTMAX_AXIS, InvalidArgumentError, TFTypeError, TFValueError, check_axis

_BLOCKED = ("float32", "float64", "bfloat16")


def _same_shape(name: str, a: np.ndarray, b: np.ndarray, a_name: str, b_name: str) -> None:
    if np.shape(a) != np.shape(b):
        raise TFValueError(
            f"{name}: `{a_name}` and `{b_name}` must have the same shape, received "
            f"({tuple(np.shape(a))} vs {tuple(np.shape(b))})."
        )


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.zeros_like(x))


# --- activations --------------------------------------------------------------------


def _in_dtype(fn, x: np.ndarray) -> np.ndarray:
    """fn evaluated in float32 on ``x`` and rounded to x's dtype (one Eigen element op)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return fn(x.astype(np.float32)).astype(x.dtype)


def _shifted_and_exp_sum(x: np.ndarray):
    """Low-precision softmax prologue as TF's Eigen kernels run it: s = x - max(x) and
    sum(exp(s)) along the last axis, every step rounded to x's dtype."""
    shifted = _in_dtype(lambda f: f - np.max(f, axis=-1, keepdims=True), x)
    total = summation.eigen_sum(_in_dtype(np.exp, shifted), axis=-1, keepdims=True)
    return shifted, total


def _check_axis(x: np.ndarray, axis: int) -> None:
    """TF's softmax ops reject an axis outside [-rank, rank) (InvalidArgumentError).
    Scalars are left to NumPy: TF's own error for them depends on the dtype."""
    if x.ndim:
        check_axis(axis, x.ndim, SOFTMAX_AXIS)


def _is_last(x: np.ndarray, axis: int) -> bool:
    """``axis`` is the last axis of a non-empty float32/float64/bfloat16 input: its rows
    can be processed in blocks (``rowblocks.for_row_blocks``)."""
    return x.dtype.name in _BLOCKED and x.ndim >= 1 and x.size > 0 and axis in (-1, x.ndim - 1)


def _along_last(fn, x: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(x, axis, -1)
    return np.moveaxis(fn(moved), -1, axis)


def softmax(logits, axis=None):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) along ``axis`` (None = -1).

    Mirrors TF's CPU kernels per dtype: float16 runs Eigen's element ops in float16
    (exp(s) * (1 / sum), the sum in Eigen's order, see ``summation.eigen_sum``); bfloat16
    is computed in float32 and rounded once; float32/float64 in their own precision.
    A row of all ``-inf`` is NaN. float32/float64/bfloat16 along the last axis run in row
    blocks (``rowblocks.softmax_last_axis``: bounded extra memory, the same results below
    ``rowblocks.FUSED_MIN_BYTES``; larger inputs take TF's kernel formula exp(s) * (1 / sum),
    the sums as fused dot products, or skip the shift on rows where that is safe:
    ``rowblocks.unshifted_safe``).
    An axis outside [-rank, rank) is TF's InvalidArgumentError."""
    x = np.asarray(logits)
    axis = -1 if axis is None else axis
    _check_axis(x, axis)
    if x.dtype.name == "bfloat16":
        if _is_last(x, axis):
            return rowblocks.softmax_last_axis(x, np.float32)
        return stable.softmax(x.astype(np.float32), axis=axis).astype(x.dtype)
    if x.dtype.name != "float16":
        return rowblocks.softmax_last_axis(x) if _is_last(x, axis) else stable.softmax(x, axis=axis)

    def half_softmax(v):
        shifted, total = _shifted_and_exp_sum(v)
        inverse = _in_dtype(lambda f: 1 / f, total)
        e = _in_dtype(np.exp, shifted)
        return (e.astype(np.float32) * inverse.astype(np.float32)).astype(v.dtype)

    return _along_last(half_softmax, x, axis)


def log_softmax(logits, axis=None):
    """(x - max x) - log(sum(exp(x - max x))) along ``axis`` (None = -1), TF's LogSoftmax.

    float16/bfloat16 run Eigen's element ops in that dtype (sum in Eigen's order, see
    ``summation.eigen_sum``). An entry of ``-inf`` gives ``-inf``, a row of all ``-inf`` NaN.
    float32/float64 along the last axis run in row blocks (``rowblocks.log_softmax_last_axis``;
    from ``rowblocks.FUSED_MIN_BYTES`` on, the row sums are fused dot products and safe rows skip
    the shift: ``rowblocks.unshifted_safe``).
    An axis outside [-rank, rank) is TF's InvalidArgumentError."""
    x = np.asarray(logits)
    axis = -1 if axis is None else axis
    _check_axis(x, axis)
    if not dtypes.is_low(x):
        if _is_last(x, axis):
            return rowblocks.log_softmax_last_axis(x)
        return stable.log_softmax_shifted(x, axis=axis)

    def low_log_softmax(v):
        shifted, total = _shifted_and_exp_sum(v)
        log_total = _in_dtype(np.log, total)
        return (shifted.astype(np.float32) - log_total.astype(np.float32)).astype(v.dtype)

    return _along_last(low_log_softmax, x, axis)


# --- softmax cross-entropy ------------------------------------------------------------


def softmax_cross_entropy_with_logits(labels, logits, axis=-1):
    """loss = sum_c labels_c * (log(sum_k exp(s_k)) - s_c), s = logits - max(logits).

    TF quirks mirrored:
    * float16/bfloat16 logits are computed in float32 and the loss is cast back;
    * this is the fused kernel's formula, so a ``-inf`` logit gives NaN even where its
      label is 0 (0 * inf), while the sparse op gives a finite loss for the same row;
    * ``axis`` must be -1 or in [0, rank): TF moves it last with ``range(axis)``, so
      any other negative axis (-2, ...) fails with InvalidArgumentError
      ("Requires start <= limit");
    * after ``axis`` is moved last both inputs are flattened to 2-D and must be
      broadcastable there (labels of shape [1, C] broadcast over the batch); a result
      whose size differs from ``logits.shape[:-1]`` fails TF's reshape
      (InvalidArgumentError); a scalar input fails TF's flattening (InvalidArgumentError).

    Rows are processed in blocks (``rowblocks.xent_rows``): the inputs are rounded to the
    compute dtype a block at a time, so the extra memory stays bounded.
    """
    logits = np.asarray(logits)
    out_dtype = logits.dtype
    compute_dtype = dtypes.compute_dtype(logits)
    labels = np.asarray(labels)
    if labels.ndim == 0 or logits.ndim == 0:
        raise InvalidArgumentError(
            "Expected begin[0] == 0 (got -1) and size[0] == 0 (got 1) when input.dim_size(0) == 0 "
            f"({'labels' if labels.ndim == 0 else 'logits'} is a scalar: there is no class axis)"
        )
    if axis is None:
        axis = -1
    if axis != -1:
        if not 0 <= axis < logits.ndim:
            raise InvalidArgumentError(
                f"Requires start <= limit when delta > 0 (axis {axis} for rank {logits.ndim}; "
                "only -1 or a non-negative axis is accepted)"
            )
        if labels.ndim != logits.ndim:
            raise InvalidArgumentError("labels and logits must have the same rank to move `axis`")
        logits = np.moveaxis(logits, axis, -1)
        labels = np.moveaxis(labels, axis, -1)
    out_shape = logits.shape[:-1]
    logits2 = logits.reshape(-1, logits.shape[-1])
    labels2 = labels.reshape(-1, labels.shape[-1])
    try:
        shape2 = np.broadcast_shapes(labels2.shape, logits2.shape)
    except ValueError:
        raise InvalidArgumentError(
            f"logits and labels must be broadcastable: logits_size={list(logits2.shape)} "
            f"labels_size={list(labels2.shape)}"
        ) from None
    if shape2[0] != int(np.prod(out_shape)):
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {shape2[0]} values, but the requested shape "
            f"has {int(np.prod(out_shape))}"
        )
    cost = rowblocks.xent_rows(np.broadcast_to(labels2, shape2), np.broadcast_to(logits2, shape2), compute_dtype)
    return cost.reshape(out_shape).astype(out_dtype)


def require_class_axis_shapes(labels: np.ndarray, logits: np.ndarray, messages: tuple[str, str]) -> None:
    """Class ids must have the logits' shape without the class axis: a rank, then a shape
    mismatch is a ValueError with ``messages[0]`` / ``messages[1]`` (formatted with both
    shapes; TF's and Keras' wordings differ)."""
    if labels.ndim != logits.ndim - 1:
        raise TFValueError(messages[0].format(labels.shape, logits.shape))
    if labels.shape != logits.shape[:-1]:
        raise TFValueError(messages[1].format(labels.shape, logits.shape))


def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """loss = log(sum_k exp(s_k)) - s[label], s = logits - max(logits), any leading rank.

    TF quirks mirrored: float16 logits are computed in float32 and cast back, but
    bfloat16 is not upcast by the Python wrapper: its kernel rounds every step to
    bfloat16 (sum in Eigen's order, see ``summation.eigen_sum``). Static
    shape problems are ``ValueError`` (scalar logits; labels rank != logits rank - 1;
    labels shape != logits.shape[:-1]); a label outside [0, num_classes) is an
    ``InvalidArgumentError`` from the CPU kernel ("Received a label value of ...").
    float16/float32/float64 rows are processed in blocks (``rowblocks.sparse_xent_rows``; large
    inputs skip the shift on rows where that is safe).
    """
    labels = np.asarray(labels)
    logits = np.asarray(logits)
    if logits.ndim == 0:
        raise TFValueError("`logits` cannot be a scalar.")
    require_class_axis_shapes(labels, logits, (
        "`labels.shape.rank` must equal `logits.shape.rank - 1`. Received: labels.shape={} and logits.shape={}",
        "`labels.shape` must equal `logits.shape` except for the last dimension. Received: labels.shape={} and "
        "logits.shape={}"))
    n = logits.shape[-1]
    bad = (labels < 0) | (labels >= n)
    if np.any(bad):
        value = labels[bad].flat[0]
        raise InvalidArgumentError(
            f"Received a label value of {value} which is outside the valid range of [0, {n})."
        )
    if logits.dtype.name == "bfloat16":
        index = labels[..., None].astype(np.intp)
        shifted, total = _shifted_and_exp_sum(logits)
        picked = np.take_along_axis(shifted, index, axis=-1)
        log_total = _in_dtype(np.log, total)
        return (log_total.astype(np.float32) - picked.astype(np.float32)).astype(logits.dtype)[..., 0]
    compute = dtypes.compute_dtype(logits)
    loss = rowblocks.sparse_xent_rows(logits.reshape(labels.size, n), labels.reshape(-1).astype(np.intp), compute)
    return loss.reshape(labels.shape).astype(logits.dtype)


# --- sigmoid-family losses ----------------------------------------------------------


def sigmoid_cross_entropy_with_logits(labels=None, logits=None):
    """loss = max(x, 0) - x * z + log1p(exp(-|x|)), x = logits, z = labels.

    TF's exact op order, in the input dtype. Labels and logits must have equal shapes
    (``ValueError``); at x = -inf with z = 0 the product -x * z is NaN, as in TF. Large
    inputs are computed a block of elements at a time (``rowblocks.by_elements``)."""
    if labels is None or logits is None:
        raise TFValueError("Both `labels` and `logits` must be provided")
    logits = np.asarray(logits)
    labels = np.asarray(labels).astype(logits.dtype, copy=False)
    _same_shape("sigmoid_cross_entropy_with_logits", logits, labels, "logits", "labels")
    return rowblocks.by_elements(_sigmoid_xent_terms, labels, logits, dtype=logits.dtype)


def _sigmoid_xent_terms(labels: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """max(x, 0) - x * z + log1p(exp(-|x|)) element by element, two temporaries."""
    zero = logits.dtype.type(0)
    cond = logits >= zero
    with np.errstate(invalid="ignore", over="ignore"):
        loss = stable.select(cond, logits, zero)  # relu(x)
        loss -= np.multiply(logits, labels)
        tail = stable.select(cond, -logits, logits)  # -|x|
        np.exp(tail, out=tail)
        loss += np.log1p(tail, out=tail)
    return loss


def weighted_cross_entropy_with_logits(labels, logits, pos_weight):
    """loss = (1 - z) * x + (1 + (q - 1) * z) * (log1p(exp(-|x|)) + max(-x, 0)), q = pos_weight.

    TF's op order, in the input dtype; ``pos_weight`` is cast to the logits dtype. Large
    inputs with a scalar ``pos_weight`` are computed a block of elements at a time
    (``rowblocks.by_elements``)."""
    logits = np.asarray(logits)
    labels = np.asarray(labels).astype(logits.dtype, copy=False)
    _same_shape("weighted_cross_entropy_with_logits", logits, labels, "logits", "labels")
    pos_weight = np.asarray(pos_weight).astype(logits.dtype)

    def terms(labels, logits):
        one = logits.dtype.type(1)
        log_weight = one + (pos_weight - one) * labels
        with np.errstate(invalid="ignore", over="ignore"):
            return (one - labels) * logits + log_weight * (np.log1p(np.exp(-np.abs(logits))) + _relu(-logits))

    if pos_weight.ndim:
        return terms(labels, logits)
    return rowblocks.by_elements(terms, labels, logits, dtype=logits.dtype)


def log_poisson_loss(targets, log_input, compute_full_loss=False):
    """loss = exp(c) - c * z, c = log_input, z = targets; with ``compute_full_loss`` plus
    the Stirling term z * log(z) - z + 0.5 * log(2 * pi * z) where z > 1 (0 for 0 <= z <= 1).

    In the input dtype; ``2 * pi`` is rounded to that dtype first, as TF does."""
    log_input = np.asarray(log_input)
    targets = np.asarray(targets)
    _same_shape("log_poisson_loss", log_input, targets, "log_input", "targets")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = np.exp(log_input) - log_input * targets
        if compute_full_loss:
            dt = targets.dtype.type
            stirling = (targets * np.log(targets)) - targets + (
                dt(0.5) * np.log(dt(2 * np.pi) * targets)
            )
            zeros = np.zeros_like(targets)
            result = result + stable.select((targets >= zeros) & (targets <= dt(1)), zeros, stirling)
    return result


# --- reductions over losses ---------------------------------------------------------


def _half_squares(t: np.ndarray) -> np.ndarray:
    """t * t * 0.5, rounding after each product (one temporary)."""
    out = np.asarray(np.multiply(t, t))  # a 0-d array, not a scalar, for a 0-d t
    return np.multiply(out, t.dtype.type(0.5), out=out)


def l2_loss(t):
    """sum(t ** 2) / 2, TF's L2Loss kernel: (t * t * 0.5).sum() as Eigen runs it.

    float16/bfloat16 round every square and accumulate in their own precision in Eigen's
    order (``summation.eigen_sum``), so a float16 sum above 65504 is ``inf``. Bit-exact for
    bfloat16 and float16 (TF with one intra-op thread; also with 2-8 up to 100,000 elements).
    float32/float64 are summed in NumPy's pairwise order (``np.sum``); large ones
    (``summation.by_dots``) as ``summation.dot_sum(t, t) * 0.5``, fused dot products of rows
    (the same sum but for the order of the additions: halving is exact, unless a sum of squares
    overflows where its half would not)."""
    t = np.asarray(t)
    with np.errstate(over="ignore"):
        if dtypes.is_low(t):
            halves = _in_dtype(lambda f: f * f, t.reshape(-1))
            halves = _in_dtype(lambda f: f * np.float32(0.5), halves)
            return np.asarray(summation.eigen_sum(halves))
        if summation.by_dots(t):
            return np.asarray(summation.dot_sum(t, t) * t.dtype.type(0.5))
        return summation.sum_of(_half_squares, t)


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """sum(per_example_loss * sample_weight) / global_batch_size, 0 when that is 0.

    ``global_batch_size`` defaults to ``per_example_loss.shape[0]`` (one replica).
    TF quirks mirrored: with ``sample_weight`` the product is formed in float32 (TF's
    ``scale_losses_by_sample_weight``) and cast back, so float64 losses lose precision
    only when weighted; a weight of rank one less than the losses gets a trailing
    axis, one more loses its last. Errors: rank-0 losses ``ValueError``; a non-integer
    ``global_batch_size`` ``TypeError``; a negative one ``InvalidArgumentError``.
    Integer losses are summed in their own dtype (wrapping around, as TF's do; weighted,
    they are cast back to it first, truncated toward zero) and divided as ``tf.math.truediv``
    divides them: in float32 for 8- and 16-bit integers, float64 for 32- and 64-bit ones
    (``dtypes.truediv_dtype``).
    """
    per_example_loss = np.asarray(per_example_loss)
    input_dtype = per_example_loss.dtype
    if per_example_loss.ndim == 0:
        raise TFValueError(
            "Invalid value passed for `per_example_loss`. Expected a tensor with at least rank 1."
        )
    if sample_weight is not None:
        losses = per_example_loss.astype(np.float32)
        weights = np.asarray(sample_weight).astype(np.float32)
        if weights.ndim != 0:
            if weights.ndim - losses.ndim == 1:
                if weights.shape[-1] != 1:
                    raise InvalidArgumentError("Can not squeeze dim[-1], expected a dimension of 1")
                weights = weights[..., 0]
            elif losses.ndim - weights.ndim == 1:
                weights = weights[..., None]
        try:
            per_example_loss = np.multiply(losses, weights).astype(input_dtype)
        except ValueError:
            raise InvalidArgumentError(
                f"Incompatible shapes: {list(losses.shape)} vs. {list(weights.shape)}"
            ) from None
    if global_batch_size is None:
        global_batch_size = per_example_loss.shape[0]
    gbs = np.asarray(global_batch_size)
    if gbs.ndim != 0:
        raise InvalidArgumentError("global_batch_size must be scalar.")
    if not np.issubdtype(gbs.dtype, np.integer):
        raise TFTypeError("global_batch_size must be an integer.")
    if gbs < 0:
        raise InvalidArgumentError("global_batch_size must be non-negative.")
    loss = summation.reduce_sum(per_example_loss)
    out = dtypes.truediv_dtype(input_dtype)
    return stable.div_no_nan(loss.astype(out), gbs.astype(input_dtype).astype(out)).astype(out)


def scale_regularization_loss(regularization_loss):
    """sum(regularization_loss) / num_replicas, with one replica (no strategy: the division by
    1 is exact, and left out of the large path). A large float32/float64 input
    (``summation.by_dots``) is summed by ``summation.dot_sum``. Integers are summed in their
    own dtype (wrapping around as TF's do) and divided in float32 or float64
    (``dtypes.truediv_dtype``)."""
    x = np.asarray(regularization_loss)
    if summation.by_dots(x):
        return np.asarray(summation.dot_sum(x))
    out = dtypes.truediv_dtype(x)
    return np.asarray(summation.reduce_sum(x).astype(out) / out.type(1)).astype(out)


# --- sampled losses -----------------------------------------------------------------

_FLT_MAX = np.float32(np.finfo(np.float32).max)


def _accidental_hit_mask(labels, sampled, num_true):
    """Boolean [batch, num_sampled]: sampled[j] is one of row i's true labels.

    TF's ComputeAccidentalHits keeps one position per distinct sampled id (the last), so
    a candidate sampled twice is masked only at its last position. Vectorised: the distinct
    ids sorted, with their last positions, and each true label looked up among them."""
    mask = np.zeros((labels.shape[0], sampled.shape[0]), dtype=bool)
    if sampled.size == 0:
        return mask
    ids, first_from_end = np.unique(sampled[::-1], return_index=True)
    last_pos = sampled.size - 1 - first_from_end
    true = labels[:, :num_true]
    at = np.minimum(np.searchsorted(ids, true), ids.size - 1)
    rows, cols = np.nonzero(ids[at] == true)
    mask[rows, last_pos[at[rows, cols]]] = True
    return mask


def _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_true,
                            sampled_values, subtract_log_q=True, remove_accidental_hits=False):
    """TF's ``_compute_sampled_logits`` for one (unpartitioned) weight matrix.

    logits = [inputs . w[true] + b[true], inputs . w[sampled] + b[sampled]]; accidental
    hits add float32's -FLT_MAX cast to the logits dtype (``-inf`` in float16/bfloat16);
    ``subtract_log_q`` subtracts log(expected_count). Labels are [1/num_true, ..., 0, ...].
    Everything is computed in the inputs' dtype; a large product on one BLAS thread
    (``rowblocks.matmul``)."""
    inputs = np.asarray(inputs)
    dtype = inputs.dtype
    weights = np.asarray(weights).astype(dtype)
    biases = np.asarray(biases).astype(dtype)
    labels = np.asarray(labels).astype(np.int64)
    labels = labels.reshape(-1, num_true)
    sampled, true_expected, sampled_expected = sampled_values
    sampled = np.asarray(sampled).astype(np.int64)
    num_classes = weights.shape[0]
    ids = np.concatenate([labels.reshape(-1), sampled])
    if np.any((ids < 0) | (ids >= num_classes)):
        bad = ids[(ids < 0) | (ids >= num_classes)][0]
        raise InvalidArgumentError(f"indices[...] = {bad} is not in [0, {num_classes})")
    wide = dtypes.compute_dtype(dtype)
    x = inputs.astype(wide)
    true_w = weights[labels].astype(wide)  # [batch, num_true, dim]
    true_logits = np.sum(x[:, None, :] * true_w, axis=-1).astype(dtype) + biases[labels]
    sampled_logits = rowblocks.matmul(x, weights[sampled].astype(wide).T).astype(dtype) + biases[sampled]
    if remove_accidental_hits:
        mask = _accidental_hit_mask(labels, sampled, num_true)
        with np.errstate(over="ignore"):
            penalty = np.asarray(-_FLT_MAX).astype(dtype)
        sampled_logits = sampled_logits + stable.select(mask, penalty, dtype.type(0))
    if subtract_log_q:
        with np.errstate(divide="ignore", invalid="ignore"):
            true_logits = true_logits - np.log(np.asarray(true_expected).astype(dtype))
            sampled_logits = sampled_logits - np.log(np.asarray(sampled_expected).astype(dtype))
    out_logits = np.concatenate([true_logits, sampled_logits], axis=1)
    out_labels = np.concatenate(
        [np.ones_like(true_logits) / dtype.type(num_true), np.zeros_like(sampled_logits)], axis=1
    )
    return out_logits, out_labels


def _check_sampled_shapes(labels, inputs, num_sampled, num_true, sampled_values):
    if np.size(labels) != np.shape(inputs)[0] * num_true:
        raise InvalidArgumentError(
            f"labels must hold batch_size * num_true = {np.shape(inputs)[0] * num_true} ids, "
            f"got shape {list(np.shape(labels))}"
        )
    if np.shape(sampled_values[0]) != (num_sampled,):
        raise InvalidArgumentError(
            f"sampled_candidates must have shape [{num_sampled}], got {list(np.shape(sampled_values[0]))}"
        )


def _given_sampled_logits(weights, biases, labels, inputs, num_sampled, num_true, sampled_values,
                          remove_accidental_hits):
    """``_compute_sampled_logits`` (log Q subtracted) for the ``sampled_values`` a case gives."""
    if sampled_values is None:
        raise TFValueError("the reference needs `sampled_values` (TF would sample at random)")
    _check_sampled_shapes(labels, inputs, num_sampled, num_true, sampled_values)
    return _compute_sampled_logits(weights, biases, labels, inputs, num_sampled, num_true, sampled_values,
                                   subtract_log_q=True, remove_accidental_hits=remove_accidental_hits)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
                         sampled_values=None, remove_accidental_hits=True, seed=None):
    """Softmax cross-entropy over [true, sampled] logits from ``_compute_sampled_logits``.

    ``sampled_values`` = (sampled_candidates, true_expected_count, sampled_expected_count)
    must be given (TF would draw them at random). TF quirk: in float16/bfloat16 an
    accidental hit becomes a ``-inf`` logit, and the softmax kernel's 0 * inf makes that
    row's loss NaN (float32/float64 use -FLT_MAX and stay finite)."""
    logits, out_labels = _given_sampled_logits(weights, biases, labels, inputs, num_sampled, num_true,
                                               sampled_values, remove_accidental_hits)
    return softmax_cross_entropy_with_logits(out_labels, logits)


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
             sampled_values=None, remove_accidental_hits=False):
    """Row sums of sigmoid cross-entropy over [true, sampled] logits (labels 1/num_true, 0).

    ``sampled_values`` must be given. TF quirk: in float16/bfloat16 an accidental hit is
    a ``-inf`` logit with label 0, and -x * z = inf * 0 makes that row NaN."""
    logits, out_labels = _given_sampled_logits(weights, biases, labels, inputs, num_sampled, num_true,
                                               sampled_values, remove_accidental_hits)
    per_logit = sigmoid_cross_entropy_with_logits(labels=out_labels, logits=logits)
    wide = dtypes.compute_dtype(per_logit)
    return np.sum(per_logit.astype(wide), axis=1).astype(per_logit.dtype)
