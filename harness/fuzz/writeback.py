"""Writing a shrunk failure as a regression case file.

The file holds one case in the README's format with literal values, id
``fuzz-<op short name>-<8 hex>`` (a hash of the case), ``source: fuzz seed=S`` and, as YAML
comments, the first lines of the failure message. ``python -m harness verify <file>`` reruns
it. A failure an existing case already runs is reported as known and not written
(:mod:`~harness.fuzz.known`); an existing file is never replaced or edited.

Values are written in YAML flow style. Floats always carry a ``.`` before any exponent
(PyYAML reads ``1e-30`` as a string) and non-finite ones are ``.nan``/``.inf``/``-.inf``.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from harness import atomicio
from harness.fuzz.known import KnownCases

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
    """Write ``data`` (a case mapping without ``id``) as a new file ``<out_dir>/<id>.yaml``.

    Never replaces or edits a file: when the name is taken, ``<id>-2.yaml`` (id ``<id>-2``),
    ``-3``, ... is used instead (:func:`harness.atomicio.create_unique`); the file appears whole."""
    full = {"id": case_id(data), "op": data["op"], "source": f"fuzz seed={seed}"}
    if description:
        full["description"] = description
    full.update({k: v for k, v in data.items() if k not in full})
    out_dir.mkdir(parents=True, exist_ok=True)
    return atomicio.create_unique(out_dir, full["id"], ".yaml", lambda name: render({**full, "id": name}, message, command))


def report_failure(title: str, case: dict, message: str, *, known: KnownCases, write: bool, out_dir: Path,
                   seed: int, command: str, description: str, stream) -> bool:
    """Print a failure the fuzzer found and write it back when it is new; returns whether it is new.

    A failure whose example an existing case already runs (:class:`~harness.fuzz.known.KnownCases`)
    is *known*: that case is named and nothing is written."""
    existing = known.match(case) if "op" in case else None
    lines = message.strip().splitlines()
    if existing is not None:
        xfail = f" (xfail: {existing.data['xfail']})" if existing.data.get("xfail") else ""
        print(f"known    {title}", file=stream)
        print(f"    {lines[0] if lines else ''}", file=stream)
        print(f"    already a case: {existing.id} in {existing.display_path}:{existing.line}{xfail}", file=stream)
        return False
    print(f"FAILED   {title}\n    " + "\n    ".join(lines[:12]), file=stream)
    if write and "op" in case:
        path = write_case(case, message, seed=seed, out_dir=out_dir, command=command, description=description)
        known.add(path)
        print(f"    wrote {path}", file=stream)
    return True
