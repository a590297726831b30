"""The ``$name`` reuse syntax of ``same_as`` / ``differs_from`` arguments.

``$x`` passes this case's ``x`` on; ``$x + 100``, ``$x - 1``, ``$x * 0.5``, ``$x / 2``
pass it shifted or scaled (in its own dtype). The loader validates the syntax with
:data:`REUSE`; the runner resolves it with :func:`reuse`."""
from __future__ import annotations

import re
from typing import Any

import numpy as np

REUSE = re.compile(r"^\$([A-Za-z_]\w*)\s*(?:([-+*/])\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?$")


def reuse(field: str, text: str, given: dict) -> Any:
    """``$x`` (this case's ``x``) or ``$x + 100`` / ``$x * 0.5``: the same array, shifted or
    scaled in its own dtype — how identities like shift invariance are written."""
    m = REUSE.match(text.strip())
    if not m:
        raise ValueError(f"{field}: {text!r} is not $name or $name <+|-|*|/> number")
    name, op, number = m.groups()
    if name not in given:
        raise ValueError(f"{field}: ${name} names no argument of this case (it has {', '.join(given)})")
    value = given[name]
    if op is None:
        return value
    arr = np.asarray(value)
    c = arr.dtype.type(float(number))
    return {"+": arr + c, "-": arr - c, "*": arr * c, "/": arr / c}[op]
