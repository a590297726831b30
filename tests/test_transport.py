"""How an xdist worker's test reports reach the controller (harness.plugin's
``pytest_report_to_serializable`` / ``pytest_report_from_serializable``): packed as one
marshal blob, unpacked to the very fields pytest and xdist would have sent."""
import json
import math

from pluggy import Result
from _pytest.reports import TestReport, pytest_report_to_serializable

from harness import plugin


def _report(**extra) -> TestReport:
    rep = TestReport("cases/a.yaml::x[float32]", ("cases/a.yaml", 2, "x[float32]"), {"x[float32]": 1}, "passed",
                     None, "call", [("Captured stdout call", "hi")], 0.5, user_properties=[("op", "tf.nn.x")])
    for key, value in extra.items():
        setattr(rep, key, value)
    return rep


def _to_wire(report: TestReport | None, made=None) -> dict:
    """The data harness.plugin's wrapper leaves of what pytest's own hook (or ``made``) returns."""
    gen = plugin.pytest_report_to_serializable(None, report)
    next(gen)
    outcome = Result.from_call(made or (lambda: pytest_report_to_serializable(report)))
    try:
        gen.send(outcome)
    except StopIteration:
        pass
    return outcome.get_result()


def _from_wire(data: dict) -> dict:
    gen = plugin.pytest_report_from_serializable(None, data)
    next(gen)
    return data


RECORD = {"id": "x[float32]", "status": "passed", "max_abs_err": 1.5e-8, "max_ulp": float("inf"),
          "output_shape": (2, 3), "params": {"dtype": "float32"}, "by_index": {0: [1, 2]}, "diff": None,
          "checks": [{"name": "reference vs tf", "ok": True, "rel": float("nan")}]}


def test_a_report_crosses_as_one_blob_and_comes_back_with_every_field_and_type():
    report = _report(harness=RECORD)
    plain = pytest_report_to_serializable(report)
    wire = _to_wire(report)
    assert set(wire) == {"$report_type", plugin.PACKED} and isinstance(wire[plugin.PACKED], bytes)
    wire.update(item_index=7, worker_id="gw0")  # what xdist adds on the way
    back = _from_wire(wire)
    assert back.pop("item_index") == 7 and back.pop("worker_id") == "gw0"
    record = back["harness"]
    assert record["output_shape"] == (2, 3) and isinstance(record["output_shape"], tuple)
    assert record["by_index"] == {0: [1, 2]} and math.isnan(record["checks"][0]["rel"])
    assert math.isinf(record["max_ulp"])
    assert json.dumps(back, sort_keys=True, default=repr) == json.dumps(plain, sort_keys=True, default=repr)
    rebuilt = TestReport._from_json(back)
    assert rebuilt.harness["id"] == "x[float32]" and rebuilt.user_properties == [("op", "tf.nn.x")]
    assert rebuilt.sections == [("Captured stdout call", "hi")]


def test_a_report_marshal_cannot_hold_goes_unchanged():
    """Another plugin's object on the report: execnet's own serializer, as before (it rejects
    what it cannot send itself)."""
    class Other:
        pass

    report = _report(harness=RECORD, other=Other())
    wire = _to_wire(report)
    assert plugin.PACKED not in wire and wire["harness"] is RECORD
    assert _from_wire(dict(wire)) == wire


def test_other_report_kinds_are_left_alone():
    data = {"$report_type": "CollectReport", "nodeid": "cases/a.yaml"}
    assert _to_wire(None, lambda: dict(data)) == data


def test_the_controller_keeps_the_first_coverage_a_worker_sent():
    """xdist: a worker computes the coverage from the case files it loaded and sends it with its
    output (harness.session); a worker that died sent none; the first one sent is kept."""
    from types import SimpleNamespace

    from harness.session import Session

    session = Session.__new__(Session)
    session.workers_coverage = None
    session.pytest_testnodedown(SimpleNamespace(), error="crashed")  # no output at all
    assert session.workers_coverage is None
    first, second = [{"op": "tf.nn.softmax", "cases": 2}], [{"op": "tf.nn.softmax", "cases": 3}]
    session.pytest_testnodedown(SimpleNamespace(workeroutput={"harness_coverage": first}), error=None)
    session.pytest_testnodedown(SimpleNamespace(workeroutput={"harness_coverage": second}), error=None)
    assert session.workers_coverage is first
