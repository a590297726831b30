"""Loading and validating case files.

Every problem becomes a :class:`CaseError` whose text is one line,
``path:line: field: problem (hint)``. A bad case does not spoil its file: the other
cases in the file are still returned and run.
"""
from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from harness import inputs
from harness.registry import OpSpec, UnknownOpError, registry
from harness.schema import CASE_KEYS, CASE_SCHEMA, DEFAULTS_SCHEMA, DTYPES, RESERVED_KEYS
from harness.tolerances import ToleranceError, resolve_tolerance
from harness.yamlio import LineDict, YamlError, load_yaml

CASE_SUFFIXES = (".yaml", ".yml")


@dataclass
class CaseError:
    path: str
    line: int
    field: str
    problem: str
    hint: str = ""
    case_id: str | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.problem}" + (f" ({self.hint})" if self.hint else "")


@dataclass
class Case:
    """One validated case as written (before matrix/dtype expansion)."""

    id: str
    op: OpSpec
    data: dict
    path: Path
    display_path: str
    line: int
    key_lines: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def dtypes(self) -> list[str]:
        return list(self.data.get("dtypes") or ["float32"])


@dataclass
class LoadedFile:
    path: Path
    display_path: str
    cases: list[Case]
    errors: list[CaseError]


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else ""


def _line_at(doc: Any, path) -> int:
    """The line of the deepest mapping key along ``path`` in the loaded document."""
    line, node = getattr(doc, "line", 1), doc
    for part in path:
        if isinstance(node, LineDict):
            line = node.line_of(part) if part in node else node.line
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            item_lines = getattr(node, "item_lines", None)
            if item_lines:
                line = item_lines[part]
            node = node[part]
        else:
            break
    return line


def _field(prefix: str, path) -> str:
    """``cases[0]`` + ``["dtypes", 1]`` -> ``cases[0].dtypes[1]``."""
    out = prefix
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _schema_errors(obj: dict, schema: dict, prefix: str) -> list[tuple[list, str, str, str]]:
    """jsonschema errors as (path, field, problem, hint), most specific first."""
    out = []
    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        errs = [err]
        if err.context:  # anyOf: report the branch that got furthest
            errs = [max(err.context, key=lambda e: len(e.absolute_path))]
        for e in errs:
            path = list(e.absolute_path)
            fld = _field(prefix, path)
            if e.validator == "additionalProperties":
                allowed = list(e.schema.get("properties", {}))
                for key in sorted(set(e.instance) - set(allowed)):
                    hint = _closest(key, allowed) or f"allowed keys: {', '.join(allowed)}"
                    out.append((path + [key], f"{fld}.{key}".lstrip("."), "unknown key", hint))
                continue
            if e.validator == "required":
                missing = e.message.split("'")[1]
                out.append((path, f"{fld}.{missing}".lstrip("."), "missing required key", f"add {missing}: ..."))
                continue
            hint = ""
            if e.validator == "pattern" and path and path[-1] == "id":
                hint = "ids use letters, digits, '.', '_' and '-'"
            elif e.validator == "enum":
                out.append((path, fld, f"{e.instance!r} is not allowed", f"one of {', '.join(map(str, e.validator_value))}"))
                continue
            out.append((path, fld or "(file)", e.message, hint))
    return out


def discover(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.suffix in CASE_SUFFIXES and q.is_file())
        else:
            files.append(p)
    return files


def load_file(path: Path, display_path: str | None = None) -> LoadedFile:
    shown = display_path or str(path)
    result = LoadedFile(path, shown, [], [])

    def fail(line: int, fld: str, problem: str, hint: str = "", case_id: str | None = None) -> None:
        result.errors.append(CaseError(shown, line, fld, problem, hint, case_id))

    try:
        doc = load_yaml(path)
    except FileNotFoundError:
        fail(1, "(file)", "file not found", "check the path")
        return result
    except YamlError as exc:
        fail(exc.line, "(file)", exc.problem, exc.hint)
        return result
    if doc is None:
        fail(1, "(file)", "empty file", "a case file needs `cases:` with a list of cases")
        return result
    if not isinstance(doc, dict):
        fail(getattr(doc, "line", 1), "(file)", f"top level is a {type(doc).__name__}, not a mapping", "start with `cases:`")
        return result
    for key in doc:
        if key not in ("cases", "defaults"):
            hint = _closest(str(key), ["cases", "defaults"]) or "a case file has only `cases:` and `defaults:`"
            fail(doc.line_of(key), str(key), "unknown top-level key", hint)
    if "cases" not in doc:
        fail(doc.line, "cases", "missing", "add `cases:` with a list of cases")
        return result
    cases = doc["cases"]
    if not isinstance(cases, list):
        fail(doc.line_of("cases"), "cases", "must be a list of cases", "each item starts with `- id: ...`")
        return result
    defaults = doc.get("defaults") or LineDict()
    if not isinstance(defaults, dict):
        fail(doc.line_of("defaults"), "defaults", "must be a mapping")
        return result
    default_errors = _semantic_reserved(defaults, "defaults") + [
        (p, f, pr, h) for p, f, pr, h in _schema_errors(defaults, DEFAULTS_SCHEMA, "defaults")
    ]
    for p, fld, problem, hint in default_errors:
        fail(_line_at(doc, ["defaults"] + list(p)), fld, problem, hint)
    if default_errors:
        return result

    seen: dict[str, int] = {}
    for i, raw in enumerate(cases):
        line = cases.item_lines[i] if hasattr(cases, "item_lines") else doc.line_of("cases")
        prefix = f"cases[{i}]"
        if not isinstance(raw, dict):
            fail(line, prefix, "a case must be a mapping", "start it with `- id: ...`")
            continue
        case_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        errors = _semantic_reserved(raw, prefix) + _schema_errors(raw, CASE_SCHEMA, prefix)
        if errors:
            for p, fld, problem, hint in errors:
                fail(_line_at(raw, p), fld, problem, hint, case_id)
            continue
        if case_id in seen:
            fail(raw.line_of("id"), f"{prefix}.id", f"duplicate id {case_id!r}", f"also at {shown}:{seen[case_id]}", case_id)
            continue
        seen[case_id] = raw.line
        merged = LineDict({**defaults, **raw})
        merged.line, merged.key_lines = raw.line, {**getattr(defaults, "key_lines", {}), **raw.key_lines}
        case, errs = _validate_case(merged, path, shown, prefix)
        for p, fld, problem, hint in errs:
            fail(_line_at(merged, p), fld, problem, hint, case_id)
        if case is not None and not errs:
            result.cases.append(case)
    return result


def _semantic_reserved(raw: dict, prefix: str) -> list:
    return [
        ([key], f"{prefix}.{key}", f"`{key}:` is reserved for {what} and not supported yet",
         "remove it; the case would otherwise be silently ignored")
        for key, what in RESERVED_KEYS.items() if key in raw
    ]


def _validate_case(data: LineDict, path: Path, shown: str, prefix: str):
    errs: list = []
    reg = registry()
    try:
        op = reg.get(data["op"])
    except UnknownOpError as exc:
        return None, [(["op"], f"{prefix}.op", str(exc).split(" (")[0], str(exc).split(" (", 1)[1].rstrip(")"))]
    _, alias_warning = reg.resolve_name(data["op"])
    errs += _check_arg_names(op, data.get("args") or {}, "args", op.args, prefix, required=True)
    errs += _check_arg_names(op, data.get("init") or {}, "init", op.init, prefix, required=False)
    for key in (data.get("matrix") or {}):
        section, name = key.split(".", 1)
        known = op.args if section == "args" else op.init
        if name not in {a.name for a in known}:
            errs.append((["matrix", key], f"{prefix}.matrix.{key}", f"{op.name} has no {section} argument {name!r}",
                         f"{section}: {', '.join(a.name for a in known) or '(none)'}"))
    for dtype in data.get("dtypes") or ["float32"]:
        try:
            resolve_tolerance(data.get("tolerance"), dtype)
            exp = data.get("expect")
            if isinstance(exp, dict):
                resolve_tolerance(exp.get("tolerance"), dtype)
        except ToleranceError as exc:
            problem = str(exc).split(": ", 1)[1] if str(exc).startswith(exc.field.split(".")[0] + ":") else str(exc)
            problem, _, hint = problem.partition(" (")
            errs.append((exc.field.split("."), f"{prefix}.{exc.field}", problem, hint.rstrip(")")))
            break
    for name in data.get("grad") or []:
        arg = op.arg(name)
        differentiable = ", ".join(op.differentiable) or "none"
        if arg is None:
            errs.append((["grad"], f"{prefix}.grad", f"{op.name} has no argument {name!r}", f"differentiable: {differentiable}"))
        elif arg.role == "int":
            errs.append((["grad"], f"{prefix}.grad", f"{name} is an integer tensor: it has no gradient",
                         f"differentiable arguments of {op.name}: {differentiable}"))
        elif name not in op.differentiable:
            errs.append((["grad"], f"{prefix}.grad", f"TF does not differentiate {op.name} with respect to {name}",
                         f"differentiable: {differentiable}"))
    for key in ("same_as", "differs_from"):
        for j, comp in enumerate(data.get(key) or []):
            try:
                other = reg.get(comp["op"])
            except UnknownOpError as exc:
                errs.append(([key, j, "op"], f"{prefix}.{key}[{j}].op", str(exc), ""))
                continue
            for name in comp.get("args") or {}:
                if other.arg(name) is None:
                    errs.append(([key, j, "args", name], f"{prefix}.{key}[{j}].args.{name}", f"unknown argument of {other.name}",
                                 f"its arguments: {', '.join(a.name for a in other.args)}"))
    errs += _check_values(op, data, path, prefix)
    if errs:
        return None, errs
    case = Case(id=data["id"], op=op, data=data, path=path, display_path=shown, line=data.line,
                key_lines=data.key_lines, warnings=[alias_warning] if alias_warning else [])
    return case, []


def _check_arg_names(op: OpSpec, given: dict, section: str, known, prefix: str, required: bool) -> list:
    errs = []
    names = [a.name for a in known]
    for name in given:
        if name not in names:
            hint = _closest(str(name), names)
            hint = (hint + "; " if hint else "") + f"{op.name} takes {section}: {', '.join(names) or '(none)'}"
            errs.append(([section, name], f"{prefix}.{section}.{name}", "unknown argument", hint))
    return errs


def _check_values(op: OpSpec, data: LineDict, path: Path, prefix: str) -> list:
    """Materialize every literal and generator once (cheaply, in float64) so bad values
    are reported at load time with their line, not mid-run; also checks required args
    (after matrix values are taken into account) and choices of value args."""
    errs = []
    args = dict(data.get("args") or {})
    matrix = data.get("matrix") or {}
    for a in op.args:
        if a.required and a.name not in args and f"args.{a.name}" not in matrix:
            errs.append((["args"], f"{prefix}.args.{a.name}", "missing required argument",
                         f"{op.name} needs {', '.join(x.name for x in op.args if x.required)}"))
    combos = [dict(zip(matrix, vals)) for vals in itertools.product(*matrix.values())] or [{}]
    for section, specs in (("args", op.args), ("init", op.init)):
        given = data.get(section) or {}
        for a in specs:
            values = [(given[a.name], [section, a.name])] if a.name in given else []
            values += [(c[f"{section}.{a.name}"], ["matrix", f"{section}.{a.name}"]) for c in combos if f"{section}.{a.name}" in c]
            for value, where in values:
                if a.choices and value not in a.choices and data.get("expect_error") is None:
                    errs.append((where, f"{prefix}.{section}.{a.name}", f"{value!r} is not allowed",
                                 f"one of {', '.join(map(repr, a.choices))}"))
                    continue
                if a.role == "value":
                    continue
                try:
                    inputs.materialize(f"{prefix}.{section}.{a.name}", value, a.role, "float64",
                                       seed=0, base_dir=path.parent, dry=True)
                except inputs.InputError as exc:
                    errs.append((where, exc.field, exc.problem, exc.hint))
    return errs


def expected_dtype_names() -> list[str]:
    return list(DTYPES)


__all__ = ["CaseError", "Case", "LoadedFile", "load_file", "discover", "CASE_KEYS"]
