"""Expanding a case into the concrete checks that run: ``matrix`` × ``dtypes`` × ``modes``.

The expanded id follows pytest's parametrize style: ``ID[none-0.2-float32]`` (matrix values
in key order, then the dtype, then the mode when the case lists ``modes``, then the
implementation's name when the case runs against more than one: ``ID[float32-torch]``).
Matrix values only use ``[A-Za-z0-9._-]`` in ids so the id is a valid ``-k`` expression.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from harness.impls import DEFAULT as DEFAULT_IMPL
from harness.impls import case_impls
from harness.inputs import _plain
from harness.loader import Case
from harness.tolerances import Tolerance, resolve_tolerance
from harness.vocab import DEFAULT_MODE


@dataclass
class Expanded:
    case: Case
    id: str
    dtype: str
    params: dict
    init: dict
    args: dict
    tolerance: Tolerance
    mode: str = DEFAULT_MODE
    warnings: list[str] = field(default_factory=list)
    impl: str | None = DEFAULT_IMPL
    """The SPEC of the implementation under test (:mod:`harness.impls`); None: TF alone (``reference: false``)."""
    tf_id: str = ""
    """The id without the implementation's name: TF's computation, the same for every
    implementation (goldens are recorded under it)."""

    def __post_init__(self) -> None:
        self.tf_id = self.tf_id or self.id

    @property
    def op(self):
        return self.case.op


def _id_part(value) -> str:
    text = "None" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:40] or "_"


def expand(case: Case, impls: tuple[str, ...] = (DEFAULT_IMPL,)) -> list[Expanded]:
    """The case's checks for the implementations ``impls`` (``--impl``; a case's own ``impl:``
    list replaces them)."""
    data = case.data
    matrix = dict(data.get("matrix") or {})
    combos = [dict(zip(matrix, map(_plain, vals))) for vals in itertools.product(*matrix.values())] or [{}]
    modes = list(data.get("modes") or [DEFAULT_MODE])
    specs = case_impls(data, impls)
    tolerances = {dtype: resolve_tolerance(data.get("tolerance"), dtype) for dtype in case.dtypes}  # frozen values
    out = []
    for combo, dtype, mode, (spec, impl_name) in itertools.product(combos, case.dtypes, modes, specs):
        init = dict(data.get("init") or {})
        args = dict(data.get("args") or {})
        for key, value in combo.items():
            section, name = key.split(".", 1)
            (init if section == "init" else args)[name] = value
        parts = [_id_part(v) for v in combo.values()] + [dtype] + ([mode] if "modes" in data else [])
        named = parts + [impl_name] if len(specs) > 1 else parts
        out.append(Expanded(
            case=case,
            id=f"{case.id}[{'-'.join(named)}]",
            tf_id=f"{case.id}[{'-'.join(parts)}]",
            dtype=dtype,
            params={"dtype": dtype, **({"mode": mode} if "modes" in data else {}), **combo,
                    **({"impl": impl_name} if len(specs) > 1 else {})},
            init=init,
            args=args,
            tolerance=tolerances[dtype],
            mode=mode,
            warnings=list(case.warnings),
            impl=spec,
        ))
    return out
