"""The HTML report: structure, escaping, self-containment, number formatting, scale."""
from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import time
from html.parser import HTMLParser

import pytest

from harness.report import html as report_html
from harness.report.html import fmt_num, fmt_time, fmt_value, render_html, write_html

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
              diff={"abs_err": ABS, "mismatch": MISMATCH, "worst_index": [1, 2]}),
        {"id": PLANTED, "status": "error", "op": None, "file": "cases/docs/bad.yaml", "line": 3,
         "message": "cases[0].id: does not match '^[A-Za-z0-9._-]+$'", "description": PLANTED,
         "repro": "python -m harness verify cases/docs/bad.yaml"},
        _case(id="keras-bce-fp16[float16]", base_id="keras-bce-fp16", file="cases/keras/bce.yaml", line=20,
              op="tf.keras.losses.BinaryCrossentropy", status="xfailed", dtype="float16", rtol=1e-3,
              message="reference vs tf: 2 of 8 differ",
              xfail_reason="Keras clips to epsilon=1e-7, which is 0 in float16",
              max_abs_err=0.0123, max_rel_err=0.0031, max_ulp=12, time_reference_s=2.2e-5, time_tf_s=9.5e-4,
              checks=[], outputs={"reference": 3.9766, "tf": 3.9643}, output_shape=[]),
    ]
    return {
        "schema_version": 1,
        "run": {"started": "2026-11-22T05:40:00+00:00", "finished": "2026-11-22T05:40:12+00:00", "duration_s": 12.3,
                "argv": ["python", "-m", "harness", "verify", "cases/"], "paths": ["cases/"]},
        "environment": {"python": "3.11.7", "numpy": "2.4.6", "tensorflow": "2.21.0", "keras": "3.15.1",
                        "platform": "Linux", "cpu": "x86_64", "cpu_flags": ["avx2", "fma"], "git_commit": None},
        "summary": {"passed": 1, "failed": 1, "error": 1, "skipped": 0, "xfailed": 1, "xpassed": 0},
        "cases": cases,
        "warnings": ["run-level warning: 1 invalid file"],
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


def test_summary_counts_and_verdict(dom):
    for status, n in {"passed": 1, "failed": 1, "error": 1, "skipped": 0, "xfailed": 1, "xpassed": 0}.items():
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


def test_outputs_side_by_side_and_expected_value(dom):
    block = _case_block(dom, "doc000-v1-sparse-mean[float32]")
    assert "open" not in block.attrs  # passed cases are collapsed
    figures = {f.find("figcaption").text(): f.find("pre").text() for f in block.find_all("figure")}
    assert figures == {"NumPy reference": "0.3265626", "TensorFlow": "0.32656264", "expected (published)": "0.3265626"}
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
    scripts = dom.find_all("script")
    assert len(scripts) == 1 and "alert(1)" not in scripts[0].text()
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
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?!data:)", page)


def test_csp_admits_exactly_the_page_script(page, dom):
    metas = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    csp = metas[0].attrs["content"]
    script = dom.find("script").text()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp


def test_table_has_one_row_per_case_failures_first(dom):
    rows = dom.find("table", id="cases-table").find("tbody").find_all("tr")
    assert [r.classes for r in rows] == [{"st-failed"}, {"st-error"}, {"st-xfailed"}, {"st-passed"}]
    cells = [c.text() for c in rows[0].find_all("td")]
    assert cells == ["failed", "nn-sigmoid-2d[float32]", "tf.nn.sigmoid_cross_entropy_with_logits", "float32",
                     "4.5e-05", "1.1e-05", "377", "1.3e-06 / 1e-05", "20 µs", "0.3 ms", "cases/nn/sigmoid.yaml:40"]
    link = rows[0].find("a")
    assert dom.find(id=link.attrs["href"][1:]).tag == "details"
    passed = [c.text() for c in rows[3].find_all("td")]
    assert passed[4:7] == ["1.2e-08", "3e-08", "1"] and passed[8:10] == ["12.3 µs", "0.42 ms"]


def test_timing_table(dom):
    rows = dom.find("table", id="timing-table").find("tbody").find_all("tr")
    table = [[c.text() for c in r.find_all("td")] for r in rows]
    assert table == [
        ["tf.compat.v1.losses.sparse_softmax_cross_entropy", "1", "12.3 µs", "0.42 ms", "34.1×"],
        ["tf.keras.losses.BinaryCrossentropy", "1", "22 µs", "0.95 ms", "43.2×"],
        ["tf.nn.sigmoid_cross_entropy_with_logits", "1", "20 µs", "0.3 ms", "15×"],
    ]
    assert dom.find_all("svg", cls="timing-chart")


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
    grid = report_html.build_grid(case)
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
    grid = report_html.build_grid(case)
    assert len(grid["rows"]) == report_html.GRID_MAX_ROWS and len(grid["columns"]) == report_html.GRID_MAX_COLS
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


def test_ten_thousand_rows_render_server_side():
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
    assert page.count('<tr class="st-passed"') == 10_000
    assert page.count("<script") == 1
    assert len(page) / 10_000 < 4_000  # bytes per case


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
