"""Benchmark inputs for every registered op at three sizes.

A size is ``batch x classes``: small 8x10, medium 256x100, large 4096x1000. Inputs are
float32 (int32 for class ids), seeded from the op name and size, and shaped like real use:
probabilities where a loss takes probabilities, one-hot rows where it takes one-hot labels.

Inputs come from, in order:

1. :data:`BUILDERS`, whole-input builders for ops whose arguments are not ``[batch, classes]``
   (sampled losses, CTC, Circle, ``clip_by_global_norm``);
2. :data:`KINDS`, per-op overrides of an argument's kind (``{"labels": "probs"}``);
3. the generic builder: each required tensor argument gets a kind from its name
   (:data:`NAME_KINDS`) or its role (float -> ``normal [batch, classes]``, int -> class ids
   ``[batch]``, float_list -> two ``[batch, classes]`` tensors); other optional arguments
   keep their defaults. A required plain-value argument
   has no generic value, so such an op is skipped with that reason until it gets an entry.

:data:`SIZE_LIMITS` names ops benchmarked below the large size and why.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from harness.registry import OpSpec

SIZES: dict[str, tuple[int, int]] = {"small": (8, 10), "medium": (256, 100), "large": (4096, 1000)}
"""Size name -> (batch, classes)."""

SIDES = ("reference", "tf")


class CannotBuild(Exception):
    """No benchmark input for this op at this size; the message says why."""


@dataclass
class BenchInput:
    init: dict
    args: dict
    shapes: dict = field(default_factory=dict)

    @property
    def elements(self) -> int:
        return int(sum(np.size(v) for v in _arrays(self.args)))

    @property
    def shape_text(self) -> str:
        """``logits 8x10, labels 8``; a list argument as ``t_list [8x10, 10]``."""
        def dims(shape) -> str:
            return "x".join(map(str, shape)) or "scalar"

        return ", ".join(f"{k} [{', '.join(map(dims, s))}]" if s and isinstance(s[0], list) else f"{k} {dims(s)}"
                         for k, s in self.shapes.items())


def _arrays(args: dict):
    for v in args.values():
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, list):
            yield from (x for x in v if isinstance(x, np.ndarray))


# --- kinds of tensors: (rng, batch, classes) -> array --------------------------------------

def _softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def _normal(rng: np.random.Generator, b: int, c: int) -> np.ndarray:
    return rng.standard_normal((b, c), dtype=np.float32) * np.float32(2.0)


def _uniform(rng: np.random.Generator, shape, low: float, high: float) -> np.ndarray:
    return rng.random(shape, dtype=np.float32) * np.float32(high - low) + np.float32(low)


KIND_BUILDERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "normal": _normal,
    "probs": lambda rng, b, c: _softmax_rows(_normal(rng, b, c)),
    "unit": lambda rng, b, c: _uniform(rng, (b, c), 0.01, 0.99),
    "binary": lambda rng, b, c: (rng.random((b, c), dtype=np.float32) < 0.5).astype(np.float32),
    "onehot": lambda rng, b, c: np.eye(c, dtype=np.float32)[rng.integers(0, c, b)],
    "positive": lambda rng, b, c: _uniform(rng, (b, c), 0.1, 3.0),
    "classes": lambda rng, b, c: rng.integers(0, c, b).astype(np.int32),
    "per_example": lambda rng, b, c: _uniform(rng, b, 0.0, 3.0),
    "scalar": lambda rng, b, c: np.asarray(rng.uniform(0.5, 3.0), dtype=np.float32),
}

NAME_KINDS = {
    "y_true": "binary", "y_pred": "unit", "labels": "unit", "predictions": "unit",
    "multi_class_labels": "binary", "onehot_labels": "onehot", "targets": "positive",
    "per_example_loss": "per_example", "pos_weight": "scalar",
}
"""Kind of a float argument by its name (int arguments are class ids unless overridden)."""

KINDS: dict[str, dict[str, str]] = {
    "tf.nn.sigmoid_cross_entropy_with_logits": {"labels": "unit", "logits": "normal"},
    "tf.nn.softmax_cross_entropy_with_logits": {"labels": "probs"},
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits": {"labels": "probs"},
    "tf.compat.v1.nn.softmax_cross_entropy_with_logits_v2": {"labels": "probs"},
    "tf.compat.v1.losses.hinge_loss": {"labels": "binary", "logits": "normal"},
    "tf.compat.v1.losses.log_loss": {"labels": "binary"},
    "tf.keras.losses.CategoricalCrossentropy": {"y_true": "onehot", "y_pred": "probs"},
    "tf.keras.losses.categorical_crossentropy": {"y_true": "onehot", "y_pred": "probs"},
    "tf.keras.losses.CategoricalFocalCrossentropy": {"y_true": "onehot", "y_pred": "probs"},
    "tf.keras.losses.categorical_focal_crossentropy": {"y_true": "onehot", "y_pred": "probs"},
    "tf.keras.losses.SparseCategoricalCrossentropy": {"y_pred": "probs"},
    "tf.keras.losses.sparse_categorical_crossentropy": {"y_pred": "probs"},
    "tf.keras.losses.CategoricalGeneralizedCrossEntropy": {"y_pred": "probs"},
    "tf.keras.losses.categorical_generalized_cross_entropy": {"y_pred": "probs"},
    "tf.keras.losses.CategoricalHinge": {"y_true": "onehot", "y_pred": "normal"},
    "tf.keras.losses.categorical_hinge": {"y_true": "onehot", "y_pred": "normal"},
    "tf.keras.losses.KLDivergence": {"y_true": "probs", "y_pred": "probs"},
    "tf.keras.losses.kld": {"y_true": "probs", "y_pred": "probs"},
    "tf.keras.losses.KLD": {"y_true": "probs", "y_pred": "probs"},
    "tf.keras.losses.kullback_leibler_divergence": {"y_true": "probs", "y_pred": "probs"},
    "tf.keras.losses.Poisson": {"y_true": "positive", "y_pred": "positive"},
    "tf.keras.losses.poisson": {"y_true": "positive", "y_pred": "positive"},
}
"""Per-op kinds of tensor arguments; an argument named here is built even when optional."""

VALUES: dict[str, dict] = {
    "tf.compat.v1.losses.cosine_distance": {"axis": -1},
    "tf.keras.losses.categorical_generalized_cross_entropy": {"q": 0.5},
}
"""Plain-value arguments an op requires (or that make its benchmark meaningful)."""


LIST_LENGTH = 2
"""Tensors in a generic ``float_list`` argument (all ``[batch, classes]``)."""


# --- whole-input builders -----------------------------------------------------------------

EMBEDDING_DIM = 64


def _sampled(rng: np.random.Generator, b: int, c: int) -> dict:
    """Sampled softmax / NCE: ``c`` classes of ``EMBEDDING_DIM``-wide embeddings, ``s``
    distinct sampled classes with their expected counts given (so TF does not sample)."""
    s = max(2, min(c // 2, 64))
    return {
        "weights": rng.normal(0, 0.5, (c, EMBEDDING_DIM)).astype(np.float32),
        "biases": rng.normal(0, 0.1, c).astype(np.float32),
        "labels": rng.integers(0, c, (b, 1)).astype(np.int64),
        "inputs": rng.normal(0, 0.5, (b, EMBEDDING_DIM)).astype(np.float32),
        "num_sampled": s,
        "num_classes": c,
        "sampled_candidates": rng.choice(c, s, replace=False).astype(np.int64),
        "true_expected_count": np.full((b, 1), s / c, np.float32),
        "sampled_expected_count": np.full(s, s / c, np.float32),
    }


CTC_FRAMES, CTC_LABELS = 16, 4


def _ctc(rng: np.random.Generator, b: int, c: int) -> dict:
    """CTC: ``[b, CTC_LABELS]`` labels in 1..c-1 (0 is the blank) over ``[b, CTC_FRAMES, c]`` logits."""
    return {"y_true": rng.integers(1, c, (b, CTC_LABELS)).astype(np.int32),
            "y_pred": rng.normal(0, 2.0, (b, CTC_FRAMES, c)).astype(np.float32)}


def _circle(rng: np.random.Generator, b: int, c: int) -> dict:
    """Circle: ``b`` unit-norm embeddings of width min(c, 128) in min(c, 10) classes."""
    x = rng.normal(size=(b, min(c, 128)))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return {"y_true": rng.integers(0, min(c, 10), b).astype(np.int32), "y_pred": x.astype(np.float32)}


def _clip(rng: np.random.Generator, b: int, c: int) -> dict:
    """``clip_by_global_norm`` of a ``[b, c]`` weight and a ``[c]`` bias, clipped to norm 1."""
    return {"t_list": [rng.normal(0, 1, (b, c)).astype(np.float32), rng.normal(0, 1, c).astype(np.float32)],
            "clip_norm": 1.0}


def _linear_softmax(rng: np.random.Generator, b: int, c: int) -> dict:
    """A linear layer ``x @ w + b`` of ``EMBEDDING_DIM`` inputs to ``c`` classes, ``b`` examples."""
    return {"x": rng.normal(0, 1, (b, EMBEDDING_DIM)).astype(np.float32),
            "labels": rng.integers(0, c, b).astype(np.int32),
            "w": rng.normal(0, 0.1, (EMBEDDING_DIM, c)).astype(np.float32),
            "b": rng.normal(0, 0.1, c).astype(np.float32),
            "clip_norm": 5.0}


BUILDERS: dict[str, Callable[[np.random.Generator, int, int], dict]] = {
    "examples.linear_softmax_clipped_grads": _linear_softmax,
    "tf.nn.sampled_softmax_loss": _sampled,
    "tf.nn.nce_loss": _sampled,
    "tf.keras.losses.CTC": _ctc,
    "tf.keras.losses.ctc": _ctc,
    "tf.keras.losses.Circle": _circle,
    "tf.keras.losses.circle": _circle,
    "tf.clip_by_global_norm": _clip,
}

_CTC_LIMIT = ("medium", "the CTC reference walks the frames of each example in Python")
SIZE_LIMITS: dict[str, tuple[str, str]] = {
    "tf.keras.losses.CTC": _CTC_LIMIT,
    "tf.keras.losses.ctc": _CTC_LIMIT,
}
"""Op -> (largest size benchmarked, why)."""


def size_skip_reason(op_name: str, size: str) -> str | None:
    """Why ``op_name`` is not benchmarked at ``size``, or None."""
    limit = SIZE_LIMITS.get(op_name)
    order = list(SIZES)
    if limit and order.index(size) > order.index(limit[0]):
        return f"benchmarked up to the {limit[0]} size only: {limit[1]}"
    return None


def _seed(op_name: str, size: str) -> int:
    return zlib.crc32(f"{op_name}/{size}".encode())


def _shape(value) -> list:
    if isinstance(value, list):
        return [list(np.shape(v)) for v in value]
    return list(np.shape(value))


def build(op: OpSpec, size: str, batch: int | None = None, classes: int | None = None) -> BenchInput:
    """Inputs for ``op`` at ``size`` (``batch``/``classes`` override the size's shape);
    raises :class:`CannotBuild` with the reason when there are none."""
    reason = size_skip_reason(op.name, size) if batch is None else None
    if reason:
        raise CannotBuild(reason)
    b, c = SIZES[size]
    b, c = batch or b, classes or c
    rng = np.random.default_rng(_seed(op.name, size))
    if op.name in BUILDERS:
        args = BUILDERS[op.name](rng, b, c)
    else:
        args = _generic(op, rng, b, c)
    args.update(VALUES.get(op.name, {}))
    missing = [a.name for a in op.args if a.required and a.name not in args]
    if missing:
        raise CannotBuild(f"required plain-value argument(s) {', '.join(missing)} have no benchmark value "
                          "(add them to VALUES in bench/inputs.py)")
    shapes = {k: _shape(v) for k, v in args.items() if isinstance(v, (np.ndarray, list))}
    return BenchInput(init={}, args=args, shapes=shapes)


def _generic(op: OpSpec, rng: np.random.Generator, b: int, c: int) -> dict:
    overrides = KINDS.get(op.name, {})
    args = {}
    for arg in op.args:
        if arg.role == "float_list":  # built even when optional: an empty list times nothing
            args[arg.name] = [KIND_BUILDERS["normal"](rng, b, c) for _ in range(LIST_LENGTH)]
            continue
        if arg.role == "value" or not (arg.required or arg.name in overrides):
            continue
        default_kind = "classes" if arg.role == "int" else NAME_KINDS.get(arg.name, "normal")
        args[arg.name] = KIND_BUILDERS[overrides.get(arg.name, default_kind)](rng, b, c)
    return args
