"""Stopping a worker whose case hangs past ``--harness-timeout`` (see :class:`Watchdog`)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest


def marker_path(markers: str, nodeid: str) -> Path:
    return Path(markers) / hashlib.sha1(nodeid.encode()).hexdigest()


class Watchdog:
    """Stops the process when a case hangs past ``--harness-timeout``.

    A hang inside a TF kernel cannot be interrupted from Python, so the worker leaves a
    marker naming the case and exits; pytest-xdist reports the item as crashed and starts a
    new worker, and the controller turns the marker into status ``timeout``. One daemon
    thread per process polls the running case's deadline: arming it for a case costs two
    assignments, not a thread."""

    POLL_S = 0.25

    def __init__(self) -> None:
        self.running: tuple[pytest.Item, float, float] | None = None  # (item, seconds, deadline)
        threading.Thread(target=self._watch, name="harness-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.POLL_S)
            running = self.running
            if running is not None and time.monotonic() > running[2]:
                item, seconds, _ = running
                markers = getattr(item.config, "workerinput", {}).get("harness_markers")
                if markers:
                    marker_path(markers, item.nodeid).write_text(str(seconds))
                sys.stderr.write(f"harness: {item.nodeid} ran past the {seconds:g} s timeout; stopping this process\n")
                sys.stderr.flush()
                os._exit(70)

    @contextlib.contextmanager
    def guard(self, item: pytest.Item):
        seconds = item.config.getoption("harness_timeout")
        if not seconds:
            yield
            return
        self.running = (item, seconds, time.monotonic() + seconds)
        try:
            yield
        finally:
            self.running = None


_WATCHDOG: Watchdog | None = None


def watchdog(item: pytest.Item, live_tf: bool = True):
    """The process's watchdog armed for ``item`` (a context manager); with ``live_tf``, TF is
    imported first (its import is no part of any case's time)."""
    global _WATCHDOG
    if _WATCHDOG is None:
        if live_tf:
            from harness import tfbridge

            tfbridge.tf()  # importing TF takes seconds: not part of any case's time
        _WATCHDOG = Watchdog()
    return _WATCHDOG.guard(item)
