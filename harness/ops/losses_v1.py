"""Op records for ``tf.compat.v1.losses``: arguments, pre-flight checks, analytic gradients."""
from __future__ import annotations

import numpy as np

from harness.ops.common import cot, first_problem, pick, same_shape
from harness.ops.nn import label_range_problem
from harness.reference import losses_v1, nn
from harness.reference import vjp as V
from harness.reference import vjp_elementwise as VE
from harness.reference.reductions import V1_NONE, V1_REDUCTIONS, V1_SUM_BY_NONZERO_WEIGHTS, v1_assert_broadcastable
from harness.registry import Arg, OpSpec

REDUCTION = Arg(
    "reduction", "value", default=V1_SUM_BY_NONZERO_WEIGHTS,
    doc="a tf.compat.v1.losses.Reduction string", choices=V1_REDUCTIONS,
)
WEIGHTS = Arg("weights", "float", default=1.0, kind="weights",
              doc="scalar, or the loss's rank with each dimension 1 or equal")


def weights_problem(weights_shape: tuple, values_shape: tuple) -> str | None:
    """v1 weights must be a scalar or have the per-element loss's rank with every
    dimension 1 or equal (``reductions.v1_assert_broadcastable``, checked against TF)."""
    try:
        v1_assert_broadcastable(np.broadcast_to(np.float32(0), weights_shape),
                                np.broadcast_to(np.float32(0), values_shape))
    except ValueError:
        return (f"weights shape {list(weights_shape)} can not be broadcast to the loss values' shape "
                f"{list(values_shape)}: weights must be a scalar or of rank {len(values_shape)} with each "
                "dimension 1 or equal (TF raises ValueError: weights can not be broadcast to values)")
    return None


def _weights_check(values_shape):
    """Check of ``weights`` against the per-element losses, whose shape
    ``values_shape(args)`` gives (None when the inputs say nothing yet)."""
    def check(init, args):
        if "weights" not in args:
            return None
        shape = values_shape(args)
        return None if shape is None else weights_problem(np.shape(args["weights"]), tuple(shape))
    return check


def _shape_of(name: str):
    return lambda args: np.shape(args[name]) if name in args else None


def _class_rows(args):
    """softmax_cross_entropy's per-example losses: logits without their class axis."""
    return np.shape(args["logits"])[:-1] if np.ndim(args.get("logits")) else None


def _cosine_values(args):
    """cosine_distance keeps ``axis`` as size 1."""
    axis = args.get("dim") if args.get("axis") is None else args["axis"]
    if "labels" not in args or axis is None:
        return None
    shape = list(np.shape(args["labels"]))
    if not -len(shape) <= axis < len(shape):
        return None
    shape[axis] = 1
    return tuple(shape)


def _sparse_check(init, args):
    """Shapes after TF's squeezes (labels [B, 1] -> [B]; logits [B, C, 1] under labels
    [B]; weights of labels' rank + 1 lose a last axis of 1), then the label range and
    the weights broadcast, as checked against TF."""
    if "labels" not in args or "logits" not in args:
        return None
    labels, logits = tuple(np.shape(args["labels"])), tuple(np.shape(args["logits"]))
    if len(logits) - len(labels) == 2 and logits[-1] == 1:
        logits = logits[:-1]
    elif len(logits) == len(labels) and labels and labels[-1] == 1:
        labels = labels[:-1]
    if not logits:
        return "logits is a scalar: it needs a class axis (TF raises ValueError)"
    if labels != logits[:-1]:
        return (f"labels shape {list(np.shape(args['labels']))} must equal logits shape without its last axis "
                f"{list(logits[:-1])} (a trailing 1 is squeezed first; TF raises ValueError)")
    problem = label_range_problem(args["labels"], logits[-1])
    if problem or "weights" not in args:
        return problem
    weights = tuple(np.shape(args["weights"]))
    if len(weights) == len(labels) + 1:
        if weights[-1] != 1:
            return (f"weights shape {list(weights)} has one axis more than labels {list(labels)}, which TF "
                    f"squeezes, but its size is {weights[-1]}, not 1 (TF raises InvalidArgumentError: "
                    f"Can not squeeze dim[{len(weights) - 1}])")
        weights = weights[:-1]
    return weights_problem(weights, labels)


# --- analytic gradients (formulas in harness.reference.vjp) ---------------------------


def softmax_cross_entropy_grad(init, args, cotangent, wrt):
    """Smoothed labels (y (1 - s) + s / C, in the logits dtype) behind ``stop_gradient``."""
    x = np.asarray(args["logits"])
    dt = x.dtype.type
    labels = np.asarray(args["onehot_labels"]).astype(x.dtype)
    smoothing = args.get("label_smoothing", 0)
    if smoothing > 0:
        labels = labels * dt(1.0 - smoothing) + dt(smoothing) / dt(labels.shape[-1])
    weights = args.get("weights", 1.0)
    losses = nn.softmax_cross_entropy_with_logits(labels, x)
    dlosses, dweights = V.v1_weighted_loss_vjp(losses, weights, args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               cot(cotangent, x.dtype))
    return pick(wrt, logits=V.softmax_xent_vjp(labels, x, dlosses)[1], weights=dweights)


def sparse_softmax_cross_entropy_grad(init, args, cotangent, wrt):
    """With the squeezes of ``_remove_squeezable_dimensions`` undone on the gradients."""
    labels, x = np.asarray(args["labels"]), np.asarray(args["logits"])
    weights = np.asarray(args.get("weights", 1.0))
    logits = x[..., 0] if x.ndim - labels.ndim == 2 and x.shape[-1] == 1 else x
    if logits.ndim == labels.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    w = weights[..., 0] if weights.ndim - labels.ndim == 1 else weights
    losses = nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    dlosses, dweights = V.v1_weighted_loss_vjp(losses, w, args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               cot(cotangent, x.dtype))
    dlogits = V.sparse_xent_vjp(labels, logits, dlosses)
    return pick(wrt, logits=dlogits.reshape(x.shape), weights=dweights.reshape(weights.shape))


def sigmoid_cross_entropy_grad(init, args, cotangent, wrt):
    """Labels smoothed to z (1 - s) + s / 2; their gradient is multiplied by (1 - s)."""
    x = np.asarray(args["logits"])
    dt = x.dtype.type
    raw = np.asarray(args["multi_class_labels"])
    labels = raw.astype(x.dtype)
    smoothing = args.get("label_smoothing", 0)
    if smoothing > 0:
        labels = labels * dt(1 - smoothing) + dt(0.5 * smoothing)
    weights = args.get("weights", 1.0)
    losses = nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=x)
    dlosses, dweights = V.v1_weighted_loss_vjp(losses, weights, args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               cot(cotangent, x.dtype))
    dlabels, dlogits = V.sigmoid_xent_vjp(labels, x, dlosses)
    if smoothing > 0:
        dlabels = V.ew(np.multiply, x.dtype, dlabels, 1 - smoothing)
    return pick(wrt, logits=dlogits, multi_class_labels=dlabels.astype(raw.dtype), weights=dweights)


def compute_weighted_loss_grad(init, args, cotangent, wrt):
    """Computed in float32 and returned in the input dtype, so finite differences would step
    through float32 rounding."""
    losses = np.asarray(args["losses"])
    dlosses, dweights = V.v1_weighted_loss_vjp(losses, args.get("weights", 1.0),
                                               args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                               cot(cotangent, losses.dtype))
    return pick(wrt, losses=dlosses, weights=dweights)


def elementwise_grad(name, reference, labels, predictions, extra=()):
    """The gradient of an element-wise v1 loss (:func:`harness.reference.vjp_elementwise.v1_terms_vjp`):
    the losses (float32) through the weighted reduction's gradient, then the term's; None for
    labels and predictions of different shapes (finite differences)."""
    def grad(init, args, cotangent, wrt):
        l0, p0 = np.asarray(args[labels]), np.asarray(args[predictions])
        if l0.shape != p0.shape:
            return None
        kwargs = {k: args[k] for k in extra if k in args}
        losses = reference(l0, p0, weights=1.0, reduction=V1_NONE, **kwargs)
        dlosses, dweights = V.v1_weighted_loss_vjp(losses, args.get("weights", 1.0),
                                                   args.get("reduction", V1_SUM_BY_NONZERO_WEIGHTS),
                                                   cot(cotangent, np.float32))
        d_l, d_p = VE.v1_terms_vjp(name, l0, p0, dlosses, **kwargs)
        return pick(wrt, **{labels: d_l.astype(l0.dtype), predictions: d_p.astype(p0.dtype), "weights": dweights})
    grad.__doc__ = f"``{name}``'s element-wise gradient through the v1 weighted reduction."
    return grad


def _pair_op(name, reference, labels, predictions, summary, extra=(), reduction=True, kinds=("real", "real"),
             **record):
    """An element-wise loss of ``labels`` and ``predictions`` (of ``kinds``), weighted and
    reduced; ``record`` holds further OpSpec fields."""
    args = (Arg(labels, "float", kind=kinds[0]), Arg(predictions, "float", kind=kinds[1]), WEIGHTS) + tuple(extra)
    if reduction:
        args += (REDUCTION,)
    return OpSpec(
        name=f"tf.compat.v1.losses.{name}",
        reference=reference,
        args=args,
        differentiable=(labels, predictions, "weights"),
        summary=summary,
        check=first_problem(same_shape(labels, predictions),
                             _weights_check(_cosine_values if name == "cosine_distance" else _shape_of(labels))),
        grad=(elementwise_grad(name, reference, labels, predictions, tuple(a.name for a in extra))
              if name in VE.V1_TERMS else None),
        **record,
    )


OPS = [
    OpSpec(
        name="tf.compat.v1.losses.compute_weighted_loss",
        reference=losses_v1.compute_weighted_loss,
        args=(Arg("losses", "float", kind="losses"), WEIGHTS, REDUCTION),
        differentiable=("losses", "weights"),
        grad=compute_weighted_loss_grad,
        quirks="losses and weights are cast to float32 and the result cast back: float64 inputs give "
               "float32 precision",
        summary="weights and reduces a loss tensor (float32 inside, cast back)",
        check=_weights_check(_shape_of("losses")),
    ),
    OpSpec(
        name="tf.compat.v1.losses.softmax_cross_entropy",
        reference=losses_v1.softmax_cross_entropy,
        args=(
            Arg("onehot_labels", "float", doc="one-hot (or soft) labels, same shape as logits", kind="one_hot"),
            Arg("logits", "float", kind="logits"),
            Arg("weights", "float", default=1.0, doc="scalar or per-example [batch]", kind="weights"),
            Arg("label_smoothing", "value", default=0, doc="smooth towards 1/num_classes"),
            REDUCTION,
        ),
        differentiable=("logits", "weights"),
        grad=softmax_cross_entropy_grad,
        quirks="the smoothed labels are behind stop_gradient",
        summary="softmax cross-entropy, weighted and reduced",
        check=first_problem(same_shape("onehot_labels", "logits"), _weights_check(_class_rows)),
    ),
    OpSpec(
        name="tf.compat.v1.losses.sparse_softmax_cross_entropy",
        reference=losses_v1.sparse_softmax_cross_entropy,
        args=(
            Arg("labels", "int", doc="class indices, logits.shape[:-1] (a trailing 1 is squeezed)", kind="class_ids"),
            Arg("logits", "float", kind="logits"),
            Arg("weights", "float", default=1.0, doc="scalar or per-example [batch] ([batch, 1] is squeezed)",
                kind="weights"),
            REDUCTION,
        ),
        differentiable=("logits", "weights"),
        grad=sparse_softmax_cross_entropy_grad,
        summary="sparse softmax cross-entropy, weighted and reduced",
        check=_sparse_check,
    ),
    OpSpec(
        name="tf.compat.v1.losses.sigmoid_cross_entropy",
        reference=losses_v1.sigmoid_cross_entropy,
        args=(
            Arg("multi_class_labels", "float", doc="targets in {0, 1}, same shape as logits", kind="binary"),
            Arg("logits", "float", kind="logits"),
            WEIGHTS,
            Arg("label_smoothing", "value", default=0, doc="smooth towards 1/2"),
            REDUCTION,
        ),
        differentiable=("multi_class_labels", "logits", "weights"),
        grad=sigmoid_cross_entropy_grad,
        summary="element-wise logistic loss, weighted and reduced",
        check=first_problem(same_shape("multi_class_labels", "logits"), _weights_check(_shape_of("logits"))),
    ),
    _pair_op("absolute_difference", losses_v1.absolute_difference, "labels", "predictions",
             "|predictions - labels| (float32), weighted and reduced"),
    _pair_op("mean_squared_error", losses_v1.mean_squared_error, "labels", "predictions",
             "(predictions - labels)^2 (float32), weighted and reduced"),
    _pair_op("hinge_loss", losses_v1.hinge_loss, "labels", "logits",
             "max(0, 1 - (2 * labels - 1) * logits) (float32), weighted and reduced", kinds=("binary", "logits")),
    _pair_op("huber_loss", losses_v1.huber_loss, "labels", "predictions",
             "Huber loss (float32), weighted and reduced",
             extra=(Arg("delta", "value", default=1.0, doc="where the loss turns linear"),)),
    _pair_op("log_loss", losses_v1.log_loss, "labels", "predictions",
             "binary log loss on probabilities (float32), weighted and reduced",
             extra=(Arg("epsilon", "value", default=1e-7, doc="added inside both logs"),),
             kinds=("probability", "probability")),
    _pair_op("cosine_distance", losses_v1.cosine_distance, "labels", "predictions",
             "1 - sum(labels * predictions, axis) (float32), weighted and reduced",
             extra=(Arg("axis", "value", default=None, doc="required: the vector axis", example=-1),
                    Arg("dim", "value", default=None, doc="deprecated name of axis")),
             fuzz="cosine_distance"),
    _pair_op("mean_pairwise_squared_error", losses_v1.mean_pairwise_squared_error, "labels", "predictions",
             "mean squared difference of pairwise differences per example, summed over the batch",
             reduction=False, fuzz="pairwise"),
]


# --- loss collections, checked inside a tf.Graph with a v1 Session ----------------------


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.numpy() if hasattr(value, "numpy") else value


def _in_graph(build):
    """A tf_call that builds the computation in a fresh tf.Graph and runs it in a
    tf.compat.v1.Session (collections are empty in eager mode). Such an op runs eagerly
    only: inside a tf.function the graph's constants are not Python values (TypeError)."""
    def call(tf, init, args):
        plain = {k: _plain(v) for k, v in args.items()}
        graph = tf.Graph()
        with graph.as_default():
            out = build(tf, plain)
            if isinstance(out, list) and not out:
                return []
            with tf.compat.v1.Session(graph=graph) as sess:
                return sess.run(out)
    call.__name__ = f"graph_{build.__name__}"
    return call


def _fill_collections(tf, args):
    v1 = tf.compat.v1
    for x in args.get("losses", ()):
        v1.losses.add_loss(tf.constant(x))
    for x in args.get("regularization_losses", ()):
        v1.add_to_collection(v1.GraphKeys.REGULARIZATION_LOSSES, tf.constant(x))


def _add_loss(tf, args):
    collection = args.get("loss_collection", "losses")
    tf.compat.v1.losses.add_loss(tf.constant(args["loss"]), loss_collection=collection)
    return tf.compat.v1.get_collection(collection) if collection else []


def _get_losses(tf, args):
    _fill_collections(tf, args)
    return tf.compat.v1.losses.get_losses()


def _get_regularization_losses(tf, args):
    _fill_collections(tf, args)
    return tf.compat.v1.losses.get_regularization_losses()


def _get_regularization_loss(tf, args):
    _fill_collections(tf, args)
    return tf.compat.v1.losses.get_regularization_loss()


def _get_total_loss(tf, args):
    _fill_collections(tf, args)
    return tf.compat.v1.losses.get_total_loss(
        add_regularization_losses=args.get("add_regularization_losses", True))


LOSSES = Arg("losses", "float_list", default=(), doc="tensors added with add_loss, in order", kind="losses")
REG_LOSSES = Arg("regularization_losses", "float_list", default=(), kind="losses",
                 doc="tensors added to the REGULARIZATION_LOSSES collection")

OPS += [
    OpSpec(
        name="tf.compat.v1.losses.add_loss",
        reference=losses_v1.add_loss,
        args=(Arg("loss", "float", kind="losses"),
              Arg("loss_collection", "value", default="losses", doc="collection name; None adds nothing")),
        modes=("eager",),
        tf_call=_in_graph(_add_loss),
        summary="in a graph: the loss collection after add_loss (eager mode adds nothing)",
    ),
    OpSpec(
        name="tf.compat.v1.losses.get_losses",
        reference=losses_v1.get_losses,
        args=(LOSSES,),
        modes=("eager",),
        tf_call=_in_graph(_get_losses),
        summary="in a graph: the LOSSES collection",
    ),
    OpSpec(
        name="tf.compat.v1.losses.get_regularization_losses",
        reference=losses_v1.get_regularization_losses,
        args=(REG_LOSSES,),
        modes=("eager",),
        tf_call=_in_graph(_get_regularization_losses),
        summary="in a graph: the REGULARIZATION_LOSSES collection",
    ),
    OpSpec(
        name="tf.compat.v1.losses.get_regularization_loss",
        reference=losses_v1.get_regularization_loss,
        args=(REG_LOSSES,),
        modes=("eager",),
        tf_call=_in_graph(_get_regularization_loss),
        summary="in a graph: add_n of the regularization losses (float32 0.0 when none)",
    ),
    OpSpec(
        name="tf.compat.v1.losses.get_total_loss",
        reference=losses_v1.get_total_loss,
        args=(LOSSES, REG_LOSSES,
              Arg("add_regularization_losses", "value", default=True, choices=(True, False))),
        modes=("eager",),
        tf_call=_in_graph(_get_total_loss),
        summary="in a graph: add_n of the added losses and (optionally) the regularization losses",
    ),
]
