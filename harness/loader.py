"""Loading and validating case files.

Every problem becomes a :class:`CaseError` whose text is one line,
``path:line: field: problem (hint)``, naming the file, the line of the culprit, the
field and a fix. A bad case does not spoil its file: the other cases in the file are
still returned and run. A file-level problem (YAML syntax, an unknown top-level key, bad
``defaults:``) stops the whole file, since every case would be read wrongly.

:func:`load_file` never raises: an unexpected exception inside becomes a ``CaseError``
too (field ``(harness)``), so one strange file cannot stop a run.
"""
from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness import inputs
from harness.registry import OpSpec, UnknownOpError, registry
from harness.schema import CASE_KEYS, CASE_SCHEMA, DEFAULTS_SCHEMA
from harness.schemacheck import Unsupported, compile_schema
from harness.vocab import MODES
from harness.tolerances import ToleranceError, resolve_tolerance
from harness.reuse import REUSE as _REUSE
from harness.yamlio import LineDict, YamlError, load_yaml

if TYPE_CHECKING:
    import jsonschema

CASE_SUFFIXES = (".yaml", ".yml")
TOP_KEYS = ("cases", "defaults")
SHAPE_CHECK_ELEMENTS = 1_000_000
"""Inputs bigger than this are not generated at load time for the op's shape check;
the runner still checks them before TF runs."""
SHAPE_CHECK_COMBOS = 16
"""Matrix combinations whose shapes are checked at load time."""

EXAMPLES = {
    "id": "id: softmax-basic",
    "op": "op: tf.nn.softmax",
    "source": "source: 000_da8c9ec7f04c9b53.txt",
    "description": "description: what the case shows",
    "args": "args: {logits: [1.0, 2.0]}",
    "init": "init: {from_logits: true}",
    "dtypes": "dtypes: [float32, float64]",
    "tolerance": "tolerance: {rtol: 1e-5, atol: 1e-6, reason: why the default is not enough}",
    "expect": "expect: [0.5, 0.5]",
    "expect_error": "expect_error: InvalidArgumentError",
    "type": "type: InvalidArgumentError",
    "match": "match: 'must be'",
    "same_as": "same_as: [{op: tf.nn.softmax, args: {logits: $logits}}]",
    "differs_from": "differs_from: [{op: tf.nn.log_softmax, args: {logits: $logits}}]",
    "matrix": "matrix: {args.axis: [0, -1]}",
    "xfail": "xfail: why this case is expected to fail",
    "impl": "impl: [torch-native]",
    "rtol": "rtol: 1e-5",
    "atol": "atol: 1e-6",
    "ulp": "ulp: 4",
    "reason": "reason: why the default is not enough",
    "then": "then: mean",
    "value": "value: 0.5",
}
TYPE_WORDS = {"string": "a string", "number": "a number", "integer": "an integer", "array": "a list",
              "object": "a mapping", "boolean": "true or false", "null": "null"}
ARG_SYNONYMS = {
    # other APIs' names for the same argument: TF1 `dim`, Keras y_true/y_pred vs tf.nn
    "dim": ("axis",), "axis": ("dim",),
    "y_true": ("labels", "onehot_labels", "multi_class_labels", "targets"),
    "y_pred": ("logits", "predictions", "log_input"),
    "labels": ("y_true", "onehot_labels", "multi_class_labels", "targets"),
    "logits": ("y_pred", "predictions", "log_input"),
    "predictions": ("y_pred", "logits"),
    "sample_weight": ("weights",), "weights": ("sample_weight",),
}
TOLERANCE_HINTS = {
    "not both": "ulp replaces rtol and atol: keep one or the other",
    "give rtol": "e.g. {rtol: 1e-5, atol: 1e-6, reason: ...} or {ulp: 4, reason: ...}",
}


@dataclass
class CaseError:
    path: str
    line: int
    field: str
    problem: str
    hint: str = ""
    case_id: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.field}: {self.problem}" + (f" ({self.hint})" if self.hint else "")
        return " ".join(text.split())  # always one line


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


# (path inside the checked mapping, field, problem, hint)
Problem = tuple[list, str, str, str]


def _closest(word: str, options) -> str:
    match = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else ""


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _got(value: Any) -> str:
    """``got a list [1, 2]``, ``got null``: what a value is, for error messages."""
    if value is None or isinstance(value, bool):
        return f"got {inputs.short(value)}"
    return f"got {_kind(value)} {inputs.short(value)}"


def _line_at(doc: Any, path) -> int:
    """The line of the deepest mapping key or list item along ``path``."""
    line, node = getattr(doc, "line", 1), doc
    for part in path:
        if isinstance(node, LineDict):
            if part not in node:
                break
            line = node.line_of(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
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


def _example(path) -> str:
    """``e.g. key: value`` for the last key along ``path``."""
    names = [p for p in path if isinstance(p, str)]
    example = EXAMPLES.get(names[-1], "") if names else ""
    return f"e.g. {example}" if example else "see README 'The case format'"


def _schema_error(e: jsonschema.ValidationError, prefix: str) -> list[Problem]:
    """One jsonschema error as problems with a fix."""
    path = list(e.absolute_path)
    fld = _field(prefix, path) or "(file)"
    key = path[-1] if path else ""
    if e.validator == "additionalProperties":
        allowed = list(e.schema.get("properties", {}))
        out = []
        for name in sorted(set(e.instance) - set(allowed), key=str):
            hint = _closest(name, allowed) or f"allowed keys: {', '.join(allowed)}"
            out.append((path + [name], _field(prefix, path + [name]), "unknown key", hint))
        return out
    if e.validator == "required":
        missing = e.message.split("'")[1]
        return [(path, _field(prefix, path + [missing]), "missing required key", f"add {EXAMPLES.get(missing, missing + ': ...')}")]
    if "propertyNames" in e.absolute_schema_path:
        name = e.instance
        return [(path + [name], _field(prefix, path + [name]), f"matrix key {name!r} does not say which arguments it varies",
                 f"write args.{name} for a call argument or init.{name} for a constructor argument")]
    if e.validator == "type":
        expected = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        words = " or ".join(TYPE_WORDS.get(t, t) for t in expected)
        hint = _example(path)
        if expected == ["string"] and isinstance(e.instance, (int, float)) and not isinstance(e.instance, bool):
            hint = f"quote it: {key}: '{e.instance}'"
        return [(path, fld, f"must be {words}, {_got(e.instance)}", hint)]
    if e.validator == "pattern" and key == "id":
        suggestion = re.sub(r"[^A-Za-z0-9._-]+", "-", str(e.instance)).strip("-") or "my-case"
        return [(path, fld, f"{e.instance!r} has characters other than letters, digits, '.', '_' and '-'",
                 f"e.g. id: {suggestion}")]
    if e.validator == "enum":
        options = [str(v) for v in e.validator_value]
        close = _closest(str(e.instance), options)
        return [(path, fld, f"{inputs.short(e.instance)} is not allowed",
                 (close + " " if close else "") + f"one of {', '.join(options)}")]
    if e.validator in ("minItems", "minProperties"):
        if "matrix" in path:
            return [(path, fld, "needs at least one value", f"e.g. {key}: [value1, value2], or remove it")]
        return [(path, fld, "needs at least one item", f"{_example(path)}, or remove it")]
    if e.validator == "minLength":
        return [(path, fld, "must not be empty", _example(path))]
    if e.validator == "minimum":
        return [(path, fld, f"must be >= {e.validator_value}, got {inputs.short(e.instance)}",
                 f"tolerances are distances: {_example(path)}")]
    if e.validator == "const":
        return [(path, fld, f"must be {e.validator_value!r}, got {inputs.short(e.instance)}", _example(path))]
    if e.validator == "uniqueItems":
        return [(path, fld, f"repeats an item in {inputs.short(e.instance)}", "list each value once")]
    return [(path, fld, e.message.splitlines()[0], "see README 'The case format'")]


def _valid_check(schema: dict):
    """The compiled yes/no check of ``schema`` (:mod:`harness.schemacheck`), or None when
    it uses a keyword that module does not compile (jsonschema then checks every instance)."""
    key = id(schema)
    if key not in _VALID:
        try:
            _VALID[key] = (schema, compile_schema(schema))
        except Unsupported:
            _VALID[key] = (schema, None)
    return _VALID[key][1]


_VALID: dict = {}
"""Compiled checks by the id of their schema (held, so the id is not reused)."""


def _schema_errors(obj: dict, schema: dict, prefix: str) -> list[Problem]:
    """jsonschema errors as problems, in document order; a missing key that an unknown
    key was probably meant to be is not reported twice. An instance the compiled check
    passes has none, and jsonschema (imported here, for the first invalid one) is not asked."""
    valid = _valid_check(schema)
    if valid is not None and valid(obj):
        return []
    import jsonschema

    out: list[Problem] = []
    validator = jsonschema.Draft202012Validator(schema)
    for err in sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path]):
        if err.context:  # a combinator: report the branch that got furthest
            err = max(err.context, key=lambda e: len(e.absolute_path))
        out += _schema_error(err, prefix)
    unknown = {f for _, f, problem, _ in out if problem == "unknown key"}
    meant = set()
    for _, f, problem, hint in out:
        if problem == "unknown key" and hint.startswith("did you mean "):
            meant.add(f.rsplit(".", 1)[0] + "." + hint.split("'")[1])
    return [p for p in out if not (p[2] == "missing required key" and p[1] in meant and unknown)]


def _duplicate_keys(node: Any, path: list) -> list[tuple[list, str, int, int]]:
    """Keys written twice anywhere below ``node``: (path, key, first line, repeated line)."""
    found = []
    if isinstance(node, LineDict):
        for key, first, again in getattr(node, "duplicates", []):
            found.append((path + [key], key, first, again))
        for key, value in node.items():
            if isinstance(value, (dict, list)):  # a scalar has no keys
                found += _duplicate_keys(value, path + [key])
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                found += _duplicate_keys(value, path + [i])
    return found


def _duplicate_problems(node: Any, prefix: str, path: list) -> list[tuple[int, str, str, str]]:
    out = []
    for where, key, first, again in _duplicate_keys(node, path):
        value = node
        for part in where:
            value = value[part]
        hint = f"merge the two into one {key}:" if isinstance(value, dict) else "keep one of them"
        out.append((again, _field(prefix, where), f"key {key!r} also written at line {first}; "
                                                  "YAML would silently keep only this one", hint))
    return out


def discover(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.rglob("*") if q.suffix in CASE_SUFFIXES and q.is_file())
        else:
            files.append(p)
    return files


def _internal(exc: BaseException) -> tuple[str, str]:
    text = (str(exc).splitlines() or [""])[0][:200]
    return (f"internal error while loading: {type(exc).__name__}: {text}",
            "a harness bug: please report it with this case file")


def load_file(path: Path, display_path: str | None = None) -> LoadedFile:
    """Load and validate one case file; never raises (see the module docstring)."""
    shown = display_path or str(path)
    result = LoadedFile(path, shown, [], [])
    try:
        _load(result)
    except Exception as exc:  # a bug must not stop the run: it becomes one more error line
        problem, hint = _internal(exc)
        result.errors.append(CaseError(shown, 1, "(harness)", problem, hint))
    return result


def _top_level_problems(doc: LineDict, fail) -> bool:
    """Report unknown and repeated top-level keys; True when there were any."""
    stop = False
    for key in doc:
        if key not in TOP_KEYS:
            hint = _closest(key, TOP_KEYS) or "a case file has only `cases:` and `defaults:`"
            fail(doc.line_of(key), str(key), "unknown top-level key", hint)
            stop = True
    for key, first, again in getattr(doc, "duplicates", []):
        fail(again, str(key), f"also written at line {first}; YAML would silently keep only this one",
             f"merge the two into one {key}:")
        stop = True
    return stop


def _defaults(doc: LineDict, fail) -> LineDict | None:
    """The file's ``defaults:`` (empty when absent), or None after reporting what is wrong with it."""
    defaults = doc.get("defaults")
    if defaults is None:
        defaults = LineDict()
        defaults.key_lines = {}
    if not isinstance(defaults, dict):
        fail(doc.line_of("defaults"), "defaults", f"must be a mapping, got {_kind(defaults)}",
             "e.g. defaults: {dtypes: [float32, float64]}")
        return None
    default_errors = [(_line_at(doc, ["defaults"] + list(p)), f, pr, h) for p, f, pr, h in
                      _schema_errors(defaults, DEFAULTS_SCHEMA, "defaults")]
    default_errors += _duplicate_problems(defaults, "defaults", [])
    for line, fld, problem, hint in sorted(default_errors):
        fail(line, fld, problem, hint)
    return None if default_errors else defaults


def _load(result: LoadedFile) -> None:
    path, shown = result.path, result.display_path

    def fail(line: int, fld: str, problem: str, hint: str = "", case_id: str | None = None) -> None:
        result.errors.append(CaseError(shown, line, fld, problem, hint, case_id))

    try:
        doc = load_yaml(path)
    except FileNotFoundError:
        return fail(1, "(file)", "file not found", "check the path")
    except IsADirectoryError:
        return fail(1, "(file)", "is a directory", "give a case file, or the directory to verify")
    except YamlError as exc:
        return fail(exc.line, "(file)", exc.problem, exc.hint)
    if doc is None:
        return fail(1, "(file)", "empty file", "a case file needs `cases:` with a list of cases")
    if not isinstance(doc, dict):
        return fail(getattr(doc, "line", 1), "(file)", f"top level is {_kind(doc)}, not a mapping",
                    "start the file with `cases:` and indent the list of cases under it")
    if _top_level_problems(doc, fail):
        return
    if "cases" not in doc:
        return fail(doc.line, "cases", "missing", "add `cases:` with a list of cases")
    cases = doc["cases"]
    if not isinstance(cases, list):
        return fail(doc.line_of("cases"), "cases", f"must be a list of cases, got {_kind(cases)}",
                    "each case starts with `- id: ...` under `cases:`")
    if not cases:
        return fail(doc.line_of("cases"), "cases", "the list is empty", "add a case, or delete the file")
    defaults = _defaults(doc, fail)
    if defaults is None:
        return

    seen: dict[str, int] = {}
    for i, raw in enumerate(cases):
        line = cases.item_lines[i] if hasattr(cases, "item_lines") else doc.line_of("cases")
        prefix = f"cases[{i}]"
        case_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
        try:
            _load_case(raw, i, line, prefix, case_id, defaults, seen, result, fail)
        except Exception as exc:  # one case's bug does not spoil the file
            problem, hint = _internal(exc)
            fail(line, prefix, problem, hint, case_id)


def _load_case(raw: Any, i: int, line: int, prefix: str, case_id: str | None, defaults: LineDict,
               seen: dict, result: LoadedFile, fail) -> None:
    path, shown = result.path, result.display_path
    if not isinstance(raw, dict):
        return fail(line, prefix, f"a case must be a mapping, {_got(raw)}",
                    "start it with `- id: ...` and put `op: ...` under it")
    dupes = _duplicate_problems(raw, prefix, [])
    if dupes:
        for again, fld, problem, hint in dupes:
            fail(again, fld, problem, hint, case_id)
        return
    errors = _schema_errors(raw, CASE_SCHEMA, prefix)
    if errors:
        for p, fld, problem, hint in errors:
            fail(_line_at(raw, p), fld, problem, hint, case_id)
        return
    if case_id in seen:
        return fail(raw.line_of("id"), f"{prefix}.id", f"duplicate id {case_id!r}", f"also at {shown}:{seen[case_id]}",
                    case_id)
    seen[case_id] = raw.line_of("id")
    merged = LineDict({**defaults, **raw})
    merged.line, merged.key_lines = raw.line, {**getattr(defaults, "key_lines", {}), **raw.key_lines}
    for key in ("args", "init"):  # mappings merge key by key: a case's args add to the defaults' args
        if isinstance(defaults.get(key), dict) and isinstance(raw.get(key), dict):
            both = LineDict({**defaults[key], **raw[key]})
            both.line = raw[key].line
            both.key_lines = {**getattr(defaults[key], "key_lines", {}), **getattr(raw[key], "key_lines", {})}
            merged[key] = both
    case, errs = _validate_case(merged, path, shown, prefix)
    for p, fld, problem, hint in errs:
        fail(_line_at(merged, p), fld, problem, hint, case_id)
    if case is not None and not errs:
        result.cases.append(case)


def _unknown_op(name: str) -> tuple[str, str]:
    close = registry().closest(name)
    return (f"unknown op {name!r}",
            f"did you mean {', '.join(close)}?" if close else "python -m harness list-ops lists the ops")


def _validate_case(data: LineDict, path: Path, shown: str, prefix: str):
    errs: list[Problem] = []
    reg = registry()
    try:
        op = reg.get(data["op"])
    except UnknownOpError:
        problem, hint = _unknown_op(data["op"])
        return None, [(["op"], f"{prefix}.op", problem, hint)]
    _, alias_warning = reg.resolve_name(data["op"])
    errs += _check_arg_names(op, data.get("args") or {}, "args", prefix, ["args"])
    errs += _check_arg_names(op, data.get("init") or {}, "init", prefix, ["init"])
    for key in (data.get("matrix") or {}):
        section, name = key.split(".", 1)
        errs += _check_arg_names(op, {name: None}, section, prefix, ["matrix", key], field_name=f"matrix.{key}")
    errs += _check_tolerances(data, prefix)
    errs += _check_expect(data, prefix)
    errs += _check_grad(op, data, prefix)
    errs += _check_modes(op, data, prefix)
    errs += _check_cotangent(data, path, prefix)
    for key in ("same_as", "differs_from"):
        for j, comp in enumerate(data.get(key) or []):
            errs += _check_related(data, key, j, comp, path, prefix)
    if errs:
        return None, errs
    errs += _check_values(op, data, path, prefix)
    if not errs and not data.get("expect_error"):
        errs += _check_shapes(op, data, path, prefix)
    if errs:
        return None, errs
    case = Case(id=data["id"], op=op, data=data, path=path, display_path=shown, line=data.line,
                key_lines=data.key_lines, warnings=[alias_warning] if alias_warning else [])
    return case, []


def _arg_hint(op: OpSpec, section: str, name: str) -> str:
    known = op.args if section == "args" else op.init
    names = [a.name for a in known]
    if section == "init" and not names:
        return f"{op.name} is a function: init: is for Keras loss classes; call arguments go under args:"
    if section == "args" and op.init_arg(name) is not None:
        return f"{name} is a constructor argument of {op.name}: put it under init:"
    if section == "init" and op.arg(name) is not None:
        return f"{name} is a call argument of {op.name}: put it under args:"
    synonym = next((s for s in ARG_SYNONYMS.get(name, ()) if s in names), None)
    hint = f"did you mean {synonym!r}?" if synonym else _closest(name, names)
    return (hint + " " if hint else "") + f"{op.name} takes {section}: {', '.join(names) or '(none)'}"


def _check_arg_names(op: OpSpec, given: dict, section: str, prefix: str, where: list,
                     field_name: str | None = None) -> list[Problem]:
    known = {a.name for a in (op.args if section == "args" else op.init)}
    errs = []
    for name in given:
        if name not in known:
            loc = where if field_name else where + [name]
            fld = f"{prefix}.{field_name or f'{section}.{name}'}"
            errs.append((loc, fld, "unknown argument", _arg_hint(op, section, str(name))))
    return errs


def _tolerance_problem(exc: ToleranceError, prefix: str) -> Problem:
    text = str(exc)
    head, sep, rest = text.partition(": ")
    problem = rest if sep and " " not in head else text
    problem, _, hint = problem.partition(" (")
    hint = hint.rstrip(")")
    if not hint:
        hint = next((h for k, h in TOLERANCE_HINTS.items() if k in problem), EXAMPLES["tolerance"])
    return (exc.field.split("."), f"{prefix}.{exc.field}", problem, hint)


def _expect_parts(data: LineDict) -> list[tuple[list, Any]]:
    """``expect`` as (path, spec) pairs: one per execution mode when it is keyed by mode."""
    spec = data.get("expect")
    if isinstance(spec, dict) and spec and set(spec) <= set(MODES):
        return [(["expect", mode], value) for mode, value in spec.items()]
    return [(["expect"], spec)] if "expect" in data else []


def _check_tolerances(data: LineDict, prefix: str) -> list[Problem]:
    for dtype in data.get("dtypes") or ["float32"]:
        try:
            resolve_tolerance(data.get("tolerance"), dtype)
            for where, spec in _expect_parts(data):
                if isinstance(spec, dict):
                    resolve_tolerance(spec.get("tolerance"), dtype, field=".".join(where + ["tolerance"]))
        except ToleranceError as exc:
            return [_tolerance_problem(exc, prefix)]
    return []


def _check_expect(data: LineDict, prefix: str) -> list[Problem]:
    """A published value is numbers (nested lists for tensors and tuple outputs)."""
    def walk(v: Any, where: list) -> list[Problem]:
        if isinstance(v, list):
            return [p for i, x in enumerate(v) for p in walk(x, where + [i])][:1]
        if isinstance(v, str):
            try:
                float(v)
                return []
            except ValueError:
                pass
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            return []
        return [(where, _field(prefix, where), f"non-numeric value {inputs.short(v)}",
                 "published values are numbers, .inf, -.inf or .nan")]

    errs: list[Problem] = []
    for where, spec in _expect_parts(data):
        if isinstance(spec, dict):
            errs += walk(spec.get("value"), where + ["value"])
        elif spec is not None:
            errs += walk(spec, where)
    return errs[:1]


def _check_grad(op: OpSpec, data: LineDict, prefix: str) -> list[Problem]:
    """Every ``grad:`` name is a float argument TF differentiates the op with respect to."""
    errs: list[Problem] = []
    differentiable = ", ".join(op.differentiable) or "none"
    for k, name in enumerate(data.get("grad") or []):
        where = ["grad", k]
        arg = op.arg(name)
        if arg is None:
            close = _closest(name, op.differentiable)
            errs.append((where, _field(prefix, where), f"{op.name} has no argument {name!r}",
                         (close + " " if close else "") + f"differentiable: {differentiable}"))
        elif arg.role == "int":
            errs.append((where, _field(prefix, where), f"{name} is an integer tensor: it has no gradient",
                         f"differentiable arguments of {op.name}: {differentiable}"))
        elif name not in op.differentiable:
            errs.append((where, _field(prefix, where), f"TF does not differentiate {op.name} with respect to {name}",
                         f"differentiable: {differentiable}"))
    return errs


def _check_modes(op: OpSpec, data: LineDict, prefix: str) -> list[Problem]:
    """Every ``modes:`` entry is one the op's record says it runs in."""
    modes = data.get("modes")
    if not isinstance(modes, list):
        return []
    return [(["modes", k], _field(prefix, ["modes", k]), f"{op.name} does not run in {mode} mode",
             f"modes of {op.name}: {', '.join(op.modes)}")
            for k, mode in enumerate(modes) if isinstance(mode, str) and mode not in op.modes]


def _check_cotangent(data: LineDict, path: Path, prefix: str) -> list[Problem]:
    """A random cotangent is a generator without a shape (it takes the output's)."""
    spec = data.get("cotangent")
    if not isinstance(spec, dict):
        return []
    try:
        inputs.raw_array(f"{prefix}.cotangent", {**spec, "shape": [1]}, seed=0, base_dir=path.parent, dry=True)
    except inputs.InputError as exc:
        return [(["cotangent", *exc.subpath], exc.field, exc.problem, exc.hint)]
    return []


def _case_arg_names(data: LineDict) -> list[str]:
    names = list(data.get("args") or {})
    names += [k.split(".", 1)[1] for k in (data.get("matrix") or {}) if k.startswith("args.")]
    return list(dict.fromkeys(names))


def _check_related(data: LineDict, key: str, j: int, comp: dict, path: Path, prefix: str) -> list[Problem]:
    """A same_as/differs_from computation: its op, argument names, ``$name`` references
    and its own argument values."""
    base = [key, j]
    try:
        other = registry().get(comp["op"])
    except UnknownOpError:
        problem, hint = _unknown_op(comp["op"])
        return [(base + ["op"], _field(prefix, base + ["op"]), problem, hint)]
    errs: list[Problem] = []
    mine = _case_arg_names(data)
    for section in ("args", "init"):
        given = comp.get(section) or {}
        errs += _check_arg_names(other, given, section, _field(prefix, base), base + [section])
    if errs:
        return errs
    for k, name in enumerate(comp.get("drop") or []):
        if name not in mine:
            where = base + ["drop", k]
            close = _closest(name, mine)
            errs.append((where, _field(prefix, where), f"drops {name!r}, which this case does not pass",
                         (close + " " if close else "") + f"this case has args: {', '.join(mine) or '(none)'}"))
    for name, value in (comp.get("args") or {}).items():
        where = base + ["args", name]
        if isinstance(value, str) and value.startswith("$"):
            ref = _REUSE.match(value.strip())
            if ref is None:
                errs.append((where, _field(prefix, where), f"{value!r} is not a reuse of this case's argument",
                             "write $name, or $name + 100, $name * 0.5"))
            elif ref.group(1) not in mine:
                errs.append((where, _field(prefix, where), f"{value} names no argument of this case",
                             f"this case has args: {', '.join(mine) or '(none)'}"))
            continue
        arg = other.arg(name)
        try:
            inputs.materialize(_field(prefix, where), value, arg.role, "float64", seed=0, base_dir=path.parent, dry=True)
        except inputs.InputError as exc:
            errs.append((where + list(exc.subpath), exc.field, exc.problem, exc.hint))
    return errs


def _combos(data: LineDict) -> list[dict]:
    matrix = data.get("matrix") or {}
    return [dict(zip(matrix, vals)) for vals in itertools.product(*matrix.values())] or [{}]


def _check_values(op: OpSpec, data: LineDict, path: Path, prefix: str) -> list[Problem]:
    """Materialize every literal and generator once (cheaply, in float64) so bad values
    are reported at load time with their line, not mid-run; also checks required args
    (after matrix values are taken into account) and choices of value args."""
    errs: list[Problem] = []
    args = dict(data.get("args") or {})
    matrix = data.get("matrix") or {}
    needed = [a.name for a in op.args if a.required]
    for name in needed:
        if name not in args and f"args.{name}" not in matrix:
            errs.append((["args"] if "args" in data else [], f"{prefix}.args.{name}", "missing required argument",
                         f"{op.name} needs {', '.join(needed)}"))
    combos = _combos(data)
    for section, specs in (("args", op.args), ("init", op.init)):
        given = data.get(section) or {}
        for a in specs:
            values = [(given[a.name], [section, a.name])] if a.name in given else []
            key, seen = f"{section}.{a.name}", set()
            for k, c in enumerate(combos):  # each matrix value once (combos repeat them: same object, same outcome)
                if key in c and id(c[key]) not in seen:
                    seen.add(id(c[key]))
                    values.append((c[key], ["matrix", key, k]))
            for value, where in values:
                if where[0] == "matrix":  # combos repeat each value: point at its item
                    where = ["matrix", where[1], list(matrix[where[1]]).index(value)]
                # an expect_error case may pass a value TF itself rejects, to pin TF's error
                if a.choices and value not in a.choices and data.get("expect_error") is None:
                    close = _closest(value, a.choices) if isinstance(value, str) else ""
                    errs.append((where, f"{prefix}.{section}.{a.name}", f"{inputs.short(value)} is not allowed",
                                 (close + " " if close else "") + f"one of {', '.join(map(repr, a.choices))}"))
                    break
                if a.role == "value":
                    if value is None and a.required:
                        errs.append((where, f"{prefix}.{section}.{a.name}", "is null, but a value is required",
                                     f"{op.name} needs {a.name}{': ' + a.doc if a.doc else ''}"))
                        break
                    continue
                try:
                    inputs.materialize(f"{prefix}.{section}.{a.name}", value, a.role, "float64",
                                       seed=0, base_dir=path.parent, dry=True)
                except inputs.InputError as exc:
                    errs.append((where + list(exc.subpath), exc.field, exc.problem, exc.hint))
                    break
    return errs


def _shape_input(op: OpSpec, name: str, spec: Any, case_id: str, path: Path) -> Any:
    """One argument as the shape check sees it: materialized in float64, except a float
    tensor drawn at random, which is zeros of its shape (``OpSpec.check`` reads float
    tensors only for their shapes and dtypes; the draw is the runner's)."""
    role, seed = op.arg(name).role, inputs.derive_seed(case_id, name)
    if role == "float":
        standin = inputs.shape_standin(f"args.{name}", spec, seed=seed, base_dir=path.parent,
                                       max_elements=SHAPE_CHECK_ELEMENTS)
        if standin is not None:
            return standin
    return inputs.materialize(f"args.{name}", spec, role, "float64", seed=seed, base_dir=path.parent,
                              max_elements=SHAPE_CHECK_ELEMENTS)


def _check_shapes(op: OpSpec, data: LineDict, path: Path, prefix: str) -> list[Problem]:
    """The op's own pre-flight rule (``OpSpec.check``) on the concrete inputs, so shapes
    TF would reject are stated at load time, at the argument's line. Inputs larger than
    :data:`SHAPE_CHECK_ELEMENTS` are left to the runner's identical check."""
    if op.check is None:
        return []
    matrix = data.get("matrix") or {}
    for combo in _combos(data)[:SHAPE_CHECK_COMBOS]:
        args = dict(data.get("args") or {})
        init = dict(data.get("init") or {})
        for key, value in combo.items():
            section, name = key.split(".", 1)
            (args if section == "args" else init)[name] = value
        try:
            arrays = {name: _shape_input(op, name, spec, data["id"], path) for name, spec in args.items()}
        except inputs.InputError:
            continue  # too large to build here: the runner checks it
        try:
            problem = op.check({k: inputs._plain(v) for k, v in init.items()}, arrays)
        except Exception:  # a rule that cannot judge these values: the runner reports it
            continue
        if not problem:
            continue
        named = sorted((m.start(), n) for n in arrays for m in [re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])",
                                                                          problem)] if m)
        name = named[0][1] if named else None
        if name is None:
            where, fld = ["args"], f"{prefix}.args"
        elif f"args.{name}" in combo:
            where, fld = ["matrix", f"args.{name}"], f"{prefix}.args.{name}"
        else:
            where, fld = ["args", name], f"{prefix}.args.{name}"
        return [(where, fld, problem, "TF would reject these inputs; fix the shapes, or add expect_error to test the rejection")]
    return []


__all__ = ["CaseError", "Case", "LoadedFile", "load_file", "discover", "CASE_KEYS"]
