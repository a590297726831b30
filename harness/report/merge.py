"""Merging the ``results.json`` of several shards (or machines) into one report."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from harness.report import results as results_mod
from harness.result import CaseResult


def merge(parts: list[dict]) -> dict:
    """One results dict from many: cases concatenated (an id seen twice keeps its first
    entry and is warned about), timestamps spanning all parts, environments listed."""
    cases: dict[str, dict] = {}
    warnings: list[str] = []
    for part in parts:
        warnings += part.get("warnings", [])
        for case in part["cases"]:
            if case["id"] in cases:
                warnings.append(f"merge: {case['id']} appears in more than one part; the first is kept")
                continue
            cases[case["id"]] = case
    runs = [p.get("run", {}) for p in parts]
    run = {
        "id": results_mod.new_run_id(dt.datetime.now(dt.timezone.utc)),
        "started": min((r.get("started") or "" for r in runs), default=""),
        "finished": max((r.get("finished") or "" for r in runs), default=""),
        "duration_s": round(sum(r.get("duration_s") or 0 for r in runs), 3),
        "argv": [], "paths": sorted({p for r in runs for p in r.get("paths", [])}),
        "interrupted": any(r.get("interrupted") for r in runs), "merged_from": len(parts),
    }
    data = results_mod.build(list(cases.values()), run=run, env=parts[0].get("environment", {}), warnings=warnings,
                             full=True)  # each case as its shard wrote it
    data["environments"] = [p.get("environment", {}) for p in parts]
    data["coverage"] = parts[0].get("coverage", [])
    return data


def merge_dirs(dirs: list[Path], out: Path) -> int:
    parts = []
    for d in dirs:
        path = d / "results.json" if d.is_dir() else d
        try:
            parts.append(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            print(f"harness: {path}: cannot read results ({exc})", file=sys.stderr)
            return 2
    data = merge(parts)
    results_mod.write_report(out, data)
    print(f"merged {len(parts)} reports, {len(data['cases'])} cases: {out / 'results.json'}, {out / 'index.html'}")
    from harness.baseline import exit_code

    return exit_code([CaseResult.from_record(c) for c in data["cases"]])
