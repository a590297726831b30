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


# --- one message per item (harness.xdistbatch) -----------------------------------------------------
import marshal  # noqa: E402
from types import SimpleNamespace  # noqa: E402

from harness import xdistbatch  # noqa: E402

ITEM_EVENTS = [
    ("logstart", {"nodeid": "a.yaml::x", "location": ("a.yaml", 1, "x")}),
    ("testreport", {"data": {"$report_type": "TestReport", plugin.PACKED: b"\x01", "item_index": 0}}),
    ("testreport", {"data": {"$report_type": "TestReport", plugin.PACKED: b"\x02", "item_index": 0}}),
    ("testreport", {"data": {"$report_type": "TestReport", plugin.PACKED: b"\x03", "item_index": 0}}),
    ("logfinish", {"nodeid": "a.yaml::x", "location": ("a.yaml", 1, "x")}),
    ("runtest_protocol_complete", {"item_index": 0, "duration": 0.25}),
]


def _worker():
    sent = []
    batches = xdistbatch.WorkerBatches(lambda name, **kwargs: sent.append((name, kwargs)))
    return batches, sent


def test_a_worker_sends_an_items_events_as_one_message_in_order():
    batches, sent = _worker()
    for name, kwargs in ITEM_EVENTS[:-1]:
        batches.sendevent(name, **kwargs)
    assert sent == []
    batches.sendevent(*ITEM_EVENTS[-1][:1], **ITEM_EVENTS[-1][1])
    assert [name for name, _ in sent] == [xdistbatch.BATCH]
    assert marshal.loads(sent[0][1]["blob"]) == ITEM_EVENTS


def test_any_other_event_sends_what_is_held_first():
    batches, sent = _worker()
    batches.sendevent("logstart", **ITEM_EVENTS[0][1])
    batches.sendevent("warning_recorded", when="runtest", nodeid="a.yaml::x")
    assert [name for name, _ in sent] == [xdistbatch.BATCH, "warning_recorded"]
    assert marshal.loads(sent[0][1]["blob"]) == ITEM_EVENTS[:1]
    batches.sendevent("workerfinished", workeroutput={})
    assert [name for name, _ in sent][2:] == ["workerfinished"]  # nothing held: nothing before it


def test_events_marshal_cannot_hold_go_one_by_one():
    batches, sent = _worker()
    odd = object()
    batches.sendevent("logstart", **ITEM_EVENTS[0][1])
    batches.sendevent("testreport", data={"other_plugin": odd})
    batches.sendevent("runtest_protocol_complete", item_index=0, duration=0.1)
    assert [name for name, _ in sent] == ["logstart", "testreport", "runtest_protocol_complete"]
    assert sent[1][1]["data"]["other_plugin"] is odd


class _Node:
    """What xdistbatch uses of xdist's WorkerController: its callback and its queue."""

    def __init__(self, dsession) -> None:
        self.config = SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: dsession))
        self.workerinput: dict = {}
        self.queue: list = []
        self.handled: list = []

    def putevent(self, event) -> None:
        self.queue.append(event)

    def process_from_remote(self, eventcall) -> None:  # xdist's: handle, then queue
        self.handled.append(eventcall)
        name, kwargs = eventcall
        self.putevent((name, {"node": self, **kwargs}))


class _DSession:
    def __init__(self) -> None:
        self.calls: list = []

    def loop_once(self) -> None:  # noqa: D401  (only its presence is checked)
        pass

    def _record(self, name, **kwargs) -> None:
        self.calls.append((name, kwargs))



for _name in {name for name, _ in ITEM_EVENTS}:
    setattr(_DSession, "worker_" + _name, lambda self, _n="worker_" + _name, **kwargs: self._record(_n, **kwargs))


def test_the_controller_unpacks_a_batch_through_xdists_handling_and_queues_it_once(monkeypatch):
    monkeypatch.delenv(xdistbatch.ENV, raising=False)
    dsession = _DSession()
    node = _Node(dsession)
    assert xdistbatch.install_controller(node) and node.workerinput[xdistbatch.BATCH] == 1
    node.process_from_remote((xdistbatch.BATCH, {"blob": marshal.dumps(ITEM_EVENTS, 4)}))
    assert node.handled == ITEM_EVENTS  # each event through xdist's own handling, in order
    assert len(node.queue) == 1 and node.queue[0][0] == xdistbatch.BATCH
    node.process_from_remote(("workerfinished", {}))  # anything else as it is
    assert node.handled[-1] == ("workerfinished", {}) and node.queue[-1][0] == "workerfinished"
    getattr(dsession, "worker_" + xdistbatch.BATCH)(**node.queue[0][1])
    assert dsession.calls == [("worker_" + name, {"node": node, **kwargs}) for name, kwargs in ITEM_EVENTS]


def test_batches_are_off_when_asked_or_when_xdist_lacks_what_they_use(monkeypatch):
    monkeypatch.setenv(xdistbatch.ENV, "0")
    node = _Node(_DSession())
    assert not xdistbatch.install_controller(node) and node.workerinput == {}
    monkeypatch.delenv(xdistbatch.ENV)
    assert not xdistbatch.install_controller(_Node(None))  # no DSession
    assert not xdistbatch.install_worker(SimpleNamespace(workerinput={}))  # the controller did not ask
