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
        assert op.name.startswith(("tf.", "examples.")), op.name
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
