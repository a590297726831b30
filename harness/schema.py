"""The JSON Schema of a case file, published as ``cases/schema.json``.

``python -m harness schema > cases/schema.json`` regenerates the published file; a test
checks the two agree. Semantic checks the schema cannot express (the op exists, its
arguments are known, shapes TF would reject) are done by :mod:`harness.loader`.
"""
from __future__ import annotations

import json

from harness.vocab import FLOAT_DTYPES, MODES as VOCAB_MODES

DTYPES = list(FLOAT_DTYPES)
INT_DTYPES = ["int8", "int16", "int32", "int64", "uint8"]
ID_PATTERN = r"^[A-Za-z0-9._-]+$"
CASE_KEYS = [
    "id", "op", "source", "description", "args", "init", "dtypes", "tolerance", "expect",
    "expect_error", "same_as", "differs_from", "matrix", "xfail", "grad", "cotangent", "modes", "reference",
    "impl",
]
MODES = list(VOCAB_MODES)

_tol_one = {
    "type": "object",
    "properties": {
        "rtol": {"type": "number", "minimum": 0},
        "atol": {"type": "number", "minimum": 0},
        "ulp": {"type": "integer", "minimum": 0},
        "reason": {"type": "string", "minLength": 1},
    },
    "additionalProperties": False,
}
_tolerance = {
    "description": "{rtol, atol, reason} or {ulp, reason}, or a mapping keyed by dtype of those",
    "type": "object",
    "if": {"propertyNames": {"enum": DTYPES}, "minProperties": 1},
    "then": {"additionalProperties": _tol_one},
    "else": _tol_one,
}
def _by_mode(schema: dict) -> dict:
    """``schema``, or a mapping keyed by execution mode of it (``{eager: ..., xla: ...}``)."""
    return {
        "if": {"type": "object", "minProperties": 1, "propertyNames": {"enum": MODES}},
        "then": {"additionalProperties": schema},
        "else": schema,
    }


_computation = {
    "type": "object",
    "required": ["op"],
    "properties": {
        "op": {"type": "string"},
        "args": {"type": "object"},
        "init": {"type": "object"},
        "then": {"enum": ["mean", "sum"]},
        "scale": {"type": "number", "description": "multiply the (reduced) result by this"},
        "drop": {"type": "array", "items": {"type": "string"},
                 "description": "arguments of this case NOT to pass on (the op's default is used)"},
        "description": {"type": "string"},
    },
    "additionalProperties": False,
}
_case_properties = {
    "id": {"type": "string", "pattern": ID_PATTERN},
    "op": {"type": "string", "description": "TF public name, e.g. tf.nn.softmax_cross_entropy_with_logits"},
    "source": {"type": "string"},
    "description": {"type": "string"},
    "args": {"type": ["object", "null"], "description": "call arguments by TF keyword name (empty: none)"},
    "init": {"type": ["object", "null"], "description": "Keras loss-class constructor arguments (empty: none)"},
    "dtypes": {"type": "array", "items": {"enum": DTYPES}, "minItems": 1, "uniqueItems": True},
    "tolerance": _tolerance,
    "expect": _by_mode({
        "description": "published value, or {value, tolerance}",
        "if": {"type": "object"},
        "then": {
            "type": "object",
            "required": ["value"],
            "properties": {"value": {}, "tolerance": _tolerance},
            "additionalProperties": False,
        },
        "else": {"type": ["number", "string", "array"]},
    }),
    "expect_error": _by_mode({
        "description": "a TF error class name, or {type, match}",
        "if": {"type": "object"},
        "then": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string", "minLength": 1}, "match": {"type": "string"}},
            "additionalProperties": False,
        },
        "else": {"type": "string", "minLength": 1},
    }),
    "same_as": {"type": "array", "items": _computation},
    "differs_from": {"type": "array", "items": _computation},
    "matrix": {
        "type": "object",
        "propertyNames": {"pattern": r"^(args|init)\.[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties": {"type": "array", "minItems": 1},
    },
    "xfail": {"type": "string", "minLength": 1},
    "reference": {"type": "boolean", "description": "false: an identity check on TF alone (no reference side)"},
    "grad": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True,
             "description": "float arguments whose gradient (of sum(output * cotangent)) is compared"},
    "cotangent": {
        "description": "ones (default) or a random generator; its shape is the output's",
        "if": {"type": "object"},
        "then": {"type": "object", "required": ["random"],
                 "properties": {"random": {"enum": ["normal", "uniform"]}, "loc": {"type": "number"},
                                "scale": {"type": "number"}, "low": {"type": "number"}, "high": {"type": "number"},
                                "seed": {"type": "integer"}},
                 "additionalProperties": False},
        "else": {"const": "ones"},
    },
    "modes": {"type": "array", "items": {"enum": MODES}, "minItems": 1, "uniqueItems": True,
              "description": "TF execution modes: eager, function (tf.function), xla (jit_compile=True)"},
    "impl": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "uniqueItems": True,
             "description": "implementations this case checks whatever --impl says (numpy, torch, jax, "
                            "torch-native, jax-native, a module name or a .py path)"},
}
assert sorted(_case_properties) == sorted(CASE_KEYS)

CASE_SCHEMA = {
    "type": "object",
    "required": ["id", "op"],
    "properties": _case_properties,
    "additionalProperties": False,
}
DEFAULTS_SCHEMA = {
    "type": "object",
    "properties": {k: v for k, v in _case_properties.items() if k not in ("id",)},
    "additionalProperties": False,
}
FILE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "tf-parity/case-file",
    "title": "tf-parity case file",
    "type": "object",
    "required": ["cases"],
    "properties": {
        "defaults": DEFAULTS_SCHEMA,
        "cases": {"type": "array", "items": CASE_SCHEMA},
    },
    "additionalProperties": False,
}


def schema_json() -> str:
    return json.dumps(FILE_SCHEMA, indent=2, sort_keys=False) + "\n"
