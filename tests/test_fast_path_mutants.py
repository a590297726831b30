"""The mutants of the reference's fast paths reviewed as equivalent in
harness/mutate/equivalent.yaml (branch i17-fast), run for real: each mutant is applied to the
live reference (``harness.mutate.mutants.applied``, as ``harness mutate`` applies it) and
the ops that reach it must return the same bits (or raise the same error class) as the
unmutated reference, on inputs covering the dtypes (float16, bfloat16, float32, float64),
ranks, sizes (empty, scalar, one run, many runs and blocks) and layouts that reach the
path choice. The size thresholds are lowered (``small_paths``) so that small arrays take
both the whole-array and the block/run paths."""
from __future__ import annotations

import importlib
import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from harness.mutate import mutants
from harness.reference import rowblocks, stable, summation

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


@pytest.fixture
def small_paths(monkeypatch):
    """Blocks of a few rows on two threads, runs of 256 elements, bit-mask selects and
    vectorised bounds from 1 element on: every path choice is made on small arrays."""
    monkeypatch.setattr(rowblocks, "ROW_BLOCK_BYTES", 4096)
    monkeypatch.setattr(rowblocks, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(rowblocks, "ROW_THREADS", 2)
    monkeypatch.setattr(rowblocks, "THREADS_BY_LOAD", False)
    monkeypatch.setattr(summation, "PAIRWISE_LEAF", 256)
    monkeypatch.setattr(stable, "SELECT_MIN_SIZE", 1)


def mutant(module_name: str, function: str, change: str, source: str | None = None):
    """(module, path, Mutant) of the one mutant of ``function`` with this ``change`` (and
    ``source`` line, where the change alone is ambiguous), as the report prints it."""
    module = importlib.import_module(module_name)
    path = Path(module.__file__)
    found = [m for m in mutants.generate(path, path.name)
             if m.function == function and m.change == change and (source is None or m.source_line == source)]
    assert len(found) == 1, (function, change, [m.change for m in found])
    return module, path, found[0]


def outcome(call):
    """What ``call()`` gives: (dtype, shape, bytes) of each array returned, or the error class."""
    try:
        with np.errstate(all="ignore"):
            out = call()
    except Exception as exc:  # noqa: BLE001 - the class is compared
        return ("raises", type(exc).__name__)
    leaves = out if isinstance(out, tuple) else (out,)
    return tuple((str(np.asarray(a).dtype), np.shape(a), _bits(np.asarray(a))) for a in leaves)


def _bits(a: np.ndarray) -> bytes:
    """The array's bytes with every NaN made the same NaN: a NaN's sign bit follows the order
    of the adds that made it, and no comparison reads it (NaNs only have to be where TF's are)."""
    if a.dtype.kind == "f" or a.dtype == ml_dtypes.bfloat16:
        a = np.where(np.isnan(a.astype(np.float32)), np.asarray(np.nan, a.dtype), a).astype(a.dtype)
    return a.tobytes()


def assert_same_under(mutated, calls):
    """Every call gives the same outcome with the mutant applied as without."""
    module, path, m = mutated
    want = [outcome(c) for c in calls]
    with mutants.applied(module, path, m):
        got = [outcome(c) for c in calls]
    for c, g, w in zip(calls, got, want):
        assert g == w, (m.change, getattr(c, "label", c))


def assert_rounding_only(mutated, calls, dtype, ulps=16):
    """The mutant changes some call's bits, and every result by at most ``ulps`` of ``dtype``
    (relative or absolute): rounding, not a wrong value."""
    module, path, m = mutated
    want = [c() for c in calls]
    with mutants.applied(module, path, m):
        got = [c() for c in calls]
    eps = np.finfo(dtype).eps
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert np.allclose(g, w, rtol=ulps * eps, atol=ulps * eps)
    assert any(g.tobytes() != w.tobytes() for g, w in zip(got, want))  # rounding, not the same bits


def _arrays(rng, dtype, shape, low=-3.0, high=3.0):
    x = rng.uniform(low, high, size=shape)
    if x.size >= 4:
        x.reshape(-1)[:4] = [0.0, -0.0, 30.0, -30.0]
    return np.asarray(x).astype(dtype)


SHAPES = [(0,), (), (7,), (300,), (61, 33), (9, 5, 7)]


def _element_and_sum_calls(rng, layouts=("C", "T")):
    """The element-wise (``by_elements``) and summing (``in_runs``/``sum_of``) ops on every
    dtype and shape, C-contiguous and (``"T"``) transposed views, as a Fortran-order npy input
    would give them."""
    from harness.reference import keras_backend as kb
    from harness.reference import keras_functions as kf
    from harness.reference import losses_v1, nn, vjp
    from harness.reference.reductions import V1_REDUCTIONS

    calls = []
    for dtype in DTYPES:
        for shape in SHAPES:
            labels = _arrays(rng, dtype, shape, 0.0, 1.0)
            logits = _arrays(rng, dtype, shape)
            probs = _arrays(rng, dtype, shape, 0.01, 0.99)
            for lab, log in [(labels, logits), (labels.T, logits.T)][:len(layouts)]:
                calls += [lambda a=lab, b=log: nn.sigmoid_cross_entropy_with_logits(labels=a, logits=b),
                          lambda a=lab, b=log: nn.weighted_cross_entropy_with_logits(a, b, 2.5),
                          lambda b=log: nn.l2_loss(b),
                          lambda b=log: summation.reduce_sum(b),
                          lambda b=log: summation.reduce_sum(b, axis=0 if b.ndim else None),
                          lambda b=log: nn.scale_regularization_loss(b)]
                if log.ndim:
                    calls.append(lambda b=log: nn.compute_average_loss(b))
                    # the callers of reduce_sum(..., keepdims=True), with axis=None: the total divides
                    # or scales the whole array
                    calls += [lambda b=log: kb.softmax(b, axis=None), lambda b=log: kb.l2_normalize(b, axis=None),
                              lambda a=lab, b=log: kf.categorical_focal_crossentropy(a, b, axis=None),
                              lambda a=lab, b=log: kf.categorical_focal_crossentropy(a, b, from_logits=True, axis=None),
                              lambda a=lab, b=log: kb.categorical_crossentropy(a, b, axis=None),
                              lambda a=lab, b=log: vjp.keras_categorical_vjp(a, b, np.float32(1), axis=None)]
            for name in ("absolute_difference", "mean_squared_error", "hinge_loss", "huber_loss", "log_loss"):
                for reduction in V1_REDUCTIONS:
                    for weights in (1.0, 0.0, 2.5):
                        for a, b in [(labels, probs), (labels.T, probs.T)][:len(layouts)]:
                            calls.append(lambda f=getattr(losses_v1, name), a=a, b=b, w=weights, r=reduction:
                                         f(a, b, weights=w, reduction=r))
            for reduction in V1_REDUCTIONS:
                for a, b in [(labels, logits), (labels.T, logits.T)][:len(layouts)]:
                    calls.append(lambda a=a, b=b, r=reduction:
                                 losses_v1.sigmoid_cross_entropy(a, b, weights=0.5, reduction=r))
    return calls


BLOCKABLE_MUTANTS = [
    ("harness.reference.summation", "sum_of", "not in_runs(*arrays)"),
]
"""Same bits on C-contiguous arrays (every array the harness builds from random, one_hot,
fill and literal values), but not equivalent: on a transposed (Fortran-order) array, which
only an ``npy`` input gives, the run path sums in C order where ``np.sum`` sums it in memory
order, a rounding difference (test below). (``blockable``'s dtype test and its ``and -> or``
joins are not here: they send float16 down the run path, off TF's Eigen order by more than
float16's tolerance; ``cases/mutation/blockable_float16.yaml`` kills them.)"""

EQUIVALENT_BLOCK_AND_RUN_MUTANTS = [
    ("harness.reference.rowblocks", "by_elements", "not blockable(*arrays)"),
    ("harness.reference.summation", "reduce_sum", "not keepdims"),
    ("harness.reference.reductions", "v1_weighted_loss_of", "not _summation.in_runs(*arrays)"),
]


def _by_prefix(module_name: str, function: str, before: str):
    """The mutant whose change starts with ``before  ->`` (the report cuts long changes)."""
    module = importlib.import_module(module_name)
    path = Path(module.__file__)
    found = [m for m in mutants.generate(path, path.name)
             if m.function == function and m.change.split("  ->  ")[0] == mutants._short(_parse(before))]
    assert len(found) == 1, (function, before, [m.change for m in found])
    return module, path, found[0]


def _parse(text: str):
    import ast

    return ast.parse(text, mode="eval").body


@pytest.mark.parametrize("module_name, function, before", EQUIVALENT_BLOCK_AND_RUN_MUTANTS,
                         ids=[f"{f}:{b[:40]}" for _, f, b in EQUIVALENT_BLOCK_AND_RUN_MUTANTS])
def test_block_and_run_path_choices_give_the_same_bits(small_paths, module_name, function, before):
    """by_elements' and v1_weighted_loss_of's path choice and reduce_sum's run path with keepdims:
    which arrays go a block or a run at a time is a speed choice only, on any dtype, shape and layout."""
    calls = _element_and_sum_calls(np.random.default_rng(31))
    assert_same_under(_by_prefix(module_name, function, before), calls)


@pytest.mark.parametrize("module_name, function, before", BLOCKABLE_MUTANTS,
                         ids=[f"{f}:{b[:40]}" for _, f, b in BLOCKABLE_MUTANTS])
def test_blockable_choices_give_the_same_bits_on_c_order_arrays(small_paths, module_name, function, before):
    calls = _element_and_sum_calls(np.random.default_rng(31), layouts=("C",))
    assert_same_under(_by_prefix(module_name, function, before), calls)


def test_a_fortran_order_sum_in_runs_rounds_otherwise(small_paths):
    """Why the BLOCKABLE_MUTANTS are not reviewed as equivalent: sum_of (C order) and np.sum
    (memory order) of a transposed array differ in the last bit."""
    x = np.random.default_rng(47).normal(size=(61, 33)).astype(np.float32).T
    assert not x.flags.c_contiguous
    assert summation.sum_of(np.asarray, np.ascontiguousarray(x)).tobytes() != np.sum(x).tobytes()


@pytest.mark.parametrize("dtype", DTYPES + [np.int32])
def test_by_rows_dtype_choice_gives_the_same_bits(small_paths, dtype):
    """rowblocks._apart_by_rows' dtype test: every by_rows loss on rows of any dtype."""
    from harness.reference import keras_functions, tf_keras

    fns = [f for mod in (keras_functions, tf_keras) for f in vars(mod).values()
           if getattr(getattr(f, "__code__", None), "co_qualname", "") == "by_rows.<locals>.wrapper"]
    assert len(fns) >= 28
    rng = np.random.default_rng(37)
    calls = []
    for shape in [(37, 29), (9, 5, 7), (1, 40)]:
        y_true = _arrays(rng, dtype, shape, 0.0, 1.0) if dtype != np.int32 else rng.integers(0, 2, shape, np.int32)
        y_pred = _arrays(rng, dtype, shape, 0.01, 0.99) if dtype != np.int32 else rng.integers(0, 3, shape, np.int32)
        for t, p in ((y_true, y_pred), (y_true.T, y_pred.T)):  # C order, and Fortran order (an npy input)
            for fn in fns:
                if fn is keras_functions.hinge_rows:
                    calls += [lambda a=t, b=p, k=k: keras_functions.hinge_rows(a, b, k) for k in (True, False)]
                else:
                    calls.append(lambda f=fn, a=t, b=p: f(a, b))
    assert_same_under(mutant("harness.reference.rowblocks", "_apart_by_rows",
                             "y_pred.dtype.name in ('float32', 'float64')  ->  "
                             "y_pred.dtype.name not in ('float32', 'float64')"), calls)


def _bound_calls(rng):
    """Every caller of stable.maximum/minimum passes a bound of x's dtype (kb.const): the
    clips, softplus, l2_normalize, hinge and categorical hinge, here on every dtype with NaN,
    infinities and signed zeros; and the ufuncs directly on a bound of x's dtype."""
    from harness.reference import keras_backend as kb
    from harness.reference import keras_functions as kf

    calls = []
    for dtype in DTYPES:
        for shape in [(), (5,), (40, 33)]:
            x = _arrays(rng, dtype, shape)
            if x.size >= 6:
                x.reshape(-1)[4:6] = [np.nan, np.inf]
            calls += [lambda x=x: kb.clip(x, 1e-7, 1 - 1e-7), lambda x=x: kb.softplus(x),
                      lambda x=x: kb.l2_normalize(x, axis=-1) if x.ndim else x]
            for bound in (0.0, -0.0, 1e-7, 1.0, -np.inf, np.nan):
                b = kb.const(bound, x.dtype)
                calls += [lambda x=x, b=b: stable.maximum(x, b), lambda x=x, b=b: stable.minimum(x, b)]
            if x.ndim == 2:
                t = _arrays(rng, dtype, shape, 0.0, 1.0)
                calls += [lambda t=t, x=x: kf.hinge(t, x), lambda t=t, x=x: kf.categorical_hinge(t, x)]
    return calls


def test_against_bound_path_choice_gives_the_same_bits(small_paths):
    """stable._vector_bounds' dtype-width test: comparing with the scalar bound, or Keras's clip
    by the two comparisons, gives the same bits whenever the bound has x's dtype (every caller)."""
    calls = _bound_calls(np.random.default_rng(41))
    assert_same_under(mutant("harness.reference.stable", "_vector_bounds",
                             "np.result_type(x, *bounds) == x.dtype  ->  np.result_type(x, *bounds) != x.dtype"), calls)


@pytest.mark.parametrize("before", [
    "x.dtype.name in ('float32', 'float64') and x.size >= SELECT_MIN_SIZE and "
    "not any(np.ndim(b) for b in bounds) and np.result_type(x, *bounds) == x.dtype",
    "x.dtype.name in ('float32', 'float64')",
])
def test_against_bound_dtype_test_is_needed(small_paths, before):
    """Letting bfloat16/float16 through to np.clip is not equivalent (these were reviewed as
    equivalent while the fast path was an array filled with the bound): NumPy has no bfloat16
    clip loop, and the result comes back as float32."""
    mutated = _by_prefix("harness.reference.stable", "_vector_bounds", before)
    calls = _bound_calls(np.random.default_rng(41))
    want = [outcome(c) for c in calls]
    with mutants.applied(*mutated):
        got = [outcome(c) for c in calls]
    assert got != want, mutated[2].change


def test_sampled_logits_label_check_quotes_another_id_only():
    """nn._compute_sampled_logits' `ids < 0` on the line that picks the id quoted in the
    error: only reached once the check has failed, so it changes the message, never the
    class, and valid ids (0 included) never get there."""
    from harness.reference import nn

    rng = np.random.default_rng(43)
    weights, biases = rng.normal(size=(6, 3)), rng.normal(size=6)
    inputs = rng.normal(size=(4, 3))
    calls = []
    for labels, sampled in [([[0], [1], [5], [0]], [0, 2, 3]), ([[0], [-1], [2], [7]], [0, 1, 2]),
                            ([[1], [2], [3], [4]], [0, -2, 6]), ([[6], [0], [0], [0]], [0, 1, 1])]:
        sv = (np.asarray(sampled), np.full((4, 1), 0.5), np.full(3, 0.25))
        for dtype in (np.float32, np.float64):
            calls.append(lambda l=labels, s=sv, d=dtype: nn._compute_sampled_logits(
                weights, biases, np.asarray(l), inputs.astype(d), 3, 1, s, remove_accidental_hits=True))
    source = "bad = ids[(ids < 0) | (ids >= num_classes)][0]"
    assert_same_under(mutant("harness.reference.nn", "_compute_sampled_logits", "ids < 0  ->  ids <= 0", source), calls)
    # two `0 -> 1` on that line: the one in `ids < 0` (the other, `[0] -> [1]`, raises an IndexError)
    module = importlib.import_module("harness.reference.nn")
    path = Path(module.__file__)
    zeros = [m for m in mutants.generate(path, path.name) if m.function == "_compute_sampled_logits"
             and m.change == "0  ->  1" and m.source_line == source]
    assert len(zeros) == 2
    in_compare = [m for m in zeros if _in_compare(path, m)]
    assert len(in_compare) == 1
    assert_same_under((module, path, in_compare[0]), calls)


def _in_compare(path: Path, m) -> bool:
    """Whether mutant ``m``'s node is an operand of a comparison."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    fn = dict(mutants._functions(tree))[m.function]
    node = list(mutants._body_nodes(fn))[m._index // 16]
    parents = {child: p for p in ast.walk(fn) for child in ast.iter_child_nodes(p)}
    return isinstance(parents.get(node), ast.Compare)


def test_tf_broadcasting_mapping_keeps_every_error_a_value_error():
    """keras_functions.tf_broadcasting's `or -> and`: a ValueError that is not a broadcast
    failure becomes an InvalidArgumentError, itself a ValueError; every other error keeps its
    class. So an error the unmutated reference raises as a ValueError (what TF/Keras raise
    for these checks) is still one: expect_error, which matches the class or a base class,
    cannot tell them apart."""
    from harness.reference import keras_functions as kf

    y = np.ones((2, 3), np.float32)
    calls = [lambda: kf.categorical_focal_crossentropy(y, y, axis=True),
             lambda: kf.mean_squared_error(y, np.ones((3, 2), np.float32)),
             lambda: kf.dice(y, y, axis=5), lambda: kf.hinge(y, y)]
    module, path, m = mutant("harness.reference.keras_functions", "tf_broadcasting",
                             "'broadcast' not in str(exc) or isinstance(exc, InvalidArgumentError)  ->  "
                             "'broadcast' not in str(exc) and isinstance(exc, InvalidArgumentError)")

    def errors():
        out = []
        for c in calls:
            try:
                c()
                out.append(None)
            except Exception as exc:  # noqa: BLE001
                out.append(exc)
        return out

    want = errors()
    with mutants.applied(module, path, m):
        got = errors()
    assert sum(e is not None for e in want) == 3
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if w is not None:
            assert isinstance(g, ValueError) == isinstance(w, ValueError)
            assert type(g) is type(w) or type(g).__name__ == "InvalidArgumentError"


@pytest.mark.parametrize("file, case_id, first_block_rows", [
    ("fast_paths.yaml", "fast-keras-sparse-ce-probabilities-blocks-in-order", None),
    ("fast_paths.yaml", "fast-keras-sparse-ce-probabilities-blocks-in-order-16", None),
    ("fast_paths.yaml", "fast-keras-sparse-ce-probabilities-blocks-in-order-64", None),
    ("fast_edges.yaml", "fast-hinge-binary-block", 2),
])
def test_block_order_cases_span_two_blocks_at_todays_block_size(file, case_id, first_block_rows):
    """The cases that kill the row-block mutants only do so while their rows make two blocks or
    more (and, for the hinge, while the all-zero rows fill the first block): a change of
    rowblocks.ROW_BLOCK_BYTES must come with new shapes, not silently leave the mutants alive."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    cases = yaml.safe_load((root / "cases" / "mutation" / file).read_text(encoding="utf-8"))["cases"]
    case = next(c for c in cases if c["id"] == case_id)
    rows, cols = case["args"]["y_pred"]["shape"]
    per_block = max(1, rowblocks.ROW_BLOCK_BYTES // (cols * np.dtype(np.float32).itemsize))
    assert math.ceil(rows / per_block) >= 2, (rows, per_block)
    if first_block_rows is not None:
        assert per_block <= first_block_rows, per_block
