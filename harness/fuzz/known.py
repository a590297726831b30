"""Is a fuzz failure already known? The regression cases on disk, indexed by the example they run.

A failure is *known* when an existing case (in the fuzz output directory or
``cases/regressions/``) runs the same example: the same op (an alias such as ``tf.losses.X``
resolves to its TF name), dtype and mode, and the same argument values once normalised:

* every argument and constructor argument the case leaves out takes the registry's
  default, so ``reduction: sum_over_batch_size`` written out equals it left out;
* values are built as a run builds them (:func:`harness.runner.case_inputs`: generators
  such as ``{fill: 0.0, shape: [0, 1]}`` against literal lists, ``1`` against ``1.0``,
  ``matrix`` expanded) and compared by dtype, shape and values (NaN equals NaN, -0.0 equals 0.0);
* ``same_as`` / ``differs_from`` computations must match too (an identity property's case).

Nothing else matters: ``xfail``, ``expect_error``, tolerances, comments, ids, ``source``
and formatting may all differ. Files that do not load, and cases whose inputs cannot be
built, are left out of the index.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from harness.expand import Expanded, expand
from harness.loader import Case, discover, load_file
from harness.registry import REQUIRED


def _norm(value: Any) -> Any:
    """A hashable, formatting-free form of one argument value."""
    if isinstance(value, np.ndarray):
        arr = value
        if arr.dtype.kind in "fc":
            arr = np.where(np.isnan(arr), np.nan, arr) + arr.dtype.type(0)  # one NaN, and -0.0 -> 0.0
        return ("array", arr.dtype.str, arr.shape, arr.tobytes())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return ("num", float(value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _norm(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_norm(v) for v in value))
    return ("other", repr(value))


def example_key(exp: Expanded) -> tuple:
    """What an expanded case runs, normalised (see the module docstring)."""
    from harness.runner import case_inputs

    op = exp.op
    filled = dataclasses.replace(
        exp,
        args={**{a.name: a.default for a in op.args if a.default is not REQUIRED}, **exp.args},
        init={**{a.name: a.default for a in op.init if a.default is not REQUIRED}, **exp.init})
    args, init = case_inputs(filled)
    related = tuple(_norm(exp.case.data.get(key)) for key in ("same_as", "differs_from"))
    return (op.name, exp.dtype, exp.mode, _norm(init), _norm(args), related)


class KnownCases:
    """The example keys of every case under ``dirs``, each pointing at its case; built at the first lookup."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = list(dict.fromkeys(dirs))
        self._index: dict[tuple, Case] | None = None

    @property
    def index(self) -> dict[tuple, Case]:
        if self._index is None:
            self._index = {}
            for path in discover([d for d in self.dirs if d.is_dir()]):
                self.add(path)
        return self._index

    def add(self, path: Path) -> None:
        for case in load_file(path).cases:
            for exp in expand(case):
                try:
                    self.index.setdefault(example_key(exp), case)
                except Exception:  # inputs that cannot be built (a missing .npy, ...): not an example
                    continue

    def match(self, data: dict) -> Case | None:
        """The existing case running the example of the case mapping ``data`` (no ``id``), if any."""
        from harness.fuzz.judge import probe_case

        for exp in expand(probe_case(data)):
            found = self.index.get(example_key(exp))
            if found is not None:
                return found
        return None
