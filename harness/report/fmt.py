"""Numbers and arrays as the report prints them.

Errors and tolerances compactly (``1.2e-08``); output elements in the fewest digits that
identify them in their own dtype (``0.3265626`` in float32, ``0.303`` in bfloat16), arrays
as NumPy prints them, one row per line with aligned columns; durations for humans.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from harness.report.ledger import as_float as _as_float

OUTPUT_MAX_CHARS = 60_000


def fmt_num(x: Any, digits: int = 3) -> str:
    """Compact number: ``1.2e-08``, ``0.327``, ``3``; ``—`` for missing."""
    if x.__class__ is float and math.isfinite(x):
        return f"{x:.{digits}g}"
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
    if x.__class__ is float and math.isfinite(x):
        return _float_printer(dtype)[1](x)
    f = None if isinstance(x, (bool, int)) else _as_float(x)
    if f is None or not math.isfinite(f):
        return fmt_num(x)  # booleans, integers, missing values, text, nan and inf as everywhere else
    return _float_printer(dtype)[1](f)


_MEMO_LIMIT = 65_536
"""Distinct values remembered per dtype (outputs repeat values: 0.5, 1.0, the same loss per mode)."""


@functools.lru_cache(maxsize=None)
def _float_printer(dtype: str | None) -> tuple[dict[float, str], Callable[[float], str]]:
    """``fmt_value`` of a finite float in ``dtype``, and the texts it has printed so far by value.

    float64 prints as ``repr``: NumPy's ``str(np.float64(x))`` is the same shortest round-trip
    text with the same switch to exponent notation (below 1e-4, from 1e16 on).
    """
    cast = _caster(dtype)
    if cast is np.float64:
        text = repr
    elif cast is np.float32:
        def text(f: float) -> str:
            return str(np.float32(f))
    else:
        def text(f: float) -> str:
            return _shortest(f, cast)
    memo: dict[float, str] = {}

    def printed(f: float) -> str:
        s = memo.get(f)
        if s is None:
            s = text(f)
            if f:  # 0.0 and -0.0 are one dict key but print differently
                if len(memo) >= _MEMO_LIMIT:
                    memo.clear()
                memo[f] = s
        return s

    return memo, printed


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


def sort_key(x: Any) -> str:
    """A ``data-v`` attribute for client-side numeric sorting (empty when missing)."""
    if x.__class__ is float and math.isfinite(x):
        return repr(x)
    f = _as_float(x)
    if f is None:
        return ""
    if math.isnan(f):
        return "Infinity"  # NaN errors sort with the worst
    return repr(f) if math.isfinite(f) else ("Infinity" if f > 0 else "-Infinity")


# ---------------------------------------------------------------- arrays


def depth(node: Any) -> int:
    """The number of dimensions of a nested list (``0`` for a scalar)."""
    n = 0
    while isinstance(node, list) and node:
        n += 1
        node = node[0]
    return n + (1 if isinstance(node, list) else 0)


def _wrap(cells: list[str], line_width: int) -> list[str]:
    """Comma-separated cells in lines of at most ``line_width`` characters."""
    last = len(cells) - 1
    lines, line = [], ""
    for j, cell in enumerate(cells):
        cell += "," if j < last else ""
        if line and len(line) + 1 + len(cell) + 1 > line_width:
            lines.append(line)
            line = cell
        else:
            line = f"{line} {cell}" if line else cell
    lines.append(line)
    return lines


def format_array(value: Any, dtype: str | None = None, line_width: int = 76,
                 max_chars: int = OUTPUT_MAX_CHARS) -> str:
    """A nested list as NumPy prints it, one row per line, each column right-aligned.

    Columns (positions along the last axis) get their own width, so a 2-D output reads
    as a table; a 1-D output wraps at ``line_width``. Each element is formatted once: a
    first pass turns the leaves into text (rows of leaves become tuples) and measures the
    columns, a second lays them out.
    """
    if not isinstance(value, list):
        return fmt_value(value, dtype)
    ndim = depth(value)
    known = _float_printer(dtype)[0].get
    widths: dict[int, int] = {}

    def leaf(x: Any) -> str:
        return fmt_value(x, dtype)

    def texts(node: list) -> tuple | list:
        if any(isinstance(x, list) for x in node):
            out = [texts(x) if isinstance(x, list) else leaf(x) for x in node]
            for j, item in enumerate(out):
                key = j if ndim > 1 else 0
                if isinstance(item, str) and len(item) > widths.get(key, 0):
                    widths[key] = len(item)
            return out
        row = tuple([(known(x) or leaf(x)) if x.__class__ is float else leaf(x) for x in node])
        if ndim > 1:
            for j, size in enumerate(map(len, row)):
                if size > widths.get(j, 0):
                    widths[j] = size
        elif row:
            widths[0] = max(widths.get(0, 0), max(map(len, row)))
        return row

    def render(node: tuple | list, level: int) -> str:
        if not node:
            return "[]"
        if isinstance(node, tuple):
            if ndim > 1:
                cells = [text.rjust(widths.get(j, 0)) for j, text in enumerate(node)]
            else:
                width = widths[0]
                cells = [text.rjust(width) for text in node]
            if level:
                return "[" + ", ".join(cells) + "]"
            return "[" + "\n ".join(_wrap(cells, line_width)) + "]"
        sep = "," + "\n" * max(1, ndim - level - 1) + " " * (level + 1)
        return "[" + sep.join(item if isinstance(item, str) else render(item, level + 1) for item in node) + "]"

    text = render(texts(value), 0)
    if len(text) > max_chars:
        text = text[:max_chars] + "\n… (cut for display; every value is in results.json)"
    return text


def shorten(text: Any, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how long it was."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit].rstrip()} … ({len(text):,} characters)"


def index_text(index: Any) -> str:
    """``[2, 5]`` for an element index; ``[]`` for a scalar."""
    return "[" + ", ".join(map(str, index)) + "]"
