"""cases/schema.json is the published schema, and every shipped case file satisfies it."""
import json
from pathlib import Path

import jsonschema
import pytest

from harness.loader import discover, load_file
from harness.schema import FILE_SCHEMA, schema_json
from harness.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[1]
CASE_FILES = discover([ROOT / "cases"])


def test_published_schema_is_current():
    assert (ROOT / "cases" / "schema.json").read_text() == schema_json(), "run: python -m harness schema > cases/schema.json"


def test_schema_is_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_json()))


@pytest.mark.parametrize("path", CASE_FILES, ids=[str(p.relative_to(ROOT)) for p in CASE_FILES])
def test_shipped_case_files_are_valid(path):
    jsonschema.validate(json.loads(json.dumps(load_yaml(path))), FILE_SCHEMA)
    assert [str(e) for e in load_file(path).errors] == []
