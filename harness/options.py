"""The options of ``python -m harness verify`` and their defaults, in one table.

The command line (:mod:`harness.cli`) adds each as ``--NAME``; the pytest plugin
(:mod:`harness.plugin`) as ``--harness-NAME``, and ``verify`` passes each on to it
(``command``, the command line as typed, is the plugin's only: ``verify`` fills it in)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Option:
    name: str
    """``report-dir``: ``--report-dir`` for ``verify``, ``--harness-report-dir`` for pytest."""
    default: Any
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    flag: bool = False
    """A switch without a value (``--debug``)."""
    pytest_default: Any = ...
    """The plugin's default when it differs (plain pytest writes no report unless asked)."""
    cli: bool = True
    """False: the plugin's only (``verify`` fills it in itself)."""
    metavar: str | None = None
    repeat: bool = False
    """Given any number of times; the value is the list (``--impl torch --impl jax``)."""

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    def argparse_kwargs(self, default: Any) -> dict:
        if self.flag:
            return {"action": "store_true", "help": self.help}
        kwargs: dict = {"default": default, "help": self.help}
        if self.repeat:
            kwargs["action"] = "append"
        if self.type is not None:
            kwargs["type"] = self.type
        if self.choices is not None:
            kwargs["choices"] = self.choices
        if self.metavar is not None:
            kwargs["metavar"] = self.metavar
        return kwargs

    def cli_kwargs(self) -> dict:
        return self.argparse_kwargs(self.default)

    def pytest_kwargs(self) -> dict:
        return self.argparse_kwargs(self.default if self.pytest_default is ... else self.pytest_default)

    def pytest_args(self, value: Any) -> list[str]:
        """``verify``'s value of this option as the plugin's argument (none when unset)."""
        if self.flag:
            return [f"--harness-{self.name}"] if value else []
        if self.repeat:
            return [f"--harness-{self.name}={v}" for v in value or ()]
        return [] if value is None else [f"--harness-{self.name}={value}"]


OPTIONS: tuple[Option, ...] = (
    Option("report-dir", "reports", "write results.json, index.html and junit.xml here", pytest_default=None),
    Option("timing-repeats", 5, "timed calls per side after the warm-up, fewer once 10 ms are spent "
                                "(median reported; 0: no timing)", type=int),
    Option("timeout", 60.0, "seconds a case may run before its worker is stopped and the case reported as "
                            "timeout (0: none)", type=float),
    Option("debug", False, "show tracebacks for harness errors", flag=True),
    Option("baseline", None, "an earlier results.json: mark cases new-failure/fixed/still-failing/new-case"),
    Option("fail-on", "any", "'new': only new failures (against the baseline) fail the run", choices=("any", "new")),
    Option("shard", None, "I/N: run a stable 1/N of the expanded cases (for CI matrices)"),
    Option("all-ops", False, "the report's coverage lists every registered op, not only those the cases use", flag=True),
    Option("strict", False, "a check that could compare no value (every output NaN/inf on both sides) fails", flag=True),
    Option("goldens", None, "judge against TF results recorded in DIR (python -m harness record) instead of running "
                            "TF; TensorFlow is not imported", metavar="DIR"),
    Option("full-results", False, "keep every case's outputs and inputs in results.json (a passed case keeps only "
                                  "what the reports need)", flag=True),
    Option("impl", None, "the implementation under test: numpy (the NumPy reference, default), torch, jax, a module "
                         "name or a path to a .py file; repeatable (ids then end in the implementation's name)",
           repeat=True, metavar="SPEC"),
    Option("command", None, argparse.SUPPRESS, cli=False),
)
"""Options shared by ``verify`` and the plugin (``-k``, ``-x``, ``-n``, ``--lf`` are pytest's own)."""


def default(name: str) -> Any:
    """The default of option ``name`` (``timing-repeats``)."""
    return next(o.default for o in OPTIONS if o.name == name)
