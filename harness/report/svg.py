"""Inline SVG plots for the HTML report, drawn by matplotlib (no scripts, no external references).

* :func:`error_histograms` — one failing case: its elements' absolute, relative and ULP errors
  (log-scaled bins; exact zeros and non-finite errors get their own bars at either end),
  mismatched elements stacked in red over those within tolerance, the tolerance as a line;
* :func:`suite_histograms` — every case's ``max_abs_err`` and ``max_ulp``, stacked by status;
* :func:`timing_chart` — per op, the median reference and TF time on one logarithmic axis.

The SVG is made fit to inline: no XML prolog, DOCTYPE, metadata or namespace URIs, no ``id``
on plain groups (several plots share one page), and definition ids salted per plot. Text stays
``<text>`` (``svg.fonttype: none``), which matplotlib escapes; ``$`` is escaped so a label is
never read as mathtext.
"""
from __future__ import annotations

import io
import math
import re
from typing import Any, Mapping, Sequence

import numpy as np
from markupsafe import Markup, escape

MAX_OPS = 80
OK_COLOR = "#8fd19e"
BAD_COLOR = "#cf222e"
OTHER_COLOR = "#afb8c1"
REF_COLOR = "#0969da"
TF_COLOR = "#e16f24"
LIMIT_COLOR = "#1f2328"
BINS_PER_DECADE = (4, 2, 1)
SYMLOG_ABOVE = 60
"""Case counts above this switch the suite histogram's count axis to a log scale (linear up to 1)."""
MAX_BINS = 28
GAP = 0.5
"""Least space (in decades) between the log-binned bars and the bars of exact zeros and non-finite errors."""

_RC = {
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8c959f",
    "xtick.color": "#59636e",
    "ytick.color": "#59636e",
    "text.color": "#1f2328",
    "axes.labelcolor": "#59636e",
}


def _clean(svg: str, css_class: str, label: str) -> Markup:
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'(<g)\s+id="[^"]*"', r"\1", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"\s*\n\s*", " ", svg).strip()
    svg = svg.replace("<svg ", f'<svg class="plot {css_class}" role="img" aria-label="{escape(label)}" ', 1)
    return Markup(svg)


def _render(fig: Any, salt: str, css_class: str, label: str) -> Markup:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _clean(buf.getvalue(), css_class, label)


def _figure(width: float, height: float):
    """A figure outside pyplot (no GUI backend, no global state); call inside ``rc_context(_RC)``."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _text(value: Any) -> str:
    """A label as plain text for matplotlib: ``$`` would start mathtext."""
    return str(value).replace("$", r"\$")


def _decade_label(decade: int, integer: bool) -> str:
    if integer and 0 <= decade <= 6:
        return str(10 ** decade)
    return f"1e{decade}"


def _layout(values: Sequence[np.ndarray], limit: float | None) -> tuple[np.ndarray, float, float]:
    """Bin edges in log10 units covering every positive finite value and the limit line."""
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in values] or [np.zeros(0)])
    logs = list(np.log10(positive)) if positive.size else []
    if limit is not None and limit > 0 and math.isfinite(limit):
        logs.append(math.log10(limit))
    if not logs:
        lo, hi = -1, 0
    else:
        lo, hi = math.floor(min(logs)), math.ceil(max(logs))
        if hi == lo:
            hi += 1
    per = next((p for p in BINS_PER_DECADE if p * (hi - lo) <= MAX_BINS), 1)
    if per * (hi - lo) > MAX_BINS:  # very wide ranges: several decades per bin
        step = math.ceil((hi - lo) / MAX_BINS)
        hi = lo + step * math.ceil((hi - lo) / step)
        return np.arange(lo, hi + step / 2, step, dtype=float), lo, hi
    return np.linspace(lo, hi, per * (hi - lo) + 1), lo, hi


def _stacked_panel(ax, title: str, groups: Sequence[tuple[str, str, np.ndarray]], *, limit: float | None,
                   limit_label: str, integer: bool, xlabel: str) -> None:
    """Stacked log-binned counts of each group's values, with 0 and non-finite bars at the ends."""
    edges, lo, hi = _layout([g[2] for g in groups], limit)
    # One stairs outline over: [zero bar] gap [log bins] gap [non-finite bar]
    gap, width = max(GAP, 0.06 * (hi - lo)), max(0.6, 0.08 * (hi - lo))
    outer = np.concatenate([[lo - gap - width, lo - gap], edges, [hi + gap, hi + gap + width]])
    bottom = np.zeros(len(outer) - 1)
    any_zero = any(np.any(g[2] == 0) for g in groups)
    any_inf = any(np.any(~np.isfinite(g[2])) for g in groups)
    for label, color, values in groups:
        finite = values[np.isfinite(values)]
        positive = finite[finite > 0]
        counts = np.histogram(np.log10(positive), bins=edges)[0] if positive.size else np.zeros(len(edges) - 1)
        full = np.concatenate([[np.sum(finite == 0), 0], counts, [0, np.sum(~np.isfinite(values))]])
        if full.any():
            ax.stairs(bottom + full, outer, baseline=bottom, fill=True, color=color, label=_text(label),
                      linewidth=0)
        bottom = bottom + full
    ticks = list(range(int(lo), int(hi) + 1))
    labels = [_decade_label(d, integer) for d in ticks]
    if len(ticks) > 8:
        step = math.ceil(len(ticks) / 8)
        labels = [lab if i % step == 0 else "" for i, lab in enumerate(labels)]
    if any_zero:
        ticks.insert(0, lo - gap - width / 2)
        labels.insert(0, "0")
    if any_inf:
        ticks.append(hi + gap + width / 2)
        labels.append("∞/nan")
    ax.set_xticks(ticks, labels)
    pad = 0.1 * width
    ax.set_xlim(lo - gap - width - pad if any_zero else lo - pad, hi + gap + width + pad if any_inf else hi + pad)
    if limit is not None and limit > 0 and math.isfinite(limit):
        x = math.log10(limit)
        ax.axvline(x, color=LIMIT_COLOR, linestyle=(0, (3, 2)), linewidth=1)
        ax.annotate(_text(limit_label), (x, 1), xycoords=("data", "axes fraction"), xytext=(3, -2),
                    textcoords="offset points", va="top", fontsize=7, color=LIMIT_COLOR)
    elif limit == 0:
        ax.annotate(_text(limit_label), (0.02, 1), xycoords="axes fraction", va="top", fontsize=7, color=LIMIT_COLOR)
    ax.set_title(_text(title), loc="left")
    ax.set_xlabel(_text(xlabel))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(length=2)


def _handles(axes) -> tuple[list, list]:
    """Legend entries of several panels, each label once, in drawing order."""
    handles, labels = [], []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    return handles, labels


def error_histograms(panels: Sequence[Mapping[str, Any]], *, salt: str) -> Markup:
    """One failing case's element errors, one panel per entry of ``panels``.

    Each panel: ``title``, ``values`` (float array: an error per element, ``inf`` for a
    NaN/inf mismatch), ``bad`` (bool array: the element is a mismatch), ``limit`` (the
    tolerance in the panel's unit, or ``None``), ``limit_label``, ``integer`` (ULP counts).
    """
    panels = [p for p in panels if np.size(p.get("values")) > 0]
    if not panels:
        return Markup("")
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(2.75 * len(panels) + 1.0, 1.9)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            values = np.asarray(panel["values"], dtype=float)
            bad = np.asarray(panel["bad"], dtype=bool) if panel.get("bad") is not None else np.zeros(values.shape, bool)
            _stacked_panel(ax, panel["title"],
                           [("within tolerance", OK_COLOR, values[~bad]), ("mismatch", BAD_COLOR, values[bad])],
                           limit=panel.get("limit"), limit_label=panel.get("limit_label", ""),
                           integer=bool(panel.get("integer")), xlabel=panel.get("xlabel", ""))
        axes[0].set_ylabel("elements")
        fig.legend(*_handles(axes), loc="outside right upper", frameon=False, handlelength=1)
        return _render(fig, salt, "hist", "histogram of element errors: " + ", ".join(p["title"] for p in panels))


def suite_histograms(groups: Sequence[tuple[str, str, Mapping[str, np.ndarray]]]) -> Markup:
    """Every case's max abs error and max ULP, stacked by status group.

    ``groups``: ``(label, color, {"abs": array, "ulp": array})``, e.g. failing cases in red.
    """
    if not any(np.size(v) for _, _, arrays in groups for v in arrays.values()):
        return Markup("")
    import matplotlib
    from matplotlib.ticker import FuncFormatter

    with matplotlib.rc_context(_RC):
        fig = _figure(8.4, 2.1)
        ax_abs, ax_ulp = fig.subplots(1, 2)
        n_abs = sum(np.size(a["abs"]) for _, _, a in groups)
        n_ulp = sum(np.size(a["ulp"]) for _, _, a in groups)
        _stacked_panel(ax_abs, f"max |reference − tf| per case ({n_abs} cases)",
                       [(label, color, np.asarray(a["abs"], float)) for label, color, a in groups],
                       limit=None, limit_label="", integer=False, xlabel="absolute error")
        _stacked_panel(ax_ulp, f"max ULP distance per case ({n_ulp} cases)",
                       [(label, color, np.asarray(a["ulp"], float)) for label, color, a in groups],
                       limit=None, limit_label="", integer=True, xlabel="ULP")
        ax_abs.set_ylabel("cases")
        for ax in (ax_abs, ax_ulp):  # a few failures among thousands of passes stay visible
            if ax.get_ylim()[1] > SYMLOG_ABOVE:
                ax.set_yscale("symlog", linthresh=1, linscale=0.5)
                ax.set_ylim(bottom=0)
                # plain counts (0, 1, 10, 100, ...): the scale's own 10^k labels are mathtext,
                # whose parser took a fifth of the page's rendering time
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        fig.legend(*_handles((ax_abs, ax_ulp)), loc="outside right upper", frameon=False, handlelength=1)
        return _render(fig, "suite", "suite-hist", "histogram of every case's max abs error and max ULP")


def _time_label(seconds: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
        if seconds >= scale:
            return f"{seconds / scale:g} {unit}"
    return f"{seconds:g} s"


def timing_chart(rows: Sequence[Mapping[str, Any]]) -> Markup:
    """A dot plot of ``rows`` (dicts with ``op``, ``ref_s``, ``tf_s``); empty if nothing is timed."""
    timed = [r for r in rows if (r.get("ref_s") or 0) > 0 or (r.get("tf_s") or 0) > 0][:MAX_OPS]
    if not timed:
        return Markup("")
    import matplotlib

    values = [v for r in timed for v in (r.get("ref_s"), r.get("tf_s")) if v and v > 0]
    lo = math.floor(math.log10(min(values)))
    hi = math.ceil(math.log10(max(values)))
    if hi == lo:
        hi += 1
    label_chars = max(len(str(r.get("op", ""))) for r in timed)
    with matplotlib.rc_context(_RC):
        fig = _figure(2.2 + 0.058 * label_chars + 5.0, 0.75 + 0.2 * len(timed))
        ax = fig.subplots()
        ys = np.arange(len(timed))[::-1]
        for y, row in zip(ys, timed):
            ref, tf = row.get("ref_s"), row.get("tf_s")
            if ref and tf and ref > 0 and tf > 0:
                ax.plot([math.log10(ref), math.log10(tf)], [y, y], color="#8c959f", linewidth=1.5, zorder=1)
        for key, marker, color, label in (("ref_s", "o", REF_COLOR, "NumPy reference"),
                                          ("tf_s", "s", TF_COLOR, "TensorFlow")):
            pts = [(math.log10(r[key]), y) for y, r in zip(ys, timed) if r.get(key) and r[key] > 0]
            if pts:
                xs, yv = zip(*pts)
                ax.scatter(xs, yv, marker=marker, s=22, color=color, label=label, zorder=2)
        ax.set_yticks(ys, [_text(r.get("op", "")) for r in timed], fontfamily="DejaVu Sans Mono", fontsize=7.5)
        ax.set_ylim(-0.7, len(timed) - 0.3)
        ax.set_xticks(range(lo, hi + 1), [_time_label(10.0 ** d) for d in range(lo, hi + 1)])
        ax.set_xlim(lo - 0.05, hi + 0.05)
        ax.grid(axis="x", color="#eaeef2", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.tick_params(length=0)
        ax.spines[["left", "bottom", "top", "right"]].set_visible(False)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False)
        ax.set_title("median time per op (log scale)", loc="right", fontsize=7.5, color="#59636e")
        return _render(fig, "timing", "timing-chart", "median time per op, reference and TensorFlow, log scale")
