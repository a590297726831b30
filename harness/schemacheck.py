"""A compiled yes/no check of the case schema, so that valid cases do not pay for jsonschema.

:func:`compile_schema` turns a JSON Schema (the subset :mod:`harness.schema` uses) into a
function ``valid(instance) -> bool`` that is True only where jsonschema's Draft 2020-12
validator finds no error. It gives no messages: the loader asks jsonschema (imported
then, not at start-up) for the errors of an instance this check does not pass.

Each keyword is read the way jsonschema reads it (its type checker: ``bool`` is neither a
number nor an integer, ``1.0`` is an integer; ``properties``, ``required`` and the like
apply to mappings only, ``minLength`` and ``pattern`` to strings only, ...). Where the
check cannot be sure (``uniqueItems`` over anything but strings, an unexpected exception)
it raises :class:`Unsure` inside, which makes the whole answer False: jsonschema decides.
A keyword it does not know makes :func:`compile_schema` raise :class:`Unsupported`, so a
schema that grows a new keyword is never checked wrongly (the loader then uses jsonschema
for every instance, and a test says so).
"""
from __future__ import annotations

import numbers
import re
from typing import Any, Callable

Check = Callable[[Any], bool]

ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$comment", "default", "examples"})
"""Keywords that never make an instance invalid."""


class Unsupported(ValueError):
    """The schema uses a keyword (or a form of one) this module does not compile."""


class Unsure(Exception):
    """The compiled check cannot tell; jsonschema must."""


def _is_integer(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, numbers.Number)


TYPES: dict[str, Check] = {
    "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
    "integer": _is_integer,
    "null": lambda x: x is None,
    "number": _is_number,
    "object": lambda x: isinstance(x, dict),
    "string": lambda x: isinstance(x, str),
}


def _strings(values: Any, keyword: str) -> frozenset:
    if not isinstance(values, list) or not all(type(v) is str for v in values):
        raise Unsupported(f"{keyword} with values other than strings")
    return frozenset(values)


def _unique_strings(x: list) -> bool:
    if not all(isinstance(v, str) for v in x):
        raise Unsure  # jsonschema's equality keeps 1, 1.0 and True apart, and more
    return len(set(x)) == len(x)


def _compile(schema: Any) -> Check:
    if schema is True:
        return lambda x: True
    if schema is False:
        return lambda x: False
    if not isinstance(schema, dict):
        raise Unsupported(f"schema {schema!r}")
    checks: list[Check] = []
    props: dict[str, Check] | None = None
    extra: Check | None = None
    for key, value in schema.items():
        if key in ANNOTATIONS or key in ("then", "else"):
            continue
        if key == "type":
            names = value if isinstance(value, list) else [value]
            if not all(n in TYPES for n in names):
                raise Unsupported(f"type {value!r}")
            tests = tuple(TYPES[n] for n in names)
            checks.append(lambda x, tests=tests: any(t(x) for t in tests))
        elif key == "properties":
            props = {name: _compile(sub) for name, sub in value.items()}
        elif key == "additionalProperties":
            extra = _compile(value)
        elif key == "required":
            names = tuple(_strings(value, key))
            checks.append(lambda x, names=names: not isinstance(x, dict) or all(n in x for n in names))
        elif key == "enum":
            allowed = _strings(value, key)
            checks.append(lambda x, allowed=allowed: isinstance(x, str) and x in allowed)
        elif key == "const":
            if type(value) is not str:
                raise Unsupported("const other than a string")
            checks.append(lambda x, value=value: isinstance(x, str) and x == value)
        elif key == "pattern":
            regex = re.compile(value)
            checks.append(lambda x, regex=regex: not isinstance(x, str) or regex.search(x) is not None)
        elif key == "minLength":
            checks.append(lambda x, n=value: not isinstance(x, str) or len(x) >= n)
        elif key == "minItems":
            checks.append(lambda x, n=value: not isinstance(x, list) or len(x) >= n)
        elif key == "minProperties":
            checks.append(lambda x, n=value: not isinstance(x, dict) or len(x) >= n)
        elif key == "minimum":
            checks.append(lambda x, n=value: not _is_number(x) or not x < n)
        elif key == "uniqueItems":
            if value:
                checks.append(lambda x: not isinstance(x, list) or _unique_strings(x))
        elif key == "items":
            item = _compile(value)
            checks.append(lambda x, item=item: not isinstance(x, list) or all(item(v) for v in x))
        elif key == "propertyNames":
            name = _compile(value)
            checks.append(lambda x, name=name: not isinstance(x, dict) or all(name(k) for k in x))
        elif key == "if":
            cond = _compile(value)
            then = _compile(schema.get("then", True))
            other = _compile(schema.get("else", True))
            checks.append(lambda x, cond=cond, then=then, other=other: then(x) if cond(x) else other(x))
        else:
            raise Unsupported(f"keyword {key!r}")
    if props is not None or extra is not None:
        props = props or {}
        if extra is None:
            def mapping(x, props=props):
                return not isinstance(x, dict) or all(props[k](v) for k, v in x.items() if k in props)
        else:
            def mapping(x, props=props, extra=extra):
                if not isinstance(x, dict):
                    return True
                for k, v in x.items():
                    check = props.get(k)
                    if not (check(v) if check is not None else extra(v)):
                        return False
                return True
        checks.append(mapping)
    if len(checks) == 1:
        return checks[0]
    checks_t = tuple(checks)
    return lambda x: all(c(x) for c in checks_t)


def compile_schema(schema: dict) -> Check:
    """``valid(instance)``: True only if jsonschema (Draft 2020-12) finds no error in
    ``instance`` against ``schema``; False when it may (ask jsonschema). Raises
    :class:`Unsupported` for a schema using keywords this module does not know."""
    check = _compile(schema)

    def valid(instance: Any) -> bool:
        try:
            return bool(check(instance))
        except Exception:  # Unsure, or anything unexpected: jsonschema decides
            return False

    return valid
