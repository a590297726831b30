"""The human-facing report: one self-contained HTML file (inline CSS and JS, no network).

``render_html(results)`` turns the results dict (the same one written to ``results.json``)
into a page: verdict and counts, failures expanded with both outputs and the element diff,
a filterable table of every expanded case, and a per-op timing table.  All text coming from
YAML is escaped by Jinja2's autoescape; on top of that the page carries a Content Security
Policy that only admits the page's own script (by hash), so injected markup cannot run.

The input is read defensively (``.get`` everywhere): error entries for invalid files may
lack ``op``, outputs, timings and checks.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import math
import os
import shlex
import statistics
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2
import numpy as np
from markupsafe import Markup, escape

from harness.report import svg

STATUSES = ("failed", "crashed", "timeout", "error", "xpassed", "xfailed", "skipped", "passed")
"""Every case status, most alarming first (the table's default order)."""

EXPANDED_STATUSES = frozenset({"failed", "crashed", "timeout", "error", "xpassed"})
"""Statuses whose detail block is shown open at the top of the page."""

BROKEN_STATUSES = ("failed", "crashed", "timeout")
"""Statuses that fail the run (``error`` is invalid input, reported on its own)."""

GRID_MAX_ROWS = 64
GRID_MAX_COLS = 32
GRID_1D_WIDTH = 16
"""1-D diffs are wrapped into rows of this many elements."""
OUTPUT_MAX_CHARS = 60_000

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "index.html.j2"


# ---------------------------------------------------------------- number formatting


def _as_float(x: Any) -> float | None:
    """A JSON number, or the strings ``nan``/``inf``/``-inf`` some writers emit, as float."""
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    if isinstance(x, str) and x.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(x.strip().lower().replace("infinity", "inf"))
    return None


def fmt_num(x: Any, digits: int = 3) -> str:
    """Compact number: ``1.2e-08``, ``0.327``, ``3``; ``—`` for missing."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    f = _as_float(x)
    if f is None:
        return str(x)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f"{f:.{digits}g}"


def _shortest(v: float, cast) -> str:
    """Fewest significant digits that round-trip through ``cast`` (float16/bfloat16)."""
    target = cast(v)
    for digits in range(1, 10):
        text = f"{v:.{digits}g}"
        if cast(float(text)) == target:
            return text
    return f"{v:.9g}"


@functools.lru_cache(maxsize=None)
def _caster(dtype: str | None):
    if dtype in ("float16", "float32", "float64"):
        return getattr(np, dtype)
    if dtype == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:  # pragma: no cover - ml_dtypes is a dependency
            return np.float32
        return ml_dtypes.bfloat16
    return np.float64


def fmt_value(x: Any, dtype: str | None = None) -> str:
    """An output element in the shortest digits that identify it in ``dtype``.

    ``0.39546573`` for float32, ``0.303`` for bfloat16 0.302734375, ``0.1`` for float64 (as
    NumPy prints scalars: the fewest digits that round back to the same value); integers
    and booleans as is; other leaves (e.g. a truncation marker) as their text.
    """
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    f = _as_float(x)
    if f is None:
        return "—" if x is None else str(x)
    if not math.isfinite(f):
        return fmt_num(f)
    cast = _caster(dtype)
    if cast in (np.float32, np.float64):
        return str(cast(f))
    return _shortest(f, cast)


def fmt_time(seconds: Any) -> str:
    """A duration for humans: ``850 ns``, ``12.3 µs``, ``0.42 ms``, ``1.5 s``."""
    s = _as_float(seconds)
    if s is None or not math.isfinite(s):
        return "—"
    if s < 1e-6:
        return f"{s * 1e9:.3g} ns"
    if s < 1e-4:
        return f"{s * 1e6:.3g} µs"
    if s < 0.1:
        return f"{s * 1e3:.3g} ms"
    if s < 120:
        return f"{s:.3g} s"
    minutes, rest = divmod(int(round(s)), 60)
    return f"{minutes} min {rest:02d} s"


def fmt_ratio(x: Any) -> str:
    f = _as_float(x)
    if f is None or not math.isfinite(f):
        return "—"
    return f"{f:.3g}×"


def _sort_key_value(x: Any) -> str:
    """A ``data-v`` attribute for client-side numeric sorting (empty when missing)."""
    f = _as_float(x)
    if f is None:
        return ""
    if math.isnan(f):
        return "Infinity"  # NaN errors sort with the worst
    return repr(f) if math.isfinite(f) else ("Infinity" if f > 0 else "-Infinity")


# ---------------------------------------------------------------- arrays


def _depth(node: Any) -> int:
    depth = 0
    while isinstance(node, list) and node:
        depth += 1
        node = node[0]
    return depth + (1 if isinstance(node, list) else 0)


def _leaves(node: Any) -> Iterable[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _leaves(item)
    else:
        yield node


def format_array(value: Any, dtype: str | None = None, line_width: int = 76) -> str:
    """A nested list as NumPy prints it, one row per line, each column right-aligned.

    Columns (positions along the last axis) get their own width, so a 2-D output reads
    as a table; a 1-D output wraps at ``line_width``.
    """
    if not isinstance(value, list):
        return fmt_value(value, dtype)
    ndim = _depth(value)
    widths: dict[int, int] = {}

    def measure(node: Any) -> None:
        if not isinstance(node, list):
            return
        for j, item in enumerate(node):
            if isinstance(item, list):
                measure(item)
            else:
                key = j if ndim > 1 else 0
                widths[key] = max(widths.get(key, 0), len(fmt_value(item, dtype)))

    measure(value)

    def render(node: Any, level: int) -> str:
        if not node:
            return "[]"
        if not any(isinstance(item, list) for item in node):
            lines, line = [], ""
            for j, item in enumerate(node):
                cell = fmt_value(item, dtype).rjust(widths.get(j if ndim > 1 else 0, 0))
                cell += "," if j < len(node) - 1 else ""
                if line and level == 0 and len(line) + 1 + len(cell) + 1 > line_width:
                    lines.append(line)
                    line = cell
                else:
                    line = f"{line} {cell}" if line else cell
            lines.append(line)
            return "[" + ("\n" + " " * (level + 1)).join(lines) + "]"
        sep = "," + "\n" * max(1, ndim - level - 1) + " " * (level + 1)
        return "[" + sep.join(render(item, level + 1) if isinstance(item, list) else fmt_value(item, dtype)
                              for item in node) + "]"

    text = render(value, 0)
    if len(text) > OUTPUT_MAX_CHARS:
        text = text[:OUTPUT_MAX_CHARS] + "\n… (cut for display)"
    return text


def _at(node: Any, index: Iterable[int]) -> Any:
    for i in index:
        if not isinstance(node, list) or not 0 <= i < len(node):
            return None
        node = node[i]
    return node


def _window(size: int, limit: int, focus: int | None) -> tuple[int, int]:
    """A ``[start, stop)`` of at most ``limit`` indices, centred on ``focus`` if given."""
    if size <= limit:
        return 0, size
    centre = focus if focus is not None and 0 <= focus < size else 0
    start = min(max(0, centre - limit // 2), size - limit)
    return start, start + limit


def _bucket(abs_err: float | None, tol: float | None, mismatch: bool) -> str:
    """Colour class of a diff cell: ``z`` exact, ``c1``..``c4`` by error/tolerance, ``c5`` over."""
    if abs_err is None:
        return "na"
    if math.isnan(abs_err):
        return "c5"
    if abs_err == 0:
        return "c5" if mismatch else "z"
    if tol is None or not math.isfinite(tol) or tol <= 0:
        return "c5" if mismatch or math.isinf(abs_err) else "c3"
    ratio = abs_err / tol
    if mismatch or ratio > 1:
        return "c5"
    if ratio < 0.01:
        return "c1"
    if ratio < 0.1:
        return "c2"
    if ratio < 0.5:
        return "c3"
    return "c4"


def build_grid(case: Mapping[str, Any]) -> dict | None:
    """The element diff as rows of cells, or ``None`` when there is no 1-D/2-D diff.

    Each cell's tolerance is the case's ``atol + rtol * |tf|`` for that element, so the
    colour tells how close the element came to failing.
    """
    diff = case.get("diff")
    if not isinstance(diff, Mapping):
        return None
    abs_err = diff.get("abs_err")
    ndim = _depth(abs_err)
    if ndim not in (1, 2) or not abs_err or not any(True for _ in _leaves(abs_err)):
        return None
    mismatch = diff.get("mismatch")
    worst = diff.get("worst_index")
    worst = tuple(worst) if isinstance(worst, list) and len(worst) == ndim else None
    outputs = case.get("outputs") or {}
    tf_out, ref_out = outputs.get("tf"), outputs.get("reference")
    rtol, atol = _as_float(case.get("rtol")), _as_float(case.get("atol"))
    dtype = case.get("dtype")

    def cell(index: tuple[int, ...]) -> dict:
        err = _as_float(_at(abs_err, index))
        bad = bool(_at(mismatch, index))
        tf_value = _as_float(_at(tf_out, index))
        tol = None
        if atol is not None or rtol is not None:
            scale = abs(tf_value) if tf_value is not None and math.isfinite(tf_value) else 0.0
            tol = (atol or 0.0) + (rtol or 0.0) * scale
        is_worst = index == worst
        title = [("worst " if is_worst else "") + "[" + ", ".join(map(str, index)) + "]",
                 f"abs err {fmt_num(err)}"]
        if tol:
            share = err / tol if err is not None else None
            title.append(f"tolerance {fmt_num(tol)} ({fmt_num(share, 2)}× tol)")
        title.append(f"reference {fmt_value(_at(ref_out, index), dtype)}")
        title.append(f"tf {fmt_value(_at(tf_out, index), dtype)}")
        if bad:
            title.append("MISMATCH")
        classes = [_bucket(err, tol, bad)]
        if bad:
            classes.append("mm")
        if is_worst:
            classes.append("worst")
        return {"text": "0" if err == 0 else fmt_num(err, 2), "cls": " ".join(classes),
                "title": " · ".join(title)}

    notes = []
    if ndim == 1:
        n = len(abs_err)
        width = min(n, GRID_1D_WIDTH)
        n_rows = -(-n // width)
        focus_row = worst[0] // width if worst else None
        r0, r1 = _window(n_rows, GRID_MAX_ROWS, focus_row)
        columns = [str(j) for j in range(width)]
        rows = []
        for r in range(r0, r1):
            cells = [cell((i,)) if i < n else None for i in range(r * width, r * width + width)]
            rows.append({"label": str(r * width) if width < n else "", "cells": cells})
        shown = f"{min(n, r1 * width) - r0 * width} of {n}"
        if (r0, r1) != (0, n_rows):
            notes.append(f"elements {r0 * width}–{min(n, r1 * width) - 1} shown of {n}")
        col_header = "+j" if width < n else ""
    else:
        n_rows = len(abs_err)
        n_cols = max((len(r) for r in abs_err if isinstance(r, list)), default=0)
        r0, r1 = _window(n_rows, GRID_MAX_ROWS, worst[0] if worst else None)
        c0, c1 = _window(n_cols, GRID_MAX_COLS, worst[1] if worst else None)
        columns = [str(j) for j in range(c0, c1)]
        rows = [{"label": str(i), "cells": [cell((i, j)) for j in range(c0, c1)]} for i in range(r0, r1)]
        shown = f"{(r1 - r0) * (c1 - c0)} of {n_rows * n_cols}"
        if (r0, r1, c0, c1) != (0, n_rows, 0, n_cols):
            notes.append(f"rows {r0}–{r1 - 1} of {n_rows}, columns {c0}–{c1 - 1} of {n_cols} shown")
        col_header = "i \\ j"
    n_bad = sum(1 for v in _leaves(mismatch) if v is True) if isinstance(mismatch, list) else None
    return {"columns": columns, "rows": rows, "notes": notes, "shown": shown, "ndim": ndim,
            "worst": "[" + ", ".join(map(str, worst)) + "]" if worst else None,
            "mismatches": n_bad, "corner": col_header}


# ---------------------------------------------------------------- view model


def _loc(case: Mapping[str, Any]) -> str:
    file, line = case.get("file"), case.get("line")
    if not file:
        return ""
    return f"{file}:{line}" if line is not None else str(file)


def _tolerance_text(case: Mapping[str, Any]) -> str:
    if case.get("ulp") is not None:
        return f"≤ {case['ulp']} ulp"
    rtol, atol = case.get("rtol"), case.get("atol")
    if rtol is None and atol is None:
        return "—"
    return f"{fmt_num(rtol)} / {fmt_num(atol)}"


def _checks(case: Mapping[str, Any]) -> list[dict]:
    rows = []
    for check in case.get("checks") or []:
        if not isinstance(check, Mapping):
            continue
        worst = check.get("worst_index")
        rows.append({
            "name": str(check.get("name", "")),
            "ok": check.get("ok"),
            "message": check.get("message") or "",
            "abs": fmt_num(check.get("max_abs_err")),
            "rel": fmt_num(check.get("max_rel_err")),
            "ulp": fmt_num(check.get("max_ulp")),
            "worst": "[" + ", ".join(map(str, worst)) + "]" if isinstance(worst, list) and worst else "—",
        })
    return rows


def _outputs(case: Mapping[str, Any]) -> list[dict]:
    outputs = case.get("outputs")
    if not isinstance(outputs, Mapping):
        return []
    labels = {"reference": "NumPy reference", "tf": "TensorFlow", "expect": "expected (published)"}
    order = ["reference", "tf", "expect"] + sorted(k for k in outputs if k not in labels)
    return [{"key": key, "label": labels.get(key, key), "text": format_array(outputs[key], case.get("dtype"))}
            for key in order if key in outputs]


def _case_view(n: int, case: Mapping[str, Any]) -> dict:
    status = str(case.get("status") or "error")
    if status not in STATUSES:
        status = "error"
    params = case.get("params")
    inputs = case.get("inputs")
    shape = case.get("output_shape")
    return {
        "n": n,
        "anchor": f"case-{n}",
        "row": f"r{n}",
        "status": status,
        "expanded": status in EXPANDED_STATUSES,
        "id": str(case.get("id") or case.get("base_id") or "(no id)"),
        "op": case.get("op") or "",
        "dtype": case.get("dtype") or "",
        "loc": _loc(case),
        "description": case.get("description") or "",
        "source": case.get("source") or "",
        "params": [(str(k), str(v)) for k, v in params.items()] if isinstance(params, Mapping) else [],
        "message": case.get("message") or "",
        "xfail_reason": case.get("xfail_reason") or "",
        "tolerance": _tolerance_text(case),
        "tolerance_reason": case.get("tolerance_reason") or "",
        "abs": fmt_num(case.get("max_abs_err")), "abs_v": _sort_key_value(case.get("max_abs_err")),
        "rel": fmt_num(case.get("max_rel_err")), "rel_v": _sort_key_value(case.get("max_rel_err")),
        "ulp": fmt_num(case.get("max_ulp")), "ulp_v": _sort_key_value(case.get("max_ulp")),
        "t_ref": fmt_time(case.get("time_reference_s")), "t_ref_v": _sort_key_value(case.get("time_reference_s")),
        "t_tf": fmt_time(case.get("time_tf_s")), "t_tf_v": _sort_key_value(case.get("time_tf_s")),
        "repro": case.get("repro") or "",
        "warnings": [str(w) for w in case.get("warnings") or []],
        "checks": _checks(case),
        "outputs": _outputs(case),
        "shape": "[" + ", ".join(map(str, shape)) + "]" if isinstance(shape, list) else "",
        "truncated": bool(case.get("truncated")),
        "inputs": [(str(k), str(v)) for k, v in inputs.items()] if isinstance(inputs, Mapping) else [],
        "grid": build_grid(case) if status != "passed" else None,
    }


def _summary(results: Mapping[str, Any], cases: list[dict]) -> dict[str, int]:
    given = results.get("summary")
    counts = {s: 0 for s in STATUSES}
    if isinstance(given, Mapping) and given:
        for s in STATUSES:
            counts[s] = int(given.get(s) or 0)
    else:
        for case in cases:
            counts[case["status"]] += 1
    return counts


def _verdict(counts: Mapping[str, int]) -> dict:
    total = sum(counts.values())
    if any(counts[s] for s in BROKEN_STATUSES):
        words = {"failed": "failed", "crashed": "crashed", "timeout": "timed out", "error": "invalid"}
        parts = [f"{counts[s]} {words[s]}" for s in (*BROKEN_STATUSES, "error") if counts[s]]
        return {"cls": "failed", "text": f"FAILED — {', '.join(parts)} (of {total} cases)"}
    if counts["error"]:
        return {"cls": "error", "text": f"INVALID INPUT — {counts['error']} error(s); every valid case passed"}
    if total == 0:
        return {"cls": "skipped", "text": "NO CASES RAN"}
    if counts["xpassed"]:
        return {"cls": "xpassed",
                "text": f"PASSED — {counts['xpassed']} known divergence(s) now pass unexpectedly (xpassed)"}
    return {"cls": "passed", "text": f"PASSED — all {total} cases match TensorFlow"}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def timing_rows(cases: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Per op: number of cases, median reference and TF time, and TF/reference ratio."""
    counts: dict[str, int] = {}
    times: dict[tuple[str, str], list[float]] = {}
    for case in cases:
        op = case.get("op")
        if not op:
            continue
        op = str(op)
        counts[op] = counts.get(op, 0) + 1
        for side, key in (("ref", "time_reference_s"), ("tf", "time_tf_s")):
            t = _as_float(case.get(key))
            if t is not None and math.isfinite(t):
                times.setdefault((op, side), []).append(t)
    rows = []
    for op in sorted(counts):
        ref, tf = _median(times.get((op, "ref"), [])), _median(times.get((op, "tf"), []))
        ratio = tf / ref if ref and tf is not None else None
        rows.append({"op": op, "n": counts[op], "ref_s": ref, "tf_s": tf,
                     "ref": fmt_time(ref), "tf": fmt_time(tf), "ratio": fmt_ratio(ratio)})
    return rows


def _environment(env: Any) -> tuple[list[tuple[str, str]], list[str]]:
    if not isinstance(env, Mapping):
        return [], []
    labels = {"python": "Python", "numpy": "NumPy", "tensorflow": "TensorFlow", "keras": "Keras",
              "platform": "platform", "cpu": "CPU", "git_commit": "git commit"}
    items = [(labels[k], str(env[k])) for k in labels if env.get(k) is not None]
    items += [(str(k), str(v)) for k, v in env.items()
              if k not in labels and k != "cpu_flags" and v is not None and not isinstance(v, (list, dict))]
    flags = env.get("cpu_flags")
    return items, [str(f) for f in flags] if isinstance(flags, list) else []


def _coverage(rows: Any) -> list[dict]:
    """Per op: how many cases exercise it, with which dtypes and argument values, and what is missing."""
    if not isinstance(rows, list):
        return []
    view = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        values = row.get("values")
        view.append({
            "op": str(row.get("op") or ""),
            "cases": int(row.get("cases") or 0),
            "dtypes": ", ".join(map(str, row.get("dtypes") or [])),
            "modes": ", ".join(map(str, row.get("modes") or [])),
            "grads": ", ".join(map(str, row.get("grads") or [])),
            "exercised": [(str(k), ", ".join(map(str, v)) if isinstance(v, list) else str(v))
                       for k, v in values.items()] if isinstance(values, Mapping) else [],
            "missing": [str(m) for m in row.get("missing") or []],
        })
    return sorted(view, key=lambda r: r["op"])


def _run(run: Any) -> dict:
    run = run if isinstance(run, Mapping) else {}
    argv = run.get("argv")
    paths = run.get("paths")
    return {
        "interrupted": bool(run.get("interrupted")),
        "started": str(run.get("started") or "").replace("T", " "),
        "finished": str(run.get("finished") or "").replace("T", " "),
        "duration": fmt_time(run.get("duration_s")),
        "argv": shlex.join(map(str, argv)) if isinstance(argv, list) else str(argv or ""),
        "paths": ", ".join(map(str, paths)) if isinstance(paths, list) else str(paths or ""),
    }


def build_view(results: Mapping[str, Any]) -> dict:
    """Everything the template shows, already formatted (the template only lays it out)."""
    raw_cases = [c for c in results.get("cases") or [] if isinstance(c, Mapping)]
    cases = [_case_view(n, c) for n, c in enumerate(raw_cases)]
    rank = {s: i for i, s in enumerate(STATUSES)}
    table = sorted(cases, key=lambda c: rank[c["status"]])
    counts = _summary(results, cases)
    env_items, cpu_flags = _environment(results.get("environment"))
    timing = timing_rows(raw_cases)
    coverage = _coverage(results.get("coverage"))
    return {
        "schema_version": results.get("schema_version"),
        "verdict": _verdict(counts),
        "counts": counts,
        "total": sum(counts.values()),
        "statuses": STATUSES,
        "run": _run(results.get("run")),
        "environment": env_items,
        "cpu_flags": cpu_flags,
        "run_warnings": [str(w) for w in results.get("warnings") or []],
        "failures": [c for c in table if c["expanded"]],
        "table": table,
        "others": [c for c in table if not c["expanded"]],
        "timing": timing,
        "timing_svg": svg.timing_chart(timing),
        "coverage": coverage,
        "uncovered": sum(1 for row in coverage if row["cases"] == 0),
    }


# ---------------------------------------------------------------- rendering


def csp_hash(text: str) -> str:
    """CSP source for an inline script (``'sha256-…'``): the page admits only its own script."""
    digest = hashlib.sha256(str(text).encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def breakable(text: Any, after: str) -> Markup:
    """Escaped ``text`` with a line-break opportunity (``<wbr>``) after each ``after``.

    Long op names and paths have no natural break points; without these a table column
    cannot shrink below the longest name.
    """
    return Markup(Markup(after + "<wbr>").join(escape(str(text or "")).split(after)))


@functools.lru_cache(maxsize=1)
def _jinja() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["csp_hash"] = csp_hash
    env.filters["breakable"] = breakable
    return env


def render_html(results: Mapping[str, Any]) -> str:
    """The report page for ``results`` as one self-contained HTML string."""
    return _jinja().get_template(TEMPLATE_NAME).render(**build_view(results))


def write_html(results: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write the report to ``path`` atomically (a temp file in the same directory, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_html(results)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
