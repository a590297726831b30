"""Writing a shrunk failure as a regression case file.

The file holds one case in the README's format with literal values, id
``fuzz-<op short name>-<8 hex>`` (a hash of the case, so the same failure always gets the
same file), ``source: fuzz seed=S`` and, as YAML comments, the first lines of the failure
message. ``python -m harness verify <file>`` reruns it.

Values are written in YAML flow style. Floats always carry a ``.`` before any exponent
(PyYAML reads ``1e-30`` as a string) and non-finite ones are ``.nan``/``.inf``/``-.inf``.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

COMMENT_LINES = 12
KEY_ORDER = ("id", "op", "source", "description", "dtypes", "expect_error", "same_as", "init", "args")


def case_id(data: dict) -> str:
    short = data["op"].rsplit(".", 1)[1]
    body = json.dumps({k: v for k, v in data.items() if k not in ("id", "source", "description")},
                      sort_keys=True, default=str)
    return f"fuzz-{short}-{hashlib.sha256(body.encode()).hexdigest()[:8]}"


def yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    return json.dumps(str(value))


def yaml_flow(value: Any) -> str:
    """A value in YAML flow style (lists ``[...]``, mappings ``{k: v}``)."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items()) + "}"
    return yaml_scalar(value)


def render(data: dict, message: str, command: str) -> str:
    """The case file text: comments (how it was found, what failed), then the case."""
    lines = [f"# Found by `{command}` and shrunk to a minimal example.", "# What failed:"]
    lines += [f"#   {line}".rstrip() for line in message.strip().splitlines()[:COMMENT_LINES]]
    lines.append("cases:")
    keys = [k for k in KEY_ORDER if k in data] + [k for k in data if k not in KEY_ORDER]
    for i, key in enumerate(keys):
        lead = "  - " if i == 0 else "    "
        value = data[key]
        if key in ("init", "args") and isinstance(value, dict):
            lines.append(f"{lead}{key}:")
            lines += [f"      {name}: {yaml_flow(v)}" for name, v in value.items()]
        elif key in ("same_as", "differs_from"):
            lines.append(f"{lead}{key}:")
            lines += [f"      - {yaml_flow(item)}" for item in value]
        else:
            lines.append(f"{lead}{key}: {yaml_flow(value)}")
    return "\n".join(lines) + "\n"


def write_case(data: dict, message: str, *, seed: int, out_dir: Path, command: str, description: str = "") -> Path:
    """Write ``data`` (a case mapping without ``id``) as ``<out_dir>/<id>.yaml``."""
    full = {"id": case_id(data), "op": data["op"], "source": f"fuzz seed={seed}"}
    if description:
        full["description"] = description
    full.update({k: v for k, v in data.items() if k not in full})
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{full['id']}.yaml"
    path.write_text(render(full, message, command))
    return path
