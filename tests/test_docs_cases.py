"""The document cases stay traceable: every case names its source document, its id carries
that document's number, and cases/docs/README.md gives each case a verdict row."""
import re
from pathlib import Path

import pytest

from harness.loader import load_file
from harness.yamlio import load_yaml

DOCS = Path(__file__).resolve().parents[1] / "cases" / "docs"
FILES = sorted(DOCS.glob("*.yaml"))


def loaded_cases():
    """(path, id, case mapping) of every case as written, valid or not."""
    for path in FILES:
        doc = load_yaml(path)
        defaults = doc.get("defaults") or {}
        for case in doc["cases"]:
            yield path, case["id"], {**defaults, **case}


def test_every_document_has_a_case_file():
    assert [p.name for p in FILES] == [f"doc00{i}.yaml" for i in range(5)]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_loads_without_errors(path):
    assert [str(e) for e in load_file(path, path.name).errors] == []


def test_each_case_names_its_document():
    for path, case_id, case in loaded_cases():
        source = case.get("source", "")
        number = re.fullmatch(r"(\d{3})_[0-9a-f]{16}\.txt", source)
        assert number, f"{case_id}: source {source!r} is not a document file name"
        assert case_id.startswith(f"doc{number.group(1)}-"), case_id
        assert path.stem == f"doc{number.group(1)}", case_id


def test_readme_has_a_row_per_case():
    readme = (DOCS / "README.md").read_text()
    listed = set(re.findall(r"`(doc\d{3}-[A-Za-z0-9._-]+)`", readme))
    ids = {case_id for _, case_id, _ in loaded_cases()}
    assert ids - listed == set(), "cases without a README row"
    assert listed - ids == set(), "README rows for cases that do not exist"


def test_published_numbers_keep_their_reason():
    """A published value checked with a tolerance says why (rounding, float64 drift)."""
    for _, case_id, case in loaded_cases():
        expect = case.get("expect")
        if isinstance(expect, dict) and "tolerance" in expect:
            assert "reason" in expect["tolerance"] or all(
                "reason" in v for v in expect["tolerance"].values()), case_id
