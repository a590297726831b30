"""The Keras 2 -> Keras 3 difference table, generated from a run's ``results.json``.

Every row is one passing comparison case (a ``tf_keras.losses`` op, a description that
starts with "Keras 2 vs Keras 3:" naming the setting) with a ``same_as`` (the two Keras versions agree) or ``differs_from`` (they do not) computation
with the ``tf.keras.losses`` loss of the same name: loss, setting (the case description),
dtype, verdict and the measured difference on the TensorFlow side (max absolute
difference, or why the values cannot be subtracted: NaN against a number, or different
shapes). A case that did not pass gives no row; it is listed under the table instead.

    python -m harness verify cases/tf_keras --report-dir reports/tf_keras
    python -m harness.keras_diff reports/tf_keras/results.json -o cases/tf_keras/README.md
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

KERAS2 = "tf_keras.losses."
KERAS3 = "tf.keras.losses."
BEGIN, END = "<!-- keras-diff:begin -->", "<!-- keras-diff:end -->"
_CHECK = re.compile(r"^(same_as|differs_from)\[\d+\] (\S+) \(tf\)$")
MARK = "Keras 2 vs Keras 3:"


def _flat(value) -> list:
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]


def _magnitude(values: list) -> float | None:
    nums = [abs(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return max(nums) if nums else None


def _difference(check: dict, case: dict) -> str:
    """The measured difference of one comparison, as table text."""
    err = check.get("max_abs_err")
    if err is None or (isinstance(err, float) and math.isnan(err)):
        mine = _flat(case.get("outputs", {}).get("tf"))
        return "NaN vs a number" if any(v == "nan" for v in mine) else "shapes differ"
    if err == 0:
        return "0 (bit-identical)"
    mag = _magnitude(_flat(case.get("outputs", {}).get("tf")))
    rel = f" ({err / mag:.2g} relative)" if mag else ""
    return f"{err:.3g}{rel}"


def rows(results: dict) -> tuple[list[dict], list[str]]:
    """(table rows, ids of Keras 2/3 comparison cases that did not pass)."""
    out, missing = [], []
    for case in results.get("cases", []):
        if not str(case.get("op", "")).startswith(KERAS2) or not (case.get("description") or "").startswith(MARK):
            continue
        checks = [(m, c) for c in case.get("checks", []) if (m := _CHECK.match(c.get("name", "")))
                  and m.group(2).startswith(KERAS3)]
        if not checks:
            continue
        if case.get("status") != "passed":
            missing.append(case["id"])
            continue
        for match, check in checks:
            out.append({
                "loss": case["op"][len(KERAS2):], "keras3": match.group(2)[len(KERAS3):],
                "setting": case["description"][len(MARK):].strip(),
                "dtype": case.get("dtype"), "verdict": "same" if match.group(1) == "same_as" else "different",
                "difference": _difference(check, case), "case": case["id"],
            })
    out.sort(key=lambda r: (r["loss"].lower(), r["setting"], r["dtype"]))
    return out, missing


def markdown(table: list[dict], missing: list[str]) -> str:
    lines = ["| loss (Keras 2) | Keras 3 op | setting | dtype | Keras 2 vs Keras 3 | max abs difference (TF) | case |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in table:
        lines.append(f"| `{r['loss']}` | `{r['keras3']}` | {r['setting']} | {r['dtype']} | {r['verdict']} | "
                     f"{r['difference']} | `{r['case']}` |")
    same = sum(r["verdict"] == "same" for r in table)
    lines.append("")
    lines.append(f"{len(table)} comparisons from passing cases: {same} same, {len(table) - same} different.")
    if missing:
        lines.append(f"Not in the table (the case did not pass): {', '.join(missing)}.")
    return "\n".join(lines)


def write_into(path: Path, text: str) -> None:
    """Replace the text between the keras-diff markers of ``path`` (appended if absent)."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.keras_diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="results.json of a run that includes cases/tf_keras")
    parser.add_argument("-o", "--output", type=Path, help="write the table between the keras-diff markers of this file")
    ns = parser.parse_args(argv)
    try:
        results = json.loads(ns.results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{ns.results}: cannot read results ({exc})", file=sys.stderr)
        return 2
    if any(isinstance(c, dict) and c.get("status") == "passed" and "outputs" not in c for c in results.get("cases", [])):
        print(f"{ns.results}: passed cases without their outputs (the table needs TF's values); rerun verify with "
              "--full-results", file=sys.stderr)
        return 2
    table, missing = rows(results)
    if not table:
        print(f"{ns.results}: no Keras 2 / Keras 3 comparison cases (run cases/tf_keras first)", file=sys.stderr)
        return 2
    text = markdown(table, missing)
    if ns.output:
        write_into(ns.output, text)
        print(f"{ns.output}: {len(table)} rows")
    else:
        print(text)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
