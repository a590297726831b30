"""Analytic reference gradients (vector-Jacobian products): the cross-entropy family, the
reductions of tf.compat.v1.losses / Keras / tf.nn.compute_average_loss and
tf.clip_by_global_norm (CTC's is in :mod:`harness.reference.ctc`).

Each ``*_vjp`` takes the forward inputs and ``g``, the gradient flowing into the op's output
as TF holds it (see :func:`tf_cotangent`), and returns the gradients TF's registered
gradient functions compute, op by op, in the dtype TF computes them in:

* float32/float64 in their own precision; float16/bfloat16 element ops as Eigen runs them
  (each one in float32, rounded to the dtype: :func:`ew`), reductions as ``tf.reduce_sum``
  does (:func:`harness.reference.summation.reduce_sum`); eagerly this reproduces TF's float16/bfloat16 gradients bit
  for bit;
* where TF upcasts (the softmax cross-entropies for float16/bfloat16, the reductions of
  ``tf.compat.v1.losses`` and the Keras loss classes in float32), the gradient is
  formed in float32 and cast back to the input dtype, as the ``Cast`` gradient does.

Mathematically, with p = softmax(x) along the class axis and s = sigmoid(x):

* softmax:               dx = (g - sum(g p)) p
* log_softmax:           dx = g - sum(g) p
* softmax xent:          dx = g (p - labels) (TF's formula: the derivative only when the
                         labels sum to 1),  dlabels = -g log_softmax(x)
* sparse softmax xent:   dx = g (p - onehot(labels))
* sigmoid xent:          dx = g (s - z),  dz = -g x
* weighted sigmoid xent: dx = g ((1 - z) - l (1 - s)),  dz = g ((q - 1) softplus(-x) - x),
                         dq = g z softplus(-x),  l = 1 + (q - 1) z
* reductions:            dloss_i = g w_i / n (weighted sum over n), plus dw_i = g loss_i / n
* Keras clip(p, eps, 1 - eps): passes the gradient only inside [eps, 1 - eps] (ties pass)
* clip_by_global_norm:   dt_i = c_i s + t_i dS, s = clip / max(n, clip), n the global norm
"""
from __future__ import annotations

import numpy as np

from harness.reference import nn, stable
from harness.reference.dtypes import compute_dtype, is_low
from harness.reference.summation import eigen_sum, reduce_sum
from harness.reference.keras_backend import EPSILON
from harness.reference.reductions import (
    V1_MEAN,
    V1_NONE,
    V1_SUM,
    V1_SUM_OVER_BATCH_SIZE,
    keras_apply_mask,
    keras_squeeze_or_expand_to_same_rank,
    v1_num_present,
)

def tf_cotangent(cotangent, out_dtype) -> np.ndarray:
    """The gradient TF feeds into an output of ``out_dtype`` for the harness's cotangent.

    The harness differentiates ``sum(cast(output, float32) * float32(cotangent))`` (float64
    outputs stay float64), so the output receives ``float32(cotangent)`` rounded to its
    dtype by the ``Cast`` gradient."""
    c = np.asarray(cotangent, dtype=np.float64)
    if np.dtype(out_dtype) == np.float64:
        return c
    return c.astype(np.float32).astype(out_dtype)


def ew(fn, dtype, *xs) -> np.ndarray:
    """One element-wise TF op in ``dtype``; float16/bfloat16 evaluated in float32 and
    rounded once, as Eigen does."""
    dtype = np.dtype(dtype)
    work = np.float32 if is_low(dtype) else dtype
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return np.asarray(fn(*[np.asarray(x).astype(work) for x in xs])).astype(dtype)


def unbroadcast(grad, shape) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast
    (TF's ``BroadcastGradientArgs`` + ``reduce_sum`` + ``reshape``)."""
    grad = np.asarray(grad)
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return reduce_sum(grad, axis=axes).reshape(shape)


def div_no_nan(x, y) -> np.ndarray:
    return np.asarray(stable.div_no_nan(x, y)).astype(np.result_type(x, y))


# --- tf.nn ------------------------------------------------------------------------------


def _axis_last(x, axis):
    return np.moveaxis(np.asarray(x), axis, -1)


def softmax_vjp(logits, g, axis=None) -> np.ndarray:
    """TF's ``_SoftmaxGrad``: (g - reduce_sum(g * y, -1, keepdims)) * y with y the Softmax
    output, in the logits dtype (along ``axis``: TF transposes it last and back)."""
    axis = -1 if axis is None else axis
    y = _axis_last(nn.softmax(logits, axis=axis), axis)
    g = _axis_last(np.asarray(g).astype(y.dtype), axis)
    inner = reduce_sum(ew(np.multiply, y.dtype, g, y), axis=-1, keepdims=True)
    return np.moveaxis(ew(np.multiply, y.dtype, ew(np.subtract, y.dtype, g, inner), y), -1, axis)


def log_softmax_vjp(logits, g, axis=None) -> np.ndarray:
    """TF's ``_LogSoftmaxGrad``: g - reduce_sum(g, -1, keepdims) * exp(y), y the LogSoftmax
    output, in the logits dtype."""
    axis = -1 if axis is None else axis
    y = _axis_last(nn.log_softmax(logits, axis=axis), axis)
    g = _axis_last(np.asarray(g).astype(y.dtype), axis)
    total = reduce_sum(g, axis=-1, keepdims=True)
    out = ew(np.subtract, y.dtype, g, ew(np.multiply, y.dtype, total, ew(np.exp, y.dtype, y)))
    return np.moveaxis(out, -1, axis)


def _kernel_softmax(x):
    """exp(s) / sum(exp(s)), s = x - max(x) along the last axis: the xent kernels' softmax."""
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(stable.shift_by_max(x, -1))
        return e / np.sum(e, axis=-1, keepdims=True)


def softmax_xent_vjp(labels, logits, g, axis=-1) -> tuple[np.ndarray, np.ndarray]:
    """(dlabels, dlogits) of ``tf.nn.softmax_cross_entropy_with_logits``.

    TF's ``_SoftmaxCrossEntropyWithLogitsGrad``: dlogits = g[..., None] * backprop with the
    kernel's second output backprop = exp(s) / sum(exp(s)) - labels, and dlabels =
    g[..., None] * -LogSoftmax(logits) (TF 2 backpropagates into the labels). float16 and
    bfloat16 are upcast to float32 by the wrapper, so both are formed in float32 and cast
    back; labels broadcast against the logits get their gradient summed back."""
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    out_dtype, work = logits.dtype, compute_dtype(logits.dtype)
    axis = -1 if axis is None else axis
    x = _axis_last(logits.astype(work), axis)
    z = _axis_last(labels.astype(work), axis) if labels.ndim == logits.ndim else labels.astype(work)
    gw = np.asarray(g).astype(out_dtype).astype(work)[..., None]
    with np.errstate(invalid="ignore", over="ignore"):
        dlogits = gw * (_kernel_softmax(x) - z)
        dlabels = gw * -stable.log_softmax_shifted(x, axis=-1)
    dlogits = np.moveaxis(dlogits, -1, axis).astype(out_dtype)
    dlabels = np.moveaxis(dlabels, -1, axis) if labels.ndim == logits.ndim else dlabels
    return unbroadcast(dlabels, labels.shape).astype(labels.dtype), dlogits


def _sparse_backprop_bfloat16(labels, logits) -> np.ndarray:
    """The sparse kernel's backprop in bfloat16: every step rounded to bfloat16, the sum in
    Eigen's order (exp(s) / sum - onehot)."""
    dt = logits.dtype
    shifted = ew(lambda f: f - np.max(f, axis=-1, keepdims=True), dt, logits)
    e = ew(np.exp, dt, shifted)
    total = eigen_sum(e, axis=-1, keepdims=True)
    onehot = labels[..., None] == np.arange(logits.shape[-1])
    return ew(np.subtract, dt, ew(np.divide, dt, e, total), onehot.astype(dt))


def sparse_xent_vjp(labels, logits, g) -> np.ndarray:
    """dlogits of ``tf.nn.sparse_softmax_cross_entropy_with_logits``:
    g[..., None] * (exp(s) / sum(exp(s)) - onehot(labels)) (``_SparseSoftmaxCrossEntropy
    WithLogitsGrad``; labels get none). float16 is upcast to float32 by the wrapper;
    bfloat16 is not: its kernel and the product run in bfloat16."""
    logits = np.asarray(logits)
    labels = np.asarray(labels).astype(np.intp)
    dt = logits.dtype
    if dt.name == "bfloat16":
        return ew(np.multiply, dt, np.asarray(g).astype(dt)[..., None], _sparse_backprop_bfloat16(labels, logits))
    work = compute_dtype(dt)
    onehot = (labels[..., None] == np.arange(logits.shape[-1])).astype(work)
    gw = np.asarray(g).astype(dt).astype(work)[..., None]
    return (gw * (_kernel_softmax(logits.astype(work)) - onehot)).astype(dt)


def sigmoid_xent_vjp(labels, logits, g) -> tuple[np.ndarray, np.ndarray]:
    """(dlabels, dlogits) of ``tf.nn.sigmoid_cross_entropy_with_logits``, TF's autodiff of
    relu(x) - x * z + log1p(exp(-|x|)) with relu and -|x| as ``where(x >= 0, ...)``:
    dx = [x >= 0] g - g z -/+ g e / (1 + e) (e = exp(-|x|); Log1p's gradient multiplies by
    reciprocal(1 + e), Exp's by e), i.e. g (sigmoid(x) - z); dz = -g x. In the logits dtype."""
    x = np.asarray(logits)
    dt = x.dtype
    z = np.asarray(labels).astype(dt)
    g = np.asarray(g).astype(dt)
    cond = x >= np.zeros_like(x)
    neg_abs = stable.select(cond, -x, x)
    e = ew(np.exp, dt, neg_abs)
    d_neg_abs = ew(np.multiply, dt, ew(np.multiply, dt, g, ew(np.reciprocal, dt, ew(np.add, dt, 1, e))), e)
    minus_g = -g
    zero = np.zeros_like(g)
    dx = stable.select(cond, g, zero)
    dx = ew(np.add, dt, dx, ew(np.multiply, dt, minus_g, z))
    dx = ew(np.add, dt, dx, stable.select(cond, -d_neg_abs, d_neg_abs))
    dz = ew(np.multiply, dt, x, minus_g)
    return dz, dx


def weighted_xent_vjp(labels, logits, pos_weight, g) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dlabels, dlogits, dpos_weight) of ``tf.nn.weighted_cross_entropy_with_logits``, TF's
    autodiff of (1 - z) x + l (log1p(exp(-|x|)) + relu(-x)), l = 1 + (q - 1) z, in the
    logits dtype: with S = log1p(exp(-|x|)) + relu(-x) and e = exp(-|x|),
    dx = g (1 - z) - sign(x) l g e / (1 + e) - [x < 0] l g,
    dz = -g x + (q - 1) g S, dq = sum over broadcast axes of g S z."""
    x = np.asarray(logits)
    dt = x.dtype
    z = np.asarray(labels).astype(dt)
    q = np.asarray(pos_weight).astype(dt)
    g = np.asarray(g).astype(dt)
    mul, add, sub = (lambda a, b, op=op: ew(op, dt, a, b) for op in (np.multiply, np.add, np.subtract))
    q_minus_1 = sub(q, 1)
    log_weight = add(1, mul(q_minus_1, z))
    e = ew(lambda f: np.exp(-np.abs(f)), dt, x)
    softplus_neg = add(ew(np.log1p, dt, e), ew(lambda f: np.maximum(-f, 0), dt, x))
    d_s = mul(log_weight, g)
    d_neg_abs = mul(mul(d_s, ew(np.reciprocal, dt, add(1, e))), e)
    dx = add(mul(g, sub(1, z)), stable.select(-x > 0, -d_s, np.zeros_like(d_s)))  # TF adds them in this order
    dx = add(dx, mul(-d_neg_abs, ew(np.sign, dt, x)))
    d_log_weight = mul(g, softplus_neg)
    dz = add(-mul(x, g), mul(q_minus_1, d_log_weight))
    dq = unbroadcast(mul(d_log_weight, z), q.shape)
    return dz, dx, dq


# --- tf.compat.v1.losses ------------------------------------------------------------------


def v1_weighted_loss_vjp(losses, weights, reduction, g) -> tuple[np.ndarray, np.ndarray]:
    """(dlosses, dweights) of ``reductions.v1_compute_weighted_loss``, in float32 as TF runs
    it: g (cast to float32) through div_no_nan(total, n) (``gx = div_no_nan(g, n)``; for
    MEAN also ``gy`` into the weights through n = sum(weights)), the sum, and the product
    losses * weights; dlosses is cast back to the losses dtype, dweights to the weights'."""
    losses = np.asarray(losses)
    weights = np.asarray(weights)
    l32, w32 = losses.astype(np.float32), weights.astype(np.float32)
    g32 = np.asarray(g).astype(np.float32)
    shape = np.broadcast_shapes(l32.shape, w32.shape)
    d_w_extra = np.zeros(w32.shape, np.float32)
    if reduction == V1_NONE:
        d_weighted = np.broadcast_to(g32, shape)
    else:
        if reduction == V1_SUM:
            d_total = g32
        elif reduction == V1_MEAN:
            n = np.sum(np.ones_like(l32) * w32, dtype=np.float32)
            total = np.sum(l32 * w32, dtype=np.float32)
            d_total = div_no_nan(g32, n)
            d_n = g32 * div_no_nan(div_no_nan(-total, n), n)
            d_w_extra = unbroadcast(np.broadcast_to(d_n, shape).astype(np.float32), w32.shape)
        else:  # divided by the number of elements or of non-zero weights: no gradient into weights
            n = l32.size if reduction == V1_SUM_OVER_BATCH_SIZE else v1_num_present(l32, weights)
            n = np.float32(n)
            d_total = div_no_nan(g32, n)
        d_weighted = np.broadcast_to(np.asarray(d_total, np.float32), shape)
    d_losses = unbroadcast((d_weighted * w32).astype(np.float32), l32.shape)
    d_weights = unbroadcast((l32 * d_weighted).astype(np.float32), w32.shape) + d_w_extra
    return d_losses.astype(losses.dtype), d_weights.astype(weights.dtype)


# --- Keras 3 --------------------------------------------------------------------------------


def keras_reduce_vjp(losses_shape, sample_weight, mask, reduction, g) -> np.ndarray:
    """dlosses (float32) of ``reductions.keras_reduce_weighted_values``: the mask folded
    into the weights, div_no_nan(sum, divisor)'s ``div_no_nan(g, divisor)``, broadcast
    back, times the weights (summed over axes the losses were broadcast along), reshaped
    through the squeeze/expand to the weights' rank."""
    f32 = np.float32
    g32 = np.asarray(g).astype(f32)
    values = np.zeros(losses_shape, f32)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight).astype(f32)
    sample_weight = keras_apply_mask(sample_weight, mask, f32, reduction)
    if sample_weight is not None:
        values, sample_weight = keras_squeeze_or_expand_to_same_rank(values, sample_weight)
    shape = values.shape if sample_weight is None else np.broadcast_shapes(values.shape, sample_weight.shape)
    if reduction in (None, "none") or shape in ((), (0,)):
        d_weighted = np.broadcast_to(g32, shape)
    else:
        if reduction == "sum":
            d_sum = g32
        elif reduction == "mean_with_sample_weight" and sample_weight is not None:
            d_sum = div_no_nan(g32, np.sum(sample_weight, dtype=f32))
        else:
            d_sum = div_no_nan(g32, f32(np.prod(shape)))
        d_weighted = np.broadcast_to(np.asarray(d_sum, f32), shape)
    if sample_weight is not None:
        d_weighted = unbroadcast((d_weighted * sample_weight).astype(f32), values.shape)
    return np.asarray(d_weighted, f32).reshape(losses_shape)


def _clip_mask(x, low, high):
    """Where ``clip_by_value`` = maximum(minimum(x, high), low) passes the gradient: TF's
    Minimum/Maximum gradients send it to x on ties (x <= high, then min(x, high) >= low)."""
    dt = x.dtype
    lo, hi = np.asarray(low, dtype=dt), np.asarray(high, dtype=dt)
    return (x <= hi) & (np.minimum(x, hi) >= lo)


def _clip(x, low, high):
    dt = x.dtype
    return np.maximum(np.minimum(x, np.asarray(high, dt)), np.asarray(low, dt))


def keras_categorical_vjp(target, output, g, from_logits=False, axis=-1) -> np.ndarray:
    """doutput of Keras' ``categorical_crossentropy`` (TF backend), in output's dtype.

    From logits it is the softmax cross-entropy's dlogits. From probabilities Keras computes
    -sum(t log(clip(p / sum(p), eps, 1 - eps))); TF's gradient: dlog = t (-g) (Neg, Sum,
    Mul), dclip = dlog * reciprocal(o) (Log), zero where p / sum(p) is outside
    [eps, 1 - eps] (clipped), then RealDiv: dp = d / S + sum(d * ((-p / S) / S)) over the
    class axis. So a clipped probability gets no gradient from its own log, only the
    normalisation's share of the other classes' (none when it is the row's only label)."""
    output = np.asarray(output)
    dt = output.dtype
    if from_logits:
        return softmax_xent_vjp(target, output, g, axis=axis)[1]
    mul, add, div = (lambda a, b, op=op: ew(op, dt, a, b) for op in (np.multiply, np.add, np.divide))
    t = np.asarray(target).astype(dt)
    total = reduce_sum(output, axis=axis, keepdims=True)
    o1 = div(output, total)
    o2 = _clip(o1, EPSILON, 1.0 - EPSILON)
    a = np.expand_dims(-np.asarray(g).astype(dt), axis)
    d_log = mul(t, a)
    d_o2 = mul(d_log, ew(np.reciprocal, dt, o2))
    d_o1 = stable.select(_clip_mask(o1, EPSILON, 1.0 - EPSILON), d_o2, np.zeros_like(d_o2))
    d_direct = div(d_o1, total)
    d_total = reduce_sum(mul(d_o1, div(div(-output, total), total)), axis=axis, keepdims=True)
    return add(d_direct, d_total)


def keras_sparse_categorical_vjp(target, output, g, from_logits=False) -> np.ndarray:
    """doutput of Keras' ``sparse_categorical_crossentropy`` (TF backend, last axis).

    From probabilities Keras feeds log(clip(p, eps, 1 - eps)) to the sparse softmax
    cross-entropy: dp = dlogits * reciprocal(clip(p)) where p is inside [eps, 1 - eps],
    0 where it was clipped."""
    output = np.asarray(output)
    dt = output.dtype
    target = np.trunc(np.asarray(target)).astype(np.intp)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = target[..., 0]
    if from_logits:
        return sparse_xent_vjp(target, output, g)
    clipped = _clip(output, EPSILON, 1 - EPSILON)
    d_log = sparse_xent_vjp(target, ew(np.log, dt, clipped), g)
    d_clipped = ew(np.multiply, dt, d_log, ew(np.reciprocal, dt, clipped))
    return stable.select(_clip_mask(output, EPSILON, 1 - EPSILON), d_clipped, np.zeros_like(d_clipped))


def keras_binary_vjp(target, output, g, from_logits=False, axis=-1) -> np.ndarray:
    """doutput of Keras' ``binary_crossentropy`` = mean(bce, axis) (mean in float32 for
    float16/bfloat16: the gradient is divided by the count there and cast back).

    From logits bce is the sigmoid cross-entropy. From probabilities bce =
    -(t log(o) + (1 - t) log(1 - o)), o = clip(p, eps, 1 - eps): TF's gradient is
    do = (t a) reciprocal(o) - ((1 - t) a) reciprocal(1 - o), a = -g, zero where p was
    clipped."""
    output = np.asarray(output)
    dt = output.dtype
    mean_dt = np.float32 if is_low(dt) else dt
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    count = int(np.prod([output.shape[a] for a in axes]))
    gm = np.asarray(g).astype(dt).astype(mean_dt)
    gm = np.expand_dims(gm, axes) / np.dtype(mean_dt).type(count) if count else np.expand_dims(gm, axes)
    gm = np.broadcast_to(np.asarray(gm, mean_dt), output.shape).astype(dt)
    t = np.asarray(target).astype(dt)
    if from_logits:
        return sigmoid_xent_vjp(t, output, gm)[1]
    mul, sub = (lambda a, b, op=op: ew(op, dt, a, b) for op in (np.multiply, np.subtract))
    o = _clip(output, EPSILON, 1.0 - EPSILON)
    a = -gm
    d_pos = mul(mul(t, a), ew(np.reciprocal, dt, o))
    d_neg = mul(mul(sub(1, t), a), ew(np.reciprocal, dt, sub(1, o)))
    d_o = sub(d_pos, d_neg)
    return stable.select(_clip_mask(output, EPSILON, 1.0 - EPSILON), d_o, np.zeros_like(d_o))


# --- reductions and clipping ----------------------------------------------------------------


def compute_average_loss_vjp(per_example_loss, sample_weight, global_batch_size, g) -> tuple[np.ndarray, np.ndarray]:
    """(dper_example_loss, dsample_weight) of ``tf.nn.compute_average_loss``:
    div_no_nan(sum(l), n) gives div_no_nan(g, n) to every loss; with ``sample_weight`` the
    product l * w was formed in float32 (``scale_losses_by_sample_weight``), so
    dl = float32(d) * w and dw = l * float32(d), summed over the axes w was broadcast along
    and cast back (a weight of rank one less than the losses got a trailing axis, one more
    lost its last)."""
    losses = np.asarray(per_example_loss)
    dt = losses.dtype
    n = losses.shape[0] if global_batch_size is None else global_batch_size
    d = np.broadcast_to(div_no_nan(np.asarray(g).astype(dt), np.asarray(n).astype(dt)), losses.shape)
    if sample_weight is None:
        return np.asarray(d, dt), None
    w = np.asarray(sample_weight)
    w32 = w.astype(np.float32)
    if w32.ndim - losses.ndim == 1:
        w32 = w32[..., 0]
    elif w32.ndim and losses.ndim - w32.ndim == 1:
        w32 = w32[..., None]
    l32, d32 = losses.astype(np.float32), np.asarray(d).astype(np.float32)
    d_losses = unbroadcast((d32 * w32).astype(np.float32), l32.shape).astype(dt)
    d_weights = unbroadcast((l32 * d32).astype(np.float32), w32.shape).reshape(w.shape).astype(w.dtype)
    return d_losses, d_weights


def clip_by_global_norm_vjp(t_list, clip_norm, cot_list, cot_norm) -> list[np.ndarray]:
    """dt_list of ``tf.clip_by_global_norm`` (norm computed, not ``use_norm``), TF's
    autodiff of t_i * (clip * min(1 / n, 1 / clip) + (n - n)), n = sqrt(2 sum l2_loss(t_i)):
    dt_i = c_i s + t_i dS with dscale = sum_i sum(c_i t_i),
    dn = c_n + [1 / n <= 1 / clip] clip dscale ((-1 / n) / n) ((n - n) passes +dscale - dscale),
    dS = 2 (0.5 dn / n). Below the clip norm only the norm's own cotangent reaches t."""
    ts = [np.asarray(t) for t in t_list]
    dt = ts[0].dtype
    mul, add, div = (lambda a, b, op=op: ew(op, dt, a, b) for op in (np.multiply, np.add, np.divide))
    half_squares = reduce_sum(np.stack([np.asarray(nn.l2_loss(t)) for t in ts]))
    norm = ew(np.sqrt, dt, mul(half_squares, 2.0))
    clip = np.asarray(clip_norm, dtype=dt)
    inverse = div(1.0, norm)
    scale = add(mul(clip, np.minimum(inverse, div(1.0, clip))), ew(np.subtract, dt, norm, norm))
    cots = [np.asarray(c).astype(dt) for c in cot_list]
    d_scale = reduce_sum(np.stack([reduce_sum(mul(c, t)) for c, t in zip(cots, ts)]))
    d_inverse = mul(clip, d_scale) if inverse <= div(1.0, clip) else np.zeros((), dt)
    d_norm = add(np.asarray(cot_norm).astype(dt), mul(d_inverse, div(div(-1.0, norm), norm)))
    d_sum = mul(div(mul(d_norm, 0.5), norm), 2.0)
    return [add(mul(c, scale), mul(t, d_sum)) for c, t in zip(cots, ts)]


# --- Keras 2 --------------------------------------------------------------------------------


def keras2_reduce_vjp(losses_shape, sample_weight, reduction, g) -> np.ndarray:
    """dlosses (float64) of ``reductions.keras2_compute_weighted_loss`` without a mask: the
    weights (squeezed or expanded to the losses' rank) times g, divided by the weighted
    losses' element count for ``auto``/``sum_over_batch_size`` (0 for an empty batch, as
    div_no_nan gives), summed back over the axes the losses were broadcast along."""
    from harness.reference.reductions import keras2_adjust_weights

    weights = np.asarray(1.0 if sample_weight is None else sample_weight, dtype=np.float64)
    weights = keras2_adjust_weights(np.zeros(losses_shape), weights)
    shape = np.broadcast_shapes(tuple(losses_shape), np.shape(weights))
    d = np.broadcast_to(np.asarray(g, dtype=np.float64), shape)
    if reduction in ("auto", "sum_over_batch_size"):
        size = int(np.prod(shape))
        d = d / size if size else np.zeros(shape)
    return unbroadcast(d * weights, losses_shape)


def keras2_binary_vjp(target, output, g, from_logits=False, axis=-1) -> np.ndarray:
    """doutput of Keras 2's ``binary_crossentropy`` = reduce_mean(bce, axis), the mean's
    gradient g / count in output's dtype (float16 too: Keras 2 does not upcast).

    From logits bce is the sigmoid cross-entropy. From probabilities bce =
    -(t log(o + eps) + (1 - t) log(1 - o + eps)), o = clip(p, eps, 1 - eps): do =
    (t a) reciprocal(o + eps) - ((1 - t) a) reciprocal(1 - o + eps), a = -g, zero where p
    was clipped."""
    output = np.asarray(output)
    dt = output.dtype
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    count = int(np.prod([output.shape[a] for a in axes]))
    gm = np.broadcast_to(np.expand_dims(np.asarray(g).astype(dt), axes), output.shape)
    gm = ew(np.divide, dt, gm, count)
    t = np.asarray(target).astype(dt)
    if from_logits:
        return sigmoid_xent_vjp(t, output, gm)[1]
    mul, add, sub = (lambda a, b, op=op: ew(op, dt, a, b) for op in (np.multiply, np.add, np.subtract))
    o = _clip(output, EPSILON, 1.0 - EPSILON)
    a = -gm
    d_pos = mul(mul(t, a), ew(np.reciprocal, dt, add(o, EPSILON)))
    d_neg = mul(mul(sub(1, t), a), ew(np.reciprocal, dt, add(sub(1, o), EPSILON)))
    d_o = sub(d_pos, d_neg)
    return stable.select(_clip_mask(output, EPSILON, 1.0 - EPSILON), d_o, np.zeros_like(d_o))
