"""Mutation testing (``python -m harness mutate``): the mutants, their selection by coverage,
TF replay, the report, a user's port, and the reference's known hole closed by a case."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.mutate import engine, mutants, report
from harness.mutate.cli import main as mutate_main

ROOT = Path(__file__).resolve().parent.parent

SOURCE = textwrap.dedent('''\
    import numpy as np


    def f(x, y=1):
        """Docstring: not mutated."""
        if x < y:
            raise ValueError(f"x {x + 1} too small")
        return np.sum(x) * y + max(x, y)
    ''')


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mutants_one_token_each_and_not_in_messages_or_defaults(tmp_path):
    path = tmp_path / "src.py"
    path.write_text(SOURCE)
    found = {(m.line, m.operator) for m in mutants.generate(path, "src.py")}
    assert (6, "< -> <=") in found
    assert (8, "sum -> mean") in found
    assert (8, "* -> /") in found
    assert (8, "max -> min") in found
    assert (8, "1 -> 2") not in found and all(line != 7 for line, _ in found)  # the raise and its f-string
    assert all(line > 4 for line, _ in found)  # the default y=1 stays


def test_applied_mutant_runs_in_the_live_function_and_is_undone(tmp_path):
    path = tmp_path / "src.py"
    path.write_text(SOURCE)
    module = _module(path, "_mut_src")
    keep = module.f  # another module's reference to the function sees the mutant too
    times = next(m for m in mutants.generate(path, "src.py") if m.operator == "* -> /")
    assert keep(4, 2) == 4 * 2 + 4
    with mutants.applied(module, path, times):
        assert keep(4, 2) == 4 / 2 + 4
    assert keep(4, 2) == 4 * 2 + 4


@pytest.mark.parametrize("goldens", [None, "goldens"], ids=["live-tf", "goldens"])
def test_unbroadcast_hole_is_killed_by_its_case(goldens):
    """vjp.unbroadcast's `lead + i` -> `lead - i` is killed by the rank-3 pos_weight case
    (real TF asked once, live or read from the committed goldens, replayed for the mutants)."""
    import harness.reference.vjp as vjp
    from harness.goldens.side import golden_side

    target = engine.Target(Path(vjp.__file__), "harness/reference/vjp.py", vjp)
    chosen = [m for m in mutants.generate(target.path, target.display)
              if m.function == "unbroadcast" and m.change == "lead + i  ->  lead - i"]
    assert chosen
    exps, problems = engine.load_cases([ROOT / "cases/mutation/vjp.yaml"])
    assert not problems
    exps = [e for e in exps if e.id.startswith("mut-vjp-unbroadcast-")]  # other cases of the file reach it too
    side = golden_side(str(ROOT / goldens)) if goldens else None
    base = engine.run_baseline(exps, [target], tf_side=side)
    assert set(base.status.values()) == {"passed"}
    outcomes = engine.run_mutants(chosen, base, [target], jobs=1)
    assert [o["status"] for o in outcomes] == ["killed"] * len(chosen)
    assert all(o["killed_by"].startswith("mut-vjp-unbroadcast-pos-weight-") for o in outcomes)
    assert base.replay.calls and not base.replay.recording


def test_case_without_golden_is_an_error_and_selects_no_mutant(tmp_path, monkeypatch):
    """With --goldens, a case the goldens do not hold is an error (the record command named);
    it covers no mutant."""
    import harness.reference.vjp as vjp
    from harness.goldens.side import golden_side

    monkeypatch.chdir(tmp_path)
    (tmp_path / "new.yaml").write_text(CASES)
    target = engine.Target(Path(vjp.__file__), "harness/reference/vjp.py", vjp)
    exps, _ = engine.load_cases([tmp_path / "new.yaml"])
    base = engine.run_baseline(exps, [target], tf_side=golden_side(str(ROOT / "goldens")))
    assert set(base.status.values()) == {"error"}
    some = next(iter(mutants.generate(target.path, target.display)))
    assert engine.covering(base, some) == []


PORT = textwrap.dedent('''\
    import numpy as np


    def softmax(logits, axis=-1):
        x = np.asarray(logits)
        if x.ndim == 0:
            return x * 0.0 + 1.0
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


    OPS = {"tf.nn.softmax": softmax}
    ''')

CASES = textwrap.dedent('''\
    cases:
      - id: port-softmax
        op: tf.nn.softmax
        args:
          logits: [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
    ''')


def test_user_port_score_and_survivors(tmp_path):
    (tmp_path / "port.py").write_text(PORT)
    (tmp_path / "cases.yaml").write_text(CASES)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "harness", "mutate", "--impl", str(tmp_path / "port.py"),
                           str(tmp_path / "cases.yaml"), "--report-dir", str(out), "-n", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((out / "mutate.json").read_text())
    s = data["summary"]
    assert s["killed"] > 0 and s["survived"] > 0 and s["mutants"] == s["killed"] + s["survived"]
    assert f"score {s['score']:.1f}%" in proc.stdout
    rows = data["mutants"]
    assert [r["status"] for r in rows] == sorted((r["status"] for r in rows), key=report.STATUS_ORDER.get)
    unreached = [r for r in rows if r["line"] == 7]  # x.ndim == 0: no case takes the branch
    assert unreached and all(r["status"] == "survived" and not r["covering"] for r in unreached)
    assert "survived port.py:7 softmax" in proc.stdout
    shifted = next(r for r in rows if r["change"] == "np.max  ->  np.min")  # softmax is shift-invariant here
    assert shifted["status"] == "survived" and shifted["covering"] == ["port-softmax[float32]"]
    assert "tf.nn.softmax" in shifted["suggestion"]
    assert [o["op"] for o in data["ops"]] == ["tf.nn.softmax"]
    page = (out / "mutate.html").read_text()
    assert "e = np.exp(x - np.max(x, axis=axis, keepdims=True))" in page and "mutation score" in page


def test_bad_equivalent_list_and_bad_impl_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "eq.yaml"
    bad.write_text("- {file: a.py, function: f, change: x}\n")
    assert mutate_main(["--equivalent", str(bad), str(ROOT / "cases/mutation")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "entry 1: reason: missing" in err
    port = tmp_path / "noops.py"
    port.write_text("X = 1\n")
    assert mutate_main(["--impl", str(port), str(ROOT / "cases/mutation")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "OPS: no OPS" in err


def test_reviewed_equivalents_name_real_mutants():
    """Every reviewed entry matches a mutant the reference still has (no stale reasons)."""
    from harness.mutate.cli import REFERENCE_DIR, REVIEWED

    listed = report.load_equivalents(REVIEWED)
    found = [m for p in REFERENCE_DIR.glob("*.py") for m in mutants.generate(p, f"harness/reference/{p.name}")]
    have = {(m.file, m.function, m.change, "") for m in found} | {(m.file, m.function, m.change, m.source_line)
                                                                   for m in found}
    assert set(listed) <= have, sorted(set(listed) - have)[:3]


@pytest.mark.parametrize("spec", ["torch", "jax"])
def test_builtin_port_runs_through_the_port_side(spec, tmp_path):
    """--impl torch / jax: the port loaded as verify --impl loads it, its cases run through the
    port side (ids name the port), forked workers do not hang on the framework's threads."""
    pytest.importorskip(spec)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "harness", "mutate", "--impl", spec, "--goldens", "goldens",
                           "cases/ports/faithful.yaml", "--max", "12", "--report-dir", str(out), "-n", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads((out / "mutate.json").read_text())
    assert data["run"]["impl"] == spec and f"harness/impls/{spec}_ops.py" in data["run"]["files"]
    ran = [c for r in data["mutants"] for c in r["covering"]]
    assert ran and all(c.endswith(f"-{spec}]") for c in ran)
    assert data["summary"]["killed"] > 0


def test_reviewed_kind_rounding_is_left_out_of_the_score_and_counted_apart(tmp_path):
    """A reviewed entry with `kind: rounding` (outputs change, by rounding only) is left out of the
    score like an equivalent one, and the summary, the terminal line and the page say so; an unknown
    kind is a one-line error."""
    path = tmp_path / "src.py"
    path.write_text(SOURCE)
    found = mutants.generate(path, "src.py")
    times = next(m for m in found if m.operator == "* -> /")
    lower = next(m for m in found if m.operator == "< -> <=")
    killed = next(m for m in found if m.operator == "sum -> mean")
    reviewed = tmp_path / "eq.yaml"
    reviewed.write_text(textwrap.dedent(f'''\
        - {{file: src.py, function: f, change: "{times.change}", kind: rounding, reason: the same sum in another order}}
        - {{file: src.py, function: f, change: "{lower.change}", reason: ties give the same result}}
        '''))
    equivalents = report.load_equivalents(reviewed)
    outcome = {"covering": [], "cases_run": 0, "killed_by": None, "detail": "", "changed_within_tolerance": []}
    outcomes = [{**outcome, "id": times.id, "status": "survived"}, {**outcome, "id": lower.id, "status": "survived"},
                {**outcome, "id": killed.id, "status": "killed", "killed_by": "c"}]
    run = {"impl": "src", "cases": 0, "judged": 0, "generated": 3, "max": None, "seed": 0, "jobs": 1,
           "duration_s": 1.0, "baseline_s": 0.5, "mutants_s": 0.5}
    data = report.build([times, lower, killed], outcomes, engine.Baseline([]), equivalents, run)
    s = data["summary"]
    assert (s["equivalent"], s["equivalent_rounding"], s["killed"], s["survived"], s["score"]) == (2, 1, 1, 0, 100.0)
    kinds = {r["change"]: r["equivalent_kind"] for r in data["mutants"]}
    assert kinds == {times.change: "rounding", lower.change: "equivalent", killed.change: None}
    assert "2 equivalent (1 of them within rounding)" in report.summary_lines(data)[0]
    page = report.render_html(data)
    assert "2</b> equivalent (1 within rounding)" in page and page.count("within rounding</span>") == 1
    reviewed.write_text('- {file: src.py, function: f, change: x, kind: close, reason: r}\n')
    with pytest.raises(report.EquivalentError, match="entry 1: kind: 'close' is not one of equivalent, rounding"):
        report.load_equivalents(reviewed)


@pytest.mark.skipif(engine._glibc() is None, reason="malloc perturbation is glibc's")
def test_poisoned_allocations_leave_no_freed_values_in_np_empty():
    """Under poisoned_allocations a large np.empty holds the perturb pattern, not the values of
    the array freed just before (which glibc may hand back otherwise)."""
    import numpy as np

    n = 1 << 20
    with engine.poisoned_allocations():
        freed = np.arange(n, dtype=np.float64)
        del freed
        fresh = np.empty(n, np.float64)
        assert set(np.unique(fresh.view(np.uint8)).tolist()) == {engine.PERTURB_BYTE ^ 0xFF}


def test_poisoned_allocations_are_undone_and_skipped_without_glibc(monkeypatch):
    calls = []

    class FakeGlibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(engine, "_glibc", FakeGlibc)
    with pytest.raises(KeyError), engine.poisoned_allocations():
        assert calls == [(engine.M_PERTURB, engine.PERTURB_BYTE)]
        raise KeyError("a case's error")
    assert calls == [(engine.M_PERTURB, engine.PERTURB_BYTE), (engine.M_PERTURB, 0)]
    monkeypatch.setattr(engine, "_glibc", lambda: None)
    with engine.poisoned_allocations():
        pass
    assert len(calls) == 2
