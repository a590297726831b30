"""One registry of ops, keyed by TensorFlow's public API name.

Each :class:`OpSpec` names the NumPy reference, how to reach the TensorFlow callable
(TensorFlow is imported lazily, only when a TF side is actually run), the role of every
argument and which arguments are differentiable.

Argument roles:

``float``       a float tensor; cast to each dtype of the case's ``dtypes:`` list.
``int``         an integer tensor; int32 unless the case gives a ``dtype``.
``float_list``  a list of float tensors (``tf.clip_by_global_norm``'s ``t_list``).
``value``       a plain Python value (bool, number, string, ``None``), passed as is.

Ops are declared per API family in ``harness/ops/*.py``; this module only collects them.
"""
from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping

ROLES = ("float", "int", "float_list", "value")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""Marker default: the argument must be given by the case."""


@dataclass(frozen=True)
class Arg:
    """One argument of an op: its TF keyword name, role, default and documentation."""

    name: str
    role: str = "float"
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple = ()
    """For ``value`` args with a closed set of values (e.g. a reduction); empty = any."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Arg {self.name}: role {self.role!r} not in {ROLES}")

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
    would reject (stated before TF runs), or None."""
    grad: Callable[..., dict] | None = None
    """Analytic reference gradient: ``grad(init, args, cotangent, wrt) -> {name: array}``,
    the vector-Jacobian product of ``sum(output * cotangent)``; ``cotangent`` is a list with
    one array per output leaf. Without it, gradients are taken by finite differences of the
    reference in float64 (:mod:`harness.gradients`)."""

    @property
    def is_keras_class(self) -> bool:
        return bool(self.init) or (
            self.name.startswith("tf.keras.losses.") and self.name.rsplit(".", 1)[1][:1].isupper()
        )

    @property
    def family(self) -> str:
        return self.name.rsplit(".", 1)[0]

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
        grads: dict = {}
        for name in names:
            module = importlib.import_module(name)
            for spec in getattr(module, "OPS", ()):
                reg.add(spec)
            grads.update(getattr(module, "GRADS", {}))
        for op_name, fn in grads.items():  # analytic gradients declared apart from the ops
            if op_name in reg._ops and reg._ops[op_name].grad is None:
                reg._ops[op_name] = dataclasses.replace(reg._ops[op_name], grad=fn)
        _REGISTRY = reg
    return _REGISTRY


def get_op(name: str) -> OpSpec:
    return registry().get(name)
