"""Analytic gradients of the element-wise Keras losses (Keras 3 ``tf.keras.losses`` and
Keras 2 ``tf_keras.losses``): the regression losses, Poisson, the KL divergence and the
hinges, whose per-example loss is the mean (the KL divergence: the sum) over the last axis
of one element-wise term e(t, p).

Each term's partial derivatives (de/dt, de/dp) are taken in float64 from the inputs as
the forward pass sees them (already cast to its dtype), the way TF's registered gradients
route them, kinks included:

* ``Abs``: sign(x) (0 at 0); ``Maximum(x, y)``: to x where x >= y, else to y;
  ``clip_by_value``: passes where the value is inside [low, high] (ties pass);
* the hinges map 0/1 labels to 2 t - 1 only when every label is 0 or 1 (a ``cond`` on the
  whole tensor): then dt = 2 dt'.

:func:`per_example_vjp` turns them into the gradients of the per-example losses; the op
records (``harness.ops.keras``, ``harness.ops.tf_keras``) add the reduction's gradient and
the casts. Inputs outside what these rules cover (``y_true`` and ``y_pred`` of different
shapes, which the function forms broadcast) get ``None``: finite differences then.
"""
from __future__ import annotations

import numpy as np

from harness.reference.keras_backend import EPSILON, EPSILON_FLOAT32, sigmoid
from harness.reference.nn import softmax


def _mse(t, p, **_):
    d = 2.0 * (p - t)
    return -d, d


def _mae(t, p, **_):
    d = np.sign(p - t)
    return -d, d


def _mape(t, p, **_):
    scale = np.maximum(np.abs(t), EPSILON)
    r = (t - p) / scale
    s = 100.0 * np.sign(r)
    d_scale = np.where(np.abs(t) >= EPSILON, np.sign(t), 0.0)  # Maximum: to |t| on ties
    return s * (1.0 / scale - r / scale * d_scale), -s / scale


def _msle_with(eps):
    """The MSLE term with max(x, ``eps``): Keras 3's eps is a float32 tensor (float64 inputs
    meet 1e-7 rounded to float32, 1.0000000116860974e-07), Keras 2's the Python float."""
    def term(t, p, **_):
        first, second = np.maximum(p, eps) + 1.0, np.maximum(t, eps) + 1.0
        d = 2.0 * (np.log(first) - np.log(second))
        return -d / second * (t >= eps), d / first * (p >= eps)
    return term


def _huber(t, p, delta=1.0, **_):
    x = p - t
    d = np.where(np.abs(x) <= delta, x, delta * np.sign(x))
    return -d, d


def _log_cosh(t, p, **_):
    d = np.tanh(p - t)
    return -d, d


def _poisson(t, p, **_):
    """y_pred only (the op records differentiate y_pred alone)."""
    return None, 1.0 - t / (p + EPSILON)


def _kl_divergence(t, p, **_):
    """y_pred only: -t / p with both clipped to [eps, 1], zero where p was clipped."""
    inside = (p >= EPSILON) & (p <= 1.0)
    return None, np.where(inside, -np.clip(t, EPSILON, 1.0) / p, 0.0)


def _hinge_terms(t, p, squared):
    binary = bool(np.all((t == 0) | (t == 1)))
    labels = 2.0 * t - 1.0 if binary else t
    margin = 1.0 - labels * p
    active = margin >= 0  # Maximum(margin, 0): the margin gets the gradient on ties
    scale = np.where(active, 2.0 * margin if squared else 1.0, 0.0)
    return -p * scale * (2.0 if binary else 1.0), -labels * scale


def _hinge(t, p, **_):
    return _hinge_terms(t, p, squared=False)


def _squared_hinge(t, p, **_):
    return _hinge_terms(t, p, squared=True)


TERMS = {
    "mean_squared_error": (_mse, "mean"),
    "mean_absolute_error": (_mae, "mean"),
    "mean_absolute_percentage_error": (_mape, "mean"),
    "mean_squared_logarithmic_error": (_msle_with(float(EPSILON_FLOAT32)), "mean"),
    "mean_squared_logarithmic_error_keras2": (_msle_with(EPSILON), "mean"),
    "huber": (_huber, "mean"),
    "log_cosh": (_log_cosh, "mean"),
    "poisson": (_poisson, "mean"),
    "kl_divergence": (_kl_divergence, "sum"),
    "hinge": (_hinge, "mean"),
    "squared_hinge": (_squared_hinge, "mean"),
}
"""Loss name -> (its term's partial derivatives, how the last axis is reduced)."""


def _categorical_hinge(t, p, g, **_):
    """max(neg - pos + 1, 0), pos = sum(t p), neg = max((1 - t) p) over the last axis: the
    max's gradient is shared equally by the elements equal to it (TF's reduce_max)."""
    q = (1.0 - t) * p
    top = q == np.max(q, axis=-1, keepdims=True)
    share = top / np.sum(top, axis=-1, keepdims=True)
    d = np.where(np.max(q, axis=-1) - np.sum(t * p, axis=-1) + 1.0 >= 0, g, 0.0)[..., None]
    d_q = d * share
    return -d * p - d_q * p, -d * t + d_q * (1.0 - t)


def _normalized(x, axis, keras2):
    """(x r, r, capped): Keras 3's x min(rsqrt(S), 1/eps), Keras 2's x rsqrt(max(S, 1e-12))."""
    square_sum = np.sum(x * x, axis=axis, keepdims=True)
    if keras2:
        capped = ~(square_sum >= 1e-12)
        r = 1.0 / np.sqrt(np.maximum(square_sum, 1e-12))
    else:
        inv = 1.0 / np.sqrt(square_sum)
        capped = ~(inv <= 1.0 / EPSILON)
        r = np.minimum(inv, 1.0 / EPSILON)
    return x * r, r, capped


def _normalize_vjp(n, r, capped, d_n, axis):
    """dx of n = x r: r (dn - n sum(dn n)) where r follows x, r dn where it is a constant."""
    return np.where(capped, r * d_n, r * (d_n - n * np.sum(d_n * n, axis=axis, keepdims=True)))


def _cosine(t, p, g, axis=-1, keras2=False, **_):
    """-sum(normalize(t) normalize(p), axis)."""
    tn, tr, tc = _normalized(t, axis, keras2)
    pn, pr, pc = _normalized(p, axis, keras2)
    g = np.expand_dims(g, axis)
    return _normalize_vjp(tn, tr, tc, -g * pn, axis), _normalize_vjp(pn, pr, pc, -g * tn, axis)


ROWS = {
    "categorical_hinge": _categorical_hinge,
    "cosine_similarity": _cosine,
    "cosine_similarity_keras2": lambda t, p, g, **kw: _cosine(t, p, g, keras2=True, **kw),
}
"""Loss name -> its gradient over whole rows, ``(t, p, g, **kwargs) -> (dt, dp)``."""


def losses_shape(name: str, shape: tuple, kwargs: dict) -> tuple:
    """The per-example losses' shape for inputs of ``shape``: without the reduced axis; None
    when ``axis`` is not one int (None, a list: no analytic rule, finite differences; a bool
    axis fails in the forward pass already)."""
    axis = kwargs.get("axis", -1) if name in ROWS else -1
    if not isinstance(axis, int):
        return None
    return tuple(n for i, n in enumerate(shape) if i != axis % len(shape))


def per_example_vjp(name: str, y_true, y_pred, g, **kwargs):
    """(dy_true, dy_pred) in float64 of the per-example losses ``name`` (shape ``y_pred``'s
    without its last axis, or ``axis``) for the cotangent ``g`` of those losses; None when
    ``y_true`` and ``y_pred`` differ in shape or have no axis to reduce."""
    t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.shape != p.shape or p.ndim == 0 or not ("axis" not in kwargs or isinstance(kwargs["axis"], int)):
        return None
    if name in ROWS:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return ROWS[name](t, p, np.asarray(g, dtype=np.float64), **kwargs)
    term, reduce = TERMS[name]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d_t, d_p = term(t, p, **kwargs)
        g = np.asarray(g, dtype=np.float64)[..., None]
        if reduce == "mean":
            g = g / p.shape[-1]
        return None if d_t is None else d_t * g, d_p * g


# --- the focal cross-entropies (dy_pred only) ------------------------------------------------


def _bounds(x) -> tuple[float, float]:
    """eps and 1 - eps as the forward pass clips with them: in ``x``'s dtype (float32's
    1 - 1e-7 is 0.99999988, float16's is 1)."""
    dtype = np.asarray(x).dtype
    return float(dtype.type(EPSILON)), float(dtype.type(1.0 - EPSILON))


def binary_focal_vjp(y_true, y_pred, g, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False,
                     label_smoothing=0.0, axis=-1, keras2=False):
    """dy_pred (float64) of ``binary_focal_crossentropy`` = mean(w (1 - p_t)**gamma bce, axis)
    with p_t = t s + (1 - t)(1 - s), s = sigmoid(x) or the unclipped probability x, bce the
    sigmoid cross-entropy of logits or -(t log(o) + (1 - t) log(1 - o)), o = clip(x, eps,
    1 - eps) (Keras 2, ``keras2``: log(o + eps) and log(1 - o + eps)); ``y_true`` already
    smoothed. None for shapes that differ or an axis that is not one int."""
    low, high = _bounds(y_pred)
    t, x = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.shape != x.shape or x.ndim == 0 or not isinstance(axis, int):
        return None
    eps = low if keras2 else 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if from_logits:
            s = sigmoid(x)
            bce = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
            d_bce, d_s = s - t, s * (1.0 - s)
        else:
            s, o = x, np.clip(x, low, high)
            bce = -(t * np.log(o + eps) + (1.0 - t) * np.log(1.0 - o + eps))
            inside = (x >= low) & (x <= high)
            d_bce, d_s = np.where(inside, -t / (o + eps) + (1.0 - t) / (1.0 - o + eps), 0.0), 1.0
        p_t = t * s + (1.0 - t) * (1.0 - s)
        base = 1.0 - p_t
        factor = np.power(base, gamma)
        # Pow's gradient gamma base**(gamma - 1), also at base = 0 (0 for gamma > 1, 1 at gamma = 1,
        # inf below), to p_t = t s + (1 - t)(1 - s) through both products, as TF adds them (0 inf: NaN)
        d_base = -gamma * np.power(base, gamma - 1.0)
        d_factor = (d_base * t - d_base * (1.0 - t)) * d_s
        d = d_factor * bce + factor * d_bce
        if apply_class_balancing:
            d = d * (t * alpha + (1.0 - t) * (1.0 - alpha))
        return d * np.expand_dims(np.asarray(g, dtype=np.float64), axis) / x.shape[axis]


def categorical_focal_vjp(y_true, y_pred, g, alpha=0.25, gamma=2.0, from_logits=False, axis=-1):
    """dy_pred (float64) of ``categorical_focal_crossentropy`` = sum(alpha (1 - o)**gamma
    (-t log o), axis), o = clip(y / sum(y, axis), eps, 1 - eps), y = softmax(x) of logits or
    the probabilities x; ``y_true`` already smoothed. The clip passes the gradient inside
    [eps, 1 - eps]; the normalisation and the softmax pass theirs back."""
    low, high = _bounds(y_pred)
    t, x = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if t.shape != x.shape or x.ndim == 0 or not isinstance(axis, int):
        return None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # softmax rows already sum to 1: the normalisation is the identity there
        y = softmax(x, axis=axis) if from_logits else x
        total = 1.0 if from_logits else np.sum(y, axis=axis, keepdims=True)
        out = y / total
        o = np.clip(out, low, high)
        inside = (out >= low) & (out <= high)
        base = 1.0 - o
        d_weight = -gamma * np.power(base, gamma - 1.0)  # Pow's gradient, also at base = 0 (see above)
        d_o = alpha * (d_weight * (-t * np.log(o)) + np.power(base, gamma) * (-t / o))
        d_out = np.where(inside, d_o, 0.0) * np.expand_dims(np.asarray(g, dtype=np.float64), axis)
        if from_logits:  # the softmax's gradient (the normalisation's is orthogonal to the rows)
            return (d_out - np.sum(d_out * y, axis=axis, keepdims=True)) * y
        return d_out / total - np.sum(d_out * y, axis=axis, keepdims=True) / (total * total)


# --- tf.compat.v1.losses: the element-wise terms, in float32 (labels, predictions) -----------


def _v1_hinge(l, x, **_):
    """relu(1 - (2 l - 1) x): relu passes the gradient where its output is positive."""
    active = (1.0 - (2.0 * l - 1.0) * x) > 0
    return np.where(active, -2.0 * x, 0.0), np.where(active, -(2.0 * l - 1.0), 0.0)


def _v1_huber(l, p, delta=1.0, **_):
    """0.5 q^2 + delta (|e| - q), q = minimum(|e|, delta): Minimum passes to |e| where |e| <= delta."""
    e = p - l
    a = np.abs(e)
    d = np.where(a <= np.float32(delta), a, np.float32(delta)) * np.sign(e)
    return -d, d


def _v1_log(l, p, epsilon=1e-7, **_):
    eps = np.float64(np.float32(epsilon))
    return -np.log(p + eps) + np.log(1.0 - p + eps), -l / (p + eps) + (1.0 - l) / (1.0 - p + eps)


V1_TERMS = {"mean_squared_error": _mse, "absolute_difference": _mae, "hinge_loss": _v1_hinge,
            "huber_loss": _v1_huber, "log_loss": _v1_log}
"""``tf.compat.v1.losses`` name -> (d/dlabels, d/dpredictions) of its element-wise term."""


def v1_terms_vjp(name: str, labels, predictions, dlosses, **kwargs):
    """(dlabels, dpredictions) in float64 of the element-wise losses ``name`` (inputs as the
    float32 values TF computes with) for their gradient ``dlosses``."""
    l = np.asarray(labels).astype(np.float32).astype(np.float64)
    p = np.asarray(predictions).astype(np.float32).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d_l, d_p = V1_TERMS[name](l, p, **kwargs)
        g = np.asarray(dlosses, dtype=np.float64)
        return d_l * g, d_p * g
