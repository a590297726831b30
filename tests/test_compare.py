"""The comparison engine: exact failure messages, ULP distances, and no false positives."""
import itertools

import ml_dtypes
import numpy as np
import pytest

from harness.compare import compare
from harness.tolerances import ulp_distance
from harness.tolerances import Tolerance, default_tolerance

F32 = default_tolerance("float32")
F64 = default_tolerance("float64")


def f32(*values):
    return np.array(values, dtype=np.float32)


def test_tolerance_failure_message():
    result = compare(f32(0.3265626, 0.5643688), f32(0.3265626, 0.4643688), F32)
    assert not result.ok and result.kind == "tolerance"
    assert result.message == (
        "Not equal to tolerance rtol=1.3e-06, atol=1e-05 (float32)\n"
        "Mismatched elements: 1 / 2 (50%)\n"
        "Max absolute difference: 0.09999999\n"
        "Max relative difference: 0.2153461\n"
        "Max ULP difference: 2275514\n"
        "Worst index: (1,)\n"
        " reference: [0.3265626, 0.5643688]\n"
        " tf: [0.3265626, 0.4643688]")
    assert (result.n_mismatch, result.n_total, result.worst_index) == (1, 2, (1,))
    assert result.max_ulp == 2275514
    [mismatch] = result.mismatches
    assert mismatch.index == (1,) and mismatch.actual == np.float32(0.5643688)


def test_ulp_failure_message_with_header():
    one = np.float32(1)
    four_up = np.nextafter(np.nextafter(one + np.float32(2**-22), np.float32(2)), np.float32(2))  # 1 + 4 ulp
    result = compare(f32(1, four_up + 2**-23), f32(1, 1), Tolerance(0, 0, ulp=4, reason="r"),
                     header="reference vs tf")
    assert result.kind == "tolerance"
    assert result.message == (
        "reference vs tf\n"
        "Not equal to tolerance ulp=4 (float32)\n"
        "Mismatched elements: 1 / 2 (50%)\n"
        "Max absolute difference: 5.960464e-07\n"
        "Max relative difference: 5.960464e-07\n"
        "Max ULP difference: 5\n"
        "Worst index: (1,)\n"
        " reference: [1, 1.0000006]\n"
        " tf: [1, 1]")
    assert compare(f32(1, four_up), f32(1, 1), Tolerance(0, 0, ulp=4, reason="r")).ok


def test_shape_mismatch_scalar_vs_vector():
    result = compare(np.float32(1), f32(1), F32)
    assert result.kind == "shape"
    assert result.message == "Shapes differ: reference () vs tf (1,)\n reference: 1\n tf: [1]"
    message = compare(np.zeros(2), np.zeros((2, 1)), F64).message
    assert message.splitlines()[0] == "Shapes differ: reference (2,) vs tf (2, 1)"


def test_dtype_mismatch_and_check_dtype_off():
    result = compare(np.array([0.5, 0.25]), f32(0.5, 0.25), F32)
    assert result.kind == "dtype"
    assert result.message == ("Dtypes differ: reference float64 vs tf float32\n"
                              " reference: [0.5, 0.25]\n tf: [0.5, 0.25]")
    assert compare(np.array([0.5, 0.25]), f32(0.5, 0.25), F32, check_dtype=False).ok


def test_nan_mismatch_message():
    result = compare(np.array([[1.0, np.nan]]), np.array([[1.0, 0.4643688]]), F64)
    assert result.kind == "nan" and result.worst_index == (0, 1)
    assert result.message == (
        "NaN positions differ: 1 / 2 (50%) elements, first at index (0, 1): reference nan vs tf 0.4643688\n"
        " reference: [[1, nan]]\n"
        " tf: [[1, 0.4643688]]")


def test_inf_mismatch_message_includes_sign():
    result = compare(f32(np.inf, 2, 3), f32(-np.inf, 2, 3), F32, names=("ref", "TF"))
    assert result.kind == "inf"
    assert result.message == (
        "Inf positions differ: 1 / 3 (33.3%) elements, first at index (0,): ref inf vs TF -inf\n"
        " ref: [inf, 2, 3]\n"
        " TF: [-inf, 2, 3]")


def test_matching_nan_and_inf_are_ok():
    values = f32(np.nan, np.inf, -np.inf, 1.5)
    result = compare(values, values.copy(), F32)
    assert result.ok and result.kind == "ok" and result.message == ""
    assert result.max_abs_err == 0.0


def test_no_false_positives():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    assert compare(x, x.copy(), F32).ok
    near = x * np.float32(1 + 1e-6)
    result = compare(near, x, F32)
    assert result.ok and result.worst_index is None and result.max_abs_err > 0
    assert compare(np.array([]), np.array([]), F64).ok
    assert compare(np.array([1, 2], np.int32), np.array([1, 2], np.int32), default_tolerance("int32")).ok


def test_tolerance_bound_is_inclusive_and_relative_to_desired():
    tol = Tolerance(rtol=0.5, atol=0.0)
    assert compare(np.array([3.0]), np.array([2.0]), tol).ok          # |3-2| <= 0.5*|2|
    assert not compare(np.array([3.0 + 1e-9]), np.array([2.0]), tol).ok
    tol = Tolerance(rtol=0.4, atol=0.0)
    assert compare(np.array([2.0]), np.array([3.0]), tol).ok          # 1 <= 0.4*3, though not 0.4*2


def test_scalars():
    assert compare(np.float64(0.1), 0.1, F64).ok
    result = compare(np.float32(2), np.float32(1), F32)
    assert result.worst_index == () and result.n_total == 1
    assert result.message.splitlines()[-2:] == [" reference: 2", " tf: 1"]


def test_worst_index_is_largest_failure_and_mismatches_sorted():
    desired = np.zeros((3, 4))
    actual = desired.copy()
    actual[0, 1], actual[2, 3], actual[1, 0] = 0.5, 3.0, 1.0
    result = compare(actual, desired, F64)
    assert result.worst_index == (2, 3)
    assert [m.index for m in result.mismatches] == [(2, 3), (1, 0), (0, 1)]
    assert result.max_rel_err == np.inf  # desired == 0 and actual != desired


def test_mismatch_list_is_capped_and_arrays_summarised():
    desired = np.zeros(1000, np.float32)
    result = compare(desired + 1, desired, F32)
    assert result.n_mismatch == 1000 and len(result.mismatches) == 20
    assert result.message.splitlines()[-1] == " tf: [0, 0, 0, ..., 0, 0, 0]"
    assert "(100%)" in result.message
    assert "(0.1%)" in compare(np.eye(1, 1000)[0], np.zeros(1000), F64).message


def test_bfloat16_arrays():
    a = np.array([1.0, 2.0], dtype=ml_dtypes.bfloat16)
    b = np.array([1.0, 2.015625], dtype=ml_dtypes.bfloat16)  # next bfloat16 after 2
    assert compare(a, b, Tolerance(0, 0, ulp=1, reason="r")).ok
    result = compare(a, b, Tolerance(0, 0, ulp=0, reason="r"))
    assert result.message.splitlines()[0] == "Not equal to tolerance ulp=0 (bfloat16)"
    assert result.message.splitlines()[-1] == " tf: [1, 2.02]"  # shortest text that rounds back to 2.015625
    assert compare(a, b, default_tolerance("bfloat16")).ok


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_ulp_distance_basics(dtype):
    one = np.array(1, dtype)
    tiny = ml_dtypes.finfo(dtype).smallest_subnormal
    up = np.array(one.astype(np.float64) + float(ml_dtypes.finfo(dtype).eps), dtype)
    assert ulp_distance(one, up, dtype) == 1
    assert ulp_distance(np.array(0.0, dtype), np.array(-0.0, dtype), dtype) == 0
    assert ulp_distance(np.array(tiny, dtype), np.array(-tiny, dtype), dtype) == 2  # across zero
    assert ulp_distance(np.array(-1, dtype), np.array(-1, dtype), dtype) == 0
    assert ulp_distance(np.array(np.nan, dtype), np.array(1, dtype), dtype) == np.inf
    assert ulp_distance(np.array(np.inf, dtype), np.array(1, dtype), dtype) == np.inf
    assert ulp_distance(np.array(np.nan, dtype), np.array(np.nan, dtype), dtype) == 0


def test_ulp_distance_casts_to_the_given_dtype():
    assert ulp_distance([1.0], [1.0 + 2**-10], "float16") == [1]
    assert ulp_distance([1.0], [1.0 + 2**-10], "bfloat16") == [0]  # rounds back to 1 in bfloat16
    assert ulp_distance(-np.finfo(np.float64).max, np.finfo(np.float64).max, "float64") > 1.8e19
    with pytest.raises(TypeError):
        ulp_distance([1], [2], "int32")


_FLOATS = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}


@pytest.mark.parametrize("dtype", sorted(_FLOATS))
@pytest.mark.parametrize("tol", [Tolerance(1e-3, 1e-3), Tolerance(0.0, 0.0, ulp=2), Tolerance(0.0, 0.0)])
def test_fast_path_gives_the_general_paths_result(dtype, tol, monkeypatch):
    """The finite-and-passing shortcut reports exactly what the general path reports, and
    leaves every failing, non-finite or sign-crossing input to it."""
    import harness.compare as engine

    taken = []
    shortcut = engine._finite_pass
    monkeypatch.setattr(engine, "_finite_pass", lambda *a: taken.append(shortcut(*a)) or taken[-1])
    rng = np.random.default_rng(7)
    kind = _FLOATS[dtype]
    tiny = float(ml_dtypes.finfo(kind).smallest_subnormal)
    moved = 0
    for trial in range(200):
        size = int(rng.integers(1, 12))
        a = (rng.normal(size=size) * 10.0 ** rng.integers(-3, 3)).astype(kind)
        steps = rng.integers(-2, 3, size=size)
        b = a.copy()
        for _ in range(2):  # up to 2 ULP either way, in the dtype's own spacing
            b = np.where(steps > 0, np.nextafter(b, kind(np.inf)), np.where(steps < 0, np.nextafter(b, kind(-np.inf)), b))
            steps = steps - np.sign(steps)
        moved += int((a != b).sum())
        if trial % 7 == 0:
            b[0], a[0] = kind(0.0), kind(-0.0)
        if trial % 11 == 0:
            a[-1], b[-1] = kind(tiny), kind(-tiny)
        if trial % 13 == 0:
            a[0] = kind(np.inf)
        fast, slow = compare(a, b, tol), compare(a, b, tol, fast=False)
        assert (fast.ok, fast.kind, fast.message, fast.n_mismatch, fast.worst_index) == \
               (slow.ok, slow.kind, slow.message, slow.n_mismatch, slow.worst_index)
        for key in ("max_abs_err", "max_rel_err", "max_ulp"):
            assert getattr(fast, key) == getattr(slow, key), (key, a, b)
    assert moved > 200
    if tol.ulp or tol.rtol:  # (an exact tolerance fails most trials: the general path reports them)
        assert sum(r is not None for r in taken) > 20  # the shortcut did run


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # formatting the max in a message
@pytest.mark.parametrize("dtype", sorted(_FLOATS))
@pytest.mark.parametrize("tol", [Tolerance(1e-3, 1e-3), Tolerance(0.0, 0.0, ulp=2), Tolerance(0.0, 0.0)])
def test_fast_path_of_one_element_gives_the_general_paths_result(dtype, tol):
    """A scalar loss (shape (), (1,) or (1, 1)) takes the one-element shortcut: the same
    verdict and statistics as the general path, signed zeros, subnormals, opposite signs,
    zero TF values and non-finite values included."""
    kind = _FLOATS[dtype]
    tiny = float(ml_dtypes.finfo(kind).smallest_subnormal)
    big = float(ml_dtypes.finfo(kind).max)
    values = [0.0, -0.0, tiny, -tiny, 1.0, -1.0, 0.1, 3.5, -2.25, 1e-3, big, -big, np.inf, np.nan]
    for x in values:
        with np.errstate(over="ignore"):
            after = float(np.nextafter(kind(x), kind(np.inf))) if np.isfinite(x) else x
        for y in values + [after]:
            for shape in ((), (1,), (1, 1)):
                a, b = np.full(shape, x, dtype=kind), np.full(shape, y, dtype=kind)
                fast, slow = compare(a, b, tol), compare(a, b, tol, fast=False)
                assert (fast.ok, fast.kind, fast.message, fast.n_mismatch, fast.worst_index) == \
                       (slow.ok, slow.kind, slow.message, slow.n_mismatch, slow.worst_index), (x, y, shape)
                for key in ("max_abs_err", "max_rel_err", "max_ulp"):
                    assert getattr(fast, key) == getattr(slow, key), (key, x, y, shape)


@pytest.mark.parametrize("dtype", sorted(_FLOATS))
@pytest.mark.parametrize("tol", [Tolerance(1e-3, 1e-3), Tolerance(0.0, 0.0, ulp=2), Tolerance(0.0, 0.0)])
def test_fast_path_of_equal_and_zero_elements_gives_the_general_paths_result(dtype, tol):
    """Arrays of two or more elements: equal arrays (signed zeros and non-finite values
    included), a zero TF value against zero (0/0: relative error 0) or against a tiny value
    (relative error inf), the rest equal or one ULP apart: the same verdict and statistics."""
    kind = _FLOATS[dtype]
    tiny = float(ml_dtypes.finfo(kind).smallest_subnormal)
    values = [0.0, -0.0, tiny, -tiny, 1.0, -2.25, np.inf, np.nan]
    for x, y in itertools.product(values, repeat=2):
        for rest in ([], [0.5], [0.5, -3.0]):
            a = np.array([x, 0.0, *rest], dtype=kind)
            for b in (a.copy(), np.array([y, -0.0, *rest], dtype=kind),
                      np.array([y, tiny, *np.nextafter(np.array(rest, kind), kind(np.inf))], dtype=kind)):
                fast, slow = compare(a, b, tol), compare(a, b, tol, fast=False)
                assert (fast.ok, fast.kind, fast.message, fast.n_mismatch, fast.worst_index) == \
                       (slow.ok, slow.kind, slow.message, slow.n_mismatch, slow.worst_index), (a, b)
                for key in ("max_abs_err", "max_rel_err", "max_ulp"):
                    assert getattr(fast, key) == getattr(slow, key), (key, a, b)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", sorted(_FLOATS))
@pytest.mark.parametrize("tol", [Tolerance(1e-3, 1e-3), Tolerance(0.0, 0.0, ulp=2), Tolerance(1e-6, 0.0)])
def test_fast_path_of_two_dtypes_gives_the_general_paths_result(dtype, tol):
    """An output against ``expect``'s float64 values (and the other way round): ULPs in the
    coarser dtype, the same verdict and statistics as the general path, values that round
    to the same float, that overflow the coarser dtype and that differ in sign included."""
    kind = _FLOATS[dtype]
    rng = np.random.default_rng(11)
    big = float(ml_dtypes.finfo(kind).max)
    for trial in range(120):
        size = int(rng.integers(1, 6))
        exact = rng.normal(size=size) * 10.0 ** rng.integers(-3, 3)
        out = exact.astype(kind)
        expect = exact + exact * rng.normal(size=size) * 10.0 ** -rng.integers(2, 9)
        if trial % 9 == 0:
            expect[0] = -expect[0]
        if trial % 13 == 0:
            expect[-1] = big * 4 if kind is not np.float64 else np.inf
        if trial % 17 == 0:
            out[0], expect[0] = kind(-0.0), 0.0
        for a, b in ((out, expect), (expect, out)):
            fast = compare(a, b, tol, check_dtype=False)
            slow = compare(a, b, tol, check_dtype=False, fast=False)
            assert (fast.ok, fast.kind, fast.message, fast.n_mismatch, fast.worst_index) == \
                   (slow.ok, slow.kind, slow.message, slow.n_mismatch, slow.worst_index), (a, b)
            for key in ("max_abs_err", "max_rel_err", "max_ulp"):
                assert getattr(fast, key) == getattr(slow, key), (key, a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_a_large_output_passes_chunk_by_chunk_with_the_whole_arrays_statistics(monkeypatch, dtype):
    """harness.compare._finite_pass takes a large output a chunk at a time (PASS_CHUNK
    elements): the same verdict and statistics as in one piece and as the general path, with
    what decides them (the worst error, a 0/0, a NaN, a failing element) in any chunk."""
    from harness import compare as engine

    monkeypatch.setattr(engine, "PASS_CHUNK", 1000)
    rng = np.random.default_rng(7)
    base = rng.standard_normal(4500).astype(dtype)
    tol = Tolerance(1e-2, 1e-3)
    variants = {}
    near = (base * (1 + rng.uniform(-1e-3, 1e-3, base.size))).astype(dtype)
    variants["close"] = near
    zeros = near.copy()
    zeros[:1000], base_zero = 0, base.copy()  # a chunk whose errors are all 0/0
    variants["zero chunk"] = zeros
    worst_last = near.copy()
    worst_last[-3] = base[-3] + dtype(5e-4)  # the largest error in the short last chunk
    variants["worst last"] = worst_last
    nan_late = near.copy()
    nan_late[3999] = np.nan
    variants["nan late"] = nan_late
    bad_middle = near.copy()
    bad_middle[2500] = base[2500] + dtype(1.0)
    variants["fails in the middle"] = bad_middle
    for name, other in variants.items():
        a = base_zero if name == "zero chunk" else base
        if name == "zero chunk":
            a = a.copy()
            a[:1000] = 0
        chunked = compare(a, other, tol)
        monkeypatch.setattr(engine, "PASS_CHUNK", 1 << 30)
        whole = compare(a, other, tol)
        monkeypatch.setattr(engine, "PASS_CHUNK", 1000)
        slow = compare(a, other, tol, fast=False)
        for got in (whole, slow):
            assert (chunked.ok, chunked.kind, chunked.message, chunked.n_mismatch, chunked.worst_index) == \
                   (got.ok, got.kind, got.message, got.n_mismatch, got.worst_index), name
            for key in ("max_abs_err", "max_rel_err", "max_ulp"):
                assert getattr(chunked, key) == getattr(got, key) or (
                    np.isnan(getattr(chunked, key)) and np.isnan(getattr(got, key))), (name, key)
    assert compare(base, near, tol).ok and not compare(base, bad_middle, tol).ok


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("tol", [Tolerance(1e-2, 1e-3), Tolerance(0.0, 0.0, ulp=4)], ids=["rtol", "ulp"])
def test_nan_and_inf_at_the_same_places_pass_the_shortcut_with_the_general_paths_statistics(monkeypatch, dtype, tol):
    """harness.compare._finite_pass leaves NaN against NaN and an infinity against the same
    infinity out of its statistics, as the general path does: the same verdicts, messages and
    statistics (None where no element is finite), whole or chunk by chunk, with a chunk of
    nothing but NaN; a NaN or infinity on one side only, or of another sign, goes to the
    general path."""
    from harness import compare as engine

    rng = np.random.default_rng(11)
    kind = np.dtype(dtype).type
    base = rng.standard_normal(3000).astype(dtype)
    near = np.array([np.nextafter(x, kind(np.inf)) if i % 3 else x for i, x in enumerate(base)], dtype=dtype)
    for x in (base, near):
        x[:1000] = np.nan  # a whole chunk of NaN
        x[1500], x[2999] = kind(np.inf), kind(-np.inf)
    cases = {"matching": (base, near), "all nan": (np.full(3000, np.nan, dtype), np.full(3000, np.nan, dtype))}
    one_sided = near.copy()
    one_sided[2000] = np.nan
    cases["nan on one side"] = (base, one_sided)
    flipped = near.copy()
    flipped[1500] = kind(-np.inf)
    cases["inf of another sign"] = (base, flipped)
    taken = []
    shortcut = engine._finite_pass
    monkeypatch.setattr(engine, "_finite_pass", lambda *a: taken.append(shortcut(*a)) or taken[-1])
    for name, (a, b) in cases.items():
        slow = compare(a, b, tol, fast=False)
        for chunk in (1000, 1 << 30):
            monkeypatch.setattr(engine, "PASS_CHUNK", chunk)
            fast = compare(a, b, tol)
            assert (fast.ok, fast.kind, fast.message, fast.n_mismatch, fast.worst_index) == \
                   (slow.ok, slow.kind, slow.message, slow.n_mismatch, slow.worst_index), name
            for key in ("max_abs_err", "max_rel_err", "max_ulp"):
                assert getattr(fast, key) == getattr(slow, key), (name, key, chunk)
    assert compare(base, near, tol).ok and compare(base, near, tol).max_abs_err is not None
    assert not compare(base, one_sided, tol).ok and not compare(base, flipped, tol).ok
    assert sum(r is not None for r in taken) >= 4  # matching and all-NaN took the shortcut, whole and chunked
