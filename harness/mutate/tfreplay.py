"""TF's results asked once per expanded case and replayed for every mutant.

:class:`ReplayTF` is a TF side (:class:`harness.sides.TFSide`) wrapped around another one:
live TF (:data:`harness.tfexec.LIVE_TF`) or TF's recorded results
(:class:`harness.goldens.side.GoldenTF`, ``mutate --goldens DIR``). While recording (the
baseline), each call's result, or the error it raised, is kept under ``(case id, call name,
n)``, ``n`` counting the case's calls of that name in order; while replaying (the mutants),
the same calls return the kept results without asking the wrapped side, so a mutant costs
only the implementation's time. The inputs TF is asked about never depend on the
implementation, so the mutants ask the same calls; one the recording does not have raises
:class:`ReplayMiss` (the runner judges it like any TF error). A wrapped side that cannot
answer at all (:class:`harness.sides.SideUnavailable`, e.g. a case with no golden) is raised
again on replay, so the case stays an ``error`` and selects no mutant.
"""
from __future__ import annotations

import sys
from collections import Counter
from typing import Any, Callable

from harness.sides import Invocation, TFSide


class ReplayMiss(LookupError):
    """A TF call that was not recorded for this case."""


class ReplayTF:
    """Records the wrapped TF side's answers (baseline), then replays them (mutants)."""

    name = "tf"
    timed = False  # mutants run with timing_repeats=0; a replayed call has no time worth measuring

    def __init__(self, side: TFSide) -> None:
        self.side = side
        self.calls: dict[tuple[str, str, int], tuple[bool, Any]] = {}
        self.recording = True
        self._seen: Counter = Counter()

    def start_case(self) -> None:
        """Calls from here on are numbered from 0 again (one expanded case's run)."""
        self._seen.clear()

    def _through(self, inv: Invocation, name: str, compute: Callable[[], Any]) -> Any:
        key = (inv.case.id if inv.case is not None else "", name, self._seen[name])
        self._seen[name] += 1
        if self.recording:
            tracer = sys.gettrace()
            sys.settrace(None)  # the line tracer follows the implementation, not TF's Python
            try:
                self.calls[key] = (True, compute())
            except Exception as exc:  # TF raising (or a side unable to answer) is kept and raised again
                self.calls[key] = (False, exc)
            finally:
                sys.settrace(tracer)
        if key not in self.calls:
            raise ReplayMiss(f"no recorded TF result for the {name} call {key[2]} of {key[0]}")
        ok, value = self.calls[key]
        if not ok:
            raise value
        return value

    def prepare(self, inv: Invocation) -> Callable[[], Any]:
        return lambda: self.call(inv)

    def call(self, inv: Invocation) -> Any:
        return self._through(inv, inv.name, lambda: self.side.call(inv))

    def gradients(self, inv: Invocation, cotangent: list, wrt: tuple[str, ...]) -> dict:
        return self._through(inv, f"{inv.name}/grad", lambda: self.side.gradients(inv, cotangent, wrt))
