"""The coverage matrix: op × dtype × mode, each cell coloured by the worst status of its cases.

Cells come from the cases of the run, grouped by ``op``, ``dtype`` and ``params.mode``
(``eager`` when absent: results written before modes existed ran eagerly). A cell is marked
``grad`` when any of its cases compared gradients. The coverage section (``combos`` such as
``float16/xla/grad``, from the case files) adds the combinations the files declare but this
run did not execute (``declared``: filtered out with ``-k``, or interrupted), and the ops that
no case exercises at all (``no cases``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from harness.result import CaseResult, as_result
from harness.vocab import DEFAULT_MODE, FLOAT_DTYPES, MODES

DTYPE_ORDER = FLOAT_DTYPES
MODE_ORDER = MODES


def case_mode(case: CaseResult) -> str:
    return str(case.mode or DEFAULT_MODE)


def has_grad(case: CaseResult) -> bool:
    outputs = case.outputs
    if case.grad_method or (isinstance(outputs, Mapping) and outputs.get("grads")):
        return True
    return any(isinstance(c, Mapping) and str(c.get("name", "")).startswith("grad") for c in case.checks or [])


def _ordered(values: Iterable[str], order: Sequence[str]) -> list[str]:
    values = set(values)
    return [v for v in order if v in values] + sorted(values - set(order))


def _parse_combo(text: Any) -> tuple[str, str, str] | None:
    parts = str(text).split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def build(cases: Sequence[CaseResult | Mapping[str, Any]], coverage: Any, statuses: Sequence[str]) -> dict:
    """``{"columns": [(dtype, mode)], "dtypes": [(dtype, n_modes)], "rows": [...], "no_cases": [op]}``.

    Each row: ``op``, ``cells`` (one per column, ``None`` where nothing is declared or run),
    ``missing`` (the number of argument values not exercised). A cell: ``status`` (the worst,
    by ``statuses`` order), ``n``, ``counts`` by status, ``grad``, ``declared`` (declared in
    the files, not run). ``no_cases``: the ops the coverage section lists with 0 cases.
    """
    rank = {s: i for i, s in enumerate(statuses)}
    groups: dict[tuple[str, str, str], dict] = {}
    for case in map(as_result, cases):
        op, dtype = case.op, case.dtype
        if not op or not dtype:
            continue
        key = (str(op), str(dtype), case_mode(case))
        cell = groups.setdefault(key, {"n": 0, "counts": {}, "grad": False, "declared": False})
        status = str(case.status or "error")
        cell["n"] += 1
        cell["counts"][status] = cell["counts"].get(status, 0) + 1
        cell["grad"] = cell["grad"] or has_grad(case)
    no_cases, missing = {}, {}
    for row in coverage if isinstance(coverage, list) else []:
        if not isinstance(row, Mapping) or not row.get("op"):
            continue
        op = str(row["op"])
        no_cases[op] = not row.get("cases")
        missing[op] = len(row.get("missing") or [])
        for combo in row.get("combos") or []:
            parsed = _parse_combo(combo)
            if parsed is None:
                continue
            dtype, mode, kind = parsed
            cell = groups.get((op, dtype, mode))
            if cell is None:
                cell = groups[(op, dtype, mode)] = {"n": 0, "counts": {}, "grad": False, "declared": True}
            if kind == "grad":
                cell["grad_declared"] = True
    dtypes = _ordered((k[1] for k in groups), DTYPE_ORDER)
    modes = _ordered((k[2] for k in groups), MODE_ORDER)
    columns = [(d, m) for d in dtypes for m in modes if any((op, d, m) in groups for op, _, _ in groups)]
    ops = sorted({k[0] for k in groups})
    rows = []
    for op in ops:
        cells = []
        for dtype, mode in columns:
            cell = groups.get((op, dtype, mode))
            if cell is not None:
                worst = min(cell["counts"], key=lambda s: rank.get(s, len(rank))) if cell["counts"] else None
                cell = {**cell, "status": worst, "grad": cell["grad"] or bool(cell.get("grad_declared"))}
            cells.append(cell)
        rows.append({"op": op, "cells": cells, "missing": missing.get(op, 0)})
    spans = [(d, sum(1 for dd, _ in columns if dd == d)) for d in dtypes]
    uncovered = sorted(op for op, none in no_cases.items() if none and not any(k[0] == op for k in groups))
    return {"columns": columns, "dtypes": [(d, n) for d, n in spans if n], "rows": rows, "no_cases": uncovered}


def by_impl(cases: Sequence[CaseResult | Mapping[str, Any]], statuses: Sequence[str]) -> dict:
    """The coverage matrix op × implementation under test: ``{"impls": [name], "rows": [{"op",
    "cells"}]}``, a cell (None where the implementation has no case of the op) holding
    ``status`` (the worst, by ``statuses`` order), ``n``, ``passed`` (passed or xfailed) and
    ``counts`` by status. Cases without an implementation (TF alone) are left out."""
    rank = {s: i for i, s in enumerate(statuses)}
    groups: dict[tuple[str, str], dict] = {}
    for case in map(as_result, cases):
        if not case.op or not case.impl:
            continue
        cell = groups.setdefault((str(case.op), str(case.impl)), {"n": 0, "passed": 0, "counts": {}})
        status = str(case.status or "error")
        cell["n"] += 1
        cell["passed"] += status in ("passed", "xfailed")
        cell["counts"][status] = cell["counts"].get(status, 0) + 1
    impls = sorted({impl for _, impl in groups}, key=lambda name: (name != "numpy", name))
    rows = []
    for op in sorted({op for op, _ in groups}):
        cells = []
        for impl in impls:
            cell = groups.get((op, impl))
            if cell is not None:
                cell = {**cell, "status": min(cell["counts"], key=lambda s: rank.get(s, len(rank)))}
            cells.append(cell)
        rows.append({"op": op, "cells": cells})
    return {"impls": impls, "rows": rows}
