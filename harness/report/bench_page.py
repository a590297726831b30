"""``reports/timing.html`` from a saved pytest-benchmark run (``make bench``).

``python -m harness.report.bench_page reports/bench/<machine>/0003_x.json -o reports/timing.html``
(a directory means its latest numbered run). The page has a ratio table, one row per
(op, size): reference median, TF median and ``ratio = reference / TF`` (below 1 the NumPy
reference is faster), and per op a time-vs-size plot (median with the interquartile range,
log-log). Plots are inline SVG drawn by matplotlib; the page loads nothing from anywhere.

The input is pytest-benchmark's saved JSON; each benchmark's ``extra_info`` names its
``op``, ``size`` and ``side`` (``bench/test_ops.py`` sets them), and the run's
``tf_parity.skipped`` lists what was not timed and why.
"""
from __future__ import annotations

import argparse
import html
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from harness import atomicio
from harness.report.fmt import fmt_time

SIDES = ("reference", "tf")
SIZE_ORDER = ("small", "medium", "large")
RUN_FILE = re.compile(r"^(\d{4})_.*\.json$")
COLORS = {"reference": "#1f6feb", "tf": "#d1521c"}


# --- reading ----------------------------------------------------------------------------

def latest_run(path: Path) -> Path:
    """``path`` itself, or for a directory the highest-numbered saved run below it."""
    if path.is_file():
        return path
    runs = [p for p in path.rglob("*.json") if RUN_FILE.match(p.name)]
    if not runs:
        raise FileNotFoundError(f"{path}: no saved benchmark runs (NNNN_*.json) below it; run `make bench` first")
    return max(runs, key=lambda p: (int(RUN_FILE.match(p.name).group(1)), p.stat().st_mtime))


def _identity(bench: dict) -> tuple[str, str, str] | None:
    """(op, size, side) of one benchmark, from ``extra_info`` or its ``bench_case`` param."""
    info = bench.get("extra_info") or {}
    if {"op", "size", "side"} <= set(info):
        return info["op"], info["size"], info["side"]
    case = (bench.get("params") or {}).get("bench_case")
    if isinstance(case, (list, tuple)) and len(case) == 3:
        return tuple(case)  # type: ignore[return-value]
    return None


def table(data: dict) -> dict[str, dict[str, dict]]:
    """``{op: {size: {"reference": stats, "tf": stats, "shape": ..., "elements": ...}}}``."""
    ops: dict[str, dict[str, dict]] = {}
    for bench in data.get("benchmarks", []):
        ident = _identity(bench)
        if ident is None:
            continue
        op, size, side = ident
        entry = ops.setdefault(op, {}).setdefault(size, {})
        entry[side] = bench["stats"]
        info = bench.get("extra_info") or {}
        entry.setdefault("shape", info.get("shape", ""))
        entry.setdefault("elements", info.get("elements"))
    return ops


def _size_key(sizes: dict, name: str, entry: dict) -> tuple:
    order = list(sizes) if sizes else list(SIZE_ORDER)
    return (order.index(name) if name in order else len(order), entry.get("elements") or 0, name)


def ratio(entry: dict) -> float | None:
    ref, tf = entry.get("reference"), entry.get("tf")
    if not ref or not tf or not tf.get("median"):
        return None
    return ref["median"] / tf["median"]


# --- formatting -------------------------------------------------------------------------

def _geomean(values: list[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def _clean_svg(svg: str) -> str:
    """matplotlib's SVG made fit to inline: no XML prolog, DOCTYPE, metadata or namespace URIs."""
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return re.sub(r"\s*\n\s*", " ", svg).strip()


def _figure_svg(fig: Any, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _clean_svg(buf.getvalue())


# --- plots ------------------------------------------------------------------------------

def op_plot(op: str, sizes: list[tuple[str, dict]]) -> str:
    """Median time (IQR bars) against input elements for both sides of one op, log-log."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6, 2.4), dpi=100)
    ax = fig.add_subplot()
    for side in SIDES:
        pts = [(e.get("elements") or i + 1, e[side]) for i, (_, e) in enumerate(sizes) if e.get(side)]
        if not pts:
            continue
        xs = [x for x, _ in pts]
        med = [s["median"] for _, s in pts]
        lo = [max(s["median"] - s.get("q1", s["median"]), 0) for _, s in pts]
        hi = [max(s.get("q3", s["median"]) - s["median"], 0) for _, s in pts]
        ax.errorbar(xs, med, yerr=[lo, hi], marker="o", ms=4, lw=1.5, capsize=2,
                    color=COLORS[side], label="reference" if side == "reference" else "TF eager")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("input elements", fontsize=8)
    ax.set_ylabel("median time (s)", fontsize=8)
    ax.minorticks_off()
    ax.tick_params(labelsize=7)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout(pad=0.4)
    return _figure_svg(fig, salt=op)


def overview_plot(ops: dict[str, dict[str, dict]], sizes: dict) -> str:
    """Every op's reference/TF ratio at each size (one dot per op), on a log axis."""
    from matplotlib.figure import Figure

    names = [s for s in (list(sizes) or list(SIZE_ORDER))]
    fig = Figure(figsize=(6.4, 2.6), dpi=100)
    ax = fig.add_subplot()
    for i, size in enumerate(names):
        vals = [ratio(e[size]) for e in ops.values() if size in e]
        vals = [v for v in vals if v]
        if not vals:
            continue
        jitter = [i + ((k * 0.6180339) % 1 - 0.5) * 0.5 for k in range(len(vals))]
        ax.scatter(jitter, vals, s=10, alpha=0.6, color="#444")
        g = _geomean(vals)
        ax.hlines(g, i - 0.3, i + 0.3, color="#d1521c", lw=2)
    ax.axhline(1.0, color="#888", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.minorticks_off()
    ax.set_xticks(range(len(names)), [f"{n}\n{'x'.join(map(str, sizes.get(n, [])))}" for n in names], fontsize=8)
    ax.set_ylabel("reference / TF time", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout(pad=0.4)
    return _figure_svg(fig, salt="overview")


# --- page -------------------------------------------------------------------------------

STYLE = """
body { margin: 0 auto; max-width: 1200px; padding: 16px 20px; color: #1f2328;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid #d0d7de; }
.muted { color: #656d76; } code, .num { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
table { border-collapse: collapse; } th, td { padding: 3px 10px; border-bottom: 1px solid #eaeef2; text-align: left; }
th { background: #f6f8fa; position: sticky; top: 0; } td.num { text-align: right; }
td.faster { color: #1a7f37; font-weight: 600; } td.slower { color: #bc4c00; font-weight: 600; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(370px, 1fr)); gap: 12px; }
figure { margin: 0; padding: 6px; border: 1px solid #eaeef2; border-radius: 6px; }
figcaption { font: 600 12.5px ui-monospace, "DejaVu Sans Mono", monospace; margin-bottom: 2px; overflow-wrap: anywhere; }
svg { max-width: 100%; height: auto; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _machine(data: dict) -> str:
    m = data.get("machine_info") or {}
    cpu = (m.get("cpu") or {}).get("brand_raw") or m.get("processor") or "?"
    count = (m.get("cpu") or {}).get("count")
    parts = [f"CPU {cpu}" + (f" ({count} cores)" if count else ""),
             f"{m.get('python_implementation', '')} {m.get('python_version', '')}".strip(), m.get("system", "")]
    return " · ".join(p for p in parts if p)


def render(data: dict, source: str = "") -> str:
    ops = table(data)
    sizes = (data.get("tf_parity") or {}).get("sizes") or {}
    skipped = (data.get("tf_parity") or {}).get("skipped") or []
    rows, by_size = [], {}
    for op in sorted(ops):
        for size, entry in sorted(ops[op].items(), key=lambda kv: _size_key(sizes, kv[0], kv[1])):
            r = ratio(entry)
            by_size.setdefault(size, []).append(r)
            cls = "" if r is None else ("faster" if r <= 1 else "slower")
            rows.append(
                f"<tr><td><code>{_esc(op)}</code></td><td>{_esc(size)}</td><td class=muted>{_esc(entry.get('shape') or '')}</td>"
                f"<td class=num>{fmt_time((entry.get('reference') or {}).get('median'))}</td>"
                f"<td class=num>{fmt_time((entry.get('tf') or {}).get('median'))}</td>"
                f"<td class='num {cls}'>{'–' if r is None else f'{r:.3g}'}</td></tr>")
    summary = "".join(
        f"<li>{_esc(size)} {_esc('x'.join(map(str, sizes.get(size, []))))}: geometric mean ratio "
        f"<b>{g:.3g}</b> over {len([v for v in vals if v])} ops</li>"
        for size, vals in sorted(by_size.items(), key=lambda kv: _size_key(sizes, kv[0], {}))
        if (g := _geomean([v for v in vals if v])) is not None)
    plots = "".join(
        f"<figure id='plot-{_esc(op)}'><figcaption>{_esc(op)}</figcaption>"
        f"{op_plot(op, sorted(ops[op].items(), key=lambda kv: _size_key(sizes, kv[0], kv[1])))}</figure>"
        for op in sorted(ops))
    skipped_rows = "".join(
        f"<tr><td><code>{_esc(s.get('op'))}</code></td><td>{_esc(s.get('size'))}</td><td>{_esc(s.get('side'))}</td>"
        f"<td>{_esc(s.get('reason'))}</td></tr>" for s in skipped)
    skipped_html = (f"<table><tr><th>op</th><th>size</th><th>side</th><th>reason</th></tr>{skipped_rows}</table>"
                    if skipped else "<p class=muted>Nothing was skipped.</p>")
    opts = next((b.get("options") for b in data.get("benchmarks", []) if b.get("options")), {}) or {}
    commit = data.get("commit_info") or {}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tf-parity timing</title><style>{STYLE}</style></head>
<body>
<h1>Reference vs TensorFlow timing</h1>
<p class=muted>{_esc(_machine(data))} · run {_esc(data.get('datetime', '?'))}{' · commit ' + _esc(str(commit.get('id', ''))[:12]) if commit.get('id') else ''}
· source <code>{_esc(source)}</code> · pytest-benchmark {_esc(data.get('version', '?'))}, min rounds {_esc(opts.get('min_rounds', '?'))}, max time {_esc(opts.get('max_time', '?'))} s</p>
<p>Median wall time of one call on the same float32 inputs: the NumPy reference vs TensorFlow in eager mode
(inputs already tensors). <b>ratio = reference / TF</b>: below 1 the reference is faster.</p>
<h2 id="summary">Summary</h2>
<ul>{summary or '<li>no paired benchmarks</li>'}</ul>
<figure id="overview"><figcaption>reference / TF per op and size (bar: geometric mean)</figcaption>{overview_plot(ops, sizes) if ops else ''}</figure>
<h2 id="ratios">Ratio table</h2>
<table id="ratio-table"><tr><th>op</th><th>size</th><th>inputs</th><th>reference median</th><th>TF median</th><th>ratio ref/TF</th></tr>
{''.join(rows)}</table>
<h2 id="plots">Time vs size</h2>
<div class="plots">{plots}</div>
<h2 id="skipped">Not timed ({len(skipped)})</h2>
{skipped_html}
</body></html>
"""


def write(source: Path, out: Path) -> Path:
    run = latest_run(source)
    data = json.loads(run.read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    atomicio.write_text(out, render(data, str(run)))
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report.bench_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a saved pytest-benchmark JSON, or a directory (its latest numbered run)")
    parser.add_argument("-o", "--output", type=Path, default=Path("reports/timing.html"))
    ns = parser.parse_args(argv)
    try:
        run = write(ns.run, ns.output)
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        print(f"timing: {exc}", file=sys.stderr)
        return 2
    print(f"timing: {ns.output} (from {run})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
