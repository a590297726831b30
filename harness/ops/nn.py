"""Registry entries for ``tf.nn``."""
from __future__ import annotations

import numpy as np

from harness.reference import nn
from harness.registry import Arg, OpSpec


def _same_shape(a: str, b: str):
    def check(init, args):
        if a in args and b in args and np.shape(args[a]) != np.shape(args[b]):
            return f"`{a}` shape {list(np.shape(args[a]))} != `{b}` shape {list(np.shape(args[b]))}"
        return None
    return check


def _sparse_labels_check(init, args):
    labels, logits = np.shape(args.get("labels")), np.shape(args.get("logits"))
    if labels != logits[:-1]:
        return f"labels shape {list(labels)} must equal logits shape without its last axis {list(logits[:-1])}"
    return None


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
        Arg("weights", "float", doc="[num_classes, dim] class embeddings"),
        Arg("biases", "float", doc="[num_classes] class biases"),
        Arg("labels", "int", doc="[batch_size, num_true] target classes"),
        Arg("inputs", "float", doc="[batch_size, dim] activations"),
        Arg("num_sampled", "value", doc="number of sampled classes"),
        Arg("num_classes", "value", doc="number of possible classes"),
        Arg("num_true", "value", default=1, doc="target classes per example"),
        Arg("sampled_candidates", "int",
            doc="sampled_values[0]: [num_sampled] sampled class ids (fixed so the loss is deterministic)"),
        Arg("true_expected_count", "float", doc="sampled_values[1]: [batch_size, num_true] expected counts"),
        Arg("sampled_expected_count", "float", doc="sampled_values[2]: [num_sampled] expected counts"),
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


OPS = [
    OpSpec(
        name="tf.nn.softmax",
        reference=nn.softmax,
        args=(Arg("logits", "float"), Arg("axis", "value", default=None, doc="None means -1")),
        differentiable=("logits",),
        summary="softmax along an axis",
    ),
    OpSpec(
        name="tf.nn.log_softmax",
        reference=nn.log_softmax,
        args=(Arg("logits", "float"), Arg("axis", "value", default=None, doc="None means -1")),
        differentiable=("logits",),
        summary="log-softmax along an axis",
    ),
    OpSpec(
        name="tf.nn.softmax_cross_entropy_with_logits",
        reference=nn.softmax_cross_entropy_with_logits,
        args=(
            Arg("labels", "float", doc="class probabilities (one-hot or soft), same shape as logits"),
            Arg("logits", "float", doc="unscaled log-probabilities"),
            Arg("axis", "value", default=-1, doc="the class axis"),
        ),
        differentiable=("labels", "logits"),
        summary="per-example cross-entropy with probability labels",
    ),
    OpSpec(
        name="tf.nn.sparse_softmax_cross_entropy_with_logits",
        reference=nn.sparse_softmax_cross_entropy_with_logits,
        args=(
            Arg("labels", "int", doc="class indices, shape = logits.shape[:-1]"),
            Arg("logits", "float", doc="unscaled log-probabilities"),
        ),
        differentiable=("logits",),
        summary="per-example cross-entropy with integer labels",
        check=_sparse_labels_check,
    ),
    OpSpec(
        name="tf.nn.sigmoid_cross_entropy_with_logits",
        reference=nn.sigmoid_cross_entropy_with_logits,
        args=(
            Arg("labels", "float", default=None, doc="targets in [0, 1], same shape as logits"),
            Arg("logits", "float", default=None),
        ),
        differentiable=("labels", "logits"),
        summary="element-wise logistic loss",
        check=_same_shape("labels", "logits"),
    ),
    OpSpec(
        name="tf.nn.weighted_cross_entropy_with_logits",
        reference=nn.weighted_cross_entropy_with_logits,
        args=(
            Arg("labels", "float", doc="targets in [0, 1], same shape as logits"),
            Arg("logits", "float"),
            Arg("pos_weight", "float", doc="coefficient on the positive term"),
        ),
        differentiable=("labels", "logits", "pos_weight"),
        summary="logistic loss with the positive term weighted",
        check=_same_shape("labels", "logits"),
    ),
    OpSpec(
        name="tf.nn.log_poisson_loss",
        reference=nn.log_poisson_loss,
        args=(
            Arg("targets", "float"),
            Arg("log_input", "float", doc="log of the predicted rate"),
            Arg("compute_full_loss", "value", default=False, doc="add the Stirling term", choices=(False, True)),
        ),
        differentiable=("targets", "log_input"),
        summary="Poisson negative log-likelihood from log rates",
        check=_same_shape("targets", "log_input"),
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
            Arg("per_example_loss", "float", doc="rank >= 1"),
            Arg("sample_weight", "float", default=None, doc="optional weights"),
            Arg("global_batch_size", "value", default=None, doc="integer; None = per_example_loss.shape[0]"),
        ),
        differentiable=("per_example_loss", "sample_weight"),
        summary="sum of (weighted) losses / global batch size",
    ),
    OpSpec(
        name="tf.nn.scale_regularization_loss",
        reference=nn.scale_regularization_loss,
        args=(Arg("regularization_loss", "float"),),
        differentiable=("regularization_loss",),
        summary="sum(regularization_loss) / number of replicas (1)",
    ),
    OpSpec(
        name="tf.nn.sampled_softmax_loss",
        reference=sampled_softmax_loss_reference,
        args=_sampled_args(remove_accidental_hits_default=True, with_seed=True),
        differentiable=("weights", "biases", "inputs"),
        tf_call=_sampled_tf_call("sampled_softmax_loss"),
        summary="softmax cross-entropy over the true and the given sampled classes",
        check=_sampled_check,
    ),
    OpSpec(
        name="tf.nn.nce_loss",
        reference=nce_loss_reference,
        args=_sampled_args(remove_accidental_hits_default=False, with_seed=False),
        differentiable=("weights", "biases", "inputs"),
        tf_call=_sampled_tf_call("nce_loss"),
        summary="noise-contrastive estimation loss over the given sampled classes",
        check=_sampled_check,
    ),
]
