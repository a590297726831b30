"""The implementation contract: loading a SPEC, contract errors, and calling an implementation
(conversions, keyword arguments, modified inputs, skips, gradients) against real TensorFlow."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from harness import impls, tfexec
from harness.impls import ImplError, adapter
from harness.registry import get_op, registry

pytest.importorskip("torch")
pytest.importorskip("jax")


def _port(tmp_path, text: str, name: str = "myport.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_reference_covers_every_op():
    ref = impls.load("numpy")
    assert ref.name == "numpy" and ref.framework == "numpy" and ref.is_reference
    assert set(ref.ops) == set(registry().names())


@pytest.mark.parametrize("spec", ["torch", "jax"])
def test_builtin_ports_load_with_their_framework(spec):
    impl = impls.load(spec)
    assert impl.name == spec and impl.framework == spec and not impl.is_reference
    assert len(impl.ops) >= 30
    assert set(impl.ops) <= set(registry().names())


@pytest.mark.parametrize("spec", sorted(impls.BUILTINS))
def test_a_builtin_is_named_by_its_spec_before_and_after_loading(spec):
    assert set(impls.BUILTIN_NEEDS) == set(impls.BUILTINS)
    named_early = impls.name_of(spec)
    assert named_early == spec == impls.load(spec).name == impls.name_of(spec)


def test_collecting_port_cases_imports_no_framework():
    """The built-ins' names are known without importing torch or jax: the port cases expand (and
    a run that deselects them starts) without paying for either import."""
    code = ("import sys; from pathlib import Path; from harness.loader import load_file; from harness.expand import expand\n"
            "ids = [e.id for f in sorted(Path('cases/ports').glob('*.yaml')) for c in load_file(f).cases for e in expand(c, ('numpy',))]\n"
            "print(len(ids), sorted(m for m in ('torch', 'jax', 'optax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(None, 1)
    assert int(out[0]) > 20 and out[1].strip() == "[]"


def test_file_port_imports_its_siblings_and_defaults_its_name(tmp_path):
    (tmp_path / "helpers_for_port.py").write_text("import numpy as np\ndef mse(t, p):\n    return np.mean((t - p) ** 2, -1)\n")
    path = _port(tmp_path, """
        from helpers_for_port import mse
        OPS = {"tf.keras.losses.mse": lambda y_true, y_pred: mse(y_true, y_pred)}
    """, "sibling_port.py")
    impl = impls.load(str(path))
    assert impl.name == "sibling_port" and impl.framework == "numpy" and impl.provides("tf.keras.losses.mse")


def test_tf1_alias_keys_resolve(tmp_path):
    path = _port(tmp_path, 'OPS = {"tf.losses.mean_squared_error": lambda **kw: 0.0}\n', "alias_port.py")
    assert impls.load(str(path)).provides("tf.compat.v1.losses.mean_squared_error")


@pytest.mark.parametrize("text, expected", [
    ("X = 1\n", r"no_ops\.py:1: OPS: no OPS \(define OPS = "),
    ('OPS = {\n    "tf.keras.losses.Hubr": abs,\n}\n', r"bad_key\.py:2: OPS: unknown op 'tf.keras.losses.Hubr' "
                                                     r"\(did you mean tf.keras.losses.Huber"),
    ('OPS = {"tf.nn.softmax": 3}\n', r"not_callable\.py:1: OPS\['tf.nn.softmax'\]: int is not callable"),
    ('OPS = {}\nFRAMEWORK = "tensorflow"\n', r"bad_framework\.py:2: FRAMEWORK: 'tensorflow' is not valid "
                                            r"\(FRAMEWORK is one of numpy, torch, jax\)"),
    ('OPS = {}\nNAME = "my port"\n', r"bad_name\.py:2: NAME: 'my port' is not valid"),
    ('OPS = {}\nDTYPES = ["float8"]\n', r"bad_dtypes\.py:2: DTYPES: \['float8'\] is not valid"),
    ("import numpy\nraise RuntimeError('boom')\n", r"raises\.py:2: import: RuntimeError: boom"),
])
def test_contract_errors_are_one_line_naming_file_line_and_fix(tmp_path, text, expected):
    stem = expected.split("\\.py")[0]
    path = _port(tmp_path, text, f"{stem}.py")
    with pytest.raises(ImplError, match=expected) as info:
        impls.load(str(path))
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file_and_module_are_one_line_errors(tmp_path):
    with pytest.raises(ImplError, match=r"no such file"):
        impls.load(str(tmp_path / "absent.py"))
    with pytest.raises(ImplError, match=r"cannot import 'no_such_port_module'"):
        impls.load("no_such_port_module")


def _inputs(op_name, **args):
    return get_op(op_name), {k: np.asarray(v, dtype=np.float32) if not isinstance(v, (int, str)) else v
                             for k, v in args.items()}


def test_call_passes_keyword_args_only_and_only_those_given(tmp_path):
    path = _port(tmp_path, """
        import numpy as np
        SEEN = []
        def huber(**kw):
            SEEN.append(sorted(kw))
            return np.float32(0.0)
        OPS = {"tf.keras.losses.Huber": huber}
    """, "kwargs_port.py")
    impl = impls.load(str(path))
    op, args = _inputs("tf.keras.losses.Huber", y_true=[1.0], y_pred=[2.0])
    adapter.call(impl, op, {"delta": 0.5}, args)
    import kwargs_port  # registered under its stem, as the contract says

    assert kwargs_port.SEEN == [["delta", "y_pred", "y_true"]]


@pytest.mark.parametrize("spec", ["numpy", "torch", "jax"])
def test_call_gives_tf_numbers_as_numpy(spec):
    op, args = _inputs("tf.keras.losses.Huber", y_true=[[0.0, 1.0], [2.0, 0.5]], y_pred=[[0.3, 2.5], [1.0, 0.5]])
    got = adapter.call(impls.load(spec), op, {"delta": 0.5}, args)
    want, _ = tfexec.run(op, {"delta": 0.5}, args, "eager")
    assert isinstance(got.value, np.ndarray) and got.value.dtype == want.dtype and got.modified == []
    np.testing.assert_allclose(got.value, want, rtol=1e-6)


@pytest.mark.parametrize("framework, body", [
    ("numpy", "y_pred += 1.0\n    return y_pred.sum()"),
    ("torch", "y_pred.add_(1.0)\n    return y_pred.sum()"),
])
def test_modified_inputs_are_reported_and_the_harness_arrays_stay_intact(tmp_path, framework, body):
    path = _port(tmp_path, f"FRAMEWORK = {framework!r}\ndef mse(y_true, y_pred):\n    {body}\n"
                           'OPS = {"tf.keras.losses.mse": mse}\n', f"mutating_{framework}.py")
    op, args = _inputs("tf.keras.losses.mse", y_true=[1.0, 2.0], y_pred=[3.0, 4.0])
    called = adapter.call(impls.load(str(path)), op, {}, args)
    assert called.modified == ["y_pred"]
    np.testing.assert_array_equal(args["y_pred"], [3.0, 4.0])


def test_skips_name_the_implementation(tmp_path):
    path = _port(tmp_path, 'OPS = {"tf.keras.losses.mse": abs}\nDTYPES = ["float32"]\n', "narrow_port.py")
    impl = impls.load(str(path))
    with pytest.raises(adapter.ImplSkipped, match=r"^narrow_port does not implement tf.keras.losses.mae$"):
        adapter.check_runs(impl, get_op("tf.keras.losses.mae"), "float32")
    with pytest.raises(adapter.ImplSkipped, match=r"narrow_port does not run float64"):
        adapter.check_runs(impl, get_op("tf.keras.losses.mse"), "float64")
    adapter.check_runs(impl, get_op("tf.keras.losses.mse"), "float32")


def test_a_dtype_the_framework_cannot_run_is_a_skip_reason():
    import torch
    import torch.nn.functional as F

    impl = impls.load("torch")
    x = torch.zeros((1, 2, 3), dtype=torch.float16)
    try:  # CTC has no float16 kernel on CPU
        F.ctc_loss(x, torch.ones((1, 1), dtype=torch.long), torch.tensor([1]), torch.tensor([1]))
    except Exception as exc:  # noqa: BLE001  (the framework's own error)
        reason = adapter.unsupported_dtype(impl, exc, "float16")
        assert reason and reason.startswith("torch cannot run float16: ")
        assert adapter.unsupported_dtype(impl, exc, "float32") is None
    else:
        pytest.skip("this torch build runs CTC in float16")
    assert adapter.unsupported_dtype(impl, ValueError("shapes differ"), "float16") is None


@pytest.mark.parametrize("spec, method", [("torch", "autodiff/torch"), ("jax", "autodiff/jax"),
                                          ("numpy", "analytic")])
def test_gradients_match_tf_gradient_tape(spec, method):
    op, args = _inputs("tf.nn.softmax_cross_entropy_with_logits", labels=[[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]],
                       logits=[[1.0, -0.5, 2.0], [0.1, 0.2, -3.0]])
    cot = [np.array([1.0, -2.0])]
    grads, got_method = adapter.gradient(impls.load(spec), op, {}, args, ("logits", "labels"), cot)
    _, want = tfexec.run(op, {}, args, "eager", ("logits", "labels"), cot)
    assert got_method == method
    for name in ("logits", "labels"):
        np.testing.assert_allclose(grads[name], want[name], rtol=1e-5, atol=1e-6)


def test_numpy_port_gradients_are_finite_differences(tmp_path):
    path = _port(tmp_path, """
        import numpy as np
        OPS = {"tf.keras.losses.mse": lambda y_true, y_pred: np.mean((y_true - y_pred) ** 2, axis=-1)}
    """, "fd_port.py")
    op, args = _inputs("tf.keras.losses.mse", y_true=[[1.0, 2.0, 0.5]], y_pred=[[0.5, 2.5, 2.0]])
    grads, method = adapter.gradient(impls.load(str(path)), op, {}, args, ("y_pred",), [np.ones(1)])
    _, want = tfexec.run(op, {}, args, "eager", ("y_pred",), [np.ones(1)])
    assert method == "finite-difference/float64"
    np.testing.assert_allclose(grads["y_pred"], want["y_pred"], rtol=1e-5)


def test_float_list_arguments_and_tuple_results_convert_both_ways():
    op = get_op("tf.clip_by_global_norm")
    args = {"t_list": [np.array([3.0, 4.0], np.float32), np.array([[12.0]], np.float32)], "clip_norm": 5.0}
    want, want_grads = tfexec.run(op, {}, args, "eager", ("t_list",), [np.ones(2), np.ones((1, 1)), np.ones(())])
    for spec in ("torch", "jax"):
        got = adapter.call(impls.load(spec), op, {}, args).value
        assert isinstance(got, tuple) and isinstance(got[0], list)
        np.testing.assert_allclose(got[0][1], want[0][1], rtol=1e-6)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
        grads, _ = adapter.gradient(impls.load(spec), op, {}, args, ("t_list",), [np.ones(2), np.ones((1, 1)), np.ones(())])
        for g, w in zip(grads["t_list"], want_grads["t_list"]):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_the_readme_example_port_follows_the_contract_and_matches_tf(tmp_path):
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = readme.split("A complete small port (`my_losses.py`):", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    impl = impls.load(str(_port(tmp_path, block, "my_losses.py")))
    assert impl.name == "my-losses" and len(impl.ops) == 3
    rng = np.random.default_rng(0)
    cases = [("tf.keras.losses.mse", {}, {"y_true": rng.normal(size=(4, 3)), "y_pred": rng.normal(size=(4, 3))}),
             ("tf.keras.losses.Huber", {"delta": 0.5, "reduction": "sum"},
              {"y_true": rng.normal(size=(4, 3)), "y_pred": rng.normal(size=(4, 3))}),
             ("tf.nn.sparse_softmax_cross_entropy_with_logits", {},
              {"labels": np.array([0, 2, 1], np.int32), "logits": 30 * rng.normal(size=(3, 4))})]
    for name, init, args in cases:
        args = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in args.items()}
        got = adapter.call(impl, get_op(name), init, args).value
        want, _ = tfexec.run(get_op(name), init, args, "eager")
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-5, err_msg=name)


def test_verify_with_a_broken_port_is_a_one_line_error_and_exit_2(tmp_path, cli, write_case):
    port = _port(tmp_path, 'OPS = {"tf.keras.losses.Hubr": abs}\n', "typo_port.py")
    case = write_case("c.yaml", "cases:\n  - {id: c1, op: tf.nn.l2_loss, args: {t: [1.0, 2.0]}}\n")
    proc = cli("verify", str(case), "--impl", str(port), "--report-dir", str(tmp_path / "r"), "-n", "0")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith(f"harness: {port}:1: OPS: unknown op 'tf.keras.losses.Hubr' (did you mean "
                               "tf.keras.losses.Huber")


def test_a_case_naming_an_unknown_implementation_is_invalid_input(tmp_path, cli, write_case):
    case = write_case("c.yaml", "cases:\n  - {id: c1, op: tf.nn.l2_loss, impl: [no_such_port_module], args: {t: [1.0]}}\n"
                                "  - {id: c2, op: tf.nn.l2_loss, args: {t: [1.0]}}\n")
    proc = cli("verify", str(case), "--report-dir", str(tmp_path / "r"), "-n", "0", "--timing-repeats", "0")
    assert proc.returncode == 2
    records = {r["id"]: r for r in __import__("json").loads((tmp_path / "r" / "results.json").read_text())["cases"]}
    assert records["c2[float32]"]["status"] == "passed" and records["c2[float32]"]["impl"] == "numpy"
    bad = next(r for r in records.values() if r["status"] == "error")
    assert "impl: --impl no_such_port_module: cannot import 'no_such_port_module'" in bad["message"]


def test_two_implementations_give_each_expanded_case_an_id_ending_in_its_name(write_case):
    from harness.expand import expand
    from harness.loader import load_file

    path = write_case("m.yaml", "cases:\n  - id: m\n    op: tf.keras.losses.Huber\n"
                                "    args: {y_true: [[1.0]], y_pred: [[2.0]]}\n"
                                "    matrix: {init.delta: [0.5, 2.0]}\n    dtypes: [float32, float64]\n")
    expanded = expand(load_file(path).cases[0], ("torch", "jax"))
    ids = [e.id for e in expanded]
    assert len(set(ids)) == 8 and "m[0.5-float32-torch]" in ids and "m[2.0-float64-jax]" in ids
    assert all(e.params["impl"] == e.id[:-1].rsplit("-", 1)[1] and e.impl == e.params["impl"] for e in expanded)
    assert [e.id for e in expand(load_file(path).cases[0], ("torch",))][0] == "m[0.5-float32]"
