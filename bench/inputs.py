"""Benchmark inputs for every registered op at three sizes.

A size is ``batch x classes``: small 8x10, medium 256x100, large 4096x1000. Inputs are
float32 (int32 for class ids), seeded from the op name and size, and shaped like real use:
probabilities where a loss takes probabilities, one-hot rows where it takes one-hot labels.

Everything comes from the op's record (``harness/ops``):

1. its ``bench`` field: a whole-input builder (by name in :data:`BUILDERS`, or a function)
   for ops whose arguments are not ``[batch, classes]`` (sampled losses, CTC, Circle,
   ``clip_by_global_norm``);
2. else the generic builder: each required tensor argument (and each tensor the signature
   defaults to None that is not a weight) is drawn by its kind (:data:`KIND_BUILDERS`:
   logits ``normal [batch, classes]``, probabilities rows on the simplex, one-hot rows,
   class ids ``[batch]``, ...), a float_list as two ``[batch, classes]`` tensors; plain
   values take their ``example`` (else their default). A required plain-value argument
   without an example has no value, so such an op is skipped with that reason.

An op's ``bench_limit`` names the largest size it is benchmarked at, and why.
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


def _probabilities(rng: np.random.Generator, b: int, c: int) -> np.ndarray:
    return _softmax_rows(_normal(rng, b, c))


def _unit(rng: np.random.Generator, b: int, c: int) -> np.ndarray:
    return _uniform(rng, (b, c), 0.01, 0.99)


def _binary(rng: np.random.Generator, b: int, c: int) -> np.ndarray:
    return (rng.random((b, c), dtype=np.float32) < 0.5).astype(np.float32)


def _positive(rng: np.random.Generator, b: int, c: int) -> np.ndarray:
    return _uniform(rng, (b, c), 0.1, 3.0)


def _scalar(rng: np.random.Generator, b: int, c: int) -> np.ndarray:
    return np.asarray(rng.uniform(0.5, 3.0), dtype=np.float32)


KIND_BUILDERS: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "real": _normal, "logits": _normal, "losses": _normal, "embeddings": _normal,
    "per_example_losses": lambda rng, b, c: _uniform(rng, b, 0.0, 3.0),
    "probabilities": _probabilities, "probabilities_or_logits": _probabilities,
    "probability": _unit, "probability_or_logits": _unit,
    "one_hot": lambda rng, b, c: np.eye(c, dtype=np.float32)[rng.integers(0, c, b)],
    "binary": _binary, "signed": _binary,
    "nonnegative": _positive, "positive": _positive,
    "weights": _scalar, "sample_weight": _scalar, "pos_weight": _scalar,
    "class_ids": lambda rng, b, c: rng.integers(0, c, b).astype(np.int32),
}
"""Argument kind (:data:`harness.registry.KINDS`) -> ``(rng, batch, classes) -> array``."""

LEFT_OUT = ("weights", "sample_weight", "pos_weight", "embeddings", "positive", "class_ids")
"""Kinds of the tensor arguments a signature defaults to None that stay None."""

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
    "linear_softmax": _linear_softmax,
    "sampled_loss": _sampled,
    "keras_ctc": _ctc,
    "circle": _circle,
    "clip_by_global_norm": _clip,
}
"""Builder name -> ``(rng, batch, classes) -> args``, for the ``bench`` field of op records."""


def size_skip_reason(op: OpSpec, size: str) -> str | None:
    """Why ``op`` is not benchmarked at ``size``, or None."""
    order = list(SIZES)
    if op.bench_limit and order.index(size) > order.index(op.bench_limit[0]):
        return f"benchmarked up to the {op.bench_limit[0]} size only: {op.bench_limit[1]}"
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
    reason = size_skip_reason(op, size) if batch is None else None
    if reason:
        raise CannotBuild(reason)
    b, c = SIZES[size]
    b, c = batch or b, classes or c
    rng = np.random.default_rng(_seed(op.name, size))
    if op.bench is None:
        args = _generic(op, rng, b, c)
    else:
        args = (BUILDERS[op.bench] if isinstance(op.bench, str) else op.bench)(rng, b, c)
    missing = [a.name for a in op.args if a.required and a.name not in args]
    if missing:
        raise CannotBuild(f"required plain-value argument(s) {', '.join(missing)} have no benchmark value "
                          "(give them an `example` in the op record)")
    shapes = {k: _shape(v) for k, v in args.items() if isinstance(v, (np.ndarray, list))}
    return BenchInput(init={}, args=args, shapes=shapes)


def _generic(op: OpSpec, rng: np.random.Generator, b: int, c: int) -> dict:
    args = {}
    for arg in op.args:
        if arg.role == "value":
            if arg.example is not None:
                args[arg.name] = arg.example
        elif arg.role == "float_list":  # built even when optional: an empty list times nothing
            args[arg.name] = [KIND_BUILDERS["real"](rng, b, c) for _ in range(LIST_LENGTH)]
        elif arg.required or (arg.default is None and arg.meaning not in LEFT_OUT):
            args[arg.name] = KIND_BUILDERS[arg.meaning](rng, b, c)
    return args


def side_call(op: OpSpec, built: BenchInput, side: str) -> Callable[[], object]:
    """One call of ``side`` ("reference" or "tf", eager) on ``built``; TF gets its tensors
    here, before any clock starts."""
    from harness.sides import NUMPY_REFERENCE, Invocation
    from harness.tfexec import LIVE_TF

    return (NUMPY_REFERENCE if side == "reference" else LIVE_TF).prepare(Invocation(op, built.init, built.args))

