"""The harness's words: float dtypes, TF execution modes and case statuses.

Every harness module names them from here (the reference keeps its own small dtype module
so that it imports nothing from the harness)."""
from __future__ import annotations

FLOAT_DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64")
"""The float dtypes a case may run in, coarsest first by mantissa (bfloat16 has fewer
mantissa bits than float16 but a wider range; tolerances order them by ``rtol``)."""

LOW_PRECISION: tuple[str, ...] = ("float16", "bfloat16")
"""Dtypes TF has no CPU kernel for in many ops (such a case is skipped with TF's reason)."""

MODES: tuple[str, ...] = ("eager", "function", "xla")
"""``eager``: the op called directly; ``function``: under ``tf.function``; ``xla``:
under ``tf.function(jit_compile=True)``."""

DEFAULT_MODE = "eager"

STATUSES: tuple[str, ...] = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "crashed", "timeout")
"""The status of one expanded case, in the order summaries list them."""

BAD_STATUSES = frozenset({"failed", "error", "crashed", "timeout"})
"""Statuses that fail a run (``error``: invalid input or a harness error)."""

BROKEN_STATUSES: tuple[str, ...] = ("failed", "crashed", "timeout")
"""Statuses of a case that ran and went wrong (``error`` is invalid input, reported on its own)."""

STATUSES_BY_SEVERITY: tuple[str, ...] = (*BROKEN_STATUSES, "error", "xpassed", "xfailed", "skipped", "passed")
"""Every status, most alarming first (the report's default order)."""
