"""``python -m harness drift DIR_A DIR_B``: what TF returns differently between two
recordings (typically two TF releases).

Each expanded case recorded in both is compared call by call (``tf``, ``grad``,
``same_as[0]`` ...):

``same``            every call gave bit-identical results (errors: the same class)
``values changed``  some output differs: its shape or dtype, or its values, with the largest
                    absolute difference ``max |b - a|``, the largest ULP distance (in the
                    output's dtype, or float32's for float64 outputs that carry float32
                    values in both) and the index of the worst element
``error changed``   a call raised in one recording and not in the other, or another class
                    (an op missing from one TF is labelled "op not available")
``inputs differ``   the calls' content keys differ: the two recordings ran other inputs
                    (the case changed between them), so their results are not compared
``only in A/B``     the case was recorded in one directory only

The JSON (``drift.json``) lists the counts, a per-op table and every case that is not the
same; the HTML page (``drift.html``) shows the same in the report's style. Exit status 0 when
nothing differs, 1 otherwise (like ``diff``).
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from harness.goldens import codec
from harness.goldens.store import GoldenStore, write_text
from harness.report.results import clean

STATUSES = ("values changed", "error changed", "inputs differ", "only in A", "only in B", "same")
_RANK = {s: i for i, s in enumerate(STATUSES)}
SHOWN_ELEMENTS = 6


def _error_text(call: dict) -> str:
    if call.get("unavailable"):
        return f"op not available in this TF ({call['error']})"
    first = (str(call.get("message", "")).strip().splitlines() or [""])[0]
    return f"{call['error']}: {first}"[:300]


def _short(arr: np.ndarray) -> str:
    flat = arr.ravel()
    text = ", ".join(str(v) for v in flat[:SHOWN_ELEMENTS]) + (", ..." if flat.size > SHOWN_ELEMENTS else "")
    return f"{arr.dtype.name}{list(arr.shape)} [{text}]"


def _ulp_unit(a: np.ndarray, b: np.ndarray) -> str:
    """The dtype whose ULPs measure a change: the arrays' own, or float32 for float64 arrays
    whose values are all float32 numbers in both recordings (``tf.compat.v1.losses`` and
    Keras compute in float32 and cast back), where float64 ULPs would count 2^29 per step."""
    from harness.precision import precision_of

    if a.dtype.name == "float64" and precision_of(a) == precision_of(b) == "float32":
        return "float32"
    return a.dtype.name


def compare_arrays(a: np.ndarray, b: np.ndarray) -> dict | None:
    """None when bit-identical (NaN = NaN); else what changed, with max |b - a|, max ULP and
    the worst element."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return {"detail": f"{a.dtype.name}{list(a.shape)} -> {b.dtype.name}{list(b.shape)}",
                "max_abs": None, "max_ulp": None, "worst_index": None}
    if codec._same_bits(a, b):
        return None
    if a.dtype.kind in "biu":
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        ulp, unit = diff, a.dtype.name
    else:
        from harness.tolerances import ulp_distance

        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        unit = _ulp_unit(a, b)
        ulp = ulp_distance(a, b, unit)
        diff = np.where(np.isnan(diff) & (ulp > 0), np.inf, np.nan_to_num(diff, nan=0.0))
    worst = np.unravel_index(int(np.argmax(ulp)), a.shape) if a.size else ()
    return {"detail": f"{np.count_nonzero((ulp > 0) | (diff > 0))} of {a.size} elements differ",
            "max_abs": float(np.max(diff)), "max_ulp": float(np.max(ulp)),
            "ulp_of": unit, "worst_index": [int(i) for i in worst],
            "a_worst": str(a[worst]) if a.size else None, "b_worst": str(b[worst]) if a.size else None}


def _leaves(call: dict) -> list[tuple[str, np.ndarray]]:
    from harness.outputs import leaves

    if "grads" in call:
        return [(f"{name}{path}", arr) for name, tree in sorted(call["grads"].items())
                for path, arr in leaves(codec.decode_tree(tree))]
    return leaves(codec.decode_tree(call["out"]))


def compare_call(name: str, a: dict, b: dict) -> dict:
    """One call of one case in both recordings."""
    row: dict[str, Any] = {"call": name, "status": "same"}
    if a.get("key") != b.get("key"):
        return {**row, "status": "inputs differ", "detail": "the recordings ran different inputs"}
    if "error" in a or "error" in b:
        if "error" in a and "error" in b and a["error"] == b["error"]:
            return row
        return {**row, "status": "error changed",
                "a": _error_text(a) if "error" in a else "returned values",
                "b": _error_text(b) if "error" in b else "returned values"}
    la, lb = _leaves(a), _leaves(b)
    if [p for p, _ in la] != [p for p, _ in lb]:
        return {**row, "status": "values changed", "detail": f"{len(la)} outputs -> {len(lb)} outputs"}
    worst: dict | None = None
    for (path, x), (_, y) in zip(la, lb):
        change = compare_arrays(x, y)
        if change is not None and (worst is None or (change["max_ulp"] or np.inf) > (worst["max_ulp"] or 0)):
            worst = {**change, "leaf": path, "a": _short(x), "b": _short(y)}
    return row if worst is None else {**row, "status": "values changed", **worst}


def compare_case(case_id: str, a: dict, b: dict) -> dict:
    names = sorted(set(a.get("calls", {})) | set(b.get("calls", {})))
    calls = []
    for name in names:
        ca, cb = a["calls"].get(name), b["calls"].get(name)
        if ca is None or cb is None:
            calls.append({"call": name, "status": "error changed", "a": "not called" if ca is None else "called",
                          "b": "not called" if cb is None else "called"})
        else:
            calls.append(compare_call(name, ca, cb))
    changed = [c for c in calls if c["status"] != "same"]
    status = min((c["status"] for c in changed), key=_RANK.__getitem__, default="same")
    return {"id": case_id, "file": b.get("file") or a.get("file"), "op": a.get("op"), "dtype": a.get("dtype"),
            "mode": a.get("mode"), "status": status, "calls": changed}


def compare_stores(a: GoldenStore, b: GoldenStore) -> dict:
    ea, eb = a.entries(), b.entries()
    cases = []
    for case_id in sorted(set(ea) | set(eb)):
        if case_id not in eb:
            e = ea[case_id]
            cases.append({"id": case_id, "file": e["file"], "op": e.get("op"), "dtype": e.get("dtype"),
                          "mode": e.get("mode"), "status": "only in A", "calls": []})
        elif case_id not in ea:
            e = eb[case_id]
            cases.append({"id": case_id, "file": e["file"], "op": e.get("op"), "dtype": e.get("dtype"),
                          "mode": e.get("mode"), "status": "only in B", "calls": []})
        else:
            cases.append(compare_case(case_id, ea[case_id], eb[case_id]))
    by_op: dict[str, Counter] = {}
    for c in cases:
        by_op.setdefault(c["op"] or "?", Counter())[c["status"]] += 1
    return {
        "a": {"dir": str(a.dir), "versions": a.versions, "recorded": a.manifest.get("recorded")},
        "b": {"dir": str(b.dir), "versions": b.versions, "recorded": b.manifest.get("recorded")},
        "summary": {s: sum(1 for c in cases if c["status"] == s) for s in STATUSES},
        "ops": [{"op": op, **{s: n[s] for s in STATUSES}} for op, n in sorted(by_op.items())],
        "cases": [c for c in cases if c["status"] != "same"],
    }


def _page_style() -> str:
    """The report page's stylesheet, taken from its template so the two pages look alike."""
    from harness.report.html import TEMPLATE_DIR, TEMPLATE_NAME

    text = (Path(TEMPLATE_DIR) / TEMPLATE_NAME).read_text(encoding="utf-8")
    m = re.search(r"<style>(.*?)</style>", text, re.S)
    return m.group(1) if m else ""


CALL_FIELDS = ("call", "status", "detail", "leaf", "max_abs", "max_ulp", "ulp_of", "worst_index", "a_worst", "b_worst",
               "a", "b")


def render_html(data: dict) -> str:
    import jinja2

    cases = [{**c, "calls": [{k: call.get(k) for k in CALL_FIELDS} for call in c["calls"] or [{}]]}
             for c in data["cases"]]
    data = {**data, "cases": cases}

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.get_template("drift.html.j2").render(d=data, statuses=STATUSES, style=_page_style())


def summary_lines(data: dict) -> list[str]:
    va, vb = data["a"]["versions"], data["b"]["versions"]
    counts = ", ".join(f"{n} {s}" for s, n in data["summary"].items() if n)
    lines = [f"drift: A = TF {va.get('tensorflow')} / Keras {va.get('keras')} ({data['a']['dir']}), "
             f"B = TF {vb.get('tensorflow')} / Keras {vb.get('keras')} ({data['b']['dir']}): {counts}"]
    for c in data["cases"]:
        first = c["calls"][0] if c["calls"] else {}
        what = first.get("detail") or (f"{first.get('a')} -> {first.get('b')}" if first else "")
        ulp = f", max {first['max_ulp']:.0f} ULP" if first.get("max_ulp") is not None else ""
        lines.append(f"  {c['status']:14s} {c['id']} [{first.get('call', '-')}] {what}{ulp}"[:300])
    return lines


def drift(dir_a: Path, dir_b: Path, report_dir: Path | None) -> int:
    data = compare_stores(GoldenStore(dir_a), GoldenStore(dir_b))
    lines = summary_lines(data)
    sys.stdout.write("\n".join(lines[:1] + lines[1:201]) + "\n")
    if len(lines) > 201:
        print(f"  ... and {len(lines) - 201} more (see drift.json)")
    if report_dir is not None:
        write_text(report_dir / "drift.json", json.dumps(clean(data), indent=1, allow_nan=False, default=str) + "\n")
        write_text(report_dir / "drift.html", render_html(data))
        print(f"report: {report_dir / 'drift.json'}\nreport: {report_dir / 'drift.html'}")
    return 0 if data["summary"]["same"] == sum(data["summary"].values()) else 1
