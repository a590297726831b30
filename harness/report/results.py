"""``results.json``: versioned, with the environment and timestamps, written atomically with
``index.html`` and ``junit.xml`` as one set (:func:`write_report`).

Schema (``schema_version`` 3)::

    {"schema_version": 3,
     "run": {"id", "started", "finished", "duration_s", "argv", "paths", "impls", "interrupted"},
     "environment": {"python", "numpy", "tensorflow", "keras", "tf_keras", "torch", "jax", "optax", "platform", "cpu",
                     "cpu_flags", "git_commit"},
     "summary": {"passed": n, "failed": n, "error": n, "skipped": n, "xfailed": n, "xpassed": n},
     "warnings": [...],
     "cases": [{"id", "file", "line", "op", "dtype", "impl", "status", "message", "max_abs_err", "max_rel_err",
                "max_ulp", "rtol", "atol", "time_reference_s", "time_tf_s", "cost", "repro", ...}]}

A passed case keeps neither ``outputs`` nor ``inputs`` (unless ``--full-results``): it has
``ledger`` instead, the headrooms the tolerance ledger shows (:func:`case_record`). Version 1
files (every case with its outputs) are read as they are.

Version 3 (implementations under test) added ``run.impls`` (the ``--impl`` SPECs), the
versions of torch, jax and optax, and each case's ``impl`` (the name of the implementation
under test; ``time_reference_s`` and ``outputs.reference`` are that implementation's).
"""
from __future__ import annotations

import datetime as dt
import html
import json
import os
import platform
import secrets
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import atomicio
from harness.report.ledger import headroom_record
from harness.result import CaseResult, as_result
from harness.vocab import STATUSES

SCHEMA_VERSION = 3

TRIMMED_STATUSES = frozenset({"passed"})
"""Statuses whose results.json entry leaves out ``outputs`` and ``inputs`` (unless ``--full-results``)."""
TRIMMED_KEYS = ("outputs", "inputs")


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
        "tf_keras": _version("tf_keras", "tf-keras", "tf_keras"),
        "torch": _version("torch", "torch"),
        "jax": _version("jax", "jax"),
        "optax": _version("optax", "optax"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpu_flags": flags,
        "git_commit": _git_commit(root),
    }


def summarize(cases: list[CaseResult]) -> dict:
    counts = {s: 0 for s in STATUSES}
    for c in cases:
        counts[c.status] = counts.get(c.status, 0) + 1
    return counts


def sort_key(case: CaseResult) -> tuple:
    return (case.file or "", case.line or 0, case.id or "")


def build(cases: list[CaseResult | dict], *, run: dict, env: dict, warnings: list[str], full: bool = False) -> dict:
    """The results dict written to results.json: each case serialized once (:func:`case_record`;
    ``full``: with all of its evidence), sorted by file, line and id."""
    results = sorted((as_result(c) for c in cases), key=sort_key)
    return {
        "schema_version": SCHEMA_VERSION,
        "run": run,
        "environment": env,
        "summary": summarize(results),
        "warnings": sorted(set(warnings)),
        "cases": [case_record(c, full) for c in results],
    }


def case_record(case: CaseResult, full: bool = False) -> dict:
    """The results.json entry of ``case``: all of it, or for a passed case (without ``full``)
    everything but its ``outputs`` and ``inputs``, which only a failure's detail shows, with
    the tolerance ledger's headrooms (computed from those outputs) as ``ledger``. The report,
    the JUnit file, ``merge``, ``--baseline`` and ``--lf`` need nothing else of a passed case."""
    record = case.to_record()
    if full or case.status not in TRIMMED_STATUSES or not case.ran or "outputs" not in record:
        return record
    record["ledger"] = headroom_record(case)
    for key in TRIMMED_KEYS:
        record.pop(key, None)
    return record


def dumps(results: dict) -> str:
    """``results`` as strict JSON text (see :func:`clean`)."""
    return json.dumps(clean(results), indent=1, allow_nan=False, default=_default) + "\n"


def new_run_id(started: dt.datetime) -> str:
    """``20261206T021754Z-3f9a1c``: the run's start (UTC) and 24 random bits. ``results.json``
    (``run.id``), ``index.html`` (``<meta name="tf-parity-run-id">``) and ``junit.xml`` (the
    testsuite property ``tf_parity_run_id``) all carry it, so a set of reports is checkably one run's."""
    return f"{started.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _html_text(results: dict) -> str:
    """The HTML page, or when it cannot be rendered a short page saying so (carrying the run id),
    so that an ``index.html`` of an earlier run never stands beside this run's ``results.json``."""
    try:
        from harness.report.html import render_html

        return render_html(results)
    except Exception as exc:  # the JSON report still stands
        problem = f"{type(exc).__name__}: {exc}"
        print(f"harness: HTML report not rendered: {problem}", file=sys.stderr)
    run_id = html.escape(str(results.get("run", {}).get("id") or ""), quote=True)
    return (f'<!doctype html>\n<meta charset="utf-8"><meta name="tf-parity-run-id" content="{run_id}">\n'
            f"<title>tf-parity: report not rendered</title>\n<p>The HTML report of run {run_id} could not be "
            f"rendered ({html.escape(problem)}); results.json beside this file holds every result.</p>\n")


def _junit_text(results: dict) -> str:
    """The JUnit XML (:mod:`harness.report.junit`), or when it cannot be rendered a suite with one
    error saying so, carrying the run id (results.json beside it holds every result)."""
    from harness.report import junit

    try:
        return junit.render(results)
    except Exception as exc:  # the JSON report still stands
        problem = f"{type(exc).__name__}: {exc}"
        print(f"harness: JUnit report not rendered: {problem}", file=sys.stderr)
    run = dict(results.get("run") or {})
    message = f"junit.xml could not be rendered ({problem}); results.json beside it holds every result"
    return junit.render({"run": run, "cases": [{"id": "junit.xml", "status": "error", "message": message}]})


REPORT_NAMES = ("results.json", "index.html", "junit.xml")
"""The files :func:`write_report` writes into a report directory, as one set."""
JUNIT_NAME = REPORT_NAMES[2]


def write_report(report_dir: Path, results: dict, extra: Sequence[tuple[Path, Path]] = ()) -> list[Path]:
    """``results.json``, ``index.html`` and ``junit.xml`` of one run, plus ``extra`` finished
    ``(temporary, final)`` files (a JUnit XML pytest wrote for ``--junitxml``), renamed into
    ``report_dir`` together while holding the directory's lock (:mod:`harness.atomicio`): two
    runs sharing a report directory leave one run's complete set, and a killed run leaves the
    previous set as it was."""
    names = [report_dir / name for name in REPORT_NAMES]
    staged = [(atomicio.stage(names[0], dumps(results)), names[0])]
    try:
        staged.append((atomicio.stage(names[1], _html_text(results)), names[1]))
        staged.append((atomicio.stage(names[2], _junit_text(results)), names[2]))
        staged += [(Path(tmp), Path(final)) for tmp, final in extra]
        with atomicio.locked(report_dir):
            atomicio.publish(staged)
    except BaseException:
        atomicio.discard(tmp for tmp, _ in staged)
        raise
    return [final for _, final in staged]


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
