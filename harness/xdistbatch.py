"""pytest-xdist's per-item messages from a worker to the controller sent as one.

For every item a worker sends six events, each its own execnet message: ``logstart``, a
``testreport`` per phase (setup, call, teardown), ``logfinish`` and
``runtest_protocol_complete``. Each message is serialized by execnet in Python, written to
the pipe, read and rebuilt by the controller's receiver thread and queued to its main
thread, which wakes for it. A harness check costs about 1 ms, and those six messages cost
the two processes about as much again.

Here the worker holds an item's events until its ``runtest_protocol_complete`` and sends
them as one ``marshal`` blob; the controller's receiver thread unpacks the blob through
xdist's own handling of each event (:meth:`WorkerController.process_from_remote`) and
queues the events together, and its main thread hands each to the DSession method xdist
would have called, in the order sent. What every hook sees is unchanged: the same events,
in the same order, with the same arguments. Only the item's events wait for its end, which
already comes at most a case's time later.

Any other event (a warning, ``workerfinished``, an internal error) first sends what is held,
then itself, unbatched. A worker that dies mid-item loses that item's held events; xdist
reports the item as crashed from its own list of pending items, as before. Items are never
batched together: xdist names as crashed the first pending item it has not heard complete, so
a completion held back would make it name one that had finished. The worker batches
only when the controller asked it to (``workerinput``), and the controller asks only when
xdist's objects have the attributes used here, and ``TF_PARITY_XDIST_BATCH`` is not ``0``;
otherwise both run as plain xdist."""
from __future__ import annotations

import functools
import marshal
import os
from typing import Any

BATCH = "harness_batch"
"""The event name of a batch, and the ``workerinput`` key by which the controller asks for them."""

ENV = "TF_PARITY_XDIST_BATCH"
"""``0`` turns batching off (plain xdist messages), e.g. to compare."""

BATCHED = frozenset({"logstart", "testreport", "logfinish", "runtest_protocol_complete"})
"""The per-item events a worker holds until the item's ``runtest_protocol_complete``."""


# --- the controller ------------------------------------------------------------------
def install_controller(node: Any) -> bool:
    """Ask the worker behind xdist's ``WorkerController`` ``node`` for batches and unpack
    them (called from ``pytest_configure_node``, before xdist registers the node's callback)."""
    if os.environ.get(ENV, "1") == "0":
        return False
    dsession = node.config.pluginmanager.getplugin("dsession")
    needed = (hasattr(node, "process_from_remote") and hasattr(node, "putevent")
              and isinstance(getattr(node, "workerinput", None), dict) and hasattr(dsession, "loop_once"))
    if not needed:
        return False
    if not hasattr(dsession, "worker_" + BATCH):
        setattr(dsession, "worker_" + BATCH, functools.partial(_dispatch, dsession))
    node.workerinput[BATCH] = 1
    node.process_from_remote = functools.partial(_receive, node, node.process_from_remote)
    return True


def _receive(node: Any, original, eventcall: Any) -> None:
    """The receiver thread's callback: a batch's events through xdist's own handling, queued
    as one; anything else to xdist as it is."""
    if not (isinstance(eventcall, tuple) and len(eventcall) == 2 and eventcall[0] == BATCH):
        original(eventcall)
        return
    queued: list = []
    putevent = node.putevent
    node.putevent = queued.append  # xdist's handling ends in node.putevent((name, kwargs))
    try:
        for name, kwargs in marshal.loads(eventcall[1]["blob"]):
            original((name, kwargs))
    finally:
        node.putevent = putevent
    putevent((BATCH, {"events": queued}))


def _dispatch(dsession: Any, events: list) -> None:
    """The controller's main thread: each queued event to the DSession method xdist's loop calls."""
    for name, kwargs in events:
        getattr(dsession, "worker_" + name)(**kwargs)


# --- the worker ----------------------------------------------------------------------
def install_worker(config: Any) -> bool:
    """In a worker the controller asked for batches: hold xdist's per-item events (its
    ``WorkerInteractor.sendevent``) and send each item's as one."""
    if not getattr(config, "workerinput", {}).get(BATCH):
        return False
    # xdist runs its remote module as execnet's ``__channelexec__``, not as xdist.remote: the
    # interactor's class is found by name
    interactor = next((p for p in config.pluginmanager.get_plugins() if type(p).__name__ == "WorkerInteractor"), None)
    if interactor is None or not callable(getattr(interactor, "sendevent", None)):
        return False
    interactor.sendevent = WorkerBatches(interactor.sendevent).sendevent
    return True


class WorkerBatches:
    """A worker's events: the per-item ones held until the item is complete, then sent as one."""

    def __init__(self, send) -> None:
        self.send = send
        self.held: list = []

    def sendevent(self, name: str, **kwargs: Any) -> None:
        if name not in BATCHED:
            self.flush()
            self.send(name, **kwargs)
            return
        self.held.append((name, kwargs))
        if name == "runtest_protocol_complete":
            self.flush()

    def flush(self) -> None:
        held, self.held = self.held, []
        if not held:
            return
        try:
            blob = marshal.dumps(held, 4)
        except ValueError:  # an object marshal cannot hold (another plugin's): one message each, as xdist sends
            for name, kwargs in held:
                self.send(name, **kwargs)
            return
        self.send(BATCH, blob=blob)
