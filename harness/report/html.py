"""The human-facing report: one self-contained HTML file (inline CSS and JS, no network).

``render_html(results)`` turns the results dict (the same one written to ``results.json``)
into a diff explorer: the verdict, baseline changes and counts; failures expanded, each
opening with the five facts a reader needs (op, dtype, mode, the worst element and by how
much) and the repro command, then both outputs, the element diff, error histograms, the
arbitration verdict and gradients; a coverage matrix op × dtype × mode; a filterable,
sortable table of every expanded case; the tolerance ledger; timing per op.

All text coming from YAML is escaped by Jinja2's autoescape; on top of that the page carries
a Content Security Policy that only admits the page's own script (by hash), so injected
markup cannot run. Plots are inline SVG drawn by matplotlib (``svg.py``), readable without
JavaScript.

Cases are read as :class:`harness.result.CaseResult` (fields default when a results file
lacks them: error entries for invalid files have no ``op``, outputs, timings or checks, and
older results lack modes, baselines, arbitration and gradients); values inside outputs and
checks are still checked for their type.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import gc
import hashlib
import json
import math
import os
import shlex
import statistics
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup, escape

from harness import atomicio
from harness.report import diffview, ledger, matrix, svg
from harness.report.fmt import (OUTPUT_MAX_CHARS, fmt_num, fmt_ratio, fmt_time, format_array, index_text, shorten,
                                sort_key)
from harness.report.ledger import as_float as _as_float
from harness.result import CaseResult, as_result
from harness.vocab import BROKEN_STATUSES, STATUSES_BY_SEVERITY

STATUSES = STATUSES_BY_SEVERITY
"""Every case status, most alarming first (the table's default order)."""

EXPANDED_STATUSES = frozenset({*BROKEN_STATUSES, "error", "xpassed"})
"""Statuses whose detail block is shown open at the top of the page."""


INPUT_MAX_CHARS = 240
"""Inputs longer than this (written out arrays) are shortened in the case detail."""
COLLAPSED_OUTPUT_MAX_CHARS = 3_000
"""Outputs of cases shown collapsed (passed, skipped, xfailed) are cut shorter: they are most of the page."""
HISTOGRAM_MAX_CASES = 40
"""Failing cases that get an error histogram (matplotlib takes a fraction of a second each)."""
BASELINE_LABELS = ("new-failure", "fixed", "still-failing", "new-case", "unchanged")
BASELINE_WORDS = {"new-failure": ("new failure", "new failures"), "fixed": ("fixed", "fixed"),
                  "still-failing": ("still failing", "still failing"), "new-case": ("new case", "new cases"),
                  "unchanged": ("unchanged", "unchanged")}
FAILING_STATUSES = frozenset(BROKEN_STATUSES)

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "index.html.j2"


# ---------------------------------------------------------------- view model


def _loc(case: CaseResult) -> str:
    file, line = case.file, case.line
    if not file:
        return ""
    return f"{file}:{line}" if line is not None else str(file)


def _tolerance_text(case: CaseResult) -> str:
    if case.ulp is not None:
        return f"≤ {case.ulp} ULP"
    rtol, atol = case.rtol, case.atol
    if rtol is None and atol is None:
        return "—"
    return f"{fmt_num(rtol)} / {fmt_num(atol)}"


def _checks(case: CaseResult) -> list[dict]:
    rows = []
    for check in case.checks or []:
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
            "worst": index_text(worst) if isinstance(worst, list) and worst else "—",
        })
    return rows


def _outputs(case: CaseResult, max_chars: int) -> list[dict]:
    outputs = case.outputs
    if not isinstance(outputs, Mapping):
        return []
    labels = {"reference": "NumPy reference", "tf": "TensorFlow", "expect": "expected (published)"}
    order = ["reference", "tf", "expect"] + sorted(k for k in outputs if k not in labels and k != "grads")
    return [{"key": key, "label": labels.get(key, key),
             "text": format_array(outputs[key], case.dtype, max_chars=max_chars)}
            for key in order if key in outputs]


def _grads(case: CaseResult, max_chars: int) -> dict | None:
    """Both sides' gradient per differentiated argument, with the method and tolerance."""
    outputs = case.outputs
    grads = outputs.get("grads") if isinstance(outputs, Mapping) else None
    if not isinstance(grads, Mapping) or not grads:
        return None
    dtype = case.dtype
    tol = case.grad_tolerance if isinstance(case.grad_tolerance, Mapping) else {}
    checks = {str(c.get("name", "")).split(":")[0][5:]: c for c in case.checks or []
              if isinstance(c, Mapping) and str(c.get("name", "")).startswith("grad ")}
    args = []
    for name, pair in grads.items():
        pair = pair if isinstance(pair, Mapping) else {}
        check = checks.get(str(name), {})
        args.append({"name": str(name), "reference": format_array(pair.get("reference"), dtype, max_chars=max_chars),
                     "tf": format_array(pair.get("tf"), dtype, max_chars=max_chars), "ok": check.get("ok"),
                     "abs": fmt_num(check.get("max_abs_err")), "ulp": fmt_num(check.get("max_ulp"))})
    return {"method": str(case.grad_method or ""), "args": args,
            "tolerance": f"{fmt_num(tol.get('rtol'))} / {fmt_num(tol.get('atol'))}" if tol else "—"}


def _arbitration(case: CaseResult) -> dict | None:
    arb = case.arbitration
    if not isinstance(arb, Mapping) or not arb.get("verdict"):
        return None
    closer = str(arb.get("closer") or "")
    words = {"reference": "the reference is closer to the exact value", "tf": "TensorFlow is closer to the exact value",
             "tie": "both are equally close to the exact value"}
    return {"verdict": str(arb["verdict"]), "closer": closer, "closer_text": words.get(closer, ""),
            "tf_ulp": fmt_num(arb.get("tf_ulp")), "reference_ulp": fmt_num(arb.get("reference_ulp")),
            "precision": str(arb.get("exact_precision") or "")}


def _inputs(case: CaseResult) -> list[tuple[str, str]]:
    inputs = case.inputs
    if not isinstance(inputs, Mapping):
        return []
    out = []
    for key, value in inputs.items():
        text = format_array(value, case.dtype) if isinstance(value, list) else str(value)
        out.append((str(key), shorten(text, INPUT_MAX_CHARS)))
    return out


def _case_view(n: int, case: CaseResult) -> dict:
    status = str(case.status or "error")
    if status not in STATUSES:
        status = "error"
    params = case.params
    shape = case.output_shape
    expanded = status in EXPANDED_STATUSES
    max_chars = OUTPUT_MAX_CHARS if expanded else COLLAPSED_OUTPUT_MAX_CHARS
    label = case.baseline
    view = {
        "n": n,
        "anchor": f"case-{n}",
        "row": f"r{n}",
        "status": status,
        "expanded": expanded,
        "id": str(case.id or case.base_id or "(no id)"),
        "op": case.op or "",
        "dtype": case.dtype or "",
        "impl": case.impl or "",
        "mode": matrix.case_mode(case) if case.op else "",
        "baseline": str(label) if label else "",
        "loc": _loc(case),
        "description": case.description or "",
        "source": case.source or "",
        "params": [(str(k), str(v)) for k, v in params.items()] if isinstance(params, Mapping) else [],
        "message": case.message or "",
        "xfail_reason": case.xfail_reason or "",
        "tolerance": _tolerance_text(case),
        "tolerance_reason": case.tolerance_reason or "",
        "abs": fmt_num(case.max_abs_err), "abs_v": sort_key(case.max_abs_err),
        "rel": fmt_num(case.max_rel_err), "rel_v": sort_key(case.max_rel_err),
        "ulp": fmt_num(case.max_ulp), "ulp_v": sort_key(case.max_ulp),
        "t_ref": fmt_time(case.time_reference_s), "t_ref_v": sort_key(case.time_reference_s),
        "t_tf": fmt_time(case.time_tf_s), "t_tf_v": sort_key(case.time_tf_s),
        "traces": case.tf_traces,
        "repro": case.repro or "",
        "warnings": [str(w) for w in case.warnings or []],
        "checks": _checks(case),
        "outputs": [] if status in ON_DEMAND_STATUSES else _outputs(case, max_chars),
        "grads": None if status in ON_DEMAND_STATUSES else _grads(case, max_chars),
        "arbitration": _arbitration(case),
        "shape": index_text(shape) if isinstance(shape, list) else "",
        "truncated": bool(case.truncated),
        "inputs": [] if status in ON_DEMAND_STATUSES else _inputs(case),
        "grid": None, "headline": None, "hist": Markup(""), "hist_note": "",
    }
    if status != "passed":
        source = diffview.diff_source(case)
        view["grid"] = diffview.build_grid(case, source)
        if expanded:
            view["headline"] = diffview.headline(case, source)
    return view


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
    if counts["passed"] == total:
        return {"cls": "passed", "text": f"PASSED — all {total} cases match TensorFlow"}
    known = {"xfailed": ("known divergence (xfailed)", "known divergences (xfailed)"), "skipped": ("skipped", "skipped")}
    rest = [f"{counts[s]} {words[counts[s] != 1]}" for s, words in known.items() if counts[s]]
    return {"cls": "passed", "text": f"PASSED — {counts['passed']} of {total} cases match TensorFlow; {', '.join(rest)}"}


def _baseline(results: Mapping[str, Any], cases: list[dict]) -> dict | None:
    """Counts against an earlier run, in the order a reader cares: new failures first."""
    given = results.get("baseline")
    labelled = [c["baseline"] for c in cases if c["baseline"]]
    if not isinstance(given, Mapping) and not labelled:
        return None
    given = given if isinstance(given, Mapping) else {}
    counts = given.get("counts")
    if not isinstance(counts, Mapping):
        counts = {}
        for label in labelled:
            counts[label] = counts.get(label, 0) + 1
    counts = {str(k): _count(v) for k, v in counts.items()}
    labels = list(BASELINE_LABELS) + sorted(set(counts) - set(BASELINE_LABELS))
    fail_on = str(given.get("fail_on") or "any")
    new_bad = sum(1 for c in cases if c["status"] in FAILING_STATUSES | {"error"}
                  and c["baseline"] in ("new-failure", "new-case"))
    return {"path": str(given.get("path") or ""), "fail_on": fail_on, "new_bad": new_bad,
            "counts": [{"label": lab, "n": counts.get(lab, 0),
                        "words": BASELINE_WORDS.get(lab, (lab, lab))[counts.get(lab, 0) != 1]} for lab in labels],
            "labels": [lab for lab in labels if lab in set(labelled)]}


def _count(value: Any) -> int:
    number = _as_float(value)
    return int(number) if number is not None and math.isfinite(number) else 0


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def timing_rows(cases: Iterable[CaseResult | Mapping[str, Any]], by: str = "op") -> list[dict]:
    """Per op and implementation under test (``by="impl"``: per implementation): number of
    cases, the implementation's and TF's median time, and the TF/implementation ratio."""
    counts: dict[tuple[str, str], int] = {}
    times: dict[tuple[str, str, str], list[float]] = {}
    for case in map(as_result, cases):
        if not case.op:
            continue
        key = (str(case.op) if by == "op" else "", str(case.impl or ""))
        counts[key] = counts.get(key, 0) + 1
        for side, t in (("ref", case.time_reference_s), ("tf", case.time_tf_s)):
            t = _as_float(t)
            if t is not None and math.isfinite(t):
                times.setdefault((*key, side), []).append(t)
    rows = []
    for key in sorted(counts):
        ref, tf = _median(times.get((*key, "ref"), [])), _median(times.get((*key, "tf"), []))
        ratio = tf / ref if ref and tf is not None else None
        rows.append({"op": key[0], "impl": key[1], "n": counts[key], "ref_s": ref, "tf_s": tf,
                     "ref": fmt_time(ref), "tf": fmt_time(tf), "ratio": fmt_ratio(ratio)})
    return rows


def _environment(env: Any) -> tuple[list[tuple[str, str]], list[str]]:
    if not isinstance(env, Mapping):
        return [], []
    labels = {"python": "Python", "numpy": "NumPy", "tensorflow": "TensorFlow", "keras": "Keras",
              "tf_keras": "tf_keras (Keras 2)",
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


def _matrix(raw_cases: list[CaseResult], coverage: Any) -> dict:
    """The coverage matrix with each cell's tooltip and filter keys."""
    grid = matrix.build(raw_cases, coverage, STATUSES)
    for row in grid["rows"]:
        for (dtype, mode), cell in zip(grid["columns"], row["cells"]):
            if cell is None:
                continue
            parts = [f"{row['op']} · {dtype} · {mode}"]
            if cell["n"]:
                parts.append(", ".join(f"{cell['counts'][s]} {s}" for s in STATUSES if cell["counts"].get(s)))
            else:
                parts.append("declared in the case files, not run")
            if cell["grad"]:
                parts.append("gradients checked")
            cell["title"] = " — ".join(parts)
    return grid


def _ledger(raw_cases: list[CaseResult], views: list[dict]) -> dict:
    """Observed max error against allowed tolerance, per case (and per gradient), flagged."""
    rows = []
    for case, view in zip(raw_cases, views):
        for entry in ledger.case_entries(case):
            room = entry["headroom"]
            unit = entry["unit"]
            rows.append({
                "n": view["n"], "id": view["id"], "anchor": view["anchor"], "op": view["op"], "dtype": view["dtype"],
                "mode": view["mode"], "status": view["status"], "what": entry["label"], "kind": entry["kind"],
                "tolerance": entry["tolerance"], "reason": entry["reason"], "flags": entry["flags"],
                "observed": fmt_num(entry["observed"]) + (" ULP" if unit == "ULP" and entry["observed"] is not None else ""),
                "observed_v": sort_key(entry["observed"]),
                "allowed": fmt_num(entry["allowed"]) + (" ULP" if unit == "ULP" and entry["allowed"] is not None else ""),
                "headroom": ("≥ " if entry["bound"] else "") + ("∞ (exact)" if room == math.inf else fmt_ratio(room)),
                "headroom_v": sort_key(room), "override": entry["override"],
            })
    rows.sort(key=lambda r: ("no-reason" not in r["flags"], not r["override"], "exact" in r["flags"],
                             -float(r["headroom_v"]) if r["headroom_v"] else 1.0))

    def count(flag: str, override: bool | None = None) -> int:
        return sum(1 for r in rows if flag in r["flags"] and (override is None or r["override"] == override))

    return {
        "rows": rows,
        "factor": fmt_num(ledger.LOOSE_FACTOR),
        "overrides": sum(1 for r in rows if r["override"]),
        "loose_overrides": count("loose", True),
        "exact_overrides": count("exact", True),
        "no_reason": count("no-reason"),
        "loose_defaults": count("loose", False),
        "exact_defaults": count("exact", False),
        "exceeded": count("exceeded"),
        "positions_only": count("positions-only"),
    }


def _suite_histogram(raw_cases: list[CaseResult]) -> Markup:
    groups = {"passed": ([], []), "other": ([], []), "failing": ([], [])}
    for case in raw_cases:
        status = str(case.status or "")
        group = "failing" if status in FAILING_STATUSES else "passed" if status == "passed" else "other"
        for values, number in zip(groups[group], (case.max_abs_err, case.max_ulp)):
            v = _as_float(number)
            if v is not None:
                values.append(math.inf if math.isnan(v) else v)
    colors = {"passed": svg.OK_COLOR, "failing": svg.BAD_COLOR, "other": svg.OTHER_COLOR}
    labels = {"passed": "passed", "failing": "failed", "other": "xfailed, xpassed, …"}
    return svg.suite_histograms([(labels[g], colors[g], {"abs": np.array(a, float), "ulp": np.array(u, float)})
                                 for g, (a, u) in groups.items() if a or u])


def _run(run: Any) -> dict:
    run = run if isinstance(run, Mapping) else {}
    argv = run.get("argv")
    paths = run.get("paths")
    return {
        "id": str(run.get("id") or ""),
        "interrupted": bool(run.get("interrupted")),
        "started": str(run.get("started") or "").replace("T", " "),
        "finished": str(run.get("finished") or "").replace("T", " "),
        "duration": fmt_time(run.get("duration_s")),
        "command": str(run.get("command") or "") or (shlex.join(map(str, argv)) if isinstance(argv, list) else str(argv or "")),
        "paths": ", ".join(map(str, paths)) if isinstance(paths, list) else str(paths or ""),
        "goldens": (f"goldens in {run['goldens'].get('dir')}: {run['goldens'].get('text')}"
                    if isinstance(run.get("goldens"), Mapping) else ""),
    }


def _add_histograms(failures: list[dict], raw_cases: list[CaseResult]) -> None:
    """Error histograms for the first :data:`HISTOGRAM_MAX_CASES` failed cases."""
    drawn = 0
    for view in failures:
        if view["status"] != "failed":
            continue
        if drawn >= HISTOGRAM_MAX_CASES:
            view["hist_note"] = (f"No histogram: only the first {HISTOGRAM_MAX_CASES} failed cases get one; "
                                 "rerun this case alone (repro command) to see it.")
            continue
        case = raw_cases[view["n"]]
        view["hist"] = diffview.histogram(case, diffview.diff_source(case), salt=view["anchor"])
        drawn += 1 if view["hist"] else 0


TABLE_PAGE = 100
"""Rows of the case table on one page (the first page is also in the markup, for readers without JavaScript)."""

ON_DEMAND_STATUSES = frozenset({"passed"})
"""Statuses whose detail block is not in the page's markup: it is built in the browser, when
its row is opened, from compact data embedded in the page (:func:`page_data`)."""

DETAIL_FIELDS = ("id", "status", "baseline", "op", "dtype", "mode", "impl", "loc", "description", "source", "params",
                 "message", "xfail_reason", "tolerance", "tolerance_reason", "abs", "rel", "ulp", "t_ref", "t_tf",
                 "traces", "repro", "warnings", "checks", "shape")
"""The fields of one on-demand case record, in order (the page's script reads them by position)."""
CHECK_FIELDS = ("name", "ok", "abs", "rel", "ulp", "worst", "message")


ROW_FIELDS = ("n", "status", "baseline", "id", "op", "dtype", "mode", "impl", "abs", "abs_v", "rel", "rel_v", "ulp", "ulp_v",
              "tolerance", "tolerance_reason", "t_ref", "t_ref_v", "t_tf", "t_tf_v", "loc")
"""The fields of one case-table row, in order (the page's script reads them by position)."""


LEDGER_FIELDS = ("n", "id", "dtype", "mode", "what", "tolerance", "override", "reason", "observed", "observed_v",
                 "allowed", "headroom", "headroom_v", "flags")
"""The fields of one tolerance-ledger row, in order."""


def page_data(table: Iterable[dict], on_demand: Iterable[dict], ledger: Mapping[str, Any]) -> Markup:
    """The case table, the on-demand cases and the tolerance ledger's rows as compact JSON for a ``<script
    type="application/json">`` block: ``{"strings": [...], "row_fields": [...], "rows": [...],
    "fields": [...], "check_fields": [...], "cases": [[n, record], ...], "ledger_fields": [...],
    "ledger": [...], "ledger_factor": ...}``. Every text is an
    index into ``strings`` (ids, ops, file names, numbers repeat across cases), a list of
    texts a list of indices, ``ok`` of a check 1, 0 or null, ``n`` a number. The table's
    rows are in their default order (most alarming status first). ``</`` is escaped so the
    block cannot end early."""
    strings: dict[str, int] = {}

    def text(value: Any) -> int:
        return strings.setdefault("" if value is None else str(value), len(strings))

    def check(k: Mapping[str, Any]) -> list:
        ok = None if k.get("ok") is None else int(bool(k.get("ok")))
        return [ok if f == "ok" else text(k.get(f)) for f in CHECK_FIELDS]

    rows = [[view["n"], *(text(view.get(f)) for f in ROW_FIELDS[1:])] for view in table]
    cases = []
    for view in on_demand:
        record = []
        for field in DETAIL_FIELDS:
            value = view.get(field)
            if field == "params":
                record.append([text(x) for pair in value for x in pair])
            elif field == "warnings":
                record.append([text(w) for w in value])
            elif field == "checks":
                record.append([check(k) for k in value])
            else:
                record.append(text(value))
        cases.append([view["n"], record])
    ledger_rows = [[r["n"] if f == "n" else r["override"] if f == "override" else [text(x) for x in r["flags"]]
                    if f == "flags" else text(r.get(f)) for f in LEDGER_FIELDS] for r in ledger["rows"]]
    data = {"strings": list(strings), "row_fields": ROW_FIELDS, "rows": rows,
            "fields": DETAIL_FIELDS, "check_fields": CHECK_FIELDS, "cases": cases,
            "ledger_fields": LEDGER_FIELDS, "ledger": ledger_rows, "ledger_factor": ledger["factor"]}
    return Markup(json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/"))


def _choices(values: Iterable[str], order: tuple[str, ...] = ()) -> list[str]:
    present = {v for v in values if v}
    return [v for v in order if v in present] + sorted(present - set(order))


def build_view(results: Mapping[str, Any]) -> dict:
    """Everything the template shows, already formatted (the template only lays it out)."""
    raw_cases = [as_result(c) for c in results.get("cases") or [] if isinstance(c, (Mapping, CaseResult))]
    cases = [_case_view(n, c) for n, c in enumerate(raw_cases)]
    rank = {s: i for i, s in enumerate(STATUSES)}
    table = sorted(cases, key=lambda c: rank[c["status"]])
    failures = [c for c in table if c["expanded"]]
    _add_histograms(failures, raw_cases)
    counts = _summary(results, cases)
    env_items, cpu_flags = _environment(results.get("environment"))
    timing = timing_rows(raw_cases)
    coverage = _coverage(results.get("coverage"))
    baseline = _baseline(results, cases)
    ledger_view = _ledger(raw_cases, cases)
    impls = _choices(c["impl"] for c in cases if c["impl"])
    show_impl = impls not in ([], ["numpy"])
    return {
        "schema_version": results.get("schema_version"),
        "verdict": _verdict(counts),
        "counts": counts,
        "total": sum(counts.values()),
        "statuses": STATUSES,
        "baseline": baseline,
        "run": _run(results.get("run")),
        "environment": env_items,
        "cpu_flags": cpu_flags,
        "run_warnings": [str(w) for w in results.get("warnings") or []],
        "failures": failures,
        "table": table,
        "table_page": TABLE_PAGE,
        "others": [c for c in table if not c["expanded"] and c["status"] not in ON_DEMAND_STATUSES],
        "page_data": page_data(table, (c for c in table if c["status"] in ON_DEMAND_STATUSES), ledger_view),
        "on_demand_count": sum(1 for c in table if c["status"] in ON_DEMAND_STATUSES),
        "filters": {"op": _choices(c["op"] for c in cases),
                    "dtype": _choices((c["dtype"] for c in cases), matrix.DTYPE_ORDER),
                    "mode": _choices((c["mode"] for c in cases), matrix.MODE_ORDER),
                    "impl": impls,
                    "baseline": baseline["labels"] if baseline else []},
        "show_impl": show_impl,
        "impl_matrix": matrix.by_impl(raw_cases, STATUSES),
        "impl_timing": timing_rows(raw_cases, by="impl"),
        "matrix": _matrix(raw_cases, results.get("coverage")),
        "suite_hist": _suite_histogram(raw_cases),
        "ledger": ledger_view,
        "timing": timing,
        "timing_svg": svg.timing_chart([{**t, "op": f"{t['op']} · {t['impl']}"} for t in timing]
                                       if show_impl else timing),
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
    return _breakable(str(text or ""), after)


@functools.lru_cache(maxsize=4096)
def _breakable(text: str, after: str) -> Markup:
    return Markup(Markup(after + "<wbr>").join(escape(text).split(after)))  # ops repeat on every row


class _Environment(jinja2.Environment):
    """Jinja2 with a fast ``{{ c.status }}`` on the view model's plain dicts.

    Jinja looks up ``c.status`` as an attribute first and as a key only after the
    ``AttributeError``; with every view a dict, the failed attribute lookup was most of the
    rendering time. Plain dicts are read key first here (a key named like a dict method, such
    as ``items``, therefore reads as the key), everything else as Jinja does.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if obj.__class__ is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@functools.lru_cache(maxsize=1)
def _jinja() -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["csp_hash"] = csp_hash
    env.filters["breakable"] = breakable
    return env


@contextlib.contextmanager
def _without_gc() -> Iterator[None]:
    """Cyclic garbage collection paused while the page is built.

    Building it allocates millions of small objects, which set off full collections, and each
    of those walks every object of the process again: the results, and in ``verify`` all of
    TensorFlow. The few cycles made meanwhile (matplotlib figures) are collected later.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def render_html(results: Mapping[str, Any]) -> str:
    """The report page for ``results`` as one self-contained HTML string."""
    with _without_gc():
        return _jinja().get_template(TEMPLATE_NAME).render(**build_view(results))


def write_html(results: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Write the report to ``path`` atomically (:func:`harness.atomicio.write_text`)."""
    atomicio.write_text(path, render_html(results))
