"""The ``record`` and ``drift`` commands (``python -m harness record|drift``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.goldens.store import GoldenError


def add_parsers(sub) -> None:
    """The ``record`` and ``drift`` subcommands of ``python -m harness``."""
    rc = sub.add_parser("record", help="run the TF side of every case and store its results (goldens)")
    rc.add_argument("paths", nargs="*", help="case files or directories (default: cases/)")
    rc.add_argument("--goldens", required=True, metavar="DIR", help="the goldens directory to write")
    rc.add_argument("-q", "--quiet", action="store_true", help="no line per case file")
    dr = sub.add_parser("drift", help="compare two goldens directories (e.g. two TF releases)")
    dr.add_argument("dirs", nargs=2, metavar="DIR", help="goldens directories A and B")
    dr.add_argument("--report-dir", default=None, help="write drift.json and drift.html here")


def unusable(directory: str | None) -> str | None:
    """Why ``verify --goldens DIR`` cannot use DIR (one line), or None."""
    from harness.goldens.store import GoldenStore

    if directory is None:
        return None
    try:
        GoldenStore(directory).manifest
    except GoldenError as exc:
        return str(exc)
    return None


def main(ns: argparse.Namespace) -> int:
    try:
        if ns.command == "record":
            from harness.goldens.record import record

            return record(ns.paths or ["cases/"], ns.goldens, quiet=ns.quiet)
        from harness.goldens.drift import drift

        return drift(Path(ns.dirs[0]), Path(ns.dirs[1]), Path(ns.report_dir) if ns.report_dir else None)
    except GoldenError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
