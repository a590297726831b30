"""The compiled schema check (harness.schemacheck) passes only what jsonschema passes.

A pass skips jsonschema, so a wrong pass would hide an error: checked on every case of
every case file, good and bad, and on instances hypothesis draws near the schema; for the
case files (all valid, or invalid in a way both see) the two agree exactly, so the fast
path is the one taken.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import loader
from harness.loader import CASE_SUFFIXES
from harness.schema import CASE_KEYS, CASE_SCHEMA, DEFAULTS_SCHEMA, DTYPES, FILE_SCHEMA, MODES
from harness.schemacheck import Unsupported, compile_schema
from harness.yamlio import YamlError, load_yaml

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(p for d in ("cases", "tests/data") for p in (ROOT / d).rglob("*") if p.suffix in CASE_SUFFIXES)
SCHEMAS = {"case": CASE_SCHEMA, "defaults": DEFAULTS_SCHEMA, "file": FILE_SCHEMA}
VALIDATORS = {name: jsonschema.Draft202012Validator(s) for name, s in SCHEMAS.items()}
CHECKS = {name: compile_schema(s) for name, s in SCHEMAS.items()}


def _docs():
    for path in FILES:
        try:
            doc = load_yaml(path)
        except YamlError:
            continue
        yield path, doc


def test_the_published_schemas_compile():
    """A keyword the compiler does not know would send every case to jsonschema."""
    for name, schema in SCHEMAS.items():
        assert loader._valid_check(schema) is not None or name == "file"
        compile_schema(schema)


def test_unknown_keywords_are_refused_not_ignored():
    for schema in ({"type": "object", "maxProperties": 2}, {"enum": [1, 2]}, {"const": 3}, {"type": "date"},
                   {"oneOf": [{"type": "string"}]}, {"properties": {"a": {"format": "email"}}}):
        with pytest.raises(Unsupported):
            compile_schema(schema)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_case_files_agree_with_jsonschema(path):
    try:
        doc = load_yaml(path)
    except YamlError:
        pytest.skip("not YAML")
    assert CHECKS["file"](doc) == VALIDATORS["file"].is_valid(doc)
    if not isinstance(doc, dict):
        return
    if "defaults" in doc:
        assert CHECKS["defaults"](doc["defaults"]) == VALIDATORS["defaults"].is_valid(doc["defaults"])
    for case in doc.get("cases") or [] if isinstance(doc.get("cases"), list) else []:
        assert CHECKS["case"](case) == VALIDATORS["case"].is_valid(case), case


# Values near the schema: its words and keys, numbers at the edges, wrong types.
_words = st.sampled_from(["", "x", "a b", "id-1", "tf.nn.softmax", "ones", "mean", "sum", "why", "args.axis",
                          "init.from_logits", "args.1x", "bogus.axis", "value", "tolerance", "type", "match",
                          "random", "normal", "uniform", "rtol", "atol", "ulp", "reason", "op", "drop", "then",
                          "scale", "description", "id\n", "float32\n"] + DTYPES + list(MODES) + CASE_KEYS)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, -0.0, 1.0, 2.5, -1e-9, 1e-5,
                     math.inf, -math.inf, math.nan]), _words)
_keys = st.one_of(_words, st.integers(-1, 2), st.booleans(), st.none())
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)), max_leaves=12)
_cases = st.dictionaries(st.one_of(st.sampled_from(CASE_KEYS), _keys), _values, max_size=6)


@settings(max_examples=800, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.one_of(_cases, _values))
def test_drawn_instances_pass_only_what_jsonschema_passes(instance):
    for name in ("case", "defaults"):
        if CHECKS[name](instance):
            assert VALIDATORS[name].is_valid(instance), (name, instance)


_nonneg = st.one_of(st.integers(0, 5), st.sampled_from([0.0, 1e-6, 0.5, math.inf]))
_text = st.sampled_from(["x", "why", "a b", "InvalidArgumentError", "must be"])


def _tolerances():
    valid = st.one_of(st.fixed_dictionaries({"reason": _text}, optional={"rtol": _nonneg, "atol": _nonneg}),
                      st.fixed_dictionaries({"ulp": st.integers(0, 9)}, optional={"reason": _text}))
    one = _either(valid, st.dictionaries(st.sampled_from(["rtol", "atol", "ulp", "reason", "bogus"]), _scalars, max_size=3))
    keyed = st.dictionaries(st.sampled_from(DTYPES + ["x", "float8"]), _either(one), max_size=2)
    return st.one_of(one, keyed)


def _either(valid, noise=_scalars):
    """Mostly the valid form, sometimes anything."""
    return st.integers(0, 11).flatmap(lambda i: noise if i == 5 else valid)


def _by_mode(valid):
    return st.one_of(valid, st.dictionaries(st.sampled_from(list(MODES) + ["graph"]), valid, max_size=2))


_unique = lambda elements: st.lists(elements, min_size=1, max_size=3, unique=True)
_computation = st.fixed_dictionaries({"op": _either(_text)}, optional={
    "args": _either(st.dictionaries(_words, _values, max_size=2)), "init": _either(st.dictionaries(_words, _values, max_size=2)),
    "then": _either(st.sampled_from(["mean", "sum"])), "scale": _either(_nonneg), "drop": _either(st.lists(_text, max_size=2)),
    "description": _either(_text)})
_near = st.fixed_dictionaries(
    {"id": _either(st.sampled_from(["c1", "a.b_c-9", "id\n", "x y"])), "op": _either(st.just("tf.nn.softmax"))},
    optional={
        "source": _either(_text), "description": _either(_text),
        "dtypes": _either(_unique(st.sampled_from(DTYPES)), st.lists(st.sampled_from(DTYPES + ["int32", 1]), max_size=3)),
        "tolerance": _either(_tolerances()),
        "expect": _either(_by_mode(st.one_of(_values, st.fixed_dictionaries({"value": _values}, optional={
            "tolerance": _tolerances()})))),
        "expect_error": _either(_by_mode(st.one_of(_text, st.fixed_dictionaries({"type": _text}, optional={
            "match": _either(_text)})))),
        "matrix": _either(st.dictionaries(st.sampled_from(["args.axis", "init.x", "args.1", "axis"]),
                                          st.lists(_scalars, min_size=0, max_size=2), max_size=2), _values),
        "same_as": _either(st.lists(_computation, max_size=2)),
        "differs_from": _either(st.lists(_computation, max_size=2)),
        "cotangent": _either(st.one_of(st.just("ones"), st.fixed_dictionaries(
            {"random": st.sampled_from(["normal", "uniform", "integers"])},
            optional={"loc": _either(_nonneg), "scale": _either(_nonneg), "low": _either(_nonneg), "high": _either(_nonneg),
                      "seed": _either(st.integers(0, 3))}))),
        "modes": _either(_unique(st.sampled_from(list(MODES))), st.lists(st.sampled_from(list(MODES) + ["graph", 1]),
                                                                          max_size=3)),
        "grad": _either(_unique(_text), st.lists(_scalars, max_size=3)),
        "impl": _either(_unique(st.sampled_from(["numpy", "torch", ""])), st.lists(_scalars, max_size=3)),
        "reference": _either(st.booleans()),
        "xfail": _either(st.sampled_from(["why", ""])),
        "args": _either(st.one_of(st.none(), st.dictionaries(_words, _values, max_size=2))),
        "init": _either(st.one_of(st.none(), st.dictionaries(_words, _values, max_size=2))),
    },
)


@settings(max_examples=2000, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(_near)
def test_near_valid_cases_pass_only_what_jsonschema_passes(instance):
    """About half of these are valid; the rest fail in one place, anywhere in the schema."""
    fast, slow = CHECKS["case"](instance), VALIDATORS["case"].is_valid(instance)
    assert fast == slow, instance


def test_valid_case_files_load_without_importing_jsonschema():
    """jsonschema (70 ms of imports) is for the errors of an invalid case only."""
    code = ("import sys; from pathlib import Path; from harness.loader import discover, load_file\n"
            "files = discover([Path('cases')])\n"
            "assert all(not load_file(f).errors for f in files), 'an invalid case file in cases/'\n"
            "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stdout + out.stderr
