"""``python -m harness.goldens.check [PATH ...] --goldens DIR``: are the committed goldens
current? Re-records the cases with the TensorFlow installed here into a temporary directory
and compares (as ``drift`` does) with DIR; exit status 1 with the list of stale cases when
any expanded case is missing, extra, or gives other results or errors, 0 when none.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from harness.goldens.drift import compare_stores
from harness.goldens.record import record
from harness.goldens.store import GoldenError, GoldenStore, record_command

SHOWN = 50


def stale_cases(paths: list[str], directory: str) -> list[str]:
    """One line per stale expanded case (empty when the goldens are current)."""
    with tempfile.TemporaryDirectory(prefix="tf-parity-goldens-") as fresh:
        code = record(paths, fresh, quiet=True)
        if code not in (0, 2):
            return [f"re-recording failed (exit status {code})"]
        data = compare_stores(GoldenStore(directory), GoldenStore(fresh))
    labels = {"only in A": "no longer in the cases", "only in B": "not recorded"}
    return [f"{c['id']} ({c['file']}): {labels.get(c['status'], c['status'])}" for c in data["cases"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.goldens.check", description=__doc__)
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--goldens", required=True, metavar="DIR")
    ns = parser.parse_args(argv)
    paths = ns.paths or ["cases/"]
    try:
        stale = stale_cases(paths, ns.goldens)
    except GoldenError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 2
    if not stale:
        print(f"goldens: {ns.goldens} is current ({GoldenStore(ns.goldens).describe()})")
        return 0
    print(f"goldens: {len(stale)} stale expanded cases in {ns.goldens}; re-record them: "
          f"{record_command(paths, ns.goldens)}", file=sys.stderr)
    for line in stale[:SHOWN]:
        print(f"  {line}", file=sys.stderr)
    if len(stale) > SHOWN:
        print(f"  ... and {len(stale) - SHOWN} more", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
