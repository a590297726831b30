"""Op records for ``tf.nn``: each op's arguments, pre-flight checks and analytic gradient."""
from __future__ import annotations

import numpy as np

from harness.ops.common import cot, first_problem, pick, same_shape
from harness.reference import ctc, nn
from harness.reference import vjp as V
from harness.registry import Arg, OpSpec


def _sparse_labels_check(init, args):
    labels, logits = np.shape(args.get("labels")), np.shape(args.get("logits"))
    if not logits:
        return "logits is a scalar: it needs a class axis (TF raises ValueError)"
    if labels != logits[:-1]:
        return f"labels shape {list(labels)} must equal logits shape without its last axis {list(logits[:-1])}"
    return None


def label_range_problem(labels, num_classes: int) -> str | None:
    """The CPU kernel's rule for class ids: every label in [0, num_classes)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return None
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        return (f"labels hold a value of {bad.flat[0]}, outside the valid range [0, {num_classes}) of "
                f"logits' last axis (TF raises InvalidArgumentError: Received a label value of "
                f"{bad.flat[0]} which is outside the valid range)")
    return None


def _sparse_label_range_check(init, args):
    logits = np.shape(args.get("logits"))
    if "labels" not in args or not logits:
        return None
    return label_range_problem(args["labels"], logits[-1])


def _softmax_axis_check(init, args):
    """tf.nn.softmax / log_softmax: ``axis`` in [-rank, rank); no scalar input."""
    rank = np.ndim(args.get("logits"))
    axis = args.get("axis")
    axis = -1 if axis is None else axis
    if rank == 0:
        return "logits is a scalar: softmax needs rank >= 1 (TF raises InvalidArgumentError)"
    if not -rank <= axis < rank:
        return (f"axis {axis} is out of range for logits of rank {rank}: it must be in [{-rank}, {rank}) "
                f"(TF raises InvalidArgumentError: `dim` must be in the range [{-rank}, {rank}))")
    return None


def _softmax_rank_check(init, args):
    """TF's float32/bfloat16 Softmax kernel (oneDNN) takes ranks 1 to 5 only."""
    logits = args.get("logits")
    dtype = getattr(logits, "dtype", None)
    if dtype is not None and dtype.name in ("float32", "bfloat16") and np.ndim(logits) > 5:
        return (f"logits of rank {np.ndim(logits)} in {dtype.name}: TF's CPU softmax takes ranks 1 to 5 "
                "(TF raises AbortedError: Input dims must be <= 5 and >=1)")
    return None


def _axis_last(shape: tuple, axis: int) -> tuple:
    return shape[:axis] + shape[axis + 1:] + shape[axis:axis + 1]


def _rows(shape: tuple) -> tuple:
    """A shape flattened to [rows, last axis], as TF flattens softmax inputs."""
    return (int(np.prod(shape[:-1])), shape[-1])


def xent_shape_problem(labels_shape: tuple, logits_shape: tuple, axis) -> str | None:
    """The shape rules of the dense softmax cross-entropy, checked against TF 2.21: a
    scalar input fails; ``axis`` must be -1 or in [0, rank) and, when it is moved last,
    both ranks must agree; both inputs are flattened to [rows, classes] and must
    broadcast there (labels [1, C] over a batch, either side's classes of 1); and the
    broadcast row count must be that of ``logits.shape[:-1]`` (so logits [1, C] with
    labels [B, C] fails)."""
    labels_shape, logits_shape = tuple(labels_shape), tuple(logits_shape)
    axis = -1 if axis is None else axis
    for name, shape in (("labels", labels_shape), ("logits", logits_shape)):
        if not shape:
            return f"{name} is a scalar: it needs a class axis (TF raises InvalidArgumentError)"
    rank = len(logits_shape)
    if axis != -1:
        if not 0 <= axis < rank:
            return (f"axis {axis} is neither -1 nor in [0, {rank}) for logits of rank {rank} "
                    "(TF raises InvalidArgumentError: Requires start <= limit)")
        if len(labels_shape) != rank:
            return (f"labels rank {len(labels_shape)} != logits rank {rank}: TF moves axis {axis} last in both "
                    "(TF raises InvalidArgumentError)")
        labels_shape, logits_shape = _axis_last(labels_shape, axis), _axis_last(logits_shape, axis)
    labels2, logits2 = _rows(labels_shape), _rows(logits_shape)
    shown = lambda shape, flat: f"{list(shape)}" + (f" (as {list(flat)})" if shape != flat else "")
    try:
        rows = np.broadcast_shapes(labels2, logits2)[0]
    except ValueError:
        return (f"labels shape {shown(labels_shape, labels2)} is not broadcastable to logits shape "
                f"{shown(logits_shape, logits2)} (TF raises InvalidArgumentError: logits and labels must "
                "be broadcastable)")
    if rows != logits2[0]:
        return (f"labels shape {shown(labels_shape, labels2)} broadcasts logits shape "
                f"{shown(logits_shape, logits2)} to {rows} rows, but the loss has logits.shape[:-1] = "
                f"{list(logits_shape[:-1])} (TF raises InvalidArgumentError: Input to reshape)")
    return None


def xent_check(axis_of):
    """Check for a dense softmax cross-entropy op; ``axis_of(args)`` reads its class axis."""
    def check(init, args):
        if "labels" not in args or "logits" not in args:
            return None
        return xent_shape_problem(np.shape(args["labels"]), np.shape(args["logits"]), axis_of(args))
    return check


# --- sampled losses: the case gives sampled_values as three separate arguments --------

SAMPLED_VALUE_ARGS = ("sampled_candidates", "true_expected_count", "sampled_expected_count")


def _split_sampled_values(args):
    rest = {k: v for k, v in args.items() if k not in SAMPLED_VALUE_ARGS}
    rest["sampled_values"] = tuple(args[k] for k in SAMPLED_VALUE_ARGS)
    return rest


def sampled_softmax_loss_reference(**args):
    """``nn.sampled_softmax_loss`` with ``sampled_values`` built from three case args."""
    return nn.sampled_softmax_loss(**_split_sampled_values(args))


def nce_loss_reference(**args):
    """``nn.nce_loss`` with ``sampled_values`` built from three case args."""
    return nn.nce_loss(**_split_sampled_values(args))


def _sampled_tf_call(fn_name: str):
    def call(tf, init, args):
        return getattr(tf.nn, fn_name)(**_split_sampled_values(args))
    call.__name__ = f"tf_{fn_name}"
    return call


def _sampled_args(remove_accidental_hits_default: bool, with_seed: bool) -> tuple[Arg, ...]:
    args = (
        Arg("weights", "float", doc="[num_classes, dim] class embeddings", kind="embeddings"),
        Arg("biases", "float", doc="[num_classes] class biases", kind="embeddings"),
        Arg("labels", "int", doc="[batch_size, num_true] target classes", kind="class_ids"),
        Arg("inputs", "float", doc="[batch_size, dim] activations", kind="embeddings"),
        Arg("num_sampled", "value", doc="number of sampled classes"),
        Arg("num_classes", "value", doc="number of possible classes"),
        Arg("num_true", "value", default=1, doc="target classes per example"),
        Arg("sampled_candidates", "int",
            doc="sampled_values[0]: [num_sampled] sampled class ids (fixed so the loss is deterministic)",
            kind="class_ids"),
        Arg("true_expected_count", "float", doc="sampled_values[1]: [batch_size, num_true] expected counts",
            kind="positive"),
        Arg("sampled_expected_count", "float", doc="sampled_values[2]: [num_sampled] expected counts",
            kind="positive"),
        Arg("remove_accidental_hits", "value", default=remove_accidental_hits_default,
            doc="mask sampled classes equal to a true class", choices=(True, False)),
    )
    if with_seed:
        args += (Arg("seed", "value", default=None, doc="sampler seed (unused: sampled_values are given)"),)
    return args


def _sampled_check(init, args):
    n = args.get("num_sampled")
    cand = args.get("sampled_candidates")
    if cand is not None and np.shape(cand) != (n,):
        return f"sampled_candidates shape {list(np.shape(cand))} != [num_sampled] = [{n}]"
    return None


# --- tf.nn.ctc_loss: dense or sparse labels -------------------------------------------


def _ctc_tf(tf, init, args):
    """``tf.nn.ctc_loss``; with ``sparse_labels`` the dense rows are handed to TF as a
    ``tf.SparseTensor`` of their first label_length[b] entries, and label_length as None."""
    args = dict(args)
    if args.pop("sparse_labels", False):
        labels = tf.convert_to_tensor(args["labels"])
        index = tf.where(tf.sequence_mask(args["label_length"], tf.shape(labels)[1]))
        args["labels"] = tf.SparseTensor(index, tf.gather_nd(labels, index), tf.cast(tf.shape(labels), tf.int64))
        args["label_length"] = None
    return tf.nn.ctc_loss(**args)


def _ctc_check(init, args):
    """Shapes TF requires: labels [B, L], logits [T, B, C] (or [B, T, C]), one length per
    example, lengths within L and T, labels in [0, C)."""
    labels, logits = np.shape(args.get("labels")), np.shape(args.get("logits"))
    if len(labels) != 2 or len(logits) != 3:
        return f"labels must be [batch, max_label_length] and logits of rank 3, got {list(labels)} and {list(logits)}"
    frames, batch = logits[:2] if args.get("logits_time_major", True) else logits[1::-1]
    for name, bound in (("label_length", labels[1]), ("logit_length", frames)):
        value = np.asarray(args.get(name))
        if value.shape != (batch,):
            return f"{name} must hold one length per example ([{batch}]), got shape {list(value.shape)}"
        if np.any(value < 0) or np.any(value > bound):
            return f"{name} {value.tolist()} must be in [0, {bound}]"
    if labels[0] != batch:
        return f"labels hold {labels[0]} rows for a batch of {batch} (logits {list(logits)})"
    return label_range_problem(args["labels"], logits[-1])


def ctc_loss_grad(init, args, cotangent, wrt):
    x = np.asarray(args["logits"])
    g = cot(cotangent, x.dtype)
    keep = ("logits_time_major", "blank_index", "sparse_labels")
    d = ctc.ctc_loss_vjp(args["labels"], x, args["label_length"], args["logit_length"], g,
                         **{k: args[k] for k in keep if k in args})
    return pick(wrt, logits=d)


def ctc_fuzz(g, op):
    """Labels ``[B, L]`` in ``[1, C)`` (0 is the blank), logits of T frames, time- or
    batch-major. Dense labels (not in float64, which they reject): lengths 0 to L and 0
    to T (a label may not fit). Sparse labels: 1 to L labels in at least as many frames."""
    classes, frames, batch, width = g.integer(2, 4), g.integer(1, 4), g.pick([1, 2, 3]), g.integer(1, 4)
    time_major, sparse = g.pick([True, False]), g.dtype == "float64" or g.pick([False, True])
    args = {"labels": g.ints((batch, width), 1, classes),
            "logits": g.floats((frames, batch, classes) if time_major else (batch, frames, classes), "moderate")}
    if sparse:
        lengths = [g.integer(1, min(width, frames)) for _ in range(batch)]
        args.update(label_length=lengths, logit_length=[g.integer(n, frames) for n in lengths], blank_index=0,
                    sparse_labels=True)
    else:
        args.update(label_length=g.ints((batch,), 0, width + 1), logit_length=g.ints((batch,), 0, frames + 1))
    if not time_major:
        args["logits_time_major"] = False
    return args


CTC_FRAMES, CTC_LABELS = 16, 4


def ctc_bench(rng: np.random.Generator, b: int, c: int) -> dict:
    """``[b, CTC_LABELS]`` labels in 1..c-1 over ``[CTC_FRAMES, b, c]`` time-major logits."""
    return {"labels": rng.integers(1, c, (b, CTC_LABELS)).astype(np.int32),
            "logits": rng.normal(0, 2.0, (CTC_FRAMES, b, c)).astype(np.float32),
            "label_length": np.full(b, CTC_LABELS, np.int32), "logit_length": np.full(b, CTC_FRAMES, np.int32)}


CTC_LOSS = OpSpec(
    name="tf.nn.ctc_loss",
    reference=ctc.ctc_loss,
    args=(
        Arg("labels", "int", doc="[batch, max_label_length] label rows, padded past label_length",
            kind="label_sequences"),
        Arg("logits", "float", doc="[frames, batch, classes] (batch-major with logits_time_major: false)",
            kind="logits"),
        Arg("label_length", "int", doc="[batch] labels per row", kind="sequence_lengths"),
        Arg("logit_length", "int", doc="[batch] frames per example", kind="sequence_lengths"),
        Arg("logits_time_major", "value", default=True, choices=(True, False)),
        Arg("blank_index", "value", default=None, doc="the blank class; None: 0 (dense labels); -1: the last"),
        Arg("sparse_labels", "value", default=False, choices=(False, True),
            doc="pass labels to TF as a tf.SparseTensor of each row's first label_length entries"),
    ),
    differentiable=("logits",),
    grad=ctc_loss_grad,
    tf_call=_ctc_tf,
    check=_ctc_check,
    summary="CTC negative log-likelihood per example, dense or sparse labels",
    quirks="dense labels run ctc_loss_dense in float32 (float64 logits raise InvalidArgumentError; a label "
           "too long for its frames costs about 706.9); sparse labels run the CTCLoss kernel (float64 eagerly "
           "only, with a gradient off by ~1e-6 relative; blank_index required; more labels than frames raise, "
           "repeats that do not fit give inf; no XLA); a label equal to blank_index stands for the class "
           "below it; unique (a TPU fast path) is not covered",
    fuzz=ctc_fuzz,
    bench=ctc_bench,
    bench_limit=("medium", "the CTC reference walks the frames of each example in Python"),
)


# --- analytic gradients (formulas in harness.reference.vjp) ---------------------------


def softmax_grad(init, args, cotangent, wrt):
    x = args["logits"]
    return pick(wrt, logits=V.softmax_vjp(x, cot(cotangent, x.dtype), args.get("axis")))


def log_softmax_grad(init, args, cotangent, wrt):
    x = args["logits"]
    return pick(wrt, logits=V.log_softmax_vjp(x, cot(cotangent, x.dtype), args.get("axis")))


def softmax_xent_grad(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits = V.softmax_xent_vjp(args["labels"], x, cot(cotangent, x.dtype), args.get("axis", -1))
    return pick(wrt, labels=dlabels, logits=dlogits)


def sparse_xent_grad(init, args, cotangent, wrt):
    x = args["logits"]
    return pick(wrt, logits=V.sparse_xent_vjp(args["labels"], x, cot(cotangent, x.dtype)))


def sigmoid_xent_grad(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits = V.sigmoid_xent_vjp(args["labels"], x, cot(cotangent, x.dtype))
    return pick(wrt, labels=dlabels.astype(np.asarray(args["labels"]).dtype), logits=dlogits)


def weighted_xent_grad(init, args, cotangent, wrt):
    x = args["logits"]
    dlabels, dlogits, dq = V.weighted_xent_vjp(args["labels"], x, args["pos_weight"], cot(cotangent, x.dtype))
    return pick(wrt, labels=dlabels, logits=dlogits, pos_weight=dq)


def compute_average_loss_grad(init, args, cotangent, wrt):
    """Weighted: computed in float32 and returned in the input dtype, so finite differences
    would step through float32 rounding."""
    losses = np.asarray(args["per_example_loss"])
    dlosses, dweights = V.compute_average_loss_vjp(losses, args.get("sample_weight"), args.get("global_batch_size"),
                                                   cot(cotangent, losses.dtype))
    return pick(wrt, per_example_loss=dlosses, sample_weight=dweights)


OPS = [
    OpSpec(
        name="tf.nn.softmax",
        reference=nn.softmax,
        args=(Arg("logits", "float", kind="logits"), Arg("axis", "value", default=None, doc="None means -1")),
        differentiable=("logits",),
        grad=softmax_grad,
        summary="softmax along an axis",
        quirks="float16 rows are summed in float16 in Eigen's order; float32/bfloat16 inputs of rank > 5 are "
               "rejected by the oneDNN kernel",
        check=first_problem(_softmax_axis_check, _softmax_rank_check),
    ),
    OpSpec(
        name="tf.nn.log_softmax",
        reference=nn.log_softmax,
        args=(Arg("logits", "float", kind="logits"), Arg("axis", "value", default=None, doc="None means -1")),
        differentiable=("logits",),
        grad=log_softmax_grad,
        summary="log-softmax along an axis",
        check=_softmax_axis_check,
    ),
    OpSpec(
        name="tf.nn.softmax_cross_entropy_with_logits",
        reference=nn.softmax_cross_entropy_with_logits,
        args=(
            Arg("labels", "float", doc="class probabilities (one-hot or soft), same shape as logits",
                kind="probabilities"),
            Arg("logits", "float", doc="unscaled log-probabilities", kind="logits"),
            Arg("axis", "value", default=-1, doc="the class axis"),
        ),
        differentiable=("labels", "logits"),
        grad=softmax_xent_grad,
        quirks="float16/bfloat16 are computed in float32; the logits gradient is g (softmax - labels), the "
               "derivative only when the labels sum to 1",
        summary="per-example cross-entropy with probability labels",
        check=xent_check(lambda args: args.get("axis", -1)),
    ),
    OpSpec(
        name="tf.nn.sparse_softmax_cross_entropy_with_logits",
        reference=nn.sparse_softmax_cross_entropy_with_logits,
        args=(
            Arg("labels", "int", doc="class indices, shape = logits.shape[:-1]", kind="class_ids"),
            Arg("logits", "float", doc="unscaled log-probabilities", kind="logits"),
        ),
        differentiable=("logits",),
        grad=sparse_xent_grad,
        quirks="a label outside [0, classes) raises InvalidArgumentError on CPU; bfloat16 runs in bfloat16",
        summary="per-example cross-entropy with integer labels",
        check=first_problem(_sparse_labels_check, _sparse_label_range_check),
    ),
    OpSpec(
        name="tf.nn.sigmoid_cross_entropy_with_logits",
        reference=nn.sigmoid_cross_entropy_with_logits,
        args=(
            Arg("labels", "float", default=None, doc="targets in [0, 1], same shape as logits", kind="probability"),
            Arg("logits", "float", default=None, kind="logits"),
        ),
        differentiable=("labels", "logits"),
        grad=sigmoid_xent_grad,
        summary="element-wise logistic loss",
        check=same_shape("labels", "logits"),
    ),
    OpSpec(
        name="tf.nn.weighted_cross_entropy_with_logits",
        reference=nn.weighted_cross_entropy_with_logits,
        args=(
            Arg("labels", "float", doc="targets in [0, 1], same shape as logits", kind="probability"),
            Arg("logits", "float", kind="logits"),
            Arg("pos_weight", "float", doc="coefficient on the positive term", kind="pos_weight"),
        ),
        differentiable=("labels", "logits", "pos_weight"),
        grad=weighted_xent_grad,
        summary="logistic loss with the positive term weighted",
        check=same_shape("labels", "logits"),
    ),
    OpSpec(
        name="tf.nn.log_poisson_loss",
        reference=nn.log_poisson_loss,
        args=(
            Arg("targets", "float", kind="nonnegative"),
            Arg("log_input", "float", doc="log of the predicted rate"),
            Arg("compute_full_loss", "value", default=False, doc="add the Stirling term", choices=(False, True)),
        ),
        differentiable=("targets", "log_input"),
        summary="Poisson negative log-likelihood from log rates",
        check=same_shape("targets", "log_input"),
    ),
    OpSpec(
        name="tf.nn.l2_loss",
        reference=nn.l2_loss,
        args=(Arg("t", "float"),),
        differentiable=("t",),
        summary="sum(t ** 2) / 2",
    ),
    OpSpec(
        name="tf.nn.compute_average_loss",
        reference=nn.compute_average_loss,
        args=(
            Arg("per_example_loss", "float", doc="rank >= 1", kind="per_example_losses"),
            Arg("sample_weight", "float", default=None, doc="optional weights", kind="sample_weight"),
            Arg("global_batch_size", "value", default=None, doc="integer; None = per_example_loss.shape[0]"),
        ),
        differentiable=("per_example_loss", "sample_weight"),
        grad=compute_average_loss_grad,
        fuzz="compute_average_loss",
        summary="sum of (weighted) losses / global batch size",
    ),
    OpSpec(
        name="tf.nn.scale_regularization_loss",
        reference=nn.scale_regularization_loss,
        args=(Arg("regularization_loss", "float", kind="losses"),),
        differentiable=("regularization_loss",),
        summary="sum(regularization_loss) / number of replicas (1)",
    ),
    OpSpec(
        name="tf.nn.sampled_softmax_loss",
        reference=sampled_softmax_loss_reference,
        args=_sampled_args(remove_accidental_hits_default=True, with_seed=True),
        differentiable=("weights", "biases", "inputs"),
        tf_call=_sampled_tf_call("sampled_softmax_loss"),
        fuzz="sampled_loss",
        bench="sampled_loss",
        summary="softmax cross-entropy over the true and the given sampled classes",
        check=_sampled_check,
    ),
    OpSpec(
        name="tf.nn.nce_loss",
        reference=nce_loss_reference,
        args=_sampled_args(remove_accidental_hits_default=False, with_seed=False),
        differentiable=("weights", "biases", "inputs"),
        tf_call=_sampled_tf_call("nce_loss"),
        fuzz="sampled_loss",
        bench="sampled_loss",
        summary="noise-contrastive estimation loss over the given sampled classes",
        check=_sampled_check,
    ),
    CTC_LOSS,
]
