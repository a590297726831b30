"""What the cases exercise: each registered op × its argument values and dtypes.

For a ``value`` argument the distinct values used are listed (and, for arguments with a
closed set of ``choices``, the choices no case uses are flagged); for a tensor argument,
whether any case passes it (``given``) or all rely on the default. ``same_as`` and
``differs_from`` computations count for the op they name. Coverage is of the ops the given
case files use, or of the whole registry when asked (``--all-ops``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from harness.loader import discover, load_file
from harness.registry import REQUIRED, registry


@dataclass
class OpCoverage:
    op: str
    cases: int = 0
    dtypes: set = field(default_factory=set)
    modes: set = field(default_factory=set)
    grads: set = field(default_factory=set)
    combos: set = field(default_factory=set)  # (dtype, mode, "grad"|"value")
    values: dict = field(default_factory=dict)  # "args.x" / "init.x" -> set of reprs

    def missing(self) -> list[str]:
        """Argument values no case exercises."""
        from harness.registry import get_op

        spec = get_op(self.op)
        out = []
        for section, args in (("init", spec.init), ("args", spec.args)):
            for a in args:
                used = self.values.get(f"{section}.{a.name}", set())
                if a.choices:
                    out += [f"{section}.{a.name}={c!r}" for c in a.choices if repr(c) not in used]
                elif not used and not a.required:
                    out.append(f"{section}.{a.name} (never given)")
        return out


def _note(cov: OpCoverage, section: str, name: str, value, role: str) -> None:
    shown = repr(value) if role == "value" else "given"
    if role == "value" and isinstance(value, (list, dict)):
        shown = "given"
    cov.values.setdefault(f"{section}.{name}", set()).add(shown)


def collect(paths: list[Path], all_ops: bool = False, loaded: dict | None = None) -> dict[str, OpCoverage]:
    """Coverage of the ops the case files under ``paths`` use; with ``all_ops`` every
    registered op, those no case exercises included (``cases == 0``). ``loaded``: case files
    already loaded (``{resolved path: LoadedFile}``, a run's collection), not loaded again."""
    table = _collect(paths, loaded or {})
    return table if all_ops else {name: c for name, c in table.items() if c.cases}


def _collect(paths: list[Path], loaded: dict) -> dict[str, OpCoverage]:
    reg = registry()
    table = {name: OpCoverage(name) for name in reg.names()}
    for path in discover(paths):
        file = loaded.get(path.resolve()) or load_file(path)
        for case in file.cases:
            data = case.data
            matrix = data.get("matrix") or {}
            combos = [dict(zip(matrix, v)) for v in itertools.product(*matrix.values())] or [{}]
            cov = table[case.op.name]
            cov.cases += 1
            cov.dtypes.update(case.dtypes)
            modes = data.get("modes") or ["eager"]
            cov.modes.update(modes)
            cov.grads.update(data.get("grad") or [])
            kind = "grad" if data.get("grad") else "value"
            cov.combos.update((d, m, kind) for d in case.dtypes for m in modes)
            for combo in combos:
                for section, specs in (("init", case.op.init), ("args", case.op.args)):
                    given = {**(data.get(section) or {}),
                             **{k.split(".", 1)[1]: v for k, v in combo.items() if k.startswith(section + ".")}}
                    for a in specs:
                        if a.name in given:
                            _note(cov, section, a.name, given[a.name], a.role)
                        elif a.default is not REQUIRED and a.role == "value":
                            _note(cov, section, a.name, a.default, a.role)
            for key in ("same_as", "differs_from"):
                for comp in data.get(key) or []:
                    other = reg.get(comp["op"])
                    oc = table[other.name]
                    oc.cases += 1
                    oc.dtypes.update(case.dtypes)
                    oc.modes.add("eager")
                    oc.combos.update((d, "eager", "value") for d in case.dtypes)
                    for name, value in (comp.get("args") or {}).items():
                        arg = other.arg(name)
                        if arg is not None:
                            _note(oc, "args", name, value, arg.role)
                    for name, value in (comp.get("init") or {}).items():
                        arg = other.init_arg(name)
                        if arg is not None:
                            _note(oc, "init", name, value, arg.role)
    return table


def as_json(table: dict[str, OpCoverage]) -> list[dict]:
    return [
        {"op": c.op, "cases": c.cases, "dtypes": sorted(c.dtypes), "modes": sorted(c.modes), "grads": sorted(c.grads),
         "combos": sorted(f"{d}/{m}/{k}" for d, m, k in c.combos),
         "values": {k: sorted(v) for k, v in sorted(c.values.items())}, "missing": c.missing()}
        for c in table.values()
    ]


def format_table(table: dict[str, OpCoverage]) -> str:
    lines = []
    for c in table.values():
        flag = "  NO CASES" if c.cases == 0 else ""
        lines.append(f"{c.op}: {c.cases} cases, dtypes {', '.join(sorted(c.dtypes)) or '-'}, "
                     f"modes {', '.join(sorted(c.modes)) or '-'}, grad {', '.join(sorted(c.grads)) or '-'}{flag}")
        for key, vals in sorted(c.values.items()):
            lines.append(f"    {key}: {', '.join(sorted(vals))}")
        for m in c.missing():
            lines.append(f"    MISSING {m}")
    uncovered = [c.op for c in table.values() if c.cases == 0]
    if len(table) == len(registry()):
        lines.append(f"{len(table)} ops, {len(table) - len(uncovered)} with cases"
                     + (f"; no cases: {', '.join(uncovered)}" if uncovered else ""))
    else:
        lines.append(f"{len(table)} of {len(registry())} registered ops used by these cases "
                     "(--all-ops: the whole registry, with the ops no case exercises)")
    return "\n".join(lines) + "\n"
