"""Identity properties that need no reference: fuzzed, and checked on TF and on the
reference alike (a property TF itself breaks is a TF quirk worth knowing; one only the
reference breaks is a reference bug).

A property draws a list of :class:`Relation` s ``lhs == then(rhs) * times`` between two
op calls on literal inputs. Relations without ``times`` are also cases in the README's
format (``lhs`` as the case, ``rhs`` as its ``same_as``), which is how a failure is
written back.

* ``shift``: adding a constant to the logits changes nothing (softmax, log_softmax, the
  dense and sparse softmax cross-entropies). Logits are multiples of 1/16 and the shift an
  integer, so ``logits + c`` is exact and any difference is the op's;
* ``sparse-dense``: sparse cross-entropy of ``y`` == dense cross-entropy of ``one_hot(y)``
  (``tf.nn``, ``tf.compat.v1.losses``, Keras functions and classes);
* ``v1-unit-weights[OP]``: a v1 loss with weights of ones (the loss shape, or ones on the
  batch axis broadcast over the rest) == the unweighted loss, for every reduction;
* ``keras-sum-mean[CLASS]`` (``keras2-sum-mean[CLASS]`` for ``tf_keras``): ``reduction="sum"``
  == ``"sum_over_batch_size"`` × N, N the element count of the unreduced losses (classes
  with a mask excluded: their mean divides by the unmasked count);
* ``nn-v1-keras``: ``tf.nn`` == ``tf.compat.v1.losses`` (``reduction="none"``) == Keras
  (``from_logits=True``) on the same inputs, for the softmax, sparse and sigmoid
  cross-entropies.

Comparisons use the default tolerance of the precision TF's results carry
(:mod:`harness.precision`): float32's for a float64 relation involving an op that computes
in float32 inside (v1 losses, Keras classes), and a failure written as a case says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from harness import inputs
from harness.compare import compare
from harness.fuzz import recipes
from harness.fuzz.engine import search
from harness.fuzz.judge import Verdict
from harness.fuzz.strategies import REAL, UNIT, Gen, array_spec
from harness.registry import registry
from harness.sides import NUMPY_REFERENCE, Invocation
from harness.tfexec import LIVE_TF
from harness.precision import result_precision
from harness.tolerances import DEFAULTS, default_tolerance

NN, V1, KERAS = "tf.nn.", "tf.compat.v1.losses.", "tf.keras.losses."
PROPERTY_DTYPES = ("float32", "float64")
MASKED_KERAS = ("Circle",)
"""Keras classes whose losses carry a mask (excluded from ``keras-sum-mean``)."""
TF_BREAKS = {
    "v1-unit-weights[mean_pairwise_squared_error]": (
        "TF breaks it: with a scalar weight, eager TF counts every element of the batch as "
        "present for each example (labels 0, predictions [[1, 2], [3, 5]]: weights=1.0 gives "
        "13.83, ones [2, 1] give 5.0, ones [2, 2] give 10.0; 5.0 inside tf.function)"),
}
"""Properties TF itself does not satisfy: reported as skipped, with the evidence."""


@dataclass(frozen=True)
class Call:
    op: str
    args: dict
    init: dict = field(default_factory=dict)

    def as_related(self) -> dict:
        out: dict = {"op": self.op}
        if self.init:
            out["init"] = dict(self.init)
        out["args"] = dict(self.args)
        return out


@dataclass(frozen=True)
class Relation:
    """``lhs == then(rhs) * times`` in ``dtype``."""

    label: str
    dtype: str
    lhs: Call
    rhs: Call
    then: str | None = None
    times: float | None = None

    def case_data(self, precision: str | None = None) -> dict | None:
        """The relation as a case mapping with ``same_as`` (None when it needs ``times``);
        ``precision``: the precision TF's results carried, when coarser than ``dtype``
        (the case then states that precision's tolerance, with the reason)."""
        if self.times is not None:
            return None
        related = self.rhs.as_related()
        if self.then:
            related["then"] = self.then
        data: dict = {"op": self.lhs.op, "dtypes": [self.dtype]}
        if precision is not None and precision != self.dtype:
            rtol, atol = DEFAULTS[precision]
            data["tolerance"] = {"rtol": rtol, "atol": atol,
                                 "reason": f"TF's {self.dtype} result has {precision} precision: the op computes in {precision} inside"}
        data["same_as"] = [related]
        if self.lhs.init:
            data["init"] = dict(self.lhs.init)
        data["args"] = dict(self.lhs.args)
        return data


# --- evaluating on one side ----------------------------------------------------------------
def _materialize(call: Call, dtype: str) -> dict:
    op = registry().get(call.op)
    out = {}
    for name, spec in call.args.items():
        arg = op.arg(name)
        out[name] = inputs.materialize(f"args.{name}", spec, arg.role if arg else "value", dtype, seed=0,
                                       base_dir=Path("."))
    return out


def evaluate(call: Call, dtype: str, side: str) -> Any:
    """``call`` on one side: the NumPy reference or eager TF (:data:`harness.tfexec.LIVE_TF`)."""
    inv = Invocation(registry().get(call.op), call.init, _materialize(call, dtype), dtype=dtype)
    return (NUMPY_REFERENCE if side == "reference" else LIVE_TF).call(inv)


def check_relation(rel: Relation) -> tuple[str, str, str]:
    """``(status, message, precision)``: ``passed``; ``invalid`` when TF rejects the inputs
    (whether the reference rejects them too is for parity fuzzing to judge); or ``failed``
    when the relation breaks on either side or the reference raises on inputs TF takes.
    Both sides are compared at the default tolerance of the precision TF's results carry
    (:func:`harness.precision.result_precision`), returned as ``precision``."""
    try:
        tf_pair = [np.asarray(evaluate(call, rel.dtype, "tf")) for call in (rel.lhs, rel.rhs)]
    except Exception as exc:
        return "invalid", f"{rel.label}: TF raised {type(exc).__name__}", rel.dtype
    precision = result_precision(rel.dtype, tf_pair)
    problems = [_relation_problem(rel, "tf", *tf_pair, precision)]
    try:
        ref_pair = [np.asarray(evaluate(call, rel.dtype, "reference")) for call in (rel.lhs, rel.rhs)]
    except Exception as exc:
        problems.append(f"{rel.label} (reference): raised {type(exc).__name__}: {str(exc).strip()[:300]}")
    else:
        problems.append(_relation_problem(rel, "reference", *ref_pair, precision))
    problems = [p for p in problems if p]
    return ("failed" if problems else "passed"), "\n\n".join(problems), precision


def _relation_problem(rel: Relation, side: str, lhs: np.ndarray, rhs: np.ndarray, precision: str) -> str:
    """The comparison's message when ``lhs != then(rhs) * times`` on one side, else ``""``."""
    wide = rhs.astype(np.float64)
    if rel.then:
        wide = np.asarray(getattr(np, rel.then)(wide))
    if rel.times is not None:
        wide = wide * rel.times
    c = compare(lhs.astype(np.float64), wide, default_tolerance(precision), check_dtype=False,
                names=(rel.lhs.op.rsplit(".", 1)[1], rel.rhs.op.rsplit(".", 1)[1]), header=f"{rel.label} ({side})")
    return "" if c.ok else c.message


# --- drawing inputs --------------------------------------------------------------------
def _exact_logits(g: Gen, shape) -> np.ndarray:
    """Multiples of 1/16 in [-20, 20]: shifting them by an integer up to 1e4 is exact."""
    sixteenths = g.draw(st.lists(st.integers(-320, 320), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return (np.asarray(sixteenths, dtype=np.float64) / 16).reshape(shape)


def _labels_and_logits(g: Gen, min_rank: int = 1, max_rank: int = 2):
    shape = g.shape(min_rank, max_rank, empty=False)
    logits = np.asarray(g.floats(shape, REAL), dtype=np.float64)
    labels = np.asarray(g.ints(shape[:-1], 0, shape[-1]), dtype=np.int64)
    return shape, labels, logits


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return (np.arange(classes) == labels[..., None]).astype(np.float64)


def shift(g: Gen) -> list[Relation]:
    shape = g.shape(1, 3, empty=False)
    logits = _exact_logits(g, shape)
    c = float(g.pick([3, -1, 100, -1000, 10000, -10000, 1]))
    shifted = array_spec(logits + c)
    soft = g.floats(shape, UNIT)
    labels = g.ints(shape[:-1], 0, shape[-1])
    out = []
    for name, extra in (("softmax", {}), ("log_softmax", {}),
                        ("softmax_cross_entropy_with_logits", {"labels": soft}),
                        ("sparse_softmax_cross_entropy_with_logits", {"labels": labels})):
        out.append(Relation(f"{name}(logits + {c:g}) == {name}(logits)", g.dtype,
                            Call(NN + name, {**extra, "logits": shifted}),
                            Call(NN + name, {**extra, "logits": array_spec(logits)})))
    return out


def sparse_dense(g: Gen) -> list[Relation]:
    shape, labels, logits = _labels_and_logits(g, 2, 3)
    y, x, dense = array_spec(labels), array_spec(logits), array_spec(_one_hot(labels, shape[-1]))
    reduction = g.pick(["none", "weighted_sum_by_nonzero_weights", "weighted_sum", "weighted_mean"])
    return [
        Relation("nn sparse == dense", g.dtype, Call(NN + "sparse_softmax_cross_entropy_with_logits", {"labels": y, "logits": x}),
                 Call(NN + "softmax_cross_entropy_with_logits", {"labels": dense, "logits": x})),
        Relation(f"v1 sparse == dense ({reduction})", g.dtype,
                 Call(V1 + "sparse_softmax_cross_entropy", {"labels": y, "logits": x, "reduction": reduction}),
                 Call(V1 + "softmax_cross_entropy", {"onehot_labels": dense, "logits": x, "reduction": reduction})),
        Relation("keras sparse == dense (from_logits)", g.dtype,
                 Call(KERAS + "sparse_categorical_crossentropy", {"y_true": y, "y_pred": x, "from_logits": True}),
                 Call(KERAS + "categorical_crossentropy", {"y_true": dense, "y_pred": x, "from_logits": True})),
        Relation("keras classes sparse == dense", g.dtype,
                 Call(KERAS + "SparseCategoricalCrossentropy", {"y_true": y, "y_pred": x}, {"from_logits": True}),
                 Call(KERAS + "CategoricalCrossentropy", {"y_true": dense, "y_pred": x}, {"from_logits": True})),
    ]


def nn_v1_keras(g: Gen) -> list[Relation]:
    shape, labels, logits = _labels_and_logits(g, 2, 2)
    x, y, soft = array_spec(logits), array_spec(labels), g.floats(shape, UNIT)
    binary = g.floats(shape, UNIT)
    rels = [
        (Call(NN + "softmax_cross_entropy_with_logits", {"labels": soft, "logits": x}),
         Call(V1 + "softmax_cross_entropy", {"onehot_labels": soft, "logits": x, "reduction": "none"}),
         Call(KERAS + "categorical_crossentropy", {"y_true": soft, "y_pred": x, "from_logits": True})),
        (Call(NN + "sparse_softmax_cross_entropy_with_logits", {"labels": y, "logits": x}),
         Call(V1 + "sparse_softmax_cross_entropy", {"labels": y, "logits": x, "reduction": "none"}),
         Call(KERAS + "sparse_categorical_crossentropy", {"y_true": y, "y_pred": x, "from_logits": True})),
    ]
    out = []
    for nn_call, v1_call, keras_call in rels:
        name = nn_call.op.rsplit(".", 1)[1]
        out.append(Relation(f"{name}: nn == v1", g.dtype, nn_call, v1_call))
        out.append(Relation(f"{name}: nn == keras", g.dtype, nn_call, keras_call))
    sigmoid = Call(NN + "sigmoid_cross_entropy_with_logits", {"labels": binary, "logits": x})
    out.append(Relation("sigmoid: nn == v1", g.dtype, sigmoid,
                        Call(V1 + "sigmoid_cross_entropy", {"multi_class_labels": binary, "logits": x, "reduction": "none"})))
    row = {"labels": binary[0], "logits": x[0]}
    out.append(Relation("sigmoid: keras == mean of nn (one row)", g.dtype,
                        Call(KERAS + "binary_crossentropy", {"y_true": row["labels"], "y_pred": row["logits"], "from_logits": True}),
                        Call(NN + "sigmoid_cross_entropy_with_logits", row), then="mean"))
    return out


def v1_unit_weights(op_name: str) -> Callable[[Gen], list[Relation] | None]:
    op = registry().get(op_name)

    def draw(g: Gen) -> list[Relation] | None:
        example = g.draw(recipes.examples_for(op, [g.dtype]))
        args = {k: v for k, v in example.args.items() if k != "weights"}
        reduction_arg = op.arg("reduction")
        if reduction_arg is not None:
            args["reduction"] = g.value(reduction_arg)
        shape = _v1_loss_shape(op_name, args, g.dtype)
        if shape is None:
            return None
        if g.draw(st.booleans()):
            shape = shape[:1] + (1,) * (len(shape) - 1)
        ones = array_spec(np.ones(shape))
        return [Relation(f"{op_name.rsplit('.', 1)[1]}: weights=ones{list(shape)} == unweighted", g.dtype,
                         Call(op_name, {**args, "weights": ones}), Call(op_name, {**args, "weights": 1.0}))]

    return draw


def _v1_loss_shape(op_name: str, args: dict, dtype: str) -> tuple:
    """Shape of the unreduced loss, from the reference with ``reduction="none"``
    (``mean_pairwise_squared_error``, without a reduction: the shape of its inputs)."""
    op = registry().get(op_name)
    arrays = _materialize(Call(op_name, args), dtype)
    if op.arg("reduction") is None:
        return next(v for k, v in arrays.items() if isinstance(v, np.ndarray)).shape
    try:
        return np.shape(op.run_reference({}, {**arrays, "reduction": "none"}))
    except Exception:  # inputs the op rejects: no relation to check
        return None


def keras_sum_mean(op_name: str) -> Callable[[Gen], list[Relation] | None]:
    op = registry().get(op_name)

    def draw(g: Gen) -> list[Relation] | None:
        example = g.draw(recipes.examples_for(op, [g.dtype]))
        init = dict(example.init)
        if "ignore_class" in init:
            init["ignore_class"] = None
        unreduced = Call(op_name, example.args, {**init, "reduction": "none"})
        try:
            count = int(np.size(evaluate(unreduced, g.dtype, "reference")))
        except Exception:  # inputs the op rejects: no relation to check
            return None
        return [Relation(f"{op.name.rsplit('.', 1)[1]}: sum == sum_over_batch_size x {count}", g.dtype,
                         Call(op_name, example.args, {**init, "reduction": "sum"}),
                         Call(op_name, example.args, {**init, "reduction": "sum_over_batch_size"}),
                         times=float(count))]

    return draw


# --- the property table and the run -------------------------------------------------------
@dataclass(frozen=True)
class Property:
    name: str
    draw: Callable[[Gen], list[Relation] | None]
    """Relations on drawn inputs; None when the inputs are ones the op rejects."""
    ops: tuple[str, ...]


def all_properties() -> list[Property]:
    reg = registry()
    props = [
        Property("shift", shift, tuple(NN + n for n in ("softmax", "log_softmax", "softmax_cross_entropy_with_logits",
                                                         "sparse_softmax_cross_entropy_with_logits"))),
        Property("sparse-dense", sparse_dense, (NN + "sparse_softmax_cross_entropy_with_logits", NN + "softmax_cross_entropy_with_logits",
                                                V1 + "sparse_softmax_cross_entropy", V1 + "softmax_cross_entropy",
                                                KERAS + "sparse_categorical_crossentropy", KERAS + "categorical_crossentropy",
                                                KERAS + "SparseCategoricalCrossentropy", KERAS + "CategoricalCrossentropy")),
        Property("nn-v1-keras", nn_v1_keras, (NN + "softmax_cross_entropy_with_logits", V1 + "softmax_cross_entropy",
                                              KERAS + "categorical_crossentropy", NN + "sparse_softmax_cross_entropy_with_logits",
                                              V1 + "sparse_softmax_cross_entropy", KERAS + "sparse_categorical_crossentropy",
                                              NN + "sigmoid_cross_entropy_with_logits", V1 + "sigmoid_cross_entropy",
                                              KERAS + "binary_crossentropy")),
    ]
    for op in reg:
        if op.name.startswith(V1) and op.arg("weights") is not None and recipes.skip_reason(op) is None:
            props.append(Property(f"v1-unit-weights[{op.name.rsplit('.', 1)[1]}]", v1_unit_weights(op.name), (op.name,)))
        if (op.is_keras_class and op.init_arg("reduction") is not None and recipes.skip_reason(op) is None
                and op.name.rsplit(".", 1)[1] not in MASKED_KERAS):
            family = "keras2" if op.name.startswith("tf_keras.") else "keras"
            props.append(Property(f"{family}-sum-mean[{op.name.rsplit('.', 1)[1]}]", keras_sum_mean(op.name), (op.name,)))
    return props


def property_strategy(prop: Property, dtypes=PROPERTY_DTYPES) -> st.SearchStrategy[list[Relation]]:
    @st.composite
    def relations(draw):
        return prop.draw(Gen(draw, draw(st.sampled_from(list(dtypes)))))

    return relations()


def _check_all(relations: list[Relation] | None) -> Verdict:
    if relations is None:
        return Verdict("invalid", "", {})
    for rel in relations:
        status, message, precision = check_relation(rel)
        if status != "passed":
            return Verdict(status, message, rel.case_data(precision) or {"relation": rel.label})
    return Verdict("passed", "", {})


@dataclass
class PropertyResult:
    name: str
    status: str
    reason: str = ""
    verdict: Verdict | None = None
    relations: list[Relation] | None = None


def check_property(prop: Property, *, examples: int, seed: int) -> PropertyResult:
    if prop.name in TF_BREAKS:
        return PropertyResult(prop.name, "skipped", reason=TF_BREAKS[prop.name])
    missing = [name for name in prop.ops if name not in registry()]
    if missing:
        return PropertyResult(prop.name, "skipped", reason=f"not registered: {', '.join(missing)}")
    counts, relations, verdict = search(property_strategy(prop), _check_all, examples=examples, seed=seed)
    if verdict is None:
        return PropertyResult(prop.name, "passed")
    return PropertyResult(prop.name, "failed", verdict=verdict, relations=relations)


def run_properties(ops, *, examples: int, seed: int, out: Path, write: bool, stream) -> int:
    """Check every property (those involving one of ``ops`` when given); write new failures
    that are expressible as cases to ``out``. Returns the exit status (1: a new failure)."""
    from harness.fuzz import known_cases
    from harness.fuzz.writeback import report_failure

    names = None if ops is None else {op.name for op in ops}
    known = known_cases(out)
    bad = 0
    for prop in all_properties():
        if names is not None and not names & set(prop.ops):
            continue
        result = check_property(prop, examples=examples, seed=seed)
        if result.status == "passed":
            print(f"passed   {prop.name}", file=stream)
        elif result.status == "skipped":
            print(f"skipped  {prop.name}: {result.reason}", file=stream)
        else:
            bad += report_failure(prop.name, result.verdict.case, result.verdict.message, known=known, write=write,
                                  out_dir=out, seed=seed,
                                  command=f"python -m harness fuzz --properties --examples {examples} --seed {seed}",
                                  description=f"identity property {prop.name}, shrunk", stream=stream)
    return 1 if bad else 0
