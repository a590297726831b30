"""``python -m harness``: verify, record, drift, merge, list-ops, new, coverage, schema, fuzz."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from harness.goldens import cli as goldens_cli
from harness.inputs import MAX_ELEMENTS, MAX_ELEMENTS_ENV
from harness.loader import discover
from harness.options import OPTIONS, default
from harness.registry import KINDS, REQUIRED, UnknownOpError, get_op, registry

ROLE_TEXT = {
    "float": "float tensor (cast to each of the case's dtypes)",
    "int": "int tensor (int32 unless given {value: ..., dtype: int64})",
    "float_list": "list of float tensors",
    "value": "plain value",
}


# pytest plugins a case run does not use: their per-case hooks and end-of-run work (the
# unraisable-exception check runs gc.collect over TF's object graph) cost time and give nothing.
# Without the logging plugin a log record reaches stderr, which pytest still captures per case;
# case items are no unittest cases and take no fixtures (tmp_path).
NO_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:timeout", "-p", "no:unraisableexception",
              "-p", "no:threadexception", "-p", "no:doctest", "-p", "no:logging", "-p", "no:unittest",
              "-p", "no:tmpdir", "-p", "no:subtests")


def command_line(argv: list[str]) -> str:
    """The command as the user typed it (``python -m harness verify cases/ -n 2``), for the report."""
    prog = "tf-parity" if Path(sys.argv[0]).name == "tf-parity" else "python -m harness"
    return " ".join([prog, shlex.join(argv)]) if argv else prog


def _impl_specs(given: list[str]) -> list[str] | None:
    """The ``--impl`` SPECs, each loaded once here so that a broken one is a one-line error
    before anything runs (None then); .py paths made absolute for the workers."""
    from harness.impls import ImplError, load

    specs = []
    for spec in given:
        if spec.endswith(".py"):
            spec = str(Path(spec).resolve())
        try:
            load(spec)
        except ImplError as exc:
            print(f"harness: {exc}", file=sys.stderr)
            return None
        specs.append(spec)
    return specs


def _verify(ns: argparse.Namespace, extra: list[str], command: str) -> int:
    import pytest

    ns.impl = _impl_specs(ns.impl or [])
    if ns.impl is None:
        return 2
    report_dir = Path(ns.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    args = [*(ns.paths or ["cases/"]), "-p", "harness.plugin", "-p", "no:legacypath",
            "-o", "console_output_style=count", "--no-header", "-q", "-rN", "--tb=short",
            "--assert=plain", f"--harness-command={command}", *NO_PLUGINS]
    for option in OPTIONS:
        if option.cli:
            args += option.pytest_args(getattr(ns, option.dest))
    if ns.k:
        args += ["-k", ns.k]
    if ns.x:
        args.append("-x")
    if ns.n not in ("0", None):  # xdist workers isolate crashes and timeouts
        args += ["-n", ns.n, "--max-worker-restart", "1000"]
    if ns.lf:
        args.append("--lf")
    problem = ns.goldens and goldens_cli.unusable(ns.goldens)
    if problem:
        print(f"harness: {problem}", file=sys.stderr)
        return 2
    empty = False
    for p in ns.paths or ["cases/"]:
        path = Path(p.split("::")[0])
        if not path.exists():
            print(f"harness: {p}: no such file or directory (give a case file or a directory of them)", file=sys.stderr)
            return 2
        if path.is_dir() and not discover([path]):  # reported, and the other paths still run
            print(f"harness: {p.rstrip('/')}: no case files (*.yaml, *.yml) found "
                  "(give a case file or a directory holding them)", file=sys.stderr)
            empty = True
    if ns.max_elements:
        os.environ[MAX_ELEMENTS_ENV] = str(ns.max_elements)
    code = int(pytest.main(args + extra))
    return 2 if empty or code not in (0, 1, 2) else code


def _list_ops(ns: argparse.Namespace) -> int:
    """Every op with its one-line description and arguments (``-v``: each argument's meaning);
    TF's API first, the documents' worked examples (``examples.``, not TF names) last."""
    for op in sorted(registry(), key=lambda op: (op.name.startswith("examples."), op.name)):
        def fmt(a):
            default = "" if a.default is REQUIRED else f"={a.default!r}"
            return f"{a.name}:{a.role}{default}"
        print(op.name)
        if op.summary:
            print(f"    {op.summary}")
        if op.init:
            print(f"    init: {', '.join(fmt(a) for a in op.init)}")
        print(f"    args: {', '.join(fmt(a) for a in op.args)}")
        if op.differentiable:
            print(f"    differentiable: {', '.join(op.differentiable)}")
        if ns.verbose:
            for a in (*op.init, *op.args):
                if a.doc:
                    print(f"      {a.name}: {a.doc}")
    print(f"{len(registry())} ops")
    return 0


def _yaml_value(value) -> str:
    import json

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


_UNIT = "{random: uniform, low: 0.05, high: 0.95, shape: [4, 3]}"
_POSITIVE = "{random: uniform, low: 0.1, high: 3.0, shape: [4, 3]}"
KIND_EXAMPLES: dict[str, str] = {
    "real": "{random: normal, shape: [4, 3], scale: 2.0}",
    "logits": "{random: normal, shape: [4, 3], scale: 2.0}",
    "losses": "{random: normal, shape: [4, 3], scale: 2.0}",
    "per_example_losses": "{random: uniform, low: 0.0, high: 3.0, shape: [4]}",
    "probabilities": "{random: simplex, shape: [4, 3]}",
    "probability": _UNIT,
    "one_hot": "{one_hot: [2, 0, 1, 1], depth: 3}",
    "binary": "{random: integers, low: 0, high: 2, shape: [4, 3]}",
    "signed": "[[-1, 1, 1], [1, -1, 1], [1, 1, -1], [-1, -1, 1]]",
    "nonnegative": _POSITIVE,
    "positive": _POSITIVE,
    "weights": "{random: uniform, low: 0.5, high: 2.0, shape: [4]}",
    "sample_weight": "{random: uniform, low: 0.5, high: 2.0, shape: [4]}",
    "pos_weight": "{random: uniform, low: 0.5, high: 2.0, shape: [3]}",
    "embeddings": "{random: normal, shape: [4, 3]}",
    "class_ids": "[2, 0, 1, 1]",
    "label_sequences": "[[1, 2], [2, 1], [1, 1], [2, 2]]",
    "sequence_lengths": "[2, 2, 2, 2]",
}
"""The template's value for a required tensor argument of each kind
(:data:`harness.registry.KINDS`): inside the kind's domain and of one ``[4, 3]`` shape (4
examples, 3 classes), so a new case starts from inputs the op is defined on, not from
ones it turns into NaN (negative Poisson rates, normal samples as probabilities)."""


def _example(op, arg) -> tuple[str, str]:
    """A value for a required argument from its kind in the op record, and the kind's meaning;
    a ``..._or_logits`` kind gives probabilities unless the op defaults to ``from_logits``."""
    kind = arg.meaning
    if kind.endswith("_or_logits"):
        from_logits = next((a.default for a in op.init + op.args if a.name == "from_logits"), False)
        kind = "logits" if from_logits is True else kind[: -len("_or_logits")]
    if arg.role == "float_list":
        return "[[1.0, 2.0], [[3.0], [4.0]]]", ""
    if kind not in KIND_EXAMPLES:
        return _yaml_value(arg.example) if arg.example is not None else "1", ""
    return KIND_EXAMPLES[kind], f"; {KINDS[kind]}"


def template(op_name: str) -> str:
    """A commented case for ``op_name``: every argument with its role and default."""
    op = get_op(op_name)
    short = op.name.rsplit(".", 1)[1]
    lines = [
        f"# A case for {op.name}. Keys: README 'The case format'; schema: cases/schema.json.",
        "cases:",
        f"  - id: my-{short.lower().replace('_', '-')}",
        f"    op: {op.name}",
        "    description: what this case shows",
        "    dtypes: [float32, float64]",
    ]

    def section(title: str, args) -> None:
        if not args:
            return
        lines.append(f"    {title}:")
        for a in args:
            role = ROLE_TEXT[a.role]
            doc = f"; {a.doc}" if a.doc else ""
            choices = f"; one of {', '.join(map(str, a.choices))}" if a.choices else ""
            if a.required:
                example, meaning = _example(op, a)
                lines.append(f"      {a.name}: {example}   # required, {role}{meaning}{doc}{choices}")
            elif a.example is not None:  # optional in the signature, needed in practice (cosine_distance's axis)
                lines.append(f"      {a.name}: {_yaml_value(a.example)}   # default {_yaml_value(a.default)}; {role}{doc}{choices}")
            else:
                lines.append(f"      # {a.name}: {_yaml_value(a.default)}   # default; {role}{doc}{choices}")

    section("init", op.init)
    section("args", op.args)
    lines += [
        "    # expect: 0.0               # a published value to check both sides against",
        "    # tolerance: {rtol: 1e-5, atol: 1e-6, reason: why the default is not enough}",
        "    # same_as: [{op: OTHER_OP, args: {x: $x}, then: mean}]",
        "    # matrix: {args.NAME: [v1, v2]}",
    ]
    return "\n".join(lines) + "\n"


def _new(ns: argparse.Namespace) -> int:
    """``new OP``: the template on stdout; ``new OP --append FILE``: the case added to FILE."""
    from harness.casefile import AppendError, append_case, stdout_appends_to_a_file

    try:
        text = template(ns.op)
    except UnknownOpError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    if ns.append is None:
        if stdout_appends_to_a_file():
            print(f"harness: new: stdout is appended to a non-empty file, where a second `cases:` would break it; "
                  f"nothing was written (use: python -m harness new {ns.op} --append FILE)", file=sys.stderr)
            return 2
        sys.stdout.write(text)
        return 0
    try:
        case_id = append_case(Path(ns.append), text)
    except AppendError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    print(f"added case {case_id} ({get_op(ns.op).name}) to {ns.append}: fill in its arguments, then "
          f"python -m harness verify {ns.append}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="run cases and write reports")
    v.add_argument("paths", nargs="*", help="case files or directories (default: cases/)")
    v.add_argument("-k", default=None, help="only cases whose id matches this pytest -k expression")
    v.add_argument("-x", action="store_true", help="stop at the first failure")
    v.add_argument("-n", default="auto", help="worker processes (pytest-xdist; default auto). Workers isolate cases: "
                   "a TF abort, segfault or hang is reported as crashed/timeout and the run goes on. 0: run in-process")
    v.add_argument("--lf", action="store_true", help="rerun only the cases that failed last time")
    v.add_argument("--max-elements", type=int, default=None,
                   help=f"largest generated or loaded array (default {MAX_ELEMENTS:,}; also ${MAX_ELEMENTS_ENV})")
    for option in OPTIONS:
        if option.cli:
            v.add_argument(f"--{option.name}", **option.cli_kwargs())
    mg = sub.add_parser("merge", help="merge shard report directories into one results.json, index.html and junit.xml")
    mg.add_argument("dirs", nargs="+", help="report directories holding results.json")
    mg.add_argument("--report-dir", default=default("report-dir"))
    lo = sub.add_parser("list-ops", help="print the registry")
    lo.add_argument("-v", "--verbose", action="store_true", help="also each argument's meaning")
    nw = sub.add_parser("new", help="print a commented template case for an op, or add it to a case file")
    nw.add_argument("op")
    nw.add_argument("--append", metavar="FILE", default=None,
                    help="add the case to FILE's cases: (created if missing), keeping the rest of FILE as it is")
    sub.add_parser("schema", help="print the case-file JSON Schema (cases/schema.json)")
    at = sub.add_parser("atlas", help="the port atlas (Markdown) from the results of verify --impl torch --impl jax")
    at.add_argument("results", nargs="+", help="results.json files (read as one)")
    at.add_argument("-o", "--output", default=None, help="write here (default: print)")
    cv = sub.add_parser("coverage", help="each op x the argument values and dtypes its cases exercise")
    cv.add_argument("paths", nargs="*", help="case files or directories (default: cases/)")
    cv.add_argument("--all-ops", action="store_true",
                    help="every registered op, not only those the cases use (exit 1 if some op has no case)")
    goldens_cli.add_parsers(sub)
    sub.add_parser("fuzz", help="hypothesis fuzzing of reference vs TF (python -m harness fuzz --help)", add_help=False)
    sub.add_parser("mutate", help="mutation testing: would the cases catch a one-token bug in the implementation? "
                   "(python -m harness mutate --help)", add_help=False)
    return parser


def _merge(ns: argparse.Namespace) -> int:
    from harness.report.merge import merge_dirs

    return merge_dirs([Path(d) for d in ns.dirs], Path(ns.report_dir))


def _coverage(ns: argparse.Namespace) -> int:
    from harness import coverage

    table = coverage.collect([Path(p) for p in ns.paths or ["cases/"]], all_ops=ns.all_ops)
    sys.stdout.write(coverage.format_table(table))
    return 1 if any(c.cases == 0 for c in table.values()) else 0


def _schema(ns: argparse.Namespace) -> int:
    from harness.schema import schema_json

    sys.stdout.write(schema_json())
    return 0


def _atlas(ns: argparse.Namespace) -> int:
    from harness.impls import atlas

    return atlas.main(ns.results, ns.output)


COMMANDS = {"list-ops": _list_ops, "new": _new, "record": goldens_cli.main, "drift": goldens_cli.main,
            "merge": _merge, "coverage": _coverage, "schema": _schema, "atlas": _atlas}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fuzz"]:
        from harness.fuzz import main as fuzz_main

        return fuzz_main(argv[1:])
    if argv[:1] == ["mutate"]:
        from harness.mutate.cli import main as mutate_main

        return mutate_main(argv[1:])
    ns, extra = parser.parse_known_args(argv)
    if ns.command == "verify":
        return _verify(ns, extra, command_line(argv))
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return COMMANDS[ns.command](ns)
