"""reports/timing.html from a pytest-benchmark run: ratio table, inline SVG plots, nothing remote."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.report import bench_page

SIZES = {"small": [8, 10], "medium": [256, 100], "large": [4096, 1000]}


def _bench(op: str, size: str, side: str, median: float) -> dict:
    """One entry shaped like pytest-benchmark's saved ``benchmarks`` items."""
    b, c = SIZES[size]
    return {
        "group": f"{op} {size}",
        "name": f"test_op[{op}-{size}-{side}]",
        "fullname": f"bench/test_ops.py::test_op[{op}-{size}-{side}]",
        "params": {"bench_case": [op, size, side]},
        "param": f"{op}-{size}-{side}",
        "extra_info": {"op": op, "size": size, "side": side, "shape": f"logits {b}x{c}", "elements": b * c},
        "options": {"disable_gc": False, "timer": "perf_counter", "min_rounds": 3, "max_time": 0.1,
                    "min_time": 5e-06, "warmup": False},
        "stats": {"min": median * 0.9, "max": median * 1.3, "mean": median * 1.05, "stddev": median * 0.1,
                  "rounds": 10, "median": median, "iqr": median * 0.1, "q1": median * 0.95, "q3": median * 1.05,
                  "iqr_outliers": 0, "stddev_outliers": 1, "outliers": "1;0", "ld15iqr": median * 0.9,
                  "hd15iqr": median * 1.2, "ops": 1 / median, "total": median * 10, "iterations": 1},
    }


def _run() -> dict:
    benches = []
    for op, scale in (("tf.nn.softmax", 1.0), ("tf.keras.losses.MeanSquaredError", 3.0)):
        for size, ref, tf in (("small", 2e-5, 6e-5), ("medium", 8e-5, 1e-4), ("large", 4e-2, 2e-2)):
            benches += [_bench(op, size, "reference", ref * scale), _bench(op, size, "tf", tf)]
    benches.append(_bench("tf.nn.l2_loss", "small", "reference", 1e-5))  # no TF side: no ratio
    return {
        "machine_info": {"node": "box", "processor": "x86_64", "machine": "x86_64", "python_implementation": "CPython",
                         "python_version": "3.11.2", "system": "Linux",
                         "cpu": {"brand_raw": "Example CPU <b>", "count": 2}},
        "commit_info": {"id": "0123456789abcdef", "dirty": True},
        "benchmarks": benches,
        "datetime": "2026-01-01T00:00:00.000000+00:00",
        "version": "5.1.0",
        "tf_parity": {"sizes": SIZES, "ops": 3,
                      "skipped": [{"op": "tf.keras.losses.CTC", "size": "large", "side": "tf",
                                   "reason": "no inputs: benchmarked up to the medium size only"}]},
    }


@pytest.fixture
def page() -> str:
    return bench_page.render(_run(), "reports/bench/x/0001_run.json")


def test_ratio_table_has_every_op_and_size(page):
    table = page.split('id="ratio-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>(\w+)</td>", table)
    assert rows[:3] == [("tf.keras.losses.MeanSquaredError", s) for s in ("small", "medium", "large")]
    assert ("tf.nn.softmax", "large") in rows and ("tf.nn.l2_loss", "small") in rows
    assert "ratio ref/TF" in table
    # softmax large: 40 ms / 20 ms; small: 20 µs / 60 µs
    softmax_large = table.split("<code>tf.nn.softmax</code></td><td>large</td>", 1)[1].split("</tr>", 1)[0]
    assert "40 ms" in softmax_large and "20 ms" in softmax_large and ">2<" in softmax_large
    assert "slower" in softmax_large
    softmax_small = table.split("<code>tf.nn.softmax</code></td><td>small</td>", 1)[1].split("</tr>", 1)[0]
    assert "20 µs" in softmax_small and "0.333" in softmax_small and "faster" in softmax_small


def test_one_inline_svg_plot_per_op_plus_overview(page):
    plots = page.split('id="plots"', 1)[1]
    assert len(re.findall(r"<figure id='plot-", plots)) == 3
    assert page.count("<svg") == 4
    assert "<img" not in page


def test_page_is_self_contained(page):
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|iframe)\b", page)
    assert not re.search(r"url\((?!#)", page)  # only in-document references (clip paths)
    assert "default-src 'none'" in page


def test_text_is_escaped_and_skips_listed(page):
    assert "Example CPU &lt;b&gt;" in page
    assert "Not timed (1)" in page and "tf.keras.losses.CTC" in page


def test_cli_picks_latest_numbered_run(tmp_path: Path):
    storage = tmp_path / "bench" / "Linux-CPython-3.11-64bit"
    storage.mkdir(parents=True)
    old, new = _run(), _run()
    new["benchmarks"] = [b for b in new["benchmarks"] if b["extra_info"]["op"] == "tf.nn.softmax"]
    (storage / "0001_old.json").write_text(json.dumps(old))
    (storage / "0002_new.json").write_text(json.dumps(new))
    (storage / "figures.json").write_text("{}")
    out = tmp_path / "timing.html"
    assert bench_page.main([str(tmp_path / "bench"), "-o", str(out)]) == 0
    html = out.read_text()
    assert "0002_new.json" in html and "MeanSquaredError" not in html


def test_cli_without_runs_says_so(tmp_path: Path, capsys):
    assert bench_page.main([str(tmp_path), "-o", str(tmp_path / "t.html")]) == 2
    assert "no saved benchmark runs" in capsys.readouterr().err
