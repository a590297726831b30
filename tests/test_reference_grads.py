"""Analytic reference gradients (harness/reference/vjp.py via each op record's ``grad``):
against central finite differences of the reference (no TF), the TF quirks they mirror,
and a few against TensorFlow's GradientTape directly."""
import ml_dtypes
import numpy as np
import pytest

from harness import tfexec
from harness.ops import nn_compat_v1
from harness.reference import vjp as G
from harness.reference import ctc, stable
from harness.registry import get_op, registry

RNG = np.random.default_rng(20240521)
B, C = 5, 4


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [np.asarray(tree)]


def finite_difference(f, x, h):
    """Central differences of the scalar f at x (float64), step h * max(1, |x_i|)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        g[i] = (f(xp) - f(xm)) / (2 * step)
    return g


def reference_fd(op_name, init, args, wrt, cotangent, h):
    op = get_op(op_name)

    def total(name):
        def f(x):
            out = op.run_reference(init, {**args, name: x})
            return float(sum(np.sum(leaf.astype(np.float64) * c) for leaf, c in zip(_leaves(out), cotangent)))
        return f

    return {name: finite_difference(total(name), args[name], h) for name in wrt}


def cotangents(op_name, init, args):
    out = get_op(op_name).run_reference(init, args)
    return [RNG.normal(size=np.shape(leaf)) for leaf in _leaves(out)]


LOGITS = RNG.normal(size=(B, C)) * 2
SOFT_LABELS = RNG.dirichlet(np.ones(C), size=B)
ONE_HOT = np.eye(C)[[0, 2, 1, 3, 0]]
INT_LABELS = np.array([2, 0, 1, 3, 1], dtype=np.int32)
BINARY = (RNG.uniform(size=(B, C)) > 0.5).astype(np.float64)
PROBS = RNG.uniform(0.2, 0.9, size=(B, C))
SIMPLEX = RNG.dirichlet(np.full(C, 3.0), size=B)
WEIGHTS = np.array([0.5, 1.0, 2.0, 0.0, 1.5])
NONZERO_WEIGHTS = np.array([0.5, 1.0, 2.0, 0.25, 1.5])  # a zero weight is a jump of the non-zero count

# (op, init, args, wrt): the reference is exact float64 for these, so finite differences
# with h = 1e-6 are good to ~1e-9.
FLOAT64_EXACT = [
    ("tf.nn.softmax", {}, {"logits": LOGITS}, ("logits",)),
    ("tf.nn.softmax", {}, {"logits": LOGITS, "axis": 0}, ("logits",)),
    ("tf.nn.log_softmax", {}, {"logits": LOGITS}, ("logits",)),
    ("tf.nn.softmax_cross_entropy_with_logits", {}, {"labels": SOFT_LABELS, "logits": LOGITS}, ("labels", "logits")),
    ("tf.nn.softmax_cross_entropy_with_logits", {}, {"labels": SOFT_LABELS.T / SOFT_LABELS.T.sum(0), "logits": LOGITS.T,
                                                     "axis": 0}, ("labels", "logits")),
    ("tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2", {}, {"labels": SOFT_LABELS, "logits": LOGITS},
     ("labels", "logits")),
    ("tf.compat.v1.nn.softmax_cross_entropy_with_logits", {}, {"labels": SOFT_LABELS, "logits": LOGITS}, ("logits",)),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", {}, {"labels": INT_LABELS, "logits": LOGITS}, ("logits",)),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", {},
     {"labels": INT_LABELS[:4].reshape(2, 2), "logits": LOGITS[:4].reshape(2, 2, C)}, ("logits",)),
    ("tf.nn.sigmoid_cross_entropy_with_logits", {}, {"labels": PROBS, "logits": LOGITS}, ("labels", "logits")),
    ("tf.nn.weighted_cross_entropy_with_logits", {}, {"labels": PROBS, "logits": LOGITS, "pos_weight": np.array(1.7)},
     ("labels", "logits", "pos_weight")),
    ("tf.nn.weighted_cross_entropy_with_logits", {},
     {"labels": PROBS, "logits": LOGITS, "pos_weight": np.array([0.5, 1.0, 2.0, 3.0])}, ("pos_weight",)),
    ("tf.keras.losses.categorical_crossentropy", {}, {"y_true": ONE_HOT, "y_pred": LOGITS, "from_logits": True},
     ("y_pred",)),
    ("tf.keras.losses.categorical_crossentropy", {}, {"y_true": ONE_HOT, "y_pred": PROBS, "label_smoothing": 0.1},
     ("y_pred",)),
    ("tf.keras.losses.sparse_categorical_crossentropy", {}, {"y_true": INT_LABELS, "y_pred": SIMPLEX}, ("y_pred",)),
    ("tf.keras.losses.sparse_categorical_crossentropy", {},
     {"y_true": INT_LABELS, "y_pred": LOGITS, "from_logits": True, "ignore_class": 1}, ("y_pred",)),
    ("tf.keras.losses.binary_crossentropy", {}, {"y_true": BINARY, "y_pred": PROBS}, ("y_pred",)),
    ("tf.keras.losses.binary_crossentropy", {}, {"y_true": BINARY, "y_pred": LOGITS, "from_logits": True,
                                                 "label_smoothing": 0.2}, ("y_pred",)),
    ("tf.nn.compute_average_loss", {}, {"per_example_loss": PROBS[:, 0], "global_batch_size": 8},
     ("per_example_loss",)),
]

# The reference computes these in float32 (as TF does) and returns the input dtype or
# float32: finite differences need a float32-sized step and tolerance.
FLOAT32_INSIDE = [
    ("tf.compat.v1.losses.softmax_cross_entropy", {},
     {"onehot_labels": ONE_HOT, "logits": LOGITS, "weights": NONZERO_WEIGHTS, "label_smoothing": 0.1},
     ("logits", "weights")),
    ("tf.compat.v1.losses.softmax_cross_entropy", {},
     {"onehot_labels": ONE_HOT, "logits": LOGITS, "weights": NONZERO_WEIGHTS, "reduction": "weighted_mean"},
     ("logits", "weights")),
    ("tf.compat.v1.losses.sparse_softmax_cross_entropy", {},
     {"labels": INT_LABELS[:, None], "logits": LOGITS, "weights": NONZERO_WEIGHTS[:, None], "reduction": "none"},
     ("logits", "weights")),
    ("tf.compat.v1.losses.sigmoid_cross_entropy", {},
     {"multi_class_labels": BINARY, "logits": LOGITS, "weights": np.array(0.5), "label_smoothing": 0.2},
     ("multi_class_labels", "logits", "weights")),
    ("tf.compat.v1.losses.compute_weighted_loss", {},
     {"losses": PROBS, "weights": NONZERO_WEIGHTS[:, None]}, ("losses", "weights")),
    ("tf.nn.compute_average_loss", {},
     {"per_example_loss": PROBS, "sample_weight": NONZERO_WEIGHTS}, ("per_example_loss", "sample_weight")),
    ("tf.keras.losses.CategoricalCrossentropy", {"from_logits": True},
     {"y_true": ONE_HOT, "y_pred": LOGITS, "sample_weight": NONZERO_WEIGHTS}, ("y_pred",)),
    ("tf.keras.losses.CategoricalCrossentropy", {"reduction": "sum"}, {"y_true": ONE_HOT, "y_pred": PROBS}, ("y_pred",)),
    ("tf.keras.losses.SparseCategoricalCrossentropy", {"reduction": "mean_with_sample_weight"},
     {"y_true": INT_LABELS, "y_pred": SIMPLEX, "sample_weight": NONZERO_WEIGHTS}, ("y_pred",)),
    ("tf.keras.losses.SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1},
     {"y_true": INT_LABELS, "y_pred": LOGITS}, ("y_pred",)),
    ("tf.keras.losses.BinaryCrossentropy", {"reduction": "none"}, {"y_true": BINARY, "y_pred": PROBS}, ("y_pred",)),
    ("tf.keras.losses.BinaryCrossentropy", {"from_logits": True}, {"y_true": BINARY, "y_pred": LOGITS}, ("y_pred",)),
]


@pytest.mark.parametrize("case", FLOAT64_EXACT, ids=lambda c: c[0].rsplit(".", 1)[-1])
def test_analytic_gradient_equals_finite_differences_in_float64(case):
    name, init, args, wrt = case
    cot = cotangents(name, init, args)
    analytic = get_op(name).grad(init, args, cot, wrt)
    fd = reference_fd(name, init, args, wrt, cot, h=1e-6)
    for arg in wrt:
        np.testing.assert_allclose(analytic[arg], fd[arg], rtol=1e-6, atol=1e-8, err_msg=f"{name} d/d{arg}")


@pytest.mark.parametrize("case", FLOAT32_INSIDE, ids=lambda c: c[0].rsplit(".", 1)[-1])
def test_analytic_gradient_equals_finite_differences_of_a_float32_reference(case):
    name, init, args, wrt = case
    cot = cotangents(name, init, args)
    analytic = get_op(name).grad(init, args, cot, wrt)
    fd = reference_fd(name, init, args, wrt, cot, h=2e-3)
    for arg in wrt:
        np.testing.assert_allclose(analytic[arg], fd[arg], rtol=2e-3, atol=2e-4, err_msg=f"{name} d/d{arg}")


ANALYTIC = {
    "tf.nn.softmax", "tf.nn.log_softmax", "tf.nn.softmax_cross_entropy_with_logits",
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits", "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2",
    "tf.nn.sparse_softmax_cross_entropy_with_logits", "tf.nn.sigmoid_cross_entropy_with_logits",
    "tf.nn.weighted_cross_entropy_with_logits", "tf.compat.v1.losses.softmax_cross_entropy",
    "tf.compat.v1.losses.sparse_softmax_cross_entropy", "tf.compat.v1.losses.sigmoid_cross_entropy",
    "tf.keras.losses.CategoricalCrossentropy", "tf.keras.losses.SparseCategoricalCrossentropy",
    "tf.keras.losses.BinaryCrossentropy", "tf.keras.losses.categorical_crossentropy",
    "tf.keras.losses.sparse_categorical_crossentropy", "tf.keras.losses.binary_crossentropy",
    "tf.keras.losses.CTC", "tf.keras.losses.ctc", "tf.compat.v1.losses.compute_weighted_loss",
    "tf.nn.compute_average_loss", "tf.clip_by_global_norm",
}
"""The ops whose records carry an analytic gradient (every other one is checked by finite
differences)."""


def test_analytic_gradients_sit_in_the_records_of_differentiable_ops():
    with_grad = {op.name for op in registry() if op.grad is not None}
    assert ANALYTIC <= with_grad, sorted(ANALYTIC - with_grad)
    for name in with_grad:
        assert get_op(name).differentiable, name


def test_clip_by_global_norm_gradient_equals_finite_differences():
    t_list = [RNG.normal(size=(3, 2)) * 2, RNG.normal(size=(4,)) * 2]
    for clip in (1.5, 50.0):  # clipped, and a norm below clip_norm (scale exactly 1)
        op = get_op("tf.clip_by_global_norm")
        cot = [RNG.normal(size=t.shape) for t in t_list] + [np.asarray(RNG.normal())]
        analytic = op.grad({}, {"t_list": t_list, "clip_norm": clip}, cot, ("t_list",))["t_list"]
        for k, t in enumerate(t_list):
            def f(x, k=k):
                clipped, norm = op.run_reference({}, {"t_list": [x if j == k else v for j, v in enumerate(t_list)],
                                                      "clip_norm": clip})
                return sum(float(np.sum(c * o)) for c, o in zip(cot, _leaves(clipped) + [norm]))
            np.testing.assert_allclose(analytic[k], finite_difference(f, t, 1e-6), rtol=1e-6, atol=1e-8)


def _ctc_loss64(labels, logits):
    """The reference CTC recursion fed float64 log-probabilities (no float32 rounding)."""
    log_probs = stable.log_softmax_shifted(logits, axis=-1)
    return float(ctc.ctc_nll(labels, int(np.sum(labels != 0)), log_probs))


def test_ctc_gradient_equals_finite_differences_for_labels_without_an_inner_blank():
    labels = np.array([[1, 2, 1, 0], [2, 2, 0, 0]])
    logits = RNG.normal(size=(2, 6, 3))
    analytic = ctc.keras_ctc_vjp(labels, logits, np.ones(2))
    for b in range(2):
        fd = finite_difference(lambda x, b=b: _ctc_loss64(labels[b], x), logits[b], 1e-6)
        np.testing.assert_allclose(analytic[b], fd, rtol=1e-4, atol=2e-6)


def test_ctc_gradient_drops_a_blank_inside_the_label_as_tf_does():
    """TF's _state_to_olabel credits no class with the state of an inner blank: the frame
    gradients then sum to that state's posterior, not 0, and differ from the derivative."""
    labels = np.array([[1, 2, 0, 2]])
    logits = RNG.normal(size=(1, 5, 3))
    analytic = ctc.keras_ctc_vjp(labels, logits, np.ones(1))[0]
    fd = finite_difference(lambda x: _ctc_loss64(labels[0], x), logits[0], 1e-6)
    assert np.allclose(fd.sum(-1), 0, atol=1e-6)
    assert analytic.sum(-1).max() > 0.05
    assert np.abs(analytic - fd).max() > 0.05


def test_v1_op_stops_the_labels_gradient_and_v2_does_not():
    args = {"labels": SOFT_LABELS, "logits": LOGITS}
    cot = [np.ones(B)]
    v1 = nn_compat_v1.xent_v1_grad({}, args, cot, ("labels", "logits"))
    v2 = nn_compat_v1.xent_v2_grad({}, args, cot, ("labels", "logits"))
    assert np.all(v1["labels"] == 0)
    np.testing.assert_array_equal(v1["logits"], v2["logits"])
    np.testing.assert_allclose(v2["labels"], -stable.log_softmax(LOGITS), rtol=1e-12)


def test_unnormalised_labels_get_tfs_formula_not_the_derivative():
    labels = np.array([[1.0, 1.0, 0.0], [0.5, 0.0, 0.0]])
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 1.0, -0.5]])
    name, wrt, cot = "tf.nn.softmax_cross_entropy_with_logits", ("logits",), [np.ones(2)]
    analytic = get_op(name).grad({}, {"labels": labels, "logits": logits}, cot, wrt)["logits"]
    fd = reference_fd(name, {}, {"labels": labels, "logits": logits}, wrt, cot, h=1e-6)["logits"]
    p = stable.softmax(logits)
    np.testing.assert_allclose(analytic, p - labels, rtol=1e-12)
    np.testing.assert_allclose(fd, labels.sum(-1, keepdims=True) * p - labels, rtol=1e-6)
    np.testing.assert_allclose(analytic[0], [-0.2144, -0.9609, 0.1753], atol=1e-4)
    np.testing.assert_allclose(fd[0], [0.5712, -0.9218, 0.3506], atol=1e-4)


def test_keras_clipping_zeroes_the_gradient_of_a_clipped_probability():
    """Keras clips p / sum(p) to [1e-7, 1 - 1e-7]: a true class predicted at 0 passes no
    gradient through -log(p), so its row gets none; an unclipped row gets
    -t / p + sum(t) / sum(p)."""
    y_true = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y_pred = np.array([[0.0, 0.3, 0.7], [0.2, 0.5, 0.3]], dtype=np.float32)
    d = G.keras_categorical_vjp(y_true, y_pred, np.ones(2, np.float32))
    np.testing.assert_array_equal(d[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(d[1], [1.0, 1.0 - 2.0, 1.0], rtol=1e-6)
    d = G.keras_binary_vjp(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]], np.float32), np.ones(1, np.float32))
    np.testing.assert_array_equal(d, [[0.0, 0.0]])


def test_tf_cotangent_rounds_through_float32_to_the_output_dtype():
    c = np.array([0.1, 1 / 3])
    assert G.tf_cotangent(c, np.float64).dtype == np.float64
    np.testing.assert_array_equal(G.tf_cotangent(c, np.float16), c.astype(np.float32).astype(np.float16))
    assert G.tf_cotangent(c, ml_dtypes.bfloat16).dtype == ml_dtypes.bfloat16


# --- against TensorFlow's GradientTape ---------------------------------------------------------

TF_CASES = [
    # (op, init, args, wrt, dtype, rtol, atol): float16/bfloat16 bit for bit eagerly
    ("tf.nn.softmax_cross_entropy_with_logits", {}, {"labels": SOFT_LABELS, "logits": LOGITS}, ("labels", "logits"),
     "float16", 0, 0),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", {}, {"labels": INT_LABELS, "logits": LOGITS}, ("logits",),
     "bfloat16", 0, 0),
    ("tf.nn.weighted_cross_entropy_with_logits", {}, {"labels": PROBS, "logits": LOGITS, "pos_weight": np.array(1.7)},
     ("labels", "logits", "pos_weight"), "float16", 0, 0),
    ("tf.nn.log_softmax", {}, {"logits": LOGITS}, ("logits",), "bfloat16", 0, 0),
    ("tf.compat.v1.losses.softmax_cross_entropy", {},
     {"onehot_labels": ONE_HOT, "logits": LOGITS, "weights": WEIGHTS, "label_smoothing": 0.1}, ("logits", "weights"),
     "float64", 1e-12, 1e-15),
    ("tf.keras.losses.CategoricalCrossentropy", {}, {"y_true": ONE_HOT, "y_pred": PROBS, "sample_weight": WEIGHTS},
     ("y_pred",), "float32", 1e-6, 1e-8),
    ("tf.keras.losses.ctc", {}, {"y_true": np.array([[1, 2, 0, 2]], np.int32), "y_pred": RNG.normal(size=(1, 5, 3))},
     ("y_pred",), "float32", 1e-5, 1e-6),
]


def _cast(args, dtype):
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    return {k: v.astype(dt) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in args.items()}


@pytest.mark.parametrize("case", TF_CASES, ids=lambda c: f"{c[0].rsplit('.', 1)[-1]}-{c[4]}")
def test_analytic_gradient_matches_tf_gradient_tape(case):
    name, init, args, wrt, dtype, rtol, atol = case
    op, args = get_op(name), _cast(args, dtype)
    out, _ = tfexec.run(op, init, args, "eager")
    cot = [RNG.normal(size=np.shape(leaf)) for leaf in _leaves(out)]
    _, tf_grads = tfexec.run(op, init, args, "eager", wrt, cot)
    ours = op.grad(init, args, cot, wrt)
    for arg in wrt:
        np.testing.assert_allclose(np.asarray(ours[arg], np.float64), np.asarray(tf_grads[arg], np.float64),
                                   rtol=rtol, atol=atol, err_msg=f"{name} d/d{arg} ({dtype})")


def test_tf_stops_the_v1_labels_gradient_and_backpropagates_v2s():
    """Document 003's point, on TF itself: the v1 op's labels gradient is zero (TF returns
    None behind stop_gradient), the _v2 op's is -g log_softmax(logits), as the reference says."""
    args, wrt = {"labels": SOFT_LABELS, "logits": LOGITS}, ("labels", "logits")
    cot = [RNG.normal(size=B)]
    for name in ("tf.compat.v1.nn.softmax_cross_entropy_with_logits",
                 "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2"):
        _, tf_grads = tfexec.run(get_op(name), {}, args, "eager", wrt, cot)
        ours = (nn_compat_v1.xent_v1_grad if name.endswith("logits") else nn_compat_v1.xent_v2_grad)({}, args, cot, wrt)
        for arg in wrt:
            np.testing.assert_allclose(ours[arg], tf_grads[arg], rtol=1e-12, atol=1e-15, err_msg=f"{name} d/d{arg}")
        assert np.any(tf_grads["labels"] != 0) == name.endswith("_v2")


CTC_ARGS = {"labels": np.array([[1, 3, 3], [3, 1, 0]]), "label_length": np.array([3, 2]),
            "logit_length": np.array([7, 5])}


@pytest.mark.parametrize("blank_index, time_major", [(0, True), (-1, False), (2, True)])
def test_nn_ctc_loss_gradient_equals_finite_differences(blank_index, time_major):
    """Sparse labels compute in float64: the analytic gradient is exact; frames past an
    example's logit_length get none."""
    shape = (7, 2, 5) if time_major else (2, 7, 5)
    args = {**CTC_ARGS, "logits": RNG.normal(size=shape), "blank_index": blank_index,
            "logits_time_major": time_major, "sparse_labels": True}
    cot = cotangents("tf.nn.ctc_loss", {}, args)
    analytic = get_op("tf.nn.ctc_loss").grad({}, args, cot, ("logits",))["logits"]
    fd = reference_fd("tf.nn.ctc_loss", {}, args, ("logits",), cot, h=1e-6)["logits"]
    np.testing.assert_allclose(analytic, fd, rtol=1e-6, atol=1e-8)
    past = analytic[5:, 1] if time_major else analytic[1, 5:]
    assert np.all(past == 0)
