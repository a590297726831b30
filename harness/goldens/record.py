"""``python -m harness record [PATH ...] --goldens DIR``: run the TF side of every expanded
case and store what TF returned.

For each expanded case the recorder builds the inputs exactly as a verify run does and
stores every TF call a judge may need, whatever the reference does: the op's own result
(``tf``), TF's gradient when the case has ``grad:`` (``grad``, with the case's cotangent) and
each ``same_as`` / ``differs_from`` computation (``same_as[0]``, ...). A call that raises
is stored as its error class, base classes and message. An op this TensorFlow does not have
(``tf.keras.losses.Dice`` in TF 2.15) is stored as the ``AttributeError`` TF gave, marked
``"unavailable": true`` ("op not available in this TF"), and the recording goes on.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any

from harness.goldens import codec
from harness.goldens.store import GoldenError, GoldenStore, record_command

MAX_MESSAGE = 2000
THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
_UNAVAILABLE = re.compile(r"module '[\w.]+' has no attribute|has no attribute '\w+'")


def display_path(path: Path) -> str:
    """A case file's path as reports show it: relative to the working directory when inside it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _normalize(message: str) -> str:
    """An error message without this machine's install paths, so goldens recorded in two
    checkouts or virtual environments compare equal."""
    for prefix in sorted({p for p in sys.path if p and len(p) > 1}, key=len, reverse=True):
        message = message.replace(prefix.rstrip("/") + "/", "<sys.path>/")
    return message.replace(os.getcwd().rstrip("/") + "/", "")[:MAX_MESSAGE]


def encode_error(raised: Any) -> dict:
    """A raised error (:class:`harness.sides.Raised`) as a stored call result."""
    exc = raised.exc
    out = {"error": type(exc).__name__, "names": raised.names[:-2], "message": _normalize(str(exc))}
    if isinstance(exc, AttributeError) and _UNAVAILABLE.search(str(exc)):
        out["unavailable"] = True
    return out


def _tf(op, init: dict, args: dict, mode: str, wrt: tuple = (), cot: list | None = None) -> dict:
    """One live TF call, stored: ``{"key", "out"}`` / ``{"key", "grads"}`` / ``{"key", "error"...}``."""
    from harness import tfexec
    from harness.sides import Raised, attempt

    key = codec.call_key(op.name, init, args, mode, wrt, cot)
    result = attempt(lambda: tfexec.run(op, init, args, mode, wrt, cot))
    if isinstance(result, Raised):
        return {"key": key, **encode_error(result)}
    out, grads = result
    if wrt:
        return {"key": key, "grads": {name: codec.encode_tree(g) for name, g in grads.items()}}
    return {"key": key, "out": codec.encode_tree(out)}


def record_case(exp) -> dict | None:
    """Every TF call of one expanded case, or None when a verify run would call no TF
    (a dtype the op is not run in, or inputs that cannot be built)."""
    from harness import inputs
    from harness.registry import get_op
    from harness.runner import CaseRun, cotangents

    if exp.dtype not in exp.op.dtypes:
        return None
    run = CaseRun(exp, timing_repeats=0)
    try:
        args, init = run.materialize(exp.op, exp.args, exp.init)
    except inputs.InputError:
        return None
    data = exp.case.data
    calls = {"tf": _tf(exp.op, init, args, exp.mode)}
    if data.get("grad") and "out" in calls["tf"]:
        out = codec.decode_tree(calls["tf"]["out"])
        calls["grad"] = _tf(exp.op, init, args, exp.mode, tuple(data["grad"]), cotangents(exp, out))
    for key in ("same_as", "differs_from"):
        for j, spec in enumerate(data.get(key) or []):
            other = get_op(spec["op"])
            try:
                o_args = run._related_args(f"{key}[{j}].", spec.get("args"), args, other, spec.get("drop") or ())
            except (ValueError, inputs.InputError):
                continue  # the runner reports the bad argument without calling TF
            calls[f"{key}[{j}]"] = _tf(other, inputs._plain(dict(spec.get("init") or {})), o_args, exp.mode)
    return {"hash": codec.case_hash({k: c["key"] for k, c in calls.items()}), "op": exp.op.name,
            "mode": exp.mode, "dtype": exp.dtype, "calls": calls}


def collect(paths: list[str]) -> tuple[dict[str, list], list[str]]:
    """Expanded cases by case file (as reports name it), and one-line load errors."""
    from harness.expand import expand
    from harness.loader import discover, load_file

    by_file: dict[str, list] = {}
    errors: list[str] = []
    for path in discover([Path(p) for p in paths]):
        loaded = load_file(path, display_path(path))
        errors += [str(e) for e in loaded.errors]
        by_file[loaded.display_path] = [exp for case in loaded.cases for exp in _tf_checks(case, expand)]
    return by_file, errors


def _tf_checks(case, expand) -> list:
    """A case's expanded checks, for TF's side only. TF's calls do not depend on the implementation
    (goldens are keyed by ``tf_id``), so a case whose own ``impl:`` is not installed here, or does
    not load, is still recorded: it is expanded for the default implementation instead."""
    from harness.impls import ImplError

    try:
        return expand(case)
    except ImplError:
        return expand(dataclasses.replace(case, data={**case.data, "impl": None}))


def versions() -> dict:
    """TensorFlow, Keras, NumPy, Python and platform of this recording."""
    from harness import tfbridge
    from harness.report.results import environment

    for name in THREAD_VARS:  # one thread: the same bits on any core count (a parallel reduction may
        os.environ.setdefault(name, "1")  # sum in another order); before TF is first imported
    tfbridge.tf()
    env = environment(Path.cwd())
    return {k: env[k] for k in ("tensorflow", "keras", "tf_keras", "numpy", "python", "platform")}


def record(paths: list[str], directory: str, *, quiet: bool = False) -> int:
    """Record ``paths`` into ``directory``; exit status 0, or 2 when some input was invalid."""
    by_file, errors = collect(paths)
    for line in errors:
        print(f"harness: {line}", file=sys.stderr)
    if not by_file:
        print(f"harness: {' '.join(paths)}: no case files (*.yaml, *.yml) found", file=sys.stderr)
        return 2
    env = versions()
    recorded: dict[str, dict] = {}
    counts = {"cases": 0, "errors": 0, "unavailable": 0}
    for case_file, expanded in by_file.items():
        entries = recorded.setdefault(case_file, {})
        for exp in expanded:
            try:
                entry = record_case(exp)
            except Exception as exc:  # one case the recorder cannot store must not stop the others
                errors.append(f"{case_file}:{exp.case.line}: {exp.id}: not recorded ({type(exc).__name__}: {exc})")
                print(f"harness: {errors[-1]}", file=sys.stderr)
                continue
            if entry is None:
                continue
            entries[exp.tf_id] = entry  # one TF computation for all of a case's implementations
            counts["cases"] += 1
            counts["errors"] += any("error" in c for c in entry["calls"].values())
            counts["unavailable"] += any(c.get("unavailable") for c in entry["calls"].values())
        if not quiet:
            print(f"recorded {len(entries):5d} {case_file}", file=sys.stderr)
    store = GoldenStore(directory)
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    try:
        store.write(recorded, env, record_command(paths, directory), when)
    except GoldenError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    print(f"goldens: {counts['cases']} expanded cases of {len(recorded)} case files recorded with TF "
          f"{env['tensorflow']} (Keras {env['keras']}) into {directory} ({store.size_bytes() / 1e6:.1f} MB); "
          f"{counts['errors']} with a TF error, {counts['unavailable']} with an op not available in this TF")
    return 2 if errors else 0
