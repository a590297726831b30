"""Two results.json files hold the same verdicts and numbers.

    python -m tests.support.same_results BEFORE.json AFTER.json

Compares the case ids, each case's keys and values, the summary, warnings and coverage;
ignores what depends on the machine or on how cases were spread over workers: ``run``,
``environment``, timings (``time_reference_s``, ``time_tf_s``, ``cost``), ``tf_traces`` and
the number in TF's traced-function names (``[Op:__inference_call_15915]``), which counts the
functions the worker process traced before.
Exit status 0 when they match, 1 with the first differences listed otherwise.
"""
from __future__ import annotations

import json
import re
import sys

IGNORED_TOP = {"run", "environment"}
IGNORED_CASE = {"time_reference_s", "time_tf_s", "cost", "tf_traces"}
_TRACED = re.compile(r"(__inference_\w+?_)\d+")


def _normal(value):
    if isinstance(value, str):
        return _TRACED.sub(r"\1N", value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def differences(before: dict, after: dict, limit: int = 20) -> list[str]:
    out = []
    for key in sorted((set(before) | set(after)) - IGNORED_TOP - {"cases"}):
        if before.get(key) != after.get(key):
            out.append(f"top-level {key!r} differs")
    old = {c["id"]: c for c in before["cases"]}
    new = {c["id"]: c for c in after["cases"]}
    for case_id in sorted(set(old) ^ set(new)):
        out.append(f"{case_id}: only in {'before' if case_id in old else 'after'}")
    for case_id in sorted(set(old) & set(new)):
        a, b = old[case_id], new[case_id]
        if [k for k in a if k not in IGNORED_CASE] != [k for k in b if k not in IGNORED_CASE]:
            out.append(f"{case_id}: keys differ: {sorted(set(a) ^ set(b))} (or their order)")
        for key in sorted((set(a) | set(b)) - IGNORED_CASE):
            if _normal(a.get(key)) != _normal(b.get(key)):
                out.append(f"{case_id}: {key}: {str(a.get(key))[:200]} != {str(b.get(key))[:200]}")
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def main(argv: list[str]) -> int:
    before, after = (json.load(open(p, encoding="utf-8")) for p in argv[:2])
    diffs = differences(before, after)
    for line in diffs:
        print(line)
    print(f"{len(after['cases'])} cases: " + ("same verdicts and numbers" if not diffs else "DIFFERENT"))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
