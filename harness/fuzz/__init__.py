"""``python -m harness fuzz``: hypothesis-driven parity fuzzing.

For each op, examples are drawn from strategies derived from its registry entry
(:mod:`~harness.fuzz.strategies`, :mod:`~harness.fuzz.recipes`), run through the reference
and TensorFlow by the case runner with the dtype's default tolerance
(:mod:`~harness.fuzz.judge`), and the first failure is shrunk and, unless a case already
runs it, written as a new regression case (:mod:`~harness.fuzz.writeback`).
``--properties`` instead checks identities that need no reference, on both sides
(:mod:`~harness.fuzz.properties`).

A failure whose example an existing regression case already runs is reported as known,
naming that case, and is not written again (:mod:`~harness.fuzz.known`).

Exit status: 0 nothing new failed (every failure found is known), 1 a new failure (or an
op no valid example could be drawn for), 2 bad usage.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from harness.vocab import FLOAT_DTYPES

DEFAULT_OUT = Path("cases/regressions")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness fuzz", description=(
        "Fuzz ops for reference/TF parity with hypothesis; write each shrunk failure as a regression case."))
    p.add_argument("--op", action="append", default=[], help="op to fuzz (repeatable; default: every op)")
    p.add_argument("--examples", type=int, default=20, help="examples per op (default 20)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed: the same seed draws the same examples")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"where failures are written (default {DEFAULT_OUT})")
    p.add_argument("--nan", action="store_true", help="also draw NaN and infinities")
    p.add_argument("--subnormal", action="store_true",
                   help="also draw subnormal numbers (TF's CPU kernels flush them to zero)")
    p.add_argument("--dtype", action="append", default=[], choices=FLOAT_DTYPES,
                   help="dtypes to draw (repeatable; default float32 and float64, those the op supports)")
    p.add_argument("--properties", action="store_true", help="check the identity properties instead")
    p.add_argument("--no-write", action="store_true", help="report failures without writing case files")
    return p


def command_line(op: str, ns: argparse.Namespace) -> str:
    parts = ["python -m harness fuzz", f"--op {op}", f"--examples {ns.examples}", f"--seed {ns.seed}"]
    parts += [f"--dtype {d}" for d in ns.dtype] + (["--nan"] if ns.nan else []) + (["--subnormal"] if ns.subnormal else [])
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with warnings.catch_warnings():  # Keras warns about odd shapes the fuzzer draws on purpose
        warnings.simplefilter("ignore")
        return _run(ns)


def _run(ns: argparse.Namespace) -> int:
    from harness.registry import UnknownOpError, get_op, registry

    try:
        ops = [get_op(name) for name in ns.op] if ns.op else list(registry())
    except UnknownOpError as exc:
        print(f"harness fuzz: {exc}", file=sys.stderr)
        return 2
    if ns.properties:
        from harness.fuzz.properties import run_properties

        return run_properties(ops if ns.op else None, examples=ns.examples, seed=ns.seed, out=Path(ns.out),
                              write=not ns.no_write, stream=sys.stdout)
    return run_ops(ops, ns, stream=sys.stdout)


def known_cases(out: Path):
    """The cases a failure may already be (the output directory's and ``cases/regressions/``)."""
    from harness.fuzz.known import KnownCases

    return KnownCases([out, DEFAULT_OUT])


def run_ops(ops, ns: argparse.Namespace, stream) -> int:
    from harness.fuzz.engine import fuzz_op
    from harness.fuzz.strategies import FUZZ_DTYPES
    from harness.fuzz.writeback import report_failure

    dtypes = tuple(ns.dtype) or FUZZ_DTYPES
    known = known_cases(Path(ns.out))
    bad = 0
    for op in ops:
        try:
            result = fuzz_op(op, examples=ns.examples, seed=ns.seed, nan=ns.nan, subnormal=ns.subnormal,
                             dtypes=dtypes)
        except Exception as exc:  # a fault of the fuzzer itself: report it and go on with the next op
            bad += 1
            print(f"ERROR    {op.name}: the fuzzer raised {type(exc).__name__}: {exc}", file=stream)
            continue
        counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
        if result.status == "passed":
            print(f"passed   {op.name} ({counts})", file=stream)
        elif result.status == "skipped":
            print(f"skipped  {op.name}: {result.reason}", file=stream)
        elif result.status == "unsatisfiable":
            bad += 1
            print(f"UNSATISFIABLE {op.name}: {result.reason}", file=stream)
        else:
            bad += report_failure(f"{op.name} ({counts}); shrunk to {result.example!r}", result.verdict.case,
                                  result.verdict.message, known=known, write=not ns.no_write, out_dir=Path(ns.out),
                                  seed=ns.seed, command=command_line(op.name, ns),
                                  description=f"fuzz failure of {op.name}, shrunk", stream=stream)
    return 1 if bad else 0
