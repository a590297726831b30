"""``python -m harness mutate``: how many one-token bugs in the implementation would the cases catch?

PATH arguments ending in ``.py`` restrict the mutated files (default: every file of the
implementation); the others are case files or directories (default ``cases/``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import random
import sys
import time
from pathlib import Path

from harness import atomicio
from harness.goldens import cli as goldens_cli
from harness.mutate import engine, mutants as mutants_mod, report

REFERENCE = "reference"
REFERENCE_NAMES = (REFERENCE, "numpy")
"""SPECs naming the built-in NumPy reference (``numpy`` as ``verify --impl`` calls it)."""
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
REVIEWED = Path(__file__).resolve().parent / "equivalent.yaml"
"""The reviewed equivalent mutants of the built-in reference."""


class SpecError(ValueError):
    """An --impl SPEC that cannot be loaded (one line)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness mutate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", help="case files or directories (default cases/); FILE.py: mutate only these files")
    p.add_argument("--impl", default=REFERENCE, help="the implementation, as verify --impl names it: 'numpy' "
                   "or 'reference' (harness/reference), torch, jax, a .py file or an importable module with an OPS dict "
                   "{TF op name: callable}")
    p.add_argument("--max", type=int, default=0, help="mutants to run, sampled with --seed (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-n", "--jobs", type=int, default=2, help="worker processes for the mutants (default 2)")
    p.add_argument("--equivalent", default=None, help="reviewed YAML list of equivalent mutants "
                   "(file, function, change, reason); default for the reference: harness/mutate/equivalent.yaml")
    p.add_argument("--modes", default="eager", help="TF modes of the cases to run, comma-separated, or 'all' "
                   "(default eager: the implementation does not depend on the mode, and a tf.function trace or XLA "
                   "compile costs 26-95 eager checks)")
    p.add_argument("--goldens", metavar="DIR", default=None, help="TF's results read from the goldens in DIR "
                   "(python -m harness record) instead of running TF; a case not recorded there is an error and "
                   "selects no mutant")
    p.add_argument("--report-dir", default="reports", help="where mutate.json and mutate.html go")
    p.add_argument("--fail-under", type=float, default=0.0, help="exit 1 when the score is below this percentage")
    return p


def _module_of(path: Path):
    """The imported module whose file is ``path``."""
    return next(m for m in list(sys.modules.values())
                if getattr(m, "__file__", None) and Path(m.__file__).resolve() == path.resolve())


FORK_SAFE_THREADS = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
"""Set to 1 before a port is imported when mutants run in forked workers: a framework's thread
pool started before ``fork`` (torch's OpenMP, XLA's) deadlocks the child, and the workers
already use the cores."""


def _port_targets(ns) -> tuple[list[engine.Target], set, str]:
    """A port loaded as ``verify --impl SPEC`` loads it (:func:`harness.impls.load`): the files
    that define its ops' functions, its op names, its name. A JAX port's mutants run in this
    process (``-n 1``): XLA compiling in a forked child hangs."""
    from harness import impls

    spec = ns.impl
    if ns.jobs > 1:
        for var in FORK_SAFE_THREADS:
            os.environ.setdefault(var, "1")

    try:
        impl = impls.load(spec)
    except impls.ImplError as exc:
        raise SpecError(str(exc)) from None
    if impl.framework == "jax" and ns.jobs > 1:
        print(f"mutate: {spec}: a JAX port's mutants run in this process (-n 1): XLA compiling in a forked "
              "worker hangs", file=sys.stderr)
        ns.jobs = 1
    paths = {Path(impl.origin).resolve()} if impl.origin.endswith(".py") else set()
    paths |= {Path(fn.__code__.co_filename).resolve() for fn in impl.ops.values() if hasattr(fn, "__code__")}
    here = Path.cwd().resolve()
    targets = [engine.Target(p, engine.shown(p) if p.is_relative_to(here) else p.name, _module_of(p))
               for p in sorted(paths) if p.is_file()]
    return targets, set(impl.ops), spec


def _targets(ns, sources: list[str]) -> tuple[list[engine.Target], set | None, str]:
    if ns.impl in REFERENCE_NAMES:
        files = sorted(p for p in REFERENCE_DIR.glob("*.py") if p.name != "__init__.py")
        targets = [engine.Target(p, f"harness/reference/{p.name}", importlib.import_module(f"harness.reference.{p.stem}"))
                   for p in files]
        ops, name = None, "harness/reference"
    else:
        targets, ops, name = _port_targets(ns)
    if sources:
        wanted = {Path(s).resolve() for s in sources}
        missing = wanted - {t.path.resolve() for t in targets}
        if missing:
            raise SpecError(f"{sorted(missing)[0]}: not a file of the implementation {name}")
        targets = [t for t in targets if t.path.resolve() in wanted]
    return targets, ops, name


def _tf_side(goldens: str | None):
    """TF's side of the baseline: its results read from ``goldens`` when given, else live TF."""
    if goldens is None:
        return None
    from harness.goldens.side import golden_side

    return golden_side(goldens)


def _progress(label: str):
    last = [0.0]

    def show(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 10 or done == total:
            last[0] = time.monotonic()
            print(f"mutate: {label} {done}/{total}", file=sys.stderr, flush=True)
    return show


def main(argv: list[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    sources = [p for p in ns.paths if p.endswith(".py")]
    case_paths = [Path(p) for p in ns.paths if not p.endswith(".py")] or [Path("cases")]
    for p in case_paths:
        if not p.exists():
            print(f"harness: {p}: no such file or directory (give a case file or a directory of them)", file=sys.stderr)
            return 2
    problem = goldens_cli.unusable(ns.goldens)
    if problem:
        print(f"harness: {problem}", file=sys.stderr)
        return 2
    try:
        targets, ops, name = _targets(ns, sources)
        reviewed = Path(ns.equivalent) if ns.equivalent else (REVIEWED if ns.impl in REFERENCE_NAMES else None)
        equivalents = report.load_equivalents(reviewed) if reviewed else {}
    except (SpecError, report.EquivalentError) as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    return _run(ns, targets, ops, name, case_paths, equivalents)


def _run(ns, targets, ops, name, case_paths, equivalents) -> int:
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    all_mutants = [m for t in targets for m in mutants_mod.generate(t.path, t.display)]
    chosen = all_mutants
    if ns.max and ns.max < len(all_mutants):
        chosen = sorted(random.Random(ns.seed).sample(all_mutants, ns.max), key=all_mutants.index)
    modes = None if ns.modes == "all" else tuple(ns.modes.split(","))
    exps, problems = engine.load_cases(case_paths, ops, modes, None if ops is None else ns.impl)
    for p in problems:
        print(f"harness: {p}", file=sys.stderr)
    # the threaded paths run whatever the load; np.empty never holds a freed result's values
    with engine.pinned_threads(), engine.poisoned_allocations():
        base = engine.run_baseline(exps, targets, _progress("baseline"), _tf_side(ns.goldens))
        t1 = time.perf_counter()
        outcomes = engine.run_mutants(chosen, base, targets, ns.jobs, _progress("mutants"))
        t2 = time.perf_counter()
    run = {"started": started.isoformat(timespec="seconds"), "argv": sys.argv[1:], "impl": name,
           "files": [t.display for t in targets], "cases": len(exps),
           "judged": sum(s in engine.JUDGED for s in base.status.values()), "generated": len(all_mutants),
           "max": ns.max or None, "seed": ns.seed, "jobs": ns.jobs, "modes": ns.modes, "goldens": ns.goldens,
           "baseline_s": round(t1 - t0, 1), "mutants_s": round(t2 - t1, 1), "duration_s": round(t2 - t0, 1)}
    data = report.build(chosen, outcomes, base, equivalents, run)
    out = Path(ns.report_dir)
    with atomicio.locked(out):  # the pair is published together
        staged = [(atomicio.stage(out / "mutate.json", json.dumps(data, indent=1) + "\n"), out / "mutate.json"),
                  (atomicio.stage(out / "mutate.html", report.render_html(data)), out / "mutate.html")]
        atomicio.publish(staged)
    sys.stdout.write("\n".join(report.summary_lines(data)) + f"\nreport: {out / 'mutate.json'}\nreport: {out / 'mutate.html'}\n")
    score = data["summary"]["score"]
    return 1 if score is not None and score < ns.fail_under else (2 if problems else 0)
