"""Hypothesis strategies for fuzz examples, derived from each registry entry's arguments.

An :class:`Example` holds YAML-ready argument values: nested lists of numbers (exact in the
example's dtype, so writing them out and casting them back is lossless), a ``{fill: 0,
shape: [...]}`` generator for empty tensors (a nested list cannot spell shape ``[0, 3]``),
or plain values. It is run and written out exactly as a case file would hold it.

Coherence between arguments comes from their kinds in the op record (see :func:`generic`
and :data:`harness.registry.KINDS`): the float tensors of a pair (logits, probabilities,
labels, losses, ...) share one shape ``[batch, ..., classes]``; class ids index the last
axis of that shape; weights are a scalar or broadcastable to the per-example loss. What
each float holds comes from its kind (:data:`KIND_DOMAINS`). Ops that need more than that
name a recipe (:mod:`harness.fuzz.recipes`) or carry one in their record (``fuzz``).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.inputs import np_dtype
from harness.registry import Arg, OpSpec

FUZZ_DTYPES = ("float32", "float64")
"""Dtypes fuzzed by default (those of them an op supports)."""

# --- what a float tensor holds -------------------------------------------------------
REAL, UNIT, NONNEG, POSITIVE, BINARY, SIGNED_LABEL = "real", "unit", "nonneg", "positive", "binary", "signed_label"
MODERATE = "moderate"
"""Reals in [-4, 4]: for embeddings that meet in dot products, where wide values would only
measure float32 cancellation, not parity."""

_SPECIALS = {
    REAL: (0.0, 1.0, -1.0, 1e4, -1e4, 60.0, -60.0, 100.0, -100.0, 1e-30, -1e-30),
    UNIT: (0.0, 1.0, 0.5, 1e-30, 1e-7, 0.9999999),
    NONNEG: (0.0, 1.0, 1e4, 1e-30),
    POSITIVE: (1.0, 1e-6, 1e4),
    BINARY: (0.0, 1.0),
    SIGNED_LABEL: (-1.0, 0.0, 1.0),
    MODERATE: (0.0, 1.0, -1.0, 0.5, -0.5),
}
_RANGES = {REAL: (-10.0, 10.0), UNIT: (0.0, 1.0), NONNEG: (0.0, 10.0), POSITIVE: (1e-3, 10.0),
           SIGNED_LABEL: (-2.0, 2.0), MODERATE: (-4.0, 4.0)}
_WIDE = {REAL: (-1e4, 1e4), NONNEG: (0.0, 1e4)}
_NONFINITE = {REAL: (math.nan, math.inf, -math.inf), UNIT: (math.nan,), NONNEG: (math.nan, math.inf),
              POSITIVE: (math.inf,), SIGNED_LABEL: (math.nan,), BINARY: (),
              MODERATE: (math.nan, math.inf, -math.inf)}


_WIDTHS = {"float16": 16, "bfloat16": 32, "float32": 32, "float64": 64}
"""Hypothesis float widths; bfloat16 values are float32 ones rounded to bfloat16."""


def _exact(value: float, dtype: str) -> float:
    return float(np.asarray(value).astype(np_dtype(dtype)))


def elements(domain: str, dtype: str, nan: bool = False, subnormal: bool = False) -> st.SearchStrategy[float]:
    """Numbers of ``domain`` exactly representable in ``dtype``: a moderate range first
    (what shrinking tends to), the domain's special values (exact 0 and 1, ±1e4 logits, tiny
    normal magnitudes), a wide range, and with ``nan`` NaN and infinities.

    Subnormals only with ``subnormal``: TF's CPU kernels flush them to zero (a subnormal
    weight counts as 0, a subnormal label makes Keras' hinge see 0/1 labels), which the
    reference does not model. That includes float64 values below float32's smallest normal,
    which ops computing in float32 inside turn into float32 subnormals; they become 0."""
    width = _WIDTHS[dtype]
    specials = sorted({_exact(v, dtype) for v in _SPECIALS[domain]}, key=lambda v: (abs(v), v < 0))
    parts = []
    if domain in _RANGES:
        lo, hi = _RANGES[domain]
        parts.append(st.floats(_exact(lo, dtype), _exact(hi, dtype), width=width, allow_subnormal=subnormal))
    parts.append(st.sampled_from(specials))
    if domain in _WIDE:
        parts.append(st.floats(*_WIDE[domain], width=width, allow_subnormal=subnormal))
    if nan and _NONFINITE[domain]:
        parts.append(st.sampled_from(_NONFINITE[domain]))
    values = st.one_of(*parts)
    if dtype == "bfloat16":
        values = values.map(lambda v: _exact(v, dtype))
    return values if subnormal else values.map(_flush_float32_subnormal)


_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def _flush_float32_subnormal(value: float) -> float:
    return 0.0 if 0 < abs(value) < _FLOAT32_TINY else value


# --- examples --------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """One generated input of an op, with YAML-ready values."""

    op: str
    dtype: str
    args: dict = field(default_factory=dict)
    init: dict = field(default_factory=dict)

    def case_data(self) -> dict:
        """The example as a case mapping in the README's format (without an ``id``)."""
        data: dict = {"op": self.op, "dtypes": [self.dtype]}
        if self.init:
            data["init"] = dict(self.init)
        data["args"] = dict(self.args)
        return data

    def __repr__(self) -> str:
        init = f" init={json.dumps(self.init)}" if self.init else ""
        return f"Example({self.op} [{self.dtype}]{init} args={json.dumps(self.args, default=str)})"


def array_spec(arr: np.ndarray) -> Any:
    """A YAML-ready value for ``arr``: a nested list, or a fill generator when it is empty."""
    if arr.size == 0:
        return {"fill": 0 if arr.dtype.kind in "iu" else 0.0, "shape": list(arr.shape)}
    return arr.tolist()


class Gen:
    """Draws the pieces of an example for one dtype (used by :func:`generic` and the recipes)."""

    def __init__(self, draw: Callable, dtype: str, nan: bool = False, subnormal: bool = False) -> None:
        self.draw, self.dtype, self.nan, self.subnormal = draw, dtype, nan, subnormal

    def elements(self, domain: str) -> st.SearchStrategy[float]:
        return elements(domain, self.dtype, self.nan, self.subnormal)

    def pick(self, options) -> Any:
        """One of ``options``; shrinks towards the first."""
        return self.draw(st.sampled_from(list(options)))

    def integer(self, low: int, high: int) -> int:
        """An int in ``[low, high]``; shrinks towards ``low``."""
        return self.draw(st.integers(low, high))

    def floats(self, shape, domain: str = REAL) -> Any:
        arr = self.draw(hnp.arrays(np.float64, tuple(shape), elements=self.elements(domain)))
        return array_spec(arr)

    def scalar(self, domain: str = REAL) -> float:
        return self.draw(self.elements(domain))

    def ints(self, shape, low: int, high: int) -> Any:
        """Integers in ``[low, high)`` (int32 in the case)."""
        arr = self.draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(low, max(low, high - 1))))
        return array_spec(arr)

    def shape(self, min_rank: int = 1, max_rank: int = 3, empty: bool = True, min_classes: int = 1) -> tuple:
        """``[batch, ..., classes]``; the batch (axis 0 of a rank >= 2 shape) may be 0."""
        rank = self.integer(min_rank, max_rank)
        classes = self.pick([c for c in (1, 2, 3, 4, 5) if c >= min_classes])
        if rank == 1:
            return (classes,)
        batch = self.pick([1, 2, 3, 4, 0] if empty else [1, 2, 3, 4])
        middle = tuple(self.pick([1, 2, 3]) for _ in range(rank - 2))
        return (batch, *middle, classes)

    def small_shape(self) -> tuple:
        """Rank 0-2, dimensions 0-3 (rank 0 first)."""
        return tuple(self.pick([2, 1, 3, 0]) for _ in range(self.integer(0, 2)))

    def tensor_list(self, min_size: int = 0, max_size: int = 3, shape: tuple | None = None,
                    domain: str = REAL) -> list:
        """A list of tensors of ``shape``, or when None each of its own :meth:`small_shape`."""
        return [self.floats(self.small_shape() if shape is None else shape, domain)
                for _ in range(self.integer(min_size, max_size))]

    def weights(self, loss_shape: tuple, forms=("scalar", "broadcast")) -> Any:
        """A weight: a scalar, a tensor of ``loss_shape`` with some axes set to 1
        (``broadcast``), the loss shape itself (``full``) or its batch axis (``batch``)."""
        form = self.pick([f for f in forms if f != "batch" or loss_shape])
        if form == "scalar":
            return self.scalar(NONNEG)
        if form == "full":
            shape = loss_shape
        elif form == "batch":
            shape = loss_shape[:1]
        else:
            shape = tuple(1 if self.draw(st.booleans()) else d for d in loss_shape)
        return self.floats(shape, NONNEG)

    def value(self, arg: Arg) -> Any:
        """A plain value: one of the arg's choices, or of :data:`VALUE_CHOICES` by name
        (default first), else the default."""
        if arg.choices:
            options = list(arg.choices)
            if arg.default in options:
                options.remove(arg.default)
                options.insert(0, arg.default)
            return self.pick(options)
        extra = VALUE_CHOICES.get(arg.name, ())
        options = ([] if arg.required else [arg.default]) + [v for v in extra if arg.required or v != arg.default]
        return self.pick(options)


class Unfuzzable(Exception):
    """The op cannot be fuzzed generically (the message says why)."""


VALUE_CHOICES: dict[str, tuple] = {
    "from_logits": (False, True),
    "label_smoothing": (0.0, 0.1, 1.0),
    "gamma": (2.0, 0.0, 1.5),
    "alpha": (0.25, 0.5, 0.9),
    "beta": (0.5, 0.3),
    "delta": (1.0, 0.5, 3.0),
    "q": (0.5, 0.2, 0.9),
    "apply_class_balancing": (False, True),
    "compute_full_loss": (False, True),
    "remove_diagonal": (True, False),
    "margin": (0.4, 0.25),
    "ignore_class": (None, 0),
    "add_regularization_losses": (True, False),
}
"""Values tried for ``value`` args without ``choices`` (axis-like args keep their default:
changing them needs shape knowledge, see the recipes)."""

# --- what each argument holds: its kind in the op record ------------------------------
KIND_DOMAINS: dict[str, str] = {
    "real": REAL, "logits": REAL, "losses": REAL, "per_example_losses": REAL,
    "probabilities": UNIT, "probability": UNIT, "one_hot": UNIT,
    "probabilities_or_logits": UNIT, "probability_or_logits": UNIT,
    "binary": BINARY, "signed": SIGNED_LABEL, "nonnegative": NONNEG, "positive": POSITIVE,
    "weights": NONNEG, "sample_weight": NONNEG, "pos_weight": NONNEG, "embeddings": MODERATE,
}
"""The values of a float kind (:data:`harness.registry.KINDS`); a ``..._or_logits`` kind is
REAL when the case sets ``from_logits``."""
WEIGHT_KINDS = ("weights", "sample_weight", "pos_weight")
PAIR_KINDS = tuple(k for k in KIND_DOMAINS if k not in WEIGHT_KINDS + ("embeddings", "positive"))
"""Float kinds that share the op's main shape ``[batch, ..., classes]``."""


def domain_of(op: OpSpec, name: str, values: dict) -> str:
    """What the float argument ``name`` of ``op`` holds, given the chosen plain values."""
    kind = op.arg(name).meaning
    if kind.endswith("_or_logits") and values.get("from_logits"):
        return REAL
    return KIND_DOMAINS[kind]


@dataclass(frozen=True)
class ShapeRule:
    """Per-op limits on the main shape."""

    min_rank: int = 1
    max_rank: int = 3
    empty: bool = True


def loss_shape(op: OpSpec, main: tuple) -> tuple:
    """Shape of the per-example loss the weights apply to: without the class axis for the
    Keras losses and for losses of class ids or label rows, else the main shape."""
    if op.name.startswith("tf.keras.losses.") or any(a.meaning in ("class_ids", "one_hot") for a in op.args):
        return main[:-1]
    return main


def check_generic(op: OpSpec) -> None:
    """Raise :class:`Unfuzzable` when :func:`generic` has no rule for a required argument."""
    for a in op.init + op.args:
        if a.role == "value" and a.required and not a.choices and a.name not in VALUE_CHOICES:
            raise Unfuzzable(f"required value argument `{a.name}` has no fuzz values (add a recipe)")
        if a.is_tensor and a.required and not (
            (a.role == "int" and a.meaning == "class_ids") or (a.role == "float" and a.meaning in PAIR_KINDS + WEIGHT_KINDS)
            or a.role == "float_list"
        ):
            raise Unfuzzable(f"required {a.role} argument `{a.name}` has no generic shape rule (add a recipe)")


def generic(g: Gen, op: OpSpec, rule: ShapeRule) -> Example:
    """An example from argument names alone (see the module docstring); call
    :func:`check_generic` first."""
    init = {a.name: g.value(a) for a in op.init}
    values = {a.name: g.value(a) for a in op.args if a.role == "value"}
    chosen = {**init, **values}
    main = g.shape(rule.min_rank, rule.max_rank, rule.empty, min_classes=1)
    args: dict = {}
    list_shape = None  # the tensors of every float_list arg share one shape (they are added up)
    for a in op.args:
        if a.role == "value":
            if values[a.name] != a.default or a.required:
                args[a.name] = values[a.name]
        elif a.role == "int" and a.meaning == "class_ids":
            args[a.name] = g.ints(main[:-1], 0, main[-1])
        elif a.role == "float" and a.meaning in PAIR_KINDS:
            args[a.name] = g.floats(main, domain_of(op, a.name, chosen))
        elif a.role == "float" and a.meaning in WEIGHT_KINDS:
            weight = _weight(g, op, a, main)
            if weight is not _OMIT:
                args[a.name] = weight
        elif a.role == "float_list":
            list_shape = list_shape if list_shape is not None else g.small_shape()
            args[a.name] = g.tensor_list(1 if a.required else 0, shape=list_shape)
    return Example(op.name, g.dtype, args, init)


_OMIT = object()


def _weight(g: Gen, op: OpSpec, a: Arg, main: tuple) -> Any:
    """A weight of the forms its kind allows (see :data:`harness.registry.KINDS`)."""
    if a.meaning == "pos_weight":
        form = g.pick(["scalar", "classes", "full"])
        return g.scalar(NONNEG) if form == "scalar" else g.floats(main[-1:] if form == "classes" else main, NONNEG)
    if not a.required and not g.draw(st.booleans()):
        return _OMIT
    shape = loss_shape(op, main)
    if a.meaning == "sample_weight":
        return g.weights(shape, ("scalar", "batch", "full"))
    return g.weights(shape, ("scalar", "broadcast"))


def dtypes_for(op: OpSpec, wanted=FUZZ_DTYPES) -> list[str]:
    return [d for d in wanted if d in op.dtypes]


