"""One registry of ops, keyed by TensorFlow's public API name.

Each :class:`OpSpec` is an op's whole record, as PyTorch's OpInfo: the NumPy reference,
how to reach the TensorFlow callable (TensorFlow is imported lazily, only when a TF side
is actually run), every argument with its role and kind, the dtypes and modes TF
supports, the reference gradient (analytic, or finite differences), the shapes its
inputs take when the generic rules cannot build them (fuzz and benchmark), and its
known quirks.

Argument roles (how the loader turns a case's value into an input):

``float``       a float tensor; cast to each dtype of the case's ``dtypes:`` list.
``int``         an integer tensor; int32 unless the case gives a ``dtype``.
``float_list``  a list of float tensors (``tf.clip_by_global_norm``'s ``t_list``).
``value``       a plain Python value (bool, number, string, ``None``), passed as is.

Argument kinds (what a tensor means: :data:`KINDS`) are read by the fuzz strategies
(:mod:`harness.fuzz.strategies`) and the benchmark inputs (``bench/inputs.py``) to draw
values an op is meant to see.

Ops are declared per API family in ``harness/ops/*.py``; this module only collects them.
"""
from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping

ROLES = ("float", "int", "float_list", "value")

MODES = ("eager", "function", "xla")
"""TF execution modes (see :mod:`harness.tfexec`)."""

KINDS: dict[str, str] = {
    "real": "any real number",
    "logits": "unscaled log-probabilities (any real)",
    "probabilities": "rows of class probabilities, each summing to 1",
    "probability": "probabilities element by element, in [0, 1]",
    "probabilities_or_logits": "rows of class probabilities; logits when from_logits=True",
    "probability_or_logits": "probabilities in [0, 1] element by element; logits when from_logits=True",
    "one_hot": "one-hot rows (or soft labels: rows summing to 1)",
    "binary": "targets in {0, 1}",
    "signed": "targets in {-1, 1} (0/1 labels are mapped to -1/1)",
    "nonnegative": "values >= 0 (counts, rates)",
    "positive": "values > 0",
    "losses": "loss values (any real), per element",
    "per_example_losses": "loss values (any real), one per example",
    "weights": "weights >= 0: a scalar or broadcastable to the per-example losses",
    "sample_weight": "Keras sample weights >= 0: a scalar, per example or per element",
    "pos_weight": "coefficient >= 0 of the positive term: a scalar, per class or per element",
    "embeddings": "vectors that meet in dot products (moderate values)",
    "class_ids": "integer class ids in [0, number of classes)",
    "label_sequences": "integer label sequences, one row per example, padded past each length",
    "sequence_lengths": "integer lengths, one per example",
}
"""What an argument means, beyond its role. A ``float`` argument without a kind is
``real``, an ``int`` one ``class_ids``."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Marker default: the argument must be given by the case."""


@dataclass(frozen=True)
class Arg:
    """One argument of an op: its TF keyword name, role, default, documentation and kind."""

    name: str
    role: str = "float"
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple = ()
    """For ``value`` args with a closed set of values (e.g. a reduction); empty = any."""
    kind: str = ""
    """What a tensor argument means (a key of :data:`KINDS`); empty: by its role."""
    example: Any = None
    """A typical value of a plain-value argument that a case must give in practice (the
    benchmark passes it); None: none."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Arg {self.name}: role {self.role!r} not in {ROLES}")
        if self.kind and self.kind not in KINDS:
            raise ValueError(f"Arg {self.name}: kind {self.kind!r} not in {tuple(KINDS)}")

    @property
    def meaning(self) -> str:
        """The argument's kind, or the default of its role (``real``, ``class_ids``)."""
        if self.kind:
            return self.kind
        return {"int": "class_ids", "value": ""}.get(self.role, "real")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def is_tensor(self) -> bool:
        return self.role in ("float", "int", "float_list")


@dataclass(frozen=True)
class OpSpec:
    """A registered op.

    ``reference(**init, **args)`` computes the op in NumPy.  ``tf_call(tf, init, args)``
    computes it in TensorFlow; when omitted, the TF callable is found by walking ``name``
    from the ``tensorflow`` module (``tf.nn.softmax`` -> ``tf.nn.softmax``) and called as
    ``fn(**args)``, or for a Keras loss class as ``cls(**init)(**args)``.
    """

    name: str
    reference: Callable[..., Any]
    args: tuple[Arg, ...]
    init: tuple[Arg, ...] = ()
    differentiable: tuple[str, ...] = ()
    tf_call: Callable[[Any, Mapping[str, Any], Mapping[str, Any]], Any] | None = None
    summary: str = ""
    dtypes: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64")
    """Float dtypes TF supports for this op (others are reported as skipped)."""
    check: Callable[[Mapping[str, Any], Mapping[str, Any]], str | None] | None = None
    """Optional pre-flight check on concrete inputs: returns a message for inputs TF
    would reject (stated before TF runs), or None. It reads ``float`` tensors only for
    their shapes and dtypes (their values may be zeros: at load time a float argument drawn
    by a ``random:`` generator is passed as zeros of its shape; a test holds every check to
    this); ``int`` tensors and plain values are the real ones."""
    grad: Callable[..., dict] | None = None
    """Analytic reference gradient: ``grad(init, args, cotangent, wrt) -> {name: array}``,
    the vector-Jacobian product of ``sum(output * cotangent)``; ``cotangent`` is a list with
    one array per output leaf. Without it (or where it returns None: inputs the rule does not
    cover), gradients are taken by finite differences of the reference in float64
    (:mod:`harness.finite_differences`)."""
    modes: tuple[str, ...] = MODES
    """TF execution modes the op runs in."""
    quirks: str = ""
    """Known TF behaviour the reference mirrors, in a sentence or two (shown by list-ops)."""
    fuzz: str | Callable[..., Any] | None = None
    """How fuzz examples are drawn when the generic rules (by argument kind) cannot make the
    arguments' shapes agree: a recipe of :data:`harness.fuzz.recipes.RECIPES` by name, or
    ``fuzz(g, op)`` that draws with a :class:`harness.fuzz.strategies.Gen` and returns the
    args dict (or an Example)."""
    bench: str | Callable[..., dict] | None = None
    """How benchmark args are built when the generic ``[batch, classes]`` rule cannot: a
    builder of ``bench.inputs.BUILDERS`` by name, or ``bench(rng, batch, classes) -> args``."""
    bench_limit: tuple[str, str] | None = None
    """(largest benchmark size, why) for an op too slow at the large size."""

    @property
    def is_keras_class(self) -> bool:
        return bool(self.init) or (
            self.name.startswith("tf.keras.losses.") and self.name.rsplit(".", 1)[1][:1].isupper()
        )

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.args if a.name == name), None)

    def init_arg(self, name: str) -> Arg | None:
        return next((a for a in self.init if a.name == name), None)

    def tf_fn(self, tf: Any) -> Any:
        """The TF object named by ``name`` (``tf.nn.softmax`` -> ``tf.nn.softmax``)."""
        obj = tf
        for part in self.name.split(".")[1:]:
            obj = getattr(obj, part)
        return obj

    def run_tf(self, tf: Any, init: Mapping[str, Any], args: Mapping[str, Any]) -> Any:
        if self.tf_call is not None:
            return self.tf_call(tf, init, args)
        fn = self.tf_fn(tf)
        if self.is_keras_class:
            return fn(**init)(**args)
        return fn(**args)

    def run_reference(self, init: Mapping[str, Any], args: Mapping[str, Any]) -> Any:
        return self.reference(**init, **args)


class UnknownOpError(LookupError):
    """An op name that is not in the registry; the message lists the closest names."""


ALIAS_PREFIXES = {
    # TF1 documents say tf.losses.X; in TF 2, tf.losses is Keras. Resolve to compat.v1.
    "tf.losses.": "tf.compat.v1.losses.",
}


class Registry:
    def __init__(self) -> None:
        self._ops: dict[str, OpSpec] = {}

    def add(self, spec: OpSpec) -> None:
        if spec.name in self._ops:
            raise ValueError(f"op {spec.name} registered twice")
        self._ops[spec.name] = spec

    def names(self) -> list[str]:
        return sorted(self._ops)

    def __iter__(self):
        return iter(self._ops[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, name: str) -> bool:
        return self.resolve_name(name)[0] in self._ops

    def resolve_name(self, name: str) -> tuple[str, str | None]:
        """Map an alias to its registry name; returns (name, warning or None)."""
        for alias, target in ALIAS_PREFIXES.items():
            if name.startswith(alias):
                real = target + name[len(alias):]
                if real in self._ops:
                    return real, (
                        f"{name} is the TF1 name; it resolves to {real} "
                        "(in TF 2, tf.losses means tf.keras.losses)"
                    )
        return name, None

    def get(self, name: str) -> OpSpec:
        real, _ = self.resolve_name(name)
        try:
            return self._ops[real]
        except KeyError:
            raise UnknownOpError(self.unknown_message(name)) from None

    def closest(self, name: str, n: int = 3) -> list[str]:
        names = self.names()
        found = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
        if not found:  # compare the last component: 'sparse_softmax_xent' vs full names
            tail = name.rsplit(".", 1)[-1]
            tails = {k.rsplit(".", 1)[-1]: k for k in names}
            found = [tails[t] for t in difflib.get_close_matches(tail, list(tails), n=n, cutoff=0.4)]
        return found

    def unknown_message(self, name: str) -> str:
        close = self.closest(name)
        hint = f"did you mean {', '.join(close)}?" if close else "run `python -m harness list-ops`"
        return f"unknown op {name!r} ({hint})"


_REGISTRY: Registry | None = None


EXTRA_OPS_ENV = "TF_PARITY_EXTRA_OPS"
"""Comma-separated module names whose ``OPS`` are registered too (the harness's own
tests use it for ops that crash or hang on purpose)."""


def registry() -> Registry:
    """The process-wide registry, filled from every module in ``harness.ops`` (and any
    module named in ``$TF_PARITY_EXTRA_OPS``)."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = Registry()
        import harness.ops as ops_pkg

        names = [f"harness.ops.{m.name}" for m in sorted(pkgutil.iter_modules(ops_pkg.__path__), key=lambda m: m.name)]
        names += [n.strip() for n in os.environ.get(EXTRA_OPS_ENV, "").split(",") if n.strip()]
        for name in names:
            for spec in getattr(importlib.import_module(name), "OPS", ()):
                reg.add(spec)
        _REGISTRY = reg
    return _REGISTRY


def get_op(name: str) -> OpSpec:
    return registry().get(name)
