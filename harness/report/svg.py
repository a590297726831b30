"""Inline SVG plots for the HTML report (no scripts, no external references).

``timing_chart`` draws, per op, the median reference time and the median TF time on one
logarithmic axis, so the TF/reference gap reads as the length of a segment.  Every text
is escaped here, because the result is inserted into the page as markup.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from markupsafe import Markup, escape

MAX_OPS = 80
ROW_H = 20
PLOT_W = 480
TOP = 46
CHAR_W = 6.8
"""Width of one character of the 11px monospace op labels."""
BOTTOM = 8


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
    values = [v for r in timed for v in (r.get("ref_s"), r.get("tf_s")) if v and v > 0]
    lo = math.floor(math.log10(min(values)))
    hi = math.ceil(math.log10(max(values)))
    if hi == lo:
        hi += 1
    label_w = max(120, int(CHAR_W * max(len(str(r.get("op", ""))) for r in timed)) + 16)
    width = label_w + PLOT_W + 24
    height = TOP + ROW_H * len(timed) + BOTTOM

    def x(seconds: float) -> float:
        return label_w + PLOT_W * (math.log10(seconds) - lo) / (hi - lo)

    parts = [
        f'<svg class="timing-chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="median time per op, reference and TensorFlow, log scale">',
        f'<circle cx="{label_w + 6}" cy="10" r="4.5" class="dot-ref"/>'
        f'<text x="{label_w + 14}" y="14" class="legend">NumPy reference</text>',
        f'<rect x="{label_w + 126}" y="5.5" width="9" height="9" class="dot-tf"/>'
        f'<text x="{label_w + 140}" y="14" class="legend">TensorFlow — median time per op, log scale</text>',
    ]
    for decade in range(lo, hi + 1):
        tx = x(10.0 ** decade)
        parts.append(f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{height - BOTTOM}" class="grid"/>')
        parts.append(f'<text x="{tx:.1f}" y="{TOP - 9}" class="tick">{escape(_time_label(10.0 ** decade))}</text>')
    for i, row in enumerate(timed):
        cy = TOP + ROW_H * i + ROW_H / 2
        op = escape(str(row.get("op", "")))
        parts.append(f'<text x="{label_w - 8}" y="{cy + 4:.1f}" class="op">{op}</text>')
        ref, tf = row.get("ref_s"), row.get("tf_s")
        if ref and tf and ref > 0 and tf > 0:
            parts.append(f'<line x1="{x(ref):.1f}" y1="{cy:.1f}" x2="{x(tf):.1f}" y2="{cy:.1f}" class="gap"/>')
        if ref and ref > 0:
            parts.append(f'<circle cx="{x(ref):.1f}" cy="{cy:.1f}" r="4.5" class="dot-ref">'
                         f'<title>{op}: reference {escape(row.get("ref", ""))}</title></circle>')
        if tf and tf > 0:
            parts.append(f'<rect x="{x(tf) - 4.5:.1f}" y="{cy - 4.5:.1f}" width="9" height="9" class="dot-tf">'
                         f'<title>{op}: TensorFlow {escape(row.get("tf", ""))}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))
