"""Goldens: record TF once, verify without it, see what changes between recordings."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness.goldens import codec
from harness.goldens.drift import compare_stores
from harness.goldens.store import GoldenError, GoldenStore
from tests.conftest import ROOT

CASES = """\
cases:
  - id: g-scce
    op: tf.nn.sparse_softmax_cross_entropy_with_logits
    dtypes: [float16, bfloat16, float32, float64]
    args: {labels: [2, 0, 1], logits: {random: normal, shape: [3, 4], scale: 3.0}}
    grad: [logits]
  - id: g-keras-modes
    op: tf.keras.losses.CategoricalCrossentropy
    init: {from_logits: true}
    modes: [eager, function, xla]
    args: {y_true: {one_hot: [1, 0], depth: 3}, y_pred: [[0.5, 2.0, -1.0], [3.0, 0.0, 0.1]]}
    same_as:
      - op: tf.nn.softmax_cross_entropy_with_logits
        args: {labels: $y_true, logits: $y_pred}
        then: mean
  - id: g-bad-labels
    op: tf.nn.sparse_softmax_cross_entropy_with_logits
    args: {labels: [5], logits: [[1.0, 2.0]]}
    expect_error: {eager: InvalidArgumentError}
    modes: [eager]
  - id: g-clip
    op: tf.clip_by_global_norm
    args: {t_list: [[3.0, 4.0], [[1.0], [2.0]]], clip_norm: 1.0}
"""

BLOCK_TF = textwrap.dedent("""\
    import runpy, sys
    class _NoTF:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ImportError(f"import of {name} blocked: this run must not import TensorFlow")
    sys.meta_path.insert(0, _NoTF())
    sys.argv = ["harness", *sys.argv[1:]]
    try:
        runpy.run_module("harness", run_name="__main__")
    finally:
        assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules), "TF was imported"
""")


def _no_tf_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m harness ARGS`` in a process where ``import tensorflow`` (and keras) fails."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", BLOCK_TF, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


NO_TF_PREFIXES = ("tensorflow", "tensorboard", "keras", "tf_keras")


def venv_without_tf(where: Path) -> Path:
    """A virtual environment holding every package of this one except TensorFlow, Keras and
    TensorBoard (each other package linked in, so it takes a second): its python, in which
    ``import tensorflow`` raises ModuleNotFoundError."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    python = where / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = Path(np.__file__).parents[1]
    for entry in ours.iterdir():
        if not entry.name.lower().replace("-", "_").startswith(NO_TF_PREFIXES) and not (site / entry.name).exists():
            (site / entry.name).symlink_to(entry)
    return python


def _statuses(report: Path) -> dict:
    data = json.loads((report / "results.json").read_text())
    return {c["id"]: (c["status"], c["max_abs_err"]) for c in data["cases"]}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A case file, a live-TF verify run of it, and its goldens (recorded by the CLI)."""
    root = tmp_path_factory.mktemp("goldens")
    (root / "cases").mkdir()
    (root / "cases" / "g.yaml").write_text(CASES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "harness", "record", "cases", "--goldens", "gold"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    live = subprocess.run([sys.executable, "-m", "harness", "verify", "cases", "--report-dir", "live", "-n", "0"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert live.returncode == 0, live.stdout + live.stderr
    return root


def test_arrays_round_trip_bit_for_bit():
    rng = np.random.default_rng(3)
    for dtype in ("float16", "bfloat16", "float32", "float64", "int32", "int64", "bool"):
        for n in (0, 1, 7, 64, 65, 3000):
            arr = (rng.standard_normal(n) * 10.0 ** rng.integers(-4, 4, n)).astype(codec.np_dtype(dtype))
            if dtype.startswith(("float", "bfloat")) and n > 4:
                arr[:4] = [np.nan, np.inf, -np.inf, -0.0]
            back = codec.decode_array(json.loads(json.dumps(codec.encode_array(arr))))
            assert back.dtype == arr.dtype and back.shape == arr.shape
            assert codec._same_bits(arr, back), (dtype, n)
    tree = ([np.float32([0.1, 0.2])], np.float64(0.3))
    back = codec.decode_tree(json.loads(json.dumps(codec.encode_tree(tree))))
    assert isinstance(back, tuple) and isinstance(back[0], list) and back[0][0].dtype == np.float32


def test_small_arrays_are_readable_decimals_in_their_own_dtype():
    enc = codec.encode_array(np.float32([0.1, np.nan, -np.inf]))
    assert enc == {"dtype": "float32", "shape": [3], "values": [0.1, "nan", "-inf"]}


def test_call_key_follows_inputs_not_tolerances():
    args = {"logits": np.float32([[1.0, 2.0]]), "labels": np.int32([1])}
    key = codec.call_key("op", {}, args, "eager")
    assert key == codec.call_key("op", {}, dict(reversed(list(args.items()))), "eager")
    assert key != codec.call_key("op", {}, {**args, "logits": np.float32([[1.0, 2.5]])}, "eager")
    assert key != codec.call_key("op", {}, {**args, "logits": np.float64([[1.0, 2.0]])}, "eager")
    assert key != codec.call_key("op", {}, args, "xla")
    assert key != codec.call_key("op", {"from_logits": True}, args, "eager")


def test_goldens_verify_in_a_venv_without_tensorflow_gives_the_live_verdicts(recorded, tmp_path):
    python = venv_without_tf(tmp_path / "venv")
    probe = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True, text=True, timeout=60)
    assert probe.returncode == 1 and "No module named 'tensorflow'" in probe.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([str(python), "-m", "harness", "verify", "cases", "--goldens", "gold", "--report-dir",
                          "gold-report", "-n", "0"], cwd=recorded, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    live, gold = _statuses(recorded / "live"), _statuses(recorded / "gold-report")
    assert live == gold and len(live) == 9
    assert {s for s, _ in gold.values()} == {"passed"}
    data = json.loads((recorded / "gold-report" / "results.json").read_text())
    assert data["run"]["goldens"]["tensorflow"] == data["run"]["goldens"]["text"].split()[1]
    assert f"goldens in gold: {data['run']['goldens']['text']}" in (recorded / "gold-report" / "index.html").read_text()


def test_editing_a_case_after_recording_is_an_error_naming_the_record_command(recorded, tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "g.yaml").write_text(CASES.replace("scale: 3.0", "scale: 2.0"))
    (tmp_path / "gold").symlink_to(recorded / "gold")
    run = _no_tf_cli("verify", "cases", "--goldens", "gold", "--report-dir", "r", "-n", "0", cwd=tmp_path)
    assert run.returncode == 2  # status error: as for invalid input
    results = json.loads((tmp_path / "r" / "results.json").read_text())["cases"]
    edited = [c for c in results if c["base_id"] == "g-scce"]
    assert {c["status"] for c in edited} == {"error"} and len(edited) == 4
    assert all("no golden for this case as written" in c["message"] for c in edited)
    assert all("run: python -m harness record cases/g.yaml --goldens gold" in c["message"] for c in edited)
    assert {c["status"] for c in results if c["base_id"] != "g-scce"} == {"passed"}


def _copy_goldens(src: Path, dst: Path) -> None:
    import shutil

    shutil.copytree(src, dst)


def test_editing_a_recorded_value_is_never_a_pass(recorded, tmp_path):
    _copy_goldens(recorded / "gold", tmp_path / "gold")
    (tmp_path / "cases").symlink_to(recorded / "cases")
    golden = tmp_path / "gold" / "cases" / "g.json"
    lines = golden.read_text().splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if ln.startswith('"g-clip[float32]"'))
    entry = json.loads(lines[i].split(": ", 1)[1].rstrip(",\n"))
    entry["calls"]["tf"]["out"]["tuple"][1]["values"] = [2.2360682]  # the norm, one float32 ULP off
    lines[i] = '"g-clip[float32]": ' + json.dumps(entry, separators=(",", ":")) + ",\n"
    golden.write_text("".join(lines))
    run = _no_tf_cli("verify", "cases", "--goldens", "gold", "--report-dir", "r", "-n", "0", cwd=tmp_path)
    assert run.returncode == 2
    results = json.loads((tmp_path / "r" / "results.json").read_text())["cases"]
    assert not [c for c in results if c["status"] == "passed"]
    assert all("gold/cases/g.json" in c["message"] and "SHA-256" in c["message"] for c in results)


def test_a_truncated_golden_file_is_one_line_naming_it(recorded, tmp_path):
    _copy_goldens(recorded / "gold", tmp_path / "gold")
    golden = tmp_path / "gold" / "cases" / "g.json"
    golden.write_bytes(golden.read_bytes()[:200])
    store = GoldenStore(tmp_path / "gold")
    with pytest.raises(GoldenError) as info:
        store.cases_of("cases/g.yaml")
    assert str(golden) in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "gold" / "manifest.json").write_text('{"format": "tf-parity-gol')
    (tmp_path / "cases").symlink_to(recorded / "cases")
    run = _no_tf_cli("verify", "cases", "--goldens", "gold", "-n", "0", "--report-dir", "r", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith(f"harness: {Path('gold') / 'manifest.json'}: unreadable")


def test_drift_reports_values_and_errors_that_changed(recorded, tmp_path):
    _copy_goldens(recorded / "gold", tmp_path / "b")
    golden = tmp_path / "b" / "cases" / "g.json"
    data = json.loads(golden.read_text())
    out = data["cases"]["g-clip[float32]"]["calls"]["tf"]["out"]["tuple"][1]
    out["values"] = [np.nextafter(np.float32(out["values"][0]), np.float32(9), dtype=np.float32).item()]
    data["cases"]["g-scce[float64]"]["calls"]["tf"] = {
        "key": data["cases"]["g-scce[float64]"]["calls"]["tf"]["key"], "error": "AttributeError",
        "names": ["AttributeError", "Exception"], "message": "module 'x' has no attribute 'y'", "unavailable": True}
    del data["cases"]["g-scce[float16]"]
    store = GoldenStore(tmp_path / "b")
    store.write({"cases/g.yaml": data["cases"]}, store.versions, "test", "now")
    result = compare_stores(GoldenStore(recorded / "gold"), GoldenStore(tmp_path / "b"))
    by_id = {c["id"]: c for c in result["cases"]}
    assert by_id["g-clip[float32]"]["status"] == "values changed"
    call = by_id["g-clip[float32]"]["calls"][0]
    assert call["max_ulp"] == 1 and call["worst_index"] == [] and call["leaf"] == "[1]"
    assert by_id["g-scce[float64]"]["status"] == "error changed"
    assert "op not available" in by_id["g-scce[float64]"]["calls"][0]["b"]
    assert by_id["g-scce[float16]"]["status"] == "only in A"
    assert result["summary"]["same"] == 6
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "harness", "drift", str(recorded / "gold"), str(tmp_path / "b"),
                          "--report-dir", str(tmp_path / "d")], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "values changed" in (tmp_path / "d" / "drift.html").read_text()
    assert json.loads((tmp_path / "d" / "drift.json").read_text())["summary"]["values changed"] == 1


def test_an_op_missing_from_tf_is_recorded_as_not_available():
    from harness import tfbridge
    from harness.goldens.record import encode_error
    from harness.sides import Raised

    tf = tfbridge.tf()
    try:
        tf.keras.losses.NoSuchLossInAnyRelease
    except AttributeError as exc:
        stored = encode_error(Raised(exc))
    assert stored["error"] == "AttributeError" and stored["unavailable"] is True


def test_goldens_files_are_written_atomically_with_mode_0644(recorded):
    for path in (recorded / "gold").rglob("*.json"):
        assert path.stat().st_mode & 0o777 == 0o644
    assert not list((recorded / "gold").rglob(".*"))


def test_a_store_refuses_another_tf_and_drops_goldens_of_removed_case_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kept.yaml").write_text("cases: []\n")
    store = GoldenStore(tmp_path / "gold")
    entry = {"hash": "h", "op": "op", "mode": "eager", "dtype": "float32",
             "calls": {"tf": {"key": "k", "out": codec.encode_array(np.float32([1.0]))}}}
    v1 = {"tensorflow": "2.21.0", "keras": "3.15.1"}
    store.write({"kept.yaml": {"a[float32]": entry}, "removed.yaml": {"b[float32]": entry}}, v1, "cmd", "now")
    assert (tmp_path / "gold" / "removed.json").exists()
    store.write({"kept.yaml": {"a[float32]": entry}}, v1, "cmd", "later")
    assert GoldenStore(tmp_path / "gold").case_files() == ["kept.yaml"]
    assert not (tmp_path / "gold" / "removed.json").exists()
    with pytest.raises(GoldenError, match="holds goldens of TF 2.21.0 / Keras 3.15.1, this is TF 2.15.1"):
        store.write({"kept.yaml": {}}, {"tensorflow": "2.15.1", "keras": "2.15.0"}, "cmd", "now")


def test_a_case_whose_port_is_not_installed_is_still_recorded(tmp_path, monkeypatch):
    """TF's side does not depend on the implementation: `record` keys a port case by its tf_id,
    whether or not the port's framework is installed where TF is."""
    from harness import impls
    from harness.goldens.record import collect

    (tmp_path / "p.yaml").write_text(textwrap.dedent("""\
        cases:
          - id: p-softmax
            op: tf.nn.softmax
            impl: [torch, jax]
            dtypes: [float32, float64]
            args: {logits: [[1.0, 2.0, 0.5]]}
        """))

    def tf_ids():
        by_file, errors = collect([str(tmp_path)])
        assert errors == []
        return sorted(exp.tf_id for checks in by_file.values() for exp in checks)

    monkeypatch.setitem(impls.BUILTIN_NEEDS, "torch", ("tf_parity_no_such_module",))
    monkeypatch.setitem(impls.BUILTIN_NEEDS, "jax", ("tf_parity_no_such_module",))
    assert tf_ids() == ["p-softmax[float32]", "p-softmax[float64]"]
