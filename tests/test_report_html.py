"""The HTML report: structure, escaping, self-containment, number formatting, scale; the diff
explorer's coverage matrix, baseline counts, tolerance ledger, arbitration, gradients and plots."""
from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import time
from html.parser import HTMLParser

import pytest

from harness.report import html as report_html
from harness.report import ledger, matrix
from harness.report.diffview import GRID_MAX_COLS, GRID_MAX_ROWS, build_grid
from harness.report.fmt import fmt_num, fmt_time, fmt_value
from harness.report.html import render_html, write_html

PLANTED = "<script>alert(1)</script>"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: "Node | None"):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.content: list[str | Node] = []  # text and child elements, in document order

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(item if isinstance(item, str) else item.text() for item in self.content)

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs) -> list["Node"]:
        found = []
        for node in self.iter():
            if tag and node.tag != tag:
                continue
            if cls and cls not in node.classes:
                continue
            if any(node.attrs.get(k.rstrip("_")) != v for k, v in attrs.items()):
                continue
            found.append(node)
        return found

    def find(self, *args, **kwargs) -> "Node":
        found = self.find_all(*args, **kwargs)
        assert found, f"no element {args} {kwargs}"
        return found[0]

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class TreeBuilder(HTMLParser):
    """A small DOM: enough to ask where an element sits and what it contains."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs}, self.current)
        self.current.children.append(node)
        self.current.content.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.content.append(data)


def parse(text: str) -> Node:
    builder = TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def _case(**kw) -> dict:
    base = {
        "params": {"dtype": "float32"}, "dtype": "float32", "rtol": 1.3e-6, "atol": 1e-5,
        "tolerance_reason": None, "xfail_reason": None, "warnings": [], "truncated": False,
        "diff": None, "description": "", "source": None, "message": "", "inputs": {},
    }
    base.update(kw)
    base.setdefault("repro", f"python -m harness verify {base.get('file')} -k '{base['id']}'")
    return base


ABS = [[0.0, 2e-6, 1e-7], [3e-6, 0.0, 4.5e-5]]
MISMATCH = [[False, False, False], [False, False, True]]


@pytest.fixture(scope="module")
def results() -> dict:
    cases = [
        _case(id="doc000-v1-sparse-mean[float32]", base_id="doc000-v1-sparse-mean", file="cases/docs/000.yaml", line=12,
              op="tf.compat.v1.losses.sparse_softmax_cross_entropy", status="passed",
              max_abs_err=1.2e-8, max_rel_err=3.0e-8, max_ulp=1, time_reference_s=1.23e-5, time_tf_s=4.2e-4,
              description="averages the per-example losses",
              checks=[{"name": "reference vs tf", "ok": True, "message": "", "max_abs_err": 1.2e-8,
                       "max_rel_err": 3e-8, "max_ulp": 1, "worst_index": []}],
              outputs={"reference": 0.3265626, "tf": 0.32656264305114746, "expect": 0.3265626}, output_shape=[]),
        _case(id="nn-sigmoid-2d[float32]", base_id="nn-sigmoid-2d", file="cases/nn/sigmoid.yaml", line=40,
              op="tf.nn.sigmoid_cross_entropy_with_logits", status="failed",
              message="reference vs tf: 1 of 6 elements differ beyond rtol=1.3e-06, atol=1e-05\n  worst at [1, 2]",
              max_abs_err=4.5e-5, max_rel_err=1.1e-5, max_ulp=377, time_reference_s=2.0e-5, time_tf_s=3.0e-4,
              description=f"planted {PLANTED} in a description",
              checks=[{"name": "reference vs tf", "ok": False, "message": "1 of 6 elements differ",
                       "max_abs_err": 4.5e-5, "max_rel_err": 1.1e-5, "max_ulp": 377, "worst_index": [1, 2]},
                      {"name": "same_as[0] tf.keras.losses.binary_crossentropy then mean", "ok": True,
                       "message": "", "max_abs_err": 0.0, "max_rel_err": 0.0, "max_ulp": 0, "worst_index": None}],
              outputs={"reference": [[0.5, 1.25, 2.0], [3.0, 0.125, 4.00004501]],
                       "tf": [[0.5, 1.250002, 2.0000001], [3.000003, 0.125, 4.0]]},
              output_shape=[2, 3],
              inputs={"labels": "array(shape=[2, 3], float32)", "logits": "array(shape=[2, 3], float32)"},
              diff={"abs_err": ABS, "mismatch": MISMATCH, "worst_index": [1, 2]},
              params={"dtype": "float32", "mode": "xla"}, tf_traces=1, baseline="new-failure",
              arbitration={"verdict": "TF is off by 377 ULP, the reference by 0 ULP (float32, exact = reference in "
                                      "float64): TF is further from the exact value", "closer": "reference",
                           "tf_ulp": 377.0, "reference_ulp": 0.0, "exact_precision": "float64"}),
        {"id": PLANTED, "status": "error", "op": None, "file": "cases/docs/bad.yaml", "line": 3,
         "message": "cases[0].id: does not match '^[A-Za-z0-9._-]+$'", "description": PLANTED,
         "repro": "python -m harness verify cases/docs/bad.yaml", "baseline": "new-case"},
        _case(id="keras-bce-fp16[float16]", base_id="keras-bce-fp16", file="cases/keras/bce.yaml", line=20,
              op="tf.keras.losses.BinaryCrossentropy", status="xfailed", dtype="float16", rtol=1e-3,
              message="reference vs tf: 2 of 8 differ",
              xfail_reason="Keras clips to epsilon=1e-7, which is 0 in float16",
              max_abs_err=0.0123, max_rel_err=0.0031, max_ulp=12, time_reference_s=2.2e-5, time_tf_s=9.5e-4,
              checks=[], outputs={"reference": 3.9766, "tf": 3.9643}, output_shape=[], baseline="unchanged"),
        _case(id="nn-softmax-grad[float64-function]", base_id="nn-softmax-grad", file="cases/nn/softmax.yaml", line=7,
              op="tf.nn.softmax", status="passed", dtype="float64", rtol=1e-7, atol=1e-7,
              params={"dtype": "float64", "mode": "function"}, tf_traces=2, baseline="new-case",
              max_abs_err=0.0, max_rel_err=0.0, max_ulp=0, grad_method="analytic",
              grad_tolerance={"rtol": 1e-7, "atol": 1e-9},
              checks=[{"name": "reference vs tf", "ok": True, "max_abs_err": 0.0},
                      {"name": "grad logits: reference (analytic) vs tf", "ok": True, "max_abs_err": 2e-17,
                       "max_ulp": 1}],
              outputs={"reference": [0.25, 0.75], "tf": [0.25, 0.75],
                       "grads": {"logits": {"reference": [0.125, -0.125], "tf": [0.12500000000000002, -0.125]}}}),
        _case(id="keras-mse-wide[float16]", base_id="keras-mse-wide", file="cases/keras/mse.yaml", line=3,
              op="tf.keras.losses.MeanSquaredError", status="passed", dtype="float16", rtol=1e-2, atol=1e-5,
              max_abs_err=0.001, max_rel_err=5e-4, max_ulp=1, baseline="unchanged",
              outputs={"reference": [1.0, 2.0], "tf": [1.0, 2.001]}),
        _case(id="nn-l2-loose[float32]", base_id="nn-l2-loose", file="cases/nn/l2.yaml", line=9,
              op="tf.nn.l2_loss", status="passed", rtol=1e-3, atol=1e-5, baseline="fixed",
              tolerance_reason="TF accumulates in float32", max_abs_err=5e-7, max_rel_err=1.25e-7, max_ulp=1,
              outputs={"reference": 4.0, "tf": 4.0000005}),
    ]
    return {
        "schema_version": 1,
        "run": {"started": "2026-11-22T05:40:00+00:00", "finished": "2026-11-22T05:40:12+00:00", "duration_s": 12.3,
                "argv": ["python", "-m", "harness", "verify", "cases/"], "paths": ["cases/"]},
        "environment": {"python": "3.11.7", "numpy": "2.4.6", "tensorflow": "2.21.0", "keras": "3.15.1",
                        "platform": "Linux", "cpu": "x86_64", "cpu_flags": ["avx2", "fma"], "git_commit": None},
        "summary": {"passed": 4, "failed": 1, "error": 1, "skipped": 0, "xfailed": 1, "xpassed": 0},
        "cases": cases,
        "warnings": ["run-level warning: 1 invalid file"],
        "baseline": {"path": "old/results.json", "fail_on": "new",
                     "counts": {"new-failure": 1, "fixed": 1, "still-failing": 0, "new-case": 2, "unchanged": 3}},
        "coverage": [
            {"op": "tf.nn.sigmoid_cross_entropy_with_logits", "cases": 1, "dtypes": ["float16", "float32"],
             "modes": ["eager", "xla"], "grads": [], "combos": ["float32/xla/value", "float16/eager/value"],
             "values": {}, "missing": ["args.labels (never given)"]},
            {"op": "tf.nn.softmax", "cases": 1, "dtypes": ["float64"], "modes": ["function"], "grads": ["logits"],
             "combos": ["float64/function/grad"], "values": {}, "missing": []},
            {"op": "tf.nn.log_poisson_loss", "cases": 0, "dtypes": [], "modes": [], "grads": [], "combos": [],
             "values": {}, "missing": []},
        ],
    }


@pytest.fixture(scope="module")
def page(results) -> str:
    return render_html(results)


@pytest.fixture(scope="module")
def dom(page) -> Node:
    return parse(page)


def _case_block(dom: Node, case_id: str) -> Node:
    for details in dom.find_all("details", cls="case"):
        if details.find("code", cls="cid").text() == case_id:
            return details
    raise AssertionError(f"no detail block for {case_id}")


def _on_demand(page: str, case_id: str) -> dict:
    """The record of a passed case, whose detail block the browser builds when it is opened."""
    data = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)[1])
    strings = data["strings"]
    for _, raw in data["cases"]:
        record = dict(zip(data["fields"], raw))
        if strings[record["id"]] == case_id:
            return {k: [strings[i] for i in v] if k in ("params", "warnings") else v if k == "checks" else strings[v]
                    for k, v in record.items()}
    raise AssertionError(f"no on-demand record for {case_id}")


def _scripts(dom: Node) -> list:
    """The page's executable scripts (the JSON data block is not one)."""
    return [s for s in dom.find_all("script") if s.attrs.get("type") != "application/json"]


def test_summary_counts_and_verdict(dom):
    for status, n in {"passed": 4, "failed": 1, "error": 1, "skipped": 0, "xfailed": 1, "xpassed": 0}.items():
        pill = dom.find("a", id=f"count-{status}")
        assert pill.find("b").text() == str(n)
        assert status in pill.classes
    verdict = dom.find(id="verdict")
    assert "failed" in verdict.classes and verdict.text().startswith("FAILED")
    assert "run-level warning: 1 invalid file" in dom.find(id="run-warnings").text()
    env = dom.find(id="environment").text()
    assert "2.21.0" in env and "3.15.1" in env
    assert "12.3 s" in dom.find(id="run").text()


def test_failed_case_is_expanded_with_diff_grid_and_worst_element(dom):
    block = _case_block(dom, "nn-sigmoid-2d[float32]")
    assert "open" in block.attrs
    assert any(a.attrs.get("id") == "failures" for a in block.ancestors())
    text = block.text()
    for expected in ("tf.nn.sigmoid_cross_entropy_with_logits", "float32", "cases/nn/sigmoid.yaml:40",
                     "worst at [1, 2]", "NumPy reference", "TensorFlow"):
        assert expected in text
    grid = block.find("table", cls="diff")
    cells = grid.find_all("td")
    assert len(cells) == 6
    worst = grid.find_all("td", cls="worst")
    assert len(worst) == 1 and worst[0].attrs["title"].startswith("worst [1, 2]")
    assert worst[0].text() == fmt_num(4.5e-5, 2)
    assert [c.attrs["title"].split(" ·")[0] for c in grid.find_all("td", cls="mm")] == ["worst [1, 2]"]
    assert "z" in cells[0].classes  # an exact element
    # 2e-6 against atol 1e-5 + rtol*1.25: a fifth of the tolerance
    assert "c3" in cells[1].classes
    checks = block.find("table", cls="checks")
    assert len(checks.find_all("tr", cls="bad")) == 1 and len(checks.find_all("tr", cls="ok")) == 1


def test_outputs_side_by_side_and_expected_value(page, dom):
    record = _on_demand(page, "doc000-v1-sparse-mean[float32]")  # a passed case: built on demand, no outputs
    assert record["status"] == "passed" and "0.3265626" not in page
    with pytest.raises(AssertionError):
        _case_block(dom, "doc000-v1-sparse-mean[float32]")
    failed = _case_block(dom, "nn-sigmoid-2d[float32]")
    ref = failed.find("figure", cls="reference").find("pre").text()
    assert ref.splitlines() == ["[[0.5,  1.25,      2.0],", " [3.0, 0.125, 4.000045]]"]


def test_repro_command_is_copyable(dom):
    block = _case_block(dom, "nn-sigmoid-2d[float32]")
    code = block.find("div", cls="repro").find("code")
    assert code.text() == "python -m harness verify cases/nn/sigmoid.yaml -k 'nn-sigmoid-2d[float32]'"
    button = block.find("button", cls="copy")
    assert button.attrs["data-target"] == code.attrs["id"]


def test_error_and_xpassed_are_expanded_xfailed_is_not(dom):
    error = _case_block(dom, PLANTED)
    assert "open" in error.attrs and "cases/docs/bad.yaml:3" in error.text()
    xfailed = _case_block(dom, "keras-bce-fp16[float16]")
    assert "open" not in xfailed.attrs
    assert "Keras clips to epsilon" in xfailed.text()


def test_yaml_strings_are_escaped(page, dom):
    assert PLANTED not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    scripts = _scripts(dom)
    assert len(scripts) == 1 and "alert(1)" not in scripts[0].text()
    assert "alert(1)</" not in dom.find("script", id="page-data").text()
    # the planted text is shown as text: in the table row and the detail block
    assert _case_block(dom, PLANTED).find("dd", cls="text").text() == PLANTED
    assert any(a.text() == PLANTED for a in dom.find("table", id="cases-table").find_all("a"))


def test_page_is_self_contained(page, dom):
    for node in dom.iter():
        for attr in ("src", "href", "action", "poster", "data"):
            value = node.attrs.get(attr, "")
            assert not re.match(r"\s*(https?:|//)", value, re.I), (node.tag, attr, value)
    assert not dom.find_all("link", rel="stylesheet")
    assert not re.search(r"https?://", page)
    # only data: URLs and references to the page's own SVG definitions (matplotlib's clip paths)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?!data:|#)", page)
    for node in dom.iter():
        if "xlink:href" in node.attrs:
            assert node.attrs["xlink:href"].startswith("#")


def test_csp_admits_exactly_the_page_script(page, dom):
    metas = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    csp = metas[0].attrs["content"]
    script = dom.find("script").text()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp


def test_table_has_one_row_per_case_failures_first(dom):
    rows = dom.find("table", id="cases-table").find("tbody").find_all("tr")
    assert [r.classes for r in rows] == [{"st-failed"}, {"st-error"}, {"st-xfailed"}] + [{"st-passed"}] * 4
    cells = [c.text() for c in rows[0].find_all("td")]
    assert cells == ["failed", "new-failure", "nn-sigmoid-2d[float32]", "tf.nn.sigmoid_cross_entropy_with_logits",
                     "float32", "xla", "4.5e-05", "1.1e-05", "377", "1.3e-06 / 1e-05", "20 µs", "0.3 ms",
                     "cases/nn/sigmoid.yaml:40"]
    link = rows[0].find("a")
    assert dom.find(id=link.attrs["href"][1:]).tag == "details"
    passed = [c.text() for c in rows[3].find_all("td")]
    assert passed[5] == "eager"  # no mode in params: results before modes ran eagerly
    assert passed[6:9] == ["1.2e-08", "3e-08", "1"] and passed[10:12] == ["12.3 µs", "0.42 ms"]


def test_timing_table(dom):
    rows = dom.find("table", id="timing-table").find("tbody").find_all("tr")
    table = [[c.text() for c in r.find_all("td")] for r in rows]
    assert table[:3] == [
        ["tf.compat.v1.losses.sparse_softmax_cross_entropy", "1", "12.3 µs", "0.42 ms", "34.1×"],
        ["tf.keras.losses.BinaryCrossentropy", "1", "22 µs", "0.95 ms", "43.2×"],
        ["tf.keras.losses.MeanSquaredError", "1", "—", "—", "—"],
    ]
    assert table[4] == ["tf.nn.sigmoid_cross_entropy_with_logits", "1", "20 µs", "0.3 ms", "15×"]
    chart = dom.find("section", id="timing").find("svg", cls="timing-chart")
    labels = [t.text() for t in chart.find_all("text")]
    assert "tf.nn.sigmoid_cross_entropy_with_logits" in labels and "TensorFlow" in labels


@pytest.mark.parametrize("value, expected", [
    (1.2e-8, "1.2e-08"), (0.3265626, "0.327"), (3, "3"), (None, "—"), (float("nan"), "nan"),
    (float("-inf"), "-inf"), ("inf", "inf"), (0.0, "0"),
])
def test_fmt_num(value, expected):
    assert fmt_num(value) == expected


@pytest.mark.parametrize("value, dtype, expected", [
    (0.3265626, "float32", "0.3265626"), (1.2e-8, "float32", "1.2e-08"), (0.1, "float64", "0.1"),
    (0.30078125, "bfloat16", "0.3"), (0.302734375, "bfloat16", "0.303"), (0.0999755859375, "float16", "0.1"),
    (2, "float32", "2"),
    (float("nan"), "float32", "nan"), ("...", "float32", "..."),
])
def test_fmt_value_uses_the_dtype_shortest_digits(value, dtype, expected):
    assert fmt_value(value, dtype) == expected


@pytest.mark.parametrize("seconds, expected", [
    (12.3e-6, "12.3 µs"), (4.2e-4, "0.42 ms"), (8.5e-7, "850 ns"), (1.5, "1.5 s"), (None, "—"), (150, "2 min 30 s"),
])
def test_fmt_time(seconds, expected):
    assert fmt_time(seconds) == expected


def test_diff_with_non_finite_errors_and_a_1d_wrap():
    n = 40
    abs_err = [0.0] * n
    abs_err[33] = float("nan")
    abs_err[5] = "inf"
    case = {"id": "x", "status": "failed", "rtol": 1e-3, "atol": 1e-5, "dtype": "float16",
            "outputs": {"reference": [1.0] * n, "tf": [1.0] * n},
            "diff": {"abs_err": abs_err, "mismatch": [i in (5, 33) for i in range(n)], "worst_index": [33]}}
    grid = build_grid(case)
    cells = [c for row in grid["rows"] for c in row["cells"] if c]
    assert len(cells) == n and [r["label"] for r in grid["rows"]] == ["0", "16", "32"]
    assert cells[33]["text"] == "nan" and "worst" in cells[33]["cls"] and "c5" in cells[33]["cls"]
    assert cells[5]["text"] == "inf" and "mm" in cells[5]["cls"]
    assert grid["mismatches"] == 2


def test_large_grid_is_windowed_around_the_worst_element():
    rows, cols = 200, 100
    abs_err = [[0.0] * cols for _ in range(rows)]
    abs_err[150][90] = 1.0
    case = {"id": "x", "status": "failed", "rtol": 0.0, "atol": 1e-5, "outputs": {},
            "diff": {"abs_err": abs_err, "mismatch": None, "worst_index": [150, 90]}}
    grid = build_grid(case)
    assert len(grid["rows"]) == GRID_MAX_ROWS and len(grid["columns"]) == GRID_MAX_COLS
    worst = [c for row in grid["rows"] for c in row["cells"] if "worst" in c["cls"]]
    assert len(worst) == 1 and worst[0]["title"].startswith("worst [150, 90]")
    assert grid["notes"]


def test_crashes_timeouts_interruption_and_coverage():
    results = {
        "run": {"interrupted": True},
        "summary": {"passed": 1, "crashed": 1, "timeout": 1},
        "cases": [
            {"id": "ok", "status": "passed", "op": "tf.nn.softmax"},
            {"id": "boom", "status": "crashed", "op": "tf.nn.softmax", "message": "crashed its worker process"},
            {"id": "slow", "status": "timeout", "op": "tf.nn.l2_loss", "message": "ran past the 60 s timeout"},
        ],
        "coverage": [
            {"op": "tf.nn.softmax", "cases": 2, "dtypes": ["float32"], "values": {"args.axis": ["-1", "0"]},
             "missing": []},
            {"op": "tf.nn.l2_loss", "cases": 0, "dtypes": [], "values": {}, "missing": [f"<b>{PLANTED}</b>"]},
        ],
    }
    page = render_html(results)
    dom = parse(page)
    assert dom.find(id="verdict").text() == "FAILED — 1 crashed, 1 timed out (of 3 cases)"
    assert "interrupted" in dom.find(id="run-warnings").text()
    for case_id in ("boom", "slow"):
        block = _case_block(dom, case_id)
        assert "open" in block.attrs and any(a.attrs.get("id") == "failures" for a in block.ancestors())
    assert [lb.find("input").attrs["data-status"] for lb in dom.find(id="filters").find_all("label")] == \
        ["crashed", "timeout", "passed"]  # only statuses that occur
    rows = dom.find("table", id="coverage-table").find("tbody").find_all("tr")
    assert [r.find("code").text() for r in rows] == ["tf.nn.l2_loss", "tf.nn.softmax"]
    assert rows[0].classes == {"uncovered"} and "args.axis: -1, 0" in rows[1].text()
    assert PLANTED not in page and f"&lt;b&gt;{PLANTED.replace('<', '&lt;').replace('>', '&gt;')}" in page


def test_missing_keys_and_empty_results_render():
    page = render_html({})
    assert "NO CASES RAN" in page
    page = render_html({"cases": [{"status": "error", "message": "bad yaml"}, {"id": "odd", "status": "weird"},
                                  {"id": "empty", "status": "failed", "diff": {"abs_err": [], "mismatch": []},
                                   "outputs": {"reference": [], "tf": [[]]}, "checks": [None, {"ok": None}]}]})
    dom = parse(page)
    assert len(dom.find("table", id="cases-table").find("tbody").find_all("tr")) == 3
    assert "FAILED" in dom.find(id="verdict").text()
    assert "INVALID INPUT" in parse(render_html({"cases": [{"status": "error"}]})).find(id="verdict").text()


def test_write_html_is_atomic(results, tmp_path, monkeypatch):
    target = tmp_path / "reports" / "index.html"
    write_html(results, target)
    assert target.read_text(encoding="utf-8") == render_html(results)
    assert os.listdir(target.parent) == ["index.html"]

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report_html.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_html({"cases": []}, target)
    assert target.read_text(encoding="utf-8") == render_html(results)  # old report intact
    assert os.listdir(target.parent) == ["index.html"]  # temp file removed


def test_ten_thousand_rows_are_compact_data():
    cases = [{"id": f"case-{i}[float32]", "op": f"tf.nn.op{i % 20}", "dtype": "float32", "status": "passed",
              "file": "cases/nn/many.yaml", "line": i, "max_abs_err": 1e-8, "max_rel_err": 1e-8, "max_ulp": 0,
              "rtol": 1.3e-6, "atol": 1e-5, "time_reference_s": 1e-5, "time_tf_s": 1e-4,
              "repro": f"python -m harness verify cases/nn/many.yaml -k 'case-{i}[float32]'",
              "checks": [{"name": "reference vs tf", "ok": True}],
              "outputs": {"reference": [0.5, 0.25], "tf": [0.5, 0.25]}}
             for i in range(10_000)]
    start = time.perf_counter()
    page = render_html({"cases": cases})
    elapsed = time.perf_counter() - start
    assert elapsed < 60, f"rendering 10,000 cases took {elapsed:.1f} s"
    assert page.count('<tr class="st-passed"') == report_html.TABLE_PAGE  # the first page, for readers without JS
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', page, re.S)[1])
    assert len(data["rows"]) == 10_000 and len(data["cases"]) == 10_000
    assert page.count("<script>") == 1 and page.count('<script type="application/json"') == 1
    assert "<details" not in page  # passed cases' blocks are built on demand
    assert len(page) / 10_000 < 2_000  # bytes per case


def test_ratio_and_medians():
    rows = report_html.timing_rows([
        {"op": "b", "time_reference_s": 1e-5, "time_tf_s": 1e-4},
        {"op": "b", "time_reference_s": 3e-5, "time_tf_s": 3e-4},
        {"op": "b", "time_reference_s": None, "time_tf_s": 2e-4},
        {"op": "a", "time_reference_s": None, "time_tf_s": None},
        {"op": None, "time_reference_s": 1.0},
    ])
    assert [r["op"] for r in rows] == ["a", "b"]
    assert rows[0]["n"] == 1 and rows[0]["ratio"] == "—"
    assert rows[1]["n"] == 3 and math.isclose(rows[1]["ref_s"], 2e-5) and math.isclose(rows[1]["tf_s"], 2e-4)
    assert rows[1]["ratio"] == "10×" and rows[1]["ref"] == "20 µs" and rows[1]["tf"] == "0.2 ms"


# ---------------------------------------------------------------- the diff explorer


def _header_order(dom: Node) -> list[str]:
    """Ids of the header's blocks in document order."""
    header = dom.find("header", cls="top")
    return [n.attrs["id"] for n in header.iter() if n.attrs.get("id") in ("verdict", "baseline", "count-failed")]


def test_baseline_counts_at_the_top_and_a_badge_per_case(dom):
    assert _header_order(dom) == ["verdict", "baseline", "count-failed"]
    bar = dom.find(id="baseline")
    counts = {a.attrs["data-baseline"]: a.find("b").text() for a in bar.find_all("a")}
    assert counts == {"new-failure": "1", "fixed": "1", "still-failing": "0", "new-case": "2", "unchanged": "3"}
    assert "old/results.json" in bar.text()
    assert "--fail-on new" in bar.text() and "2 here, so the run fails" in bar.text()  # + the invalid new case
    assert "1 new failure" in bar.text() and "2 new cases" in bar.text()
    summary = _case_block(dom, "nn-sigmoid-2d[float32]").find("summary")
    assert summary.find("span", cls="bl-badge").text() == "new-failure"
    select = dom.find("select", id="f-baseline")
    assert [o.attrs["value"] for o in select.find_all("option")] == ["", "new-failure", "fixed", "new-case",
                                                                      "unchanged"]
    header = [th.attrs.get("data-key") for th in dom.find("table", id="cases-table").find("thead").find_all("th")]
    assert header[1] == "baseline"


def test_no_baseline_no_bar_and_no_column(results):
    plain = {k: v for k, v in results.items() if k != "baseline"}
    plain["cases"] = [{k: v for k, v in c.items() if k != "baseline"} for c in results["cases"]]
    dom = parse(render_html(plain))
    assert not dom.find_all(id="baseline") and not dom.find_all("select", id="f-baseline")
    assert "has-baseline" not in dom.find("table", id="cases-table").classes


def test_filters_offer_every_op_dtype_and_mode(dom):
    options = {key: [o.attrs["value"] for o in dom.find("select", id=f"f-{key}").find_all("option")][1:]
               for key in ("op", "dtype", "mode")}
    assert options["dtype"] == ["float16", "float32", "float64"]
    assert options["mode"] == ["eager", "function", "xla"]
    assert "tf.nn.sigmoid_cross_entropy_with_logits" in options["op"] and "" not in options["op"]
    keys = [th.attrs.get("data-key") for th in dom.find("table", id="cases-table").find("thead").find_all("th")]
    assert {"op", "dtype", "mode"} <= set(keys)


def test_coverage_matrix_op_dtype_mode_coloured_by_status(dom):
    table = dom.find("table", id="coverage-matrix")
    head = table.find("thead").find_all("tr")
    assert [th.text() for th in head[0].find_all("th", cls="m-dtype")] == ["float16", "float32", "float64"]
    columns = [th.text() for th in head[1].find_all("th")]
    assert columns == ["eager", "eager", "xla", "function"]  # only the combinations that occur
    rows = {r.find("th").text(): r for r in table.find("tbody").find_all("tr")}
    sigmoid = rows["tf.nn.sigmoid_cross_entropy_with_logits"].find_all("td")
    assert "m-declared" in sigmoid[0].classes  # float16/eager: declared in the files, not run
    assert "m-failed" in sigmoid[2].classes and sigmoid[2].find("a").text() == "1"
    link = sigmoid[2].find("a")
    assert (link.attrs["data-op"], link.attrs["data-dtype"], link.attrs["data-mode"]) == \
        ("tf.nn.sigmoid_cross_entropy_with_logits", "float32", "xla")
    assert "1 failed" in sigmoid[2].attrs["title"]
    softmax = rows["tf.nn.softmax"].find_all("td")
    assert "m-passed" in softmax[3].classes and softmax[3].find_all("span", cls="grad-mark")  # gradients checked
    assert "m-none" in softmax[0].classes
    assert "m-xfailed" in rows["tf.keras.losses.BinaryCrossentropy"].find_all("td")[0].classes
    assert "not exercised" in rows["tf.nn.sigmoid_cross_entropy_with_logits"].find("td", cls="m-flags").text()
    assert "tf.nn.log_poisson_loss" not in rows
    flags = dom.find(id="no-cases")
    assert "no cases" in flags.text() and [c.text() for c in flags.find_all("code")] == ["tf.nn.log_poisson_loss"]


def test_matrix_cell_takes_the_worst_status():
    cases = [{"op": "tf.nn.softmax", "dtype": "float32", "status": s, "params": {"dtype": "float32"}}
             for s in ("passed", "xfailed", "failed", "passed")]
    cases.append({"op": "tf.nn.softmax", "dtype": "float32", "status": "passed",
                  "params": {"dtype": "float32", "mode": "xla"}, "outputs": {"grads": {"logits": {}}}})
    grid = matrix.build(cases, None, report_html.STATUSES)
    assert grid["columns"] == [("float32", "eager"), ("float32", "xla")]
    eager, xla = grid["rows"][0]["cells"]
    assert eager["status"] == "failed" and eager["n"] == 4 and not eager["grad"]
    assert eager["counts"] == {"passed": 2, "xfailed": 1, "failed": 1}
    assert xla["status"] == "passed" and xla["grad"]


def _ledger_rows(dom: Node) -> dict[tuple[str, str], Node]:
    rows = dom.find("table", id="ledger-table").find("tbody").find_all("tr")
    return {(r.find("a").text(), r.find_all("td")[3].text()): r for r in rows}


def test_tolerance_ledger_flags_loose_tolerances_and_missing_reasons(dom):
    rows = _ledger_rows(dom)
    loose = rows[("nn-l2-loose[float32]", "value")]
    cells = [c.text() for c in loose.find_all("td")]
    # |4 - 4.0000005| = 5e-7 against 1e-5 + 1e-3 * 4.0000005: 8020x headroom
    assert cells[4].startswith("rtol 0.001 / atol 1e-05") and "override" in cells[4]
    assert cells[5] == "TF accumulates in float32"
    assert cells[6:9] == ["5e-07", "0.00401", "8.02e+03×"]
    assert "lf-loose" in loose.classes and "flagged" in loose.classes
    wide = rows[("keras-mse-wide[float16]", "value")]
    assert "lf-no-reason" in wide.classes and "lf-loose" not in wide.classes  # 20x headroom, rtol 1e-2 without reason
    assert wide.find_all("td")[5].text() == "missing"
    assert [c.text() for c in wide.find_all("td")][8] == "20×"
    failed = rows[("nn-sigmoid-2d[float32]", "value")]
    assert "lf-exceeded" in failed.classes
    exact = rows[("nn-softmax-grad[float64-function]", "value")]
    assert exact.find_all("td")[8].text() == "∞ (exact)" and "lf-exact" in exact.classes and "flagged" in exact.classes
    grad = rows[("nn-softmax-grad[float64-function]", "grad logits")]
    assert grad.find_all("td")[4].text().startswith("rtol 1e-07 / atol 1e-09")
    # the overrides without a reason come first
    first = dom.find("table", id="ledger-table").find("tbody").find("tr")
    assert first.find("a").text() == "keras-mse-wide[float16]"
    summary = dom.find(id="ledger-summary").text()
    assert "2 tolerance override(s): 1 at least 100× looser than observed, 0 on exact matches, 1 without a reason" in summary
    assert "2 exceeded" in summary  # the failed case and the xfailed one


@pytest.mark.parametrize("ref, tf, rtol, atol, ulp, expected", [
    ([1.0, 2.0], [1.0, 2.001], 1e-2, 1e-5, None, (0.001, 0.02002, 20.02)),
    ([1.0, 2.0], [1.0, 2.0], 1e-2, 1e-5, None, (0.0, 0.01001, math.inf)),
    ([0.0, 5.0], [1e-6, 5.0], 0.0, 0.0, None, (1e-6, 0.0, 0.0)),  # nothing allowed: exceeded
    ([1.0, "nan"], [1.0, "nan"], 1e-6, 0.0, None, (0.0, 1e-6, math.inf)),  # NaN at the same place: exact
    ([1.0], [1.0000001192092896], 0.0, 0.0, 4, (1.0, 4.0, 4.0)),  # ULP tolerance, float32
])
def test_headroom_at_the_element_closest_to_failing(ref, tf, rtol, atol, ulp, expected):
    errors = ledger.element_errors(ref, tf, "float32")
    room = ledger.headroom(errors, rtol=rtol, atol=atol, ulp=ulp)
    for got, want in zip((room.observed, room.allowed, room.headroom), expected):
        assert got == pytest.approx(want, rel=1e-6)


def test_headroom_without_outputs_is_a_lower_bound():
    room = ledger.headroom(None, rtol=1e-3, atol=1e-5, ulp=None, max_abs=1e-6, max_rel=1e-7)
    assert room.bound and room.headroom == pytest.approx(10 + 1e4)


def test_override_detection():
    assert ledger.override({"dtype": "float32", "rtol": 1.3e-6, "atol": 1e-5}) == (False, "")
    assert ledger.override({"dtype": "float32", "rtol": 1e-4, "atol": 1e-5, "tolerance_reason": " "}) == (True, "")
    # TF returned float32 for a float64 case: compared at float32's default, not an override
    assert ledger.override({"dtype": "float64", "rtol": 1.3e-6, "atol": 1e-5}) == (False, "")
    assert ledger.override({"dtype": "float32", "ulp": 4}) == (True, "")
    assert ledger.override({"dtype": "float32", "rtol": 1e-3, "tolerance_reason": "why"}) == (True, "why")


def test_failure_headline_states_op_dtype_mode_element_and_error(dom):
    block = _case_block(dom, "nn-sigmoid-2d[float32]")
    headline = block.find("div", cls="headline")
    facts = {dt.text(): dd.text() for dt, dd in zip(headline.find_all("dt"), headline.find_all("dd"))}
    assert facts["op"] == "tf.nn.sigmoid_cross_entropy_with_logits"
    assert facts["dtype"] == "float32" and facts["mode"] == "xla"
    assert facts["worst element"] == "[1, 2] of the output: reference 4.000045 vs TF 4.0"
    # |4.00004501 - 4| in float32 is 94 ULP; allowed 1e-5 + 1.3e-6 * 4
    assert facts["off by"] == "4.5e-05 absolute · 1.13e-05 relative · 94 ULP — 2.96× the 1.52e-05 allowed"
    assert headline.find("div", cls="repro").find("code").text().startswith("python -m harness verify")
    # the headline is the first thing in the block
    body = block.find("div", cls="case-body")
    assert body.children[0] is headline


def test_arbitration_verdict_is_shown(dom):
    block = _case_block(dom, "nn-sigmoid-2d[float32]")
    arbitration = block.find("div", cls="arbitration")
    assert "TF is off by 377 ULP, the reference by 0 ULP" in arbitration.text()
    assert "the reference is closer to the exact value" in arbitration.text()
    assert "closer-reference" in arbitration.classes
    assert not _case_block(dom, "keras-bce-fp16[float16]").find_all("div", cls="arbitration")


def test_gradients_of_both_sides(results, page):
    record = _on_demand(page, "nn-softmax-grad[float64-function]")  # passed: on demand, without the values
    assert record["traces"] == "2" and "0.12500000000000003" not in page
    failing = [dict(c, status="failed") if c.get("id") == "nn-softmax-grad[float64-function]" else c
               for c in results["cases"]]
    block = _case_block(parse(render_html({**results, "cases": failing, "summary": None})),
                        "nn-softmax-grad[float64-function]")
    grad = block.find("div", cls="grad")
    assert "logits" in grad.find("p", cls="grad-name").text()
    figures = {f.find("figcaption").text(): re.sub(r"\s+", "", f.find("pre").text()) for f in grad.find_all("figure")}
    assert figures == {"NumPy reference": "[0.125,-0.125]", "TensorFlow": "[0.12500000000000003,-0.125]"}
    assert "analytic" in block.text() and "2 tf.function trace(s)" in block.text()
    assert "1e-07 / 1e-09" in block.text()  # the gradient tolerance


def test_histograms_are_inline_svg_for_failing_cases_only(dom):
    block = _case_block(dom, "nn-sigmoid-2d[float32]")
    plots = block.find_all("svg", cls="hist")
    assert len(plots) == 1
    titles = [t.text() for t in plots[0].find_all("text")]
    for title in ("|reference − tf|", "|reference − tf| / |tf|", "ULP distance", "mismatch", "atol 1e-05"):
        assert title in titles
    assert plots[0].find_all("path")  # drawn, not an image
    for other in ("keras-bce-fp16[float16]", PLANTED):
        assert not _case_block(dom, other).find_all("svg")
    suite = dom.find("section", id="summary").find_all("svg", cls="suite-hist")
    assert len(suite) == 1
    assert "max ULP distance per case (6 cases)" in [t.text() for t in suite[0].find_all("text")]
    svgs = dom.find_all("svg")
    assert len(svgs) == 3  # one failed case, the suite, the timing chart
    for svg in svgs:
        assert "plot" in svg.classes and svg.attrs.get("role") == "img"


def test_histograms_are_capped(results, monkeypatch):
    monkeypatch.setattr(report_html, "HISTOGRAM_MAX_CASES", 0)
    dom = parse(render_html(results))
    block = _case_block(dom, "nn-sigmoid-2d[float32]")
    assert not block.find_all("svg") and "only the first 0 failed cases" in block.text()


def test_gradient_failure_diff_uses_the_gradient_and_its_tolerance():
    case = {"id": "g", "status": "failed", "op": "tf.nn.softmax", "dtype": "float32", "rtol": 1.3e-6, "atol": 1e-5,
            "grad_method": "analytic", "grad_tolerance": {"rtol": 1e-5, "atol": 1e-6},
            "checks": [{"name": "reference vs tf", "ok": True},
                       {"name": "grad x: reference (analytic) vs tf", "ok": False, "worst_index": [1],
                        "message": "Mismatched elements: 1 / 3 (33.3%)"}],
            "outputs": {"reference": [1.0, 2.0, 3.0], "tf": [1.0, 2.0, 3.0],
                        "grads": {"x": {"reference": [0.5, 0.25, 0.125], "tf": [0.5, 0.2501, 0.125]}}},
            "diff": {"abs_err": [0.0, 1e-4, 0.0], "mismatch": [False, True, False], "worst_index": [1]}}
    dom = parse(render_html({"cases": [case]}))
    facts = {dt.text(): dd.text() for dt, dd in zip(*(dom.find("div", cls="headline").find_all(t) for t in ("dt", "dd")))}
    assert facts["worst element"] == "[1] of the gradient of x: reference 0.25 vs TF 0.2501"
    assert "1 / 3 (33.3%) elements mismatch" in facts["off by"]
    worst = dom.find("table", cls="diff").find("td", cls="worst")
    assert "tolerance 3.5e-06" in worst.attrs["title"]  # 1e-6 + 1e-5 * 0.2501
    assert "gradient of x" in dom.find("p", cls="grid-note").text()


def test_inputs_are_shortened():
    long_input = "[" + ", ".join(["0.123456"] * 200) + "] float32"
    dom = parse(render_html({"cases": [{"id": "x", "status": "xfailed", "inputs": {"x": long_input, "y": "[1, 2] int32"}}]}))
    values = [dd.text() for dd in dom.find("dl", cls="inputs").find_all("dd")]
    assert len(values[0]) < 300 and values[0].endswith(f"({len(long_input):,} characters)")
    assert values[1] == "[1, 2] int32"


def test_yaml_strings_in_plots_matrix_and_filters_are_escaped():
    evil_op = f"tf.nn.{PLANTED}$x^2$"
    cases = [{"id": "a", "status": "failed", "op": evil_op, "dtype": "float32", "time_reference_s": 1e-5,
              "time_tf_s": 1e-4, "max_abs_err": 1.0, "max_ulp": 3, "rtol": 0.0, "atol": 0.0,
              "params": {"dtype": "float32", "mode": PLANTED}, "baseline": PLANTED,
              "checks": [{"name": "reference vs tf", "ok": False, "worst_index": [0]}],
              "outputs": {"reference": [1.0, 2.0], "tf": [2.0, 2.0]},
              "arbitration": {"verdict": PLANTED, "closer": PLANTED}}]
    page = render_html({"cases": cases, "baseline": {"path": PLANTED}})
    assert PLANTED not in page
    dom = parse(page)
    assert len(_scripts(dom)) == 1
    chart = dom.find("svg", cls="timing-chart")
    assert f"tf.nn.{PLANTED}$x^2$" in [t.text() for t in chart.find_all("text")]  # as text, not mathtext
    assert dom.find("table", id="coverage-matrix").find("a").attrs["data-op"] == evil_op
    assert evil_op in [o.attrs["value"] for o in dom.find("select", id="f-op").find_all("option")]


def test_expect_failure_headline_compares_with_the_published_value():
    case = {"id": "e", "status": "failed", "op": "tf.nn.l2_loss", "dtype": "float32", "rtol": 1.3e-6, "atol": 1e-5,
            "checks": [{"name": "reference vs tf", "ok": True},
                       {"name": "expect vs tf", "ok": False, "worst_index": [],
                        "message": "expect vs tf\nMismatched elements: 1 / 1 (100%)"}],
            "outputs": {"reference": 7.0, "tf": 7.0, "expect": 7.5}, "max_abs_err": 0.0}
    dom = parse(render_html({"cases": [case]}))
    headline = dom.find("div", cls="headline")
    facts = {dt.text(): dd.text() for dt, dd in zip(headline.find_all("dt"), headline.find_all("dd"))}
    assert facts["worst element"] == "(scalar) of the output against the published value: TF 7.0 vs expected 7.5"
    assert facts["off by"].startswith("0.5 absolute · 0.0667 relative")
    assert not dom.find_all("svg", cls="hist")  # the published value's own tolerance is not in the results
