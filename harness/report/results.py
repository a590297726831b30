"""``results.json``: versioned, with the environment and timestamps, written atomically.

Schema (``schema_version`` 1)::

    {"schema_version": 1,
     "run": {"started", "finished", "duration_s", "argv", "paths", "interrupted"},
     "environment": {"python", "numpy", "tensorflow", "keras", "platform", "cpu", "cpu_flags", "git_commit"},
     "summary": {"passed": n, "failed": n, "error": n, "skipped": n, "xfailed": n, "xpassed": n},
     "warnings": [...],
     "cases": [{"id", "file", "line", "op", "dtype", "status", "message", "max_abs_err", "max_rel_err",
                "max_ulp", "rtol", "atol", "time_reference_s", "time_tf_s", "cost", "repro", ...}]}
"""
from __future__ import annotations

import json
import os
import sys
from importlib import metadata
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
STATUSES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "crashed", "timeout")


def _cpu() -> tuple[str, list[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor(), []
    model, flags = platform.processor(), []
    for line in text.splitlines():
        if line.startswith("model name") and model in ("", platform.processor()):
            model = line.split(":", 1)[1].strip()
        elif line.startswith("flags") and not flags:
            wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "f16c")
            flags = [f for f in line.split(":", 1)[1].split() if f in wanted]
    return model, flags


def _git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(module: str, *dists: str) -> str | None:
    """A library's version without importing it: an xdist controller never imports TF, and
    importing it only to read its version costs seconds at the end of every run."""
    if module in sys.modules:
        return getattr(sys.modules[module], "__version__", None)
    for dist in dists:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def environment(root: Path) -> dict:
    import numpy

    cpu, flags = _cpu()
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "tensorflow": _version("tensorflow", "tensorflow-cpu", "tensorflow", "tf-nightly-cpu", "tf-nightly"),
        "keras": _version("keras", "keras"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_flags": flags,
        "git_commit": _git_commit(root),
    }


def summarize(cases: list[dict]) -> dict:
    counts = {s: 0 for s in STATUSES}
    for c in cases:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return counts


def sort_key(case: dict) -> tuple:
    return (case.get("file") or "", case.get("line") or 0, case.get("id") or "")


def build(cases: list[dict], *, run: dict, env: dict, warnings: list[str]) -> dict:
    cases = sorted(cases, key=sort_key)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run,
        "environment": env,
        "summary": summarize(cases),
        "warnings": sorted(set(warnings)),
        "cases": cases,
    }


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename: a killed run never leaves
    a half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(results: dict, path: Path) -> None:
    write_atomic(path, json.dumps(clean(results), indent=1, allow_nan=False, default=_default) + "\n")


def clean(obj: Any) -> Any:
    """Strict JSON: non-finite floats become the strings "nan", "inf", "-inf"."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else str(obj)
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")
