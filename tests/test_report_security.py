"""Strings from YAML reach the HTML report escaped: a ``<script>`` written in a case's
description and xfail reason (and in a results entry's id) never runs in a real browser."""
from __future__ import annotations

import json

import pytest

from tests.test_report_browser import CHROMEDRIVER, CHROMIUM, _driver, _save_screenshot

PLANTED = "<script>window.pwned = 1; document.title = 'pwned'</script>"
CASES = f"""\
cases:
  - id: planted
    op: tf.nn.softmax
    description: "{PLANTED} <img src=x onerror=\\"window.pwned = 2\\">"
    xfail: "{PLANTED} known divergence"
    args: {{logits: [[1.0, 2.0]]}}
    expect: [0.5, 0.5]
"""


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="chromium not installed: run `make browser`")
def test_script_from_yaml_does_not_run(cli, write_case, tmp_path):
    path = write_case("planted.yaml", CASES)
    out = cli("verify", str(path), "--report-dir", str(tmp_path / "rep"), "-n", "0")
    assert out.returncode == 0, out.stdout + out.stderr  # the planted case xfails
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert PLANTED in results["cases"][0]["description"]
    html = (tmp_path / "rep" / "index.html").read_text()
    assert PLANTED not in html and "&lt;script&gt;window.pwned" in html
    driver = _driver(tmp_path / "profile")
    try:
        driver.get((tmp_path / "rep" / "index.html").as_uri())
        assert driver.execute_script("return window.pwned === undefined")
        assert driver.title != "pwned"
        text = driver.execute_script("return document.body.textContent")
        assert "<script>window.pwned" in text  # present as text, in the description and the xfail reason
        assert driver.execute_script("return document.querySelectorAll('body script').length") == \
            html.count("<script")  # only the report's own scripts
        _save_screenshot(driver, tmp_path, "report-security.png")
    finally:
        driver.quit()
