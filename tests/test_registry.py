"""The op registry: names, roles, aliases and suggestions for unknown names."""
import pytest

from harness.registry import ROLES, UnknownOpError, get_op, registry

ISSUE_OPS = [
    "tf.nn.softmax_cross_entropy_with_logits",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    "tf.nn.sigmoid_cross_entropy_with_logits",
    "tf.nn.softmax",
    "tf.compat.v1.losses.softmax_cross_entropy",
    "tf.compat.v1.losses.sparse_softmax_cross_entropy",
    "tf.keras.losses.SparseCategoricalCrossentropy",
    "tf.keras.losses.CategoricalCrossentropy",
    "tf.keras.losses.MeanSquaredError",
    "tf.clip_by_global_norm",
]


@pytest.mark.parametrize("name", ISSUE_OPS)
def test_documents_ops_are_registered(name):
    assert get_op(name).name == name


def test_every_entry_is_well_formed():
    for op in registry():
        assert op.name.startswith(("tf.", "tf_keras.", "examples.")), op.name
        names = [a.name for a in op.args + op.init]
        assert len(names) == len(set(names)), f"{op.name}: duplicate argument names"
        assert all(a.role in ROLES for a in op.args + op.init)
        for d in op.differentiable:
            arg = op.arg(d)
            assert arg is not None and arg.role in ("float", "float_list"), f"{op.name}: {d} is not a float argument"
        assert set(op.dtypes) <= {"float16", "bfloat16", "float32", "float64"}
        assert callable(op.reference)


def test_tf1_alias_resolves_to_compat_v1_with_a_warning():
    reg = registry()
    real, warning = reg.resolve_name("tf.losses.sparse_softmax_cross_entropy")
    assert real == "tf.compat.v1.losses.sparse_softmax_cross_entropy"
    assert "tf.keras.losses" in warning
    assert get_op("tf.losses.sparse_softmax_cross_entropy").name == real


def test_unknown_op_lists_the_closest_names():
    with pytest.raises(UnknownOpError) as info:
        get_op("tf.nn.sparse_softmax_cross_entropy_with_logit")
    assert "did you mean tf.nn.sparse_softmax_cross_entropy_with_logits" in str(info.value)


def test_unknown_op_without_close_names_points_to_list_ops():
    with pytest.raises(UnknownOpError, match="list-ops"):
        get_op("zzzz")


def test_tf_callables_exist():
    """Every registry name that is called directly must exist in the installed TF."""
    from harness import tfbridge

    tf = tfbridge.tf()
    for op in registry():
        if op.tf_call is None:
            assert callable(op.tf_fn(tf)), op.name


INT_KINDS = {"class_ids", "label_sequences", "sequence_lengths"}


def test_every_argument_kind_is_known_and_fits_its_role():
    from harness.registry import KINDS

    for op in registry():
        for a in op.args + op.init:
            if a.role == "value":
                assert not a.kind, f"{op.name}: {a.name} is a plain value with a kind"
                continue
            assert a.meaning in KINDS, f"{op.name}: {a.name}"
            assert (a.meaning in INT_KINDS) == (a.role == "int"), f"{op.name}: {a.name} {a.role} {a.meaning}"


def test_records_name_known_recipes_modes_and_bench_builders():
    from bench.inputs import BUILDERS, SIZES
    from harness.fuzz.recipes import RECIPES
    from harness.registry import MODES

    for op in registry():
        assert set(op.modes) <= set(MODES), op.name
        for field, known in ((op.fuzz, RECIPES), (op.bench, BUILDERS)):
            assert field is None or callable(field) or field in known, f"{op.name}: {field!r}"
        assert op.bench_limit is None or op.bench_limit[0] in SIZES, op.name


def test_fuzz_and_bench_draw_arguments_by_kind():
    """The same kind gives the same kind of values to both: probabilities rows sum to 1,
    one-hot rows hold one 1, class ids index the classes."""
    import numpy as np

    from bench.inputs import build
    from harness.fuzz.strategies import UNIT, domain_of

    op = get_op("tf.keras.losses.CategoricalCrossentropy")
    args = build(op, "small").args
    np.testing.assert_allclose(args["y_pred"].sum(axis=-1), 1, rtol=1e-5)
    assert set(np.unique(args["y_true"])) == {0.0, 1.0} and np.all(args["y_true"].sum(axis=-1) == 1)
    assert domain_of(op, "y_pred", {"from_logits": False}) == UNIT
    assert domain_of(op, "y_pred", {"from_logits": True}) != UNIT
    ids = build(get_op("tf.nn.sparse_softmax_cross_entropy_with_logits"), "small").args["labels"]
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < 10


def test_every_float_kind_has_fuzz_values_and_a_bench_builder():
    from bench.inputs import KIND_BUILDERS
    from harness.fuzz.strategies import KIND_DOMAINS
    from harness.registry import KINDS

    floats = set(KINDS) - INT_KINDS
    assert floats <= set(KIND_DOMAINS), sorted(floats - set(KIND_DOMAINS))
    assert floats | {"class_ids"} <= set(KIND_BUILDERS), sorted(floats - set(KIND_BUILDERS))
