"""The ``$name`` reuse syntax of ``same_as`` / ``differs_from`` arguments.

``$x`` passes this case's ``x`` on; ``$x + 100``, ``$x - 1``, ``$x * 0.5``, ``$x / 2``
pass it shifted or scaled (in its own dtype)."""
import re

REUSE = re.compile(r"^\$([A-Za-z_]\w*)\s*(?:([-+*/])\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))?$")
