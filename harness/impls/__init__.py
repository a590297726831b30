"""Implementations under test: the NumPy reference, the PyTorch and JAX ports, or a user's own.

The contract of an implementation module (README, "Checking your own port"):

``OPS``        a dict from TF public op names (as ``python -m harness list-ops`` prints them)
               to callables;
``NAME``       optional, the name in reports (default: the module or file stem);
``FRAMEWORK``  optional, ``numpy`` (default), ``torch`` or ``jax``;
``DTYPES``     optional, the float dtypes it runs; cases in other dtypes are skipped.

A callable is called with keyword arguments only: the case's ``args`` by TF's keyword names
and, for a Keras loss class, its ``init`` arguments too; arguments the case does not give
are not passed. :func:`load` turns a SPEC (``numpy``, ``torch``, ``jax``, an importable
module name or a path to a ``.py`` file) into a :class:`PortModule`; a module that
breaks the contract is an :class:`ImplError` with a one-line ``file:line: field: problem (fix)``.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from harness.vocab import FLOAT_DTYPES

FRAMEWORKS = ("numpy", "torch", "jax")
BUILTINS = {"numpy": "harness.impls.numpy_ref", "torch": "harness.impls.torch_ops", "jax": "harness.impls.jax_ops",
            "torch-native": "harness.impls.torch_native", "jax-native": "harness.impls.jax_native"}
"""Built-in SPECs: the reference, the two faithful ports, and the native functions that diverge (cases/ports/).
A built-in's ``NAME`` is its SPEC."""
BUILTIN_NEEDS = {"numpy": (), "torch": ("torch",), "jax": ("jax", "optax"), "torch-native": ("torch",),
                 "jax-native": ("jax", "optax")}
"""The optional packages each built-in imports (its extra: the SPEC's first word)."""
DEFAULT = "numpy"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_FLOAT_DTYPES = FLOAT_DTYPES


class ImplError(ValueError):
    """An implementation that cannot be loaded or breaks the contract (one line, no traceback)."""


class ImplUnavailable(ImplError):
    """A built-in implementation whose framework (an optional extra) is not installed."""


@dataclass(frozen=True)
class PortModule:
    """A loaded implementation module: its ops, framework and where it came from. The runner
    calls it through :class:`harness.impls.side.PortSide`, an :class:`harness.sides.Implementation`."""

    name: str
    framework: str
    ops: Mapping[str, Callable[..., Any]]
    origin: str
    dtypes: tuple[str, ...] = _FLOAT_DTYPES
    is_reference: bool = False
    """The built-in NumPy reference: its gradients are the registry's (analytic or finite differences)."""

    def provides(self, op_name: str) -> bool:
        return op_name in self.ops

    def __str__(self) -> str:
        return self.name


def _source_line(path: str, needle: str) -> int:
    """The first line of ``path`` that mentions ``needle`` (1 when none does)."""
    try:
        for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return i
    except OSError:
        pass
    return 1


def _import_file(path: Path) -> Any:
    """A ``.py`` file as a module, its directory first on ``sys.path`` so it imports its siblings."""
    if not path.is_file():
        raise ImplError(f"{path}: --impl: no such file (give numpy, torch, jax, a module name or a .py file)")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem if path.stem not in sys.modules else f"_tf_parity_impl_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ImplError(f"{path}:{_error_line(exc, path)}: import: {type(exc).__name__}: {exc} "
                        "(fix the module so that `python FILE` runs)") from None
    return module


def _error_line(exc: BaseException, path: Path) -> int:
    tb, line = exc.__traceback__, 1
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) and exc.lineno else line


def _import_spec(spec: str) -> tuple[Any, str]:
    """(module, origin) for a SPEC."""
    if spec in BUILTINS:
        target = BUILTINS[spec]
    elif spec.endswith(".py") or "/" in spec or "\\" in spec:
        path = Path(spec)
        return _import_file(path), str(path)
    else:
        target = spec
    try:
        module = importlib.import_module(target)
    except ImportError as exc:
        if spec in BUILTINS:
            raise _unavailable(spec, exc.name) from None
        raise ImplError(f"--impl {spec}: cannot import {target!r}: {exc} "
                        "(give numpy, torch, jax, an importable module name or a path to a .py file)") from None
    return module, getattr(module, "__file__", None) or target


def _unavailable(spec: str, missing: str | None) -> ImplUnavailable:
    return ImplUnavailable(f"--impl {spec}: needs {missing} ({spec} is an optional extra: "
                           f"pip install 'tf-parity[{spec.split('-')[0]}]')")


def _check_ops(module: Any, origin: str) -> dict:
    from harness.registry import registry

    ops = getattr(module, "OPS", None)
    if not isinstance(ops, Mapping):
        found = "no OPS" if ops is None else f"OPS is a {type(ops).__name__}"
        raise ImplError(f"{origin}:1: OPS: {found} (define OPS = {{'tf.keras.losses.Huber': my_huber, ...}}, "
                        "a dict from TF op names as `python -m harness list-ops` prints them to callables)")
    reg, checked = registry(), {}
    for key, fn in ops.items():
        line = _source_line(origin, repr(key)[1:-1]) if isinstance(key, str) else 1
        if not isinstance(key, str) or key not in reg:
            raise ImplError(f"{origin}:{line}: OPS: {reg.unknown_message(str(key))} (keys are TF op names "
                            "as `python -m harness list-ops` prints them)")
        if not callable(fn):
            raise ImplError(f"{origin}:{line}: OPS[{key!r}]: {type(fn).__name__} is not callable (map it to a function)")
        checked[reg.get(key).name] = fn  # tf.losses.X -> tf.compat.v1.losses.X
    return checked


def _attr(module: Any, origin: str, field: str, default: Any, ok: Callable[[Any], bool], fix: str) -> Any:
    value = getattr(module, field, default)
    if not ok(value):
        raise ImplError(f"{origin}:{_source_line(origin, field)}: {field}: {value!r} is not valid ({fix})")
    return value


def from_module(module: Any, origin: str, default_name: str) -> PortModule:
    """Check a module against the contract and wrap it."""
    ops = _check_ops(module, origin)
    name = _attr(module, origin, "NAME", default_name, lambda v: isinstance(v, str) and bool(_NAME.match(v)),
                 "NAME is a short name of letters, digits, '.', '_' or '-'")
    framework = _attr(module, origin, "FRAMEWORK", "numpy", lambda v: v in FRAMEWORKS,
                      f"FRAMEWORK is one of {', '.join(FRAMEWORKS)}")
    dtypes = _attr(module, origin, "DTYPES", _FLOAT_DTYPES,
                   lambda v: isinstance(v, (list, tuple)) and set(v) <= set(_FLOAT_DTYPES),
                   f"DTYPES lists some of {', '.join(_FLOAT_DTYPES)}")
    return PortModule(name=name, framework=framework, ops=ops, origin=origin, dtypes=tuple(dtypes),
                          is_reference=bool(getattr(module, "IS_REFERENCE", False)))


_LOADED: dict[str, PortModule] = {}


def load(spec: str) -> PortModule:
    """The implementation named by SPEC (loaded once per process)."""
    if spec not in _LOADED:
        module, origin = _import_spec(spec)
        stem = spec if spec in BUILTINS else Path(origin).stem if origin.endswith(".py") else spec.rsplit(".", 1)[-1]
        if stem == "__init__":
            stem = Path(origin).parent.name
        _LOADED[spec] = from_module(module, origin, stem)
    return _LOADED[spec]


def case_impls(data: Mapping[str, Any], requested: tuple[str, ...]) -> list[tuple[str | None, str]]:
    """``(SPEC, name)`` of each implementation a case runs against: its own ``impl:`` list, else
    ``requested`` (``--impl``); a ``reference: false`` case runs once, on TF alone (``(None, "tf")``)."""
    if data.get("reference", True) is False:
        return [(None, "tf")]
    specs = list(data.get("impl") or requested or (DEFAULT,))
    return [(spec, name_of(spec)) for spec in specs]


def name_of(spec: str) -> str:
    """The ``NAME`` of SPEC's implementation. A built-in's is its SPEC, known without importing
    its framework (torch and jax take seconds to import, which a run whose port cases are
    deselected, or a collection, should not pay): only that its packages are installed is checked
    here (:class:`ImplUnavailable` if not), and the module is imported by its first case. Any
    other SPEC is loaded (and checked against the contract) now."""
    if spec in BUILTINS and spec not in _LOADED:
        missing = next((m for m in BUILTIN_NEEDS[spec] if importlib.util.find_spec(m) is None), None)
        if missing:
            raise _unavailable(spec, missing)
        return spec
    return load(spec).name
