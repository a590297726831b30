"""The reference is pure NumPy: importing it never imports TensorFlow or Keras."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "harness" / "reference"


def test_reference_imports_no_tensorflow_at_runtime():
    code = (
        "import sys, pkgutil, importlib, harness.reference as r\n"
        "for m in pkgutil.iter_modules(r.__path__): importlib.import_module('harness.reference.' + m.name)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('tensorflow', 'keras', 'tf_keras', 'jax', 'torch'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reference_source_has_no_tensorflow_import():
    for path in REFERENCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in ("tensorflow", "keras"), f"{path}: imports {name}"


def test_reference_imports_nothing_of_the_harness_outside_it():
    """The reference keeps its own dtype rules (``dtypes``) instead of the harness's."""
    for path in REFERENCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
                assert node.module.startswith("harness.reference"), f"{path}: imports {node.module}"
            if isinstance(node, ast.Import):
                for a in node.names:
                    assert not a.name.startswith("harness") or a.name.startswith("harness.reference"), path
