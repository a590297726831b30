"""The mutation report: ``mutate.json`` and ``mutate.html`` (the verify report's stylesheet).

Score = killed / (mutants - equivalent), per file, per op and overall. A mutant counts for
an op when a case of that op executes its line; an unexecuted mutant counts for the ops
whose cases enter its function (or for no op). Survivors come first, each with its source
line and a suggested case: the op, and the argument shapes or values that reach the line.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

import yaml

from harness.mutate.engine import Baseline
from harness.mutate.mutants import Mutant

STATUS_ORDER = {"survived": 0, "killed": 1, "equivalent": 2}
EQUIVALENT_FIELDS = ("file", "function", "change", "reason")
"""Required fields of a reviewed entry; ``source`` (the mutated line, stripped) is optional and
narrows the entry to the mutants of that line; ``kind`` is one of :data:`REVIEWED_KINDS`."""
REVIEWED_KINDS = ("equivalent", "rounding")
"""``equivalent`` (the default): no input tells the mutant apart from the original.
``rounding``: it changes outputs, but only by rounding that no case can push past TF's own
(e.g. the same sum in another order); left out of the score like an equivalent one, and
counted apart (``equivalent_rounding``)."""


class Reviewed(NamedTuple):
    reason: str
    kind: str = "equivalent"


class EquivalentError(ValueError):
    """A reviewed equivalent-mutants file that cannot be used (one line)."""


def load_equivalents(path: Path) -> dict[tuple[str, str, str, str], Reviewed]:
    """``{(file, function, change, source or ""): (reason, kind)}`` from a reviewed YAML list."""
    try:
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise EquivalentError(f"{path}: cannot read the equivalent mutants ({exc})") from None
    out = {}
    for i, row in enumerate(rows if isinstance(rows, list) else [None]):
        missing = [k for k in EQUIVALENT_FIELDS if not isinstance(row, dict) or not row.get(k)]
        if missing:
            raise EquivalentError(f"{path}: entry {i + 1}: {', '.join(missing)}: missing "
                                  "(each entry needs file, function, change and reason)")
        kind = row.get("kind", "equivalent")
        if kind not in REVIEWED_KINDS:
            raise EquivalentError(f"{path}: entry {i + 1}: kind: {kind!r} is not one of {', '.join(REVIEWED_KINDS)}")
        out[(row["file"], row["function"], row["change"], str(row.get("source") or ""))] = Reviewed(row["reason"], kind)
    return out


def equivalent_reason(equivalents: dict, m: Mutant) -> Reviewed | None:
    """The review of mutant ``m`` (reason and kind): an entry naming its line's source first, then
    one for every line of its function with that change."""
    return (equivalents.get((m.file, m.function, m.change, m.source_line))
            or equivalents.get((m.file, m.function, m.change, "")))


def _ops_of(base: Baseline, ids: list[str]) -> list[str]:
    by_id = {e.id: e.op.name for e in base.exps}
    return sorted({by_id[i] for i in ids})


def _entering(base: Baseline, m: Mutant) -> list[str]:
    """Judged cases that run some line of the mutant's function (but maybe not its line)."""
    lo, hi = m.function_lines
    return [e.id for e in base.exps if base.status[e.id] in ("passed", "xfailed")
            and any(f == m.file and lo <= ln <= hi for f, ln in base.lines[e.id])]


def _describe_inputs(base: Baseline, case_id: str) -> str:
    return ", ".join(f"{k}: {v}" for k, v in base.inputs.get(case_id, {}).items())


def suggestion(base: Baseline, m: Mutant, outcome: dict) -> str:
    """What case would kill a survivor: the op and the arguments that reach the line."""
    changed = outcome.get("changed_within_tolerance") or []
    if changed:
        return (f"{', '.join(_ops_of(base, changed)[:3])}: changes the outputs of {len(changed)} case(s) within their "
                f"tolerance, e.g. {changed[0]} ({_describe_inputs(base, changed[0])}): a tighter tolerance, or inputs "
                f"where `{m.change}` moves the result further, would kill it")
    if outcome["covering"]:
        first = outcome["covering"][0]
        ops = _ops_of(base, outcome["covering"])
        return (f"{', '.join(ops[:3])}: {len(outcome['covering'])} case(s) run this line and give the same outputs with `{m.change}`, "
                f"e.g. {first} ({_describe_inputs(base, first)}); add one whose output depends on it: other shapes, "
                f"axes or values than these (a rank-3 or broadcast input, a value on the branch's other side)")
    entering = _entering(base, m)
    if entering:
        ops = _ops_of(base, entering)
        return (f"{', '.join(ops[:3])}: cases enter {m.function} (e.g. {entering[0]}: {_describe_inputs(base, entering[0])}) "
                f"but none reaches line {m.line}: give arguments that take this branch")
    return f"no case calls {m.function}: add a case of an op that uses it"


def build(mutants: list[Mutant], outcomes: list[dict], base: Baseline, equivalents: dict, run: dict) -> dict:
    by_op: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    by_file: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    rows = []
    for m, o in zip(mutants, outcomes):
        review = equivalent_reason(equivalents, m)
        status = "equivalent" if review and o["status"] == "survived" else o["status"]
        changed = o.get("changed_within_tolerance", [])
        row = {**m.to_dict(), **o, "status": status, "covering": o["covering"][:10], "covering_count": len(o["covering"]),
               "changed_within_tolerance": changed[:10], "changed_count": len(changed),
               "equivalent_reason": review.reason if status == "equivalent" else None,
               "equivalent_kind": review.kind if status == "equivalent" else None,
               "suggestion": suggestion(base, m, o) if status == "survived" else None}
        rows.append(row)
        ops = _ops_of(base, o["covering"] or _entering(base, m)) or ["(no case)"]
        for tally in [by_file[m.file]] + [by_op[op] for op in ops]:
            tally[status] += 1
    rows.sort(key=lambda r: (STATUS_ORDER[r["status"]], r["file"], r["line"]))
    summary = _tally(_sum(by_file.values()))
    summary["survived_within_tolerance"] = sum(r["status"] == "survived" and r["changed_count"] > 0 for r in rows)
    summary["survived_unexecuted"] = sum(r["status"] == "survived" and not r["covering_count"] for r in rows)
    summary["equivalent_rounding"] = sum(r["equivalent_kind"] == "rounding" for r in rows)
    return {"schema": "tf-parity-mutate/1", "run": run, "summary": summary,
            "files": [{"file": f, **_tally(t)} for f, t in sorted(by_file.items())],
            "ops": [{"op": op, **_tally(t)} for op, t in sorted(by_op.items(), key=lambda kv: _tally(kv[1])["score"] or 0)],
            "mutants": rows}


def _sum(tallies) -> dict:
    out: dict = defaultdict(int)
    for t in tallies:
        for k, v in t.items():
            out[k] += v
    return out


def _tally(t: dict) -> dict:
    killed, survived, equivalent = t.get("killed", 0), t.get("survived", 0), t.get("equivalent", 0)
    judged = killed + survived
    return {"mutants": judged + equivalent, "killed": killed, "survived": survived, "equivalent": equivalent,
            "score": round(100.0 * killed / judged, 2) if judged else None}


def page_style() -> str:
    """The verify report's stylesheet, taken from its template so the pages look alike."""
    from harness.report.html import TEMPLATE_DIR, TEMPLATE_NAME

    text = (Path(TEMPLATE_DIR) / TEMPLATE_NAME).read_text(encoding="utf-8")
    m = re.search(r"<style>(.*?)</style>", text, re.S)
    return m.group(1) if m else ""


def render_html(data: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.get_template("mutate.html.j2").render(d=data, style=page_style())


def summary_lines(data: dict) -> list[str]:
    s, run = data["summary"], data["run"]
    score = "n/a" if s["score"] is None else f"{s['score']:.1f}%"
    lines = [f"mutate: {run['impl']}: {s['mutants']} mutants, {s['killed']} killed, {s['survived']} survived, "
             f"{s['equivalent']} equivalent ({s['equivalent_rounding']} of them within rounding): score {score} of "
             f"non-equivalent mutants; of the survivors "
             f"{s['survived_unexecuted']} ran in no case, {s['survived_within_tolerance']} changed outputs within tolerance "
             f"({run['duration_s']:.0f} s: baseline {run['baseline_s']:.0f} s, mutants {run['mutants_s']:.0f} s)"]
    for r in data["mutants"]:
        if r["status"] != "survived":
            break
        lines.append(f"  survived {r['file']}:{r['line']} {r['function']}: {r['change']} "
                     f"(ran {r['covering_count']} case(s){': ' + r['covering'][0] if r['covering'] else ''})")
    return lines
