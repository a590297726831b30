"""Tolerance defaults and the parsing of ``tolerance:`` overrides."""
import pytest

from harness.tolerances import DEFAULTS, Tolerance, ToleranceError, default_tolerance, resolve_tolerance


def test_defaults():
    assert default_tolerance("float32") == Tolerance(1.3e-6, 1e-5)
    assert default_tolerance("bfloat16") == Tolerance(1.6e-2, 1e-5)
    assert default_tolerance("int32") == Tolerance(0.0, 0.0)
    assert default_tolerance("bool") == Tolerance(0.0, 0.0)
    assert resolve_tolerance(None, "float16") == Tolerance(*DEFAULTS["float16"])
    with pytest.raises(ToleranceError):
        default_tolerance("complex64")


def test_describe():
    assert default_tolerance("float32").describe() == "rtol=1.3e-06, atol=1e-05"
    assert Tolerance(0, 0, ulp=4).describe() == "ulp=4"


def test_override_keeps_the_other_default():
    tol = resolve_tolerance({"rtol": 1e-4, "reason": "accumulates in float32"}, "float32")
    assert tol == Tolerance(1e-4, 1e-5, reason="accumulates in float32", source="override")
    tol = resolve_tolerance({"atol": "1e-6", "reason": "yaml string"}, "float64")
    assert (tol.rtol, tol.atol) == (1e-7, 1e-6)


def test_ulp_override():
    tol = resolve_tolerance({"ulp": 4, "reason": "log1p vs log"}, "float32")
    assert (tol.ulp, tol.source, tol.reason) == (4, "override", "log1p vs log")


def test_mapping_keyed_by_dtype():
    spec = {"float16": {"rtol": 1e-2, "reason": "half"}, "float32": {"ulp": 2, "reason": "r"}}
    assert resolve_tolerance(spec, "float16").rtol == 1e-2
    assert resolve_tolerance(spec, "float32").ulp == 2
    assert resolve_tolerance(spec, "float64") == default_tolerance("float64")


@pytest.mark.parametrize("spec, field, message", [
    ({"rtol": 1e-4}, "tolerance.reason",
     "tolerance: an override needs a reason (add reason: why this op needs it)"),
    ({"rtol": 1e-4, "reason": "  "}, "tolerance.reason",
     "tolerance: an override needs a reason (add reason: why this op needs it)"),
    ({"rtol": -1, "reason": "r"}, "tolerance.rtol", "tolerance.rtol: must be a finite number >= 0, got -1"),
    ({"ulp": -2, "reason": "r"}, "tolerance.ulp", "tolerance.ulp: must be a finite number >= 0, got -2"),
    ({"ulp": 1.5, "reason": "r"}, "tolerance.ulp", "tolerance.ulp: must be a whole number, got 1.5"),
    ({"atol": "tiny", "reason": "r"}, "tolerance.atol", "tolerance.atol: expected a number, got 'tiny'"),
    ({"atol": True, "reason": "r"}, "tolerance.atol", "tolerance.atol: expected a number, got True"),
    ({"ulp": 2, "rtol": 1e-3, "reason": "r"}, "tolerance.ulp",
     "tolerance: give either ulp or rtol/atol, not both"),
    ({"reason": "r"}, "tolerance", "tolerance: give rtol and/or atol, or ulp"),
    ({"rtl": 1e-3, "reason": "r"}, "tolerance.rtl",
     "tolerance: unknown key 'rtl' (allowed: rtol, atol, ulp, reason, "
     "or a mapping keyed by dtype: float16, bfloat16, float32, float64)"),
    ({"float32": {"rtol": 1e-3, "reason": "r"}, "reason": "r"}, "tolerance.reason",
     "tolerance: unknown key 'reason' in a mapping keyed by dtype (allowed: float16, bfloat16, float32, float64)"),
    ({"float32": {"rtol": 1e-3}}, "tolerance.float32.reason",
     "tolerance.float32: an override needs a reason (add reason: why this op needs it)"),
    (1e-3, "tolerance", "tolerance: expected a mapping such as {rtol: 1e-5, atol: 1e-6, reason: ...} "
                        "or {ulp: 4, reason: ...}, got 0.001"),
])
def test_errors(spec, field, message):
    with pytest.raises(ToleranceError) as info:
        resolve_tolerance(spec, "float32")
    assert info.value.field == field
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_field_prefix():
    with pytest.raises(ToleranceError) as info:
        resolve_tolerance({"rtol": 1e-3}, "float32", field="expect.tolerance")
    assert info.value.field == "expect.tolerance.reason"
