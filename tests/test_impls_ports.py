"""The built-in PyTorch and JAX ports against real TensorFlow through ``verify --impl``: each
covers at least 30 ops with passing value and gradient cases in float32; the frameworks' native
functions diverge where ``cases/ports/`` says (xfail) while the faithful translations pass the
same inputs; the port atlas is generated from such a run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import impls
from harness.impls import atlas
from tests.conftest import ROOT

pytest.importorskip("torch")
pytest.importorskip("jax")


@pytest.fixture(scope="module")
def ports_run(tmp_path_factory, worker_id):
    """One live-TF run of the ports, shared by the xdist workers of this session: the first to
    get here runs it, the others read its report (pytest-xdist's recipe for a fixture run once)."""
    from filelock import FileLock

    from tests.conftest import run_cli

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    report = shared / "ports-report"
    with FileLock(str(shared / "ports-report.lock")):
        if not (report / "results.json").exists():
            proc = run_cli("verify", "cases/grads", "cases/ports", "--impl", "torch", "--impl", "jax", "-k",
                           "float32 and not function and not xla", "--report-dir", str(report), "-n", "2",
                           "--timing-repeats", "1", timeout=1800)
            assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    return report, json.loads((report / "results.json").read_text())


def test_each_port_covers_30_ops_with_passing_values_and_gradients_in_float32(ports_run):
    _, results = ports_run
    for name in ("torch", "jax"):
        ops = atlas.covered(results["cases"], name)
        assert len(ops) >= 30, (name, len(ops), ops)


def test_ids_name_the_implementation_when_there_are_two(ports_run):
    _, results = ports_run
    assert results["schema_version"] == 3 and results["run"]["impls"] == ["torch", "jax"]
    ported = [c for c in results["cases"] if c["impl"] in ("torch", "jax")]
    assert ported and all(c["id"].endswith(f"-{c['impl']}]") for c in ported)
    assert all(c["params"]["impl"] == c["impl"] for c in ported)
    assert results["environment"]["torch"].startswith("2.13.0")


def test_native_functions_diverge_where_the_cases_say_and_the_ports_do_not(ports_run):
    _, results = ports_run
    by_file = {}
    for c in results["cases"]:
        by_file.setdefault(Path(c["file"]).name, []).append(c)
    native = by_file["torch_native.yaml"] + by_file["jax_native.yaml"]
    assert len(native) == 14 and all(c["status"] == "xfailed" for c in native), [
        (c["id"], c["status"], c["message"][:200]) for c in native if c["status"] != "xfailed"]
    assert all(c["impl"] in ("torch-native", "jax-native") for c in native)
    faithful = by_file["faithful.yaml"]
    assert len(faithful) == 18 and all(c["status"] == "passed" for c in faithful), [
        (c["id"], c["message"][:300]) for c in faithful if c["status"] != "passed"]


def test_multi_margin_loss_is_not_categorical_hinge(ports_run):
    _, results = ports_run
    case = next(c for c in results["cases"] if c["id"] == "torch-native-multi-margin[float32]")
    assert case["outputs"]["tf"] == [2.5]
    assert case["outputs"]["reference"] == pytest.approx([1 / 6])  # sum(max(0, 1 - x_y + x_i)) / C


def test_the_report_shows_the_implementation(ports_run):
    report, _ = ports_run
    page = (report / "index.html").read_text()
    assert 'id="f-impl"' in page and 'id="impl-matrix"' in page and 'id="impl-timing-table"' in page
    assert '<option value="torch">torch</option>' in page and '<option value="jax">jax</option>' in page


def test_atlas_lists_each_port_with_verdicts_and_divergences(ports_run, tmp_path):
    from tests.conftest import run_cli

    report, results = ports_run
    out = tmp_path / "atlas.md"
    proc = run_cli("atlas", str(report / "results.json"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert text.startswith("# Port atlas")
    section = text.split("## `tf.keras.losses.categorical_hinge`", 1)[1].split("\n## ", 1)[0]
    assert "| torch | `categorical_hinge: max(0, max((1 - t) p) - sum(t p) + 1)" in section
    assert "`torch-native-multi-margin`" in section and "`jax-native-multiclass-hinge`" in section
    assert "float32 ✓" in section
    torch_ops = impls.load("torch").ops
    assert all(f"## `{op}`" in text for op in torch_ops)


def test_ports_against_goldens_give_the_live_verdicts_without_importing_tf(ports_run, tmp_path):
    """``verify --goldens --impl``: the ports judged against TF's recorded results, in a process
    where ``import tensorflow`` fails, give the verdicts and numbers of the live-TF run."""
    from tests.test_goldens import _no_tf_cli

    report = tmp_path / "gold"
    proc = _no_tf_cli("verify", "cases/grads/cross_entropy.yaml", "cases/ports", "--goldens", "goldens", "--impl",
                      "torch", "--impl", "jax", "-k", "float32 and not function and not xla", "--report-dir", str(report),
                      "-n", "0", "--timing-repeats", "0", cwd=ROOT)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]  # 1: the ports' known failures
    gold = json.loads((report / "results.json").read_text())
    _, live = ports_run
    ran = {c["id"] for c in gold["cases"]}
    facts = lambda data: {c["id"]: (c["impl"], c["status"]) for c in data["cases"] if c["id"] in ran}  # noqa: E731
    assert facts(gold) == facts(live) and len(ran) > 80
    errors = lambda data: {c["id"]: c["max_abs_err"] or 0.0 for c in data["cases"] if c["id"] in ran}  # noqa: E731
    assert errors(gold) == pytest.approx(errors(live), rel=1e-3, abs=1e-6)  # TF's threads may round a reduction apart
    assert {c["impl"] for c in gold["cases"]} == {"torch", "jax", "torch-native", "jax-native"}
