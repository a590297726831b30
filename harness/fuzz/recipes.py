"""Shape recipes for ops whose arguments the kind rules of
:func:`harness.fuzz.strategies.generic` cannot make coherent, by name: an op record names
its recipe (``fuzz="ctc"``) or carries its own function; and the ops that are not fuzzed
(with the reason, reported on every run).
"""
from __future__ import annotations

from typing import Callable

from hypothesis import strategies as st

from harness.fuzz.strategies import (
    MODERATE, NONNEG, POSITIVE, REAL, Example, Gen, ShapeRule, Unfuzzable, check_generic, generic,
)
from harness.registry import OpSpec

SKIPPED: dict[str, str] = {}
"""op name -> why it is not fuzzed."""


def _plain_values(g: Gen, op: OpSpec, skip=()) -> dict:
    """Non-default plain values drawn for ``op``'s value args (those not in ``skip``)."""
    out = {}
    for a in op.args:
        if a.role == "value" and a.name not in skip:
            v = g.value(a)
            if v != a.default or a.required:
                out[a.name] = v
    return out


def _sample_weight(g: Gen, batch: int):
    """Keras ``sample_weight``: omitted, a scalar or per example."""
    form = g.pick(["none", "scalar", "batch"])
    if form == "none":
        return None
    return g.scalar(NONNEG) if form == "scalar" else g.floats((batch,), NONNEG)


def _keras_class(g: Gen, op: OpSpec, args: dict, batch: int) -> Example:
    """A Keras loss-class example: init values drawn, ``sample_weight`` maybe added."""
    init = {a.name: g.value(a) for a in op.init}
    weight = _sample_weight(g, batch)
    if weight is not None:
        args["sample_weight"] = weight
    return Example(op.name, g.dtype, args, init)


def sampled_loss(g: Gen, op: OpSpec) -> Example:
    """``sampled_softmax_loss`` / ``nce_loss``: ``num_classes`` K, embeddings ``[K, D]``,
    labels ``[B, num_true]`` and ``num_sampled`` candidates in ``[0, K)``, positive
    expected counts. Embeddings stay moderate (they meet in dot products)."""
    classes, dim, batch = g.integer(1, 5), g.integer(1, 3), g.pick([1, 2, 3])
    num_true, num_sampled = g.pick([1, 2]), g.integer(1, classes)
    args = {
        "weights": g.floats((classes, dim), MODERATE), "biases": g.floats((classes,), MODERATE),
        "labels": g.ints((batch, num_true), 0, classes), "inputs": g.floats((batch, dim), MODERATE),
        "num_sampled": num_sampled, "num_classes": classes,
        "sampled_candidates": g.ints((num_sampled,), 0, classes),
        "true_expected_count": g.floats((batch, num_true), POSITIVE),
        "sampled_expected_count": g.floats((num_sampled,), POSITIVE),
    }
    if num_true != 1:
        args["num_true"] = num_true
    args.update(_plain_values(g, op, skip=("num_sampled", "num_classes", "num_true", "seed")))
    return Example(op.name, g.dtype, args)


def clip_by_global_norm(g: Gen, op: OpSpec) -> Example:
    """1-3 tensors of ranks 0-2 (possibly empty); clip norms below and above their norm."""
    args = {"t_list": g.tensor_list(1), "clip_norm": g.pick([1.0, 0.5, 5.0, 100.0, 1e5])}
    if g.draw(st.booleans()):
        args["use_norm"] = g.scalar(POSITIVE)
    return Example(op.name, g.dtype, args)


def cosine_distance(g: Gen, op: OpSpec) -> Example:
    """``axis`` is required in practice (TF raises without it); weights are scalar or the
    loss shape, which keeps ``axis`` as a dimension of 1."""
    shape = g.shape(1, 3)
    axis = g.integer(0, len(shape) - 1)
    args = {"labels": g.floats(shape, MODERATE), "predictions": g.floats(shape, MODERATE), "axis": axis}
    if g.draw(st.booleans()):
        loss_shape = tuple(1 if i == axis else d for i, d in enumerate(shape))
        args["weights"] = g.weights(loss_shape, ("scalar", "broadcast"))
    args.update(_plain_values(g, op, skip=("axis", "dim")))
    return Example(op.name, g.dtype, args)


def ctc(g: Gen, op: OpSpec) -> Example:
    """Labels ``[B, L]`` in ``[1, C)`` padded with the blank 0 at the end (length 0 to L,
    longer than the T frames too), logits ``[B, T, C]``."""
    classes, frames, batch, width = g.integer(2, 4), g.integer(1, 4), g.pick([1, 2, 3]), g.integer(1, 4)
    rows = []
    for _ in range(batch):
        length = g.integer(0, width)
        labels = [g.integer(1, classes - 1) for _ in range(length)]
        rows.append(labels + [0] * (width - length))
    args = {"y_true": rows, "y_pred": g.floats((batch, frames, classes), MODERATE)}
    return _keras_class(g, op, args, batch) if op.is_keras_class else Example(op.name, g.dtype, args)


def circle(g: Gen, op: OpSpec) -> Example:
    """Integer class ids ``[B]`` (a few classes, so positives and negatives both occur) and
    embeddings ``[B, D]``; the function form may also get reference labels/embeddings."""
    batch, dim = g.integer(1, 4), g.integer(1, 3)
    args = {"y_true": g.ints((batch,), 0, 3), "y_pred": g.floats((batch, dim), MODERATE)}
    if op.is_keras_class:
        return _keras_class(g, op, args, batch)
    if g.draw(st.booleans()):
        refs = g.integer(1, 4)
        args["ref_labels"] = g.ints((refs,), 0, 3)
        args["ref_embeddings"] = g.floats((refs, dim), MODERATE)
    args.update(_plain_values(g, op))
    return Example(op.name, g.dtype, args)


def compute_average_loss(g: Gen, op: OpSpec) -> Example:
    """Per-example losses ``[B]`` or ``[B, k]``; weights omitted, scalar, per example or
    per element; ``global_batch_size`` omitted, the batch, larger, or 0."""
    shape = g.shape(1, 2)
    args = {"per_example_loss": g.floats(shape, REAL)}
    form = g.pick(["none", "scalar", "batch", "full"])
    if form != "none":
        args["sample_weight"] = g.weights(shape, (form,))
    size = g.pick([None, shape[0], shape[0] + 2, 0])
    if size is not None:
        args["global_batch_size"] = size
    return Example(op.name, g.dtype, args)


def linear_softmax_clipped_grads(g: Gen, op: OpSpec) -> Example:
    """Document 000's training step: ``x [N, D]``, labels ``[N]`` in ``[0, C)``, ``w [D, C]``,
    ``b [C]`` (moderate: they meet in a matmul and its gradient), a clip norm."""
    batch, dim, classes = g.integer(1, 3), g.integer(1, 3), g.integer(1, 4)
    args = {"x": g.floats((batch, dim), MODERATE), "labels": g.ints((batch,), 0, classes),
            "w": g.floats((dim, classes), MODERATE), "b": g.floats((classes,), MODERATE)}
    clip_norm = g.pick([5.0, 0.1, 1.0, 100.0])
    if clip_norm != 5.0:
        args["clip_norm"] = clip_norm
    return Example(op.name, g.dtype, args)


def pairwise(g: Gen, op: OpSpec) -> Example:
    """The generic rules on a main shape of rank 2 or more (one pair per example at least)."""
    return generic(g, op, ShapeRule(min_rank=2))


RECIPES: dict[str, Callable[[Gen, OpSpec], Example]] = {
    "linear_softmax_clipped_grads": linear_softmax_clipped_grads,
    "sampled_loss": sampled_loss,
    "clip_by_global_norm": clip_by_global_norm,
    "cosine_distance": cosine_distance,
    "keras_ctc": ctc,
    "circle": circle,
    "compute_average_loss": compute_average_loss,
    "pairwise": pairwise,
}
"""Recipe name -> ``recipe(g, op) -> Example``, for the ``fuzz`` field of op records."""


def recipe_of(op: OpSpec) -> Callable[[Gen, OpSpec], Example] | None:
    """The op's own recipe: its record's ``fuzz`` (a recipe name or a function), or None.
    A function may return the args dict alone."""
    if op.fuzz is None:
        return None
    if not callable(op.fuzz):
        return RECIPES[op.fuzz]

    def draw(g: Gen, o: OpSpec) -> Example:
        out = op.fuzz(g, o)
        return out if isinstance(out, Example) else Example(o.name, g.dtype, out)
    return draw


def skip_reason(op: OpSpec) -> str | None:
    """Why ``op`` is not fuzzed, or None."""
    if op.name in SKIPPED:
        return SKIPPED[op.name]
    if op.fuzz is None:
        try:
            check_generic(op)
        except Unfuzzable as exc:
            return str(exc)
    return None


def examples_for(op: OpSpec, dtypes: list[str], *, nan: bool = False,
                 subnormal: bool = False) -> st.SearchStrategy[Example]:
    """Examples of ``op`` in one of ``dtypes`` (its recipe, else the generic rules)."""
    recipe = recipe_of(op)

    @st.composite
    def draw_example(draw):
        g = Gen(draw, draw(st.sampled_from(dtypes)), nan, subnormal)
        return recipe(g, op) if recipe else generic(g, op, ShapeRule())

    return draw_example()
