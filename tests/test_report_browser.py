"""The HTML report in a real browser: headless Chromium driven by Selenium.

Renders tests/data/sample_results.json, opens it from disk (file://) and checks what a
person sees: the failed case with its diff grid and worst element, the status filter and
the search box, that a ``<script>`` planted in a case id does not run, that the page makes
no network request and logs no error.  Screenshots go to the test's tmp dir and to
reports/screenshots/.
"""
from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from harness.report.html import write_html

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).parent / "data" / "sample_results.json"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,1800")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed: run `make browser`")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("chromium not installed: run `make browser`", allow_module_level=True)


def _driver(profile: Path, javascript: bool = True):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def _save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    """A full-page PNG in ``tmp_path`` and, when it can be created, in reports/screenshots/."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    target = tmp_path / name
    target.write_bytes(base64.b64decode(shot["data"]))
    try:
        shots = ROOT / "reports" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, shots / name)
    except OSError:
        pass
    return target


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "index.html"
    write_html(json.loads(SAMPLE.read_text(encoding="utf-8")), path)
    return path


@pytest.fixture(scope="module")
def browser(report, tmp_path_factory):
    driver = _driver(tmp_path_factory.mktemp("chromium-profile"))
    try:
        driver.get(report.as_uri())
        yield driver
    finally:
        driver.quit()


def _click(driver, element) -> None:
    """Click as a person would: first scroll the element to mid-screen, clear of the sticky bars."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _visible_rows(browser, status: str) -> list:
    return [r for r in browser.find_elements(By.CSS_SELECTOR, f"#cases-table tbody tr.st-{status}") if r.is_displayed()]


def test_failed_case_shows_diff_grid_and_worst_element(browser, tmp_path):
    failed = browser.find_elements(By.CSS_SELECTOR, "#failures details.case.st-failed")
    assert failed and all(d.get_attribute("open") is not None for d in failed)
    block = failed[0]
    assert block.is_displayed()
    assert "nn-sigmoid-ce-large-logits[float16]" in block.find_element(By.TAG_NAME, "summary").text
    grid = block.find_element(By.CSS_SELECTOR, "table.diff")
    assert grid.is_displayed()
    worst = grid.find_elements(By.CSS_SELECTOR, "td.worst")
    assert len(worst) == 1 and worst[0].is_displayed()
    assert worst[0].get_attribute("title").startswith("worst [2, 5]")
    assert len(grid.find_elements(By.CSS_SELECTOR, "td.mm")) == 2
    outline = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", worst[0])
    assert outline == "solid"
    repro = block.find_element(By.CSS_SELECTOR, ".repro code")
    assert repro.is_displayed() and repro.text.startswith("python -m harness verify cases/nn/sigmoid.yaml -k")
    assert block.find_element(By.CSS_SELECTOR, "button.copy").is_displayed()  # shown once JS runs
    browser.execute_script("window.scrollTo(0, 0)")
    _save_screenshot(browser, tmp_path, "report.png")


def test_status_filter_hides_passed_rows_and_search_narrows(browser):
    _click(browser, browser.find_element(By.ID, "show-all"))
    assert len(_visible_rows(browser, "passed")) == 26
    box = browser.find_element(By.CSS_SELECTOR, "#filters input[data-status=passed]")
    _click(browser, box)
    assert not box.is_selected()
    assert _visible_rows(browser, "passed") == []
    assert len(_visible_rows(browser, "failed")) == 2
    assert browser.find_element(By.ID, "shown-count").text == "7 of 33 shown"
    _click(browser, box)
    search = browser.find_element(By.ID, "search")
    search.send_keys("log_softmax")
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "shown-count").text == "3 of 33 shown")
    assert all("log_softmax" in r.text for r in _visible_rows(browser, "passed"))
    _click(browser, browser.find_element(By.ID, "show-all"))
    assert browser.find_element(By.ID, "shown-count").text == "33 of 33 shown"


def test_row_link_opens_a_collapsed_case(browser):
    _click(browser, browser.find_element(By.ID, "show-all"))
    block = browser.find_element(By.CSS_SELECTOR, "#details details.case.st-passed")
    assert block.get_attribute("open") is None
    row_link = browser.find_element(By.CSS_SELECTOR, f"#cases-table a[href='#{block.get_attribute('id')}']")
    _click(browser, row_link)
    assert block.get_attribute("open") is not None
    assert block.find_element(By.CSS_SELECTOR, "figure.tf pre").is_displayed()


def test_sorting_and_status_pills(browser):
    _click(browser, browser.find_element(By.ID, "show-all"))
    ulp = browser.find_element(By.XPATH, "//table[@id='cases-table']//th[button='max ULP']/button")
    _click(browser, ulp)  # ascending, missing values last
    _click(browser, ulp)  # descending
    first = browser.find_element(By.CSS_SELECTOR, "#cases-table tbody tr")
    assert "nn-sparse-softmax-ce-rows[float32]" in first.text
    _click(browser, browser.find_element(By.ID, "count-xfailed"))
    assert browser.find_element(By.ID, "shown-count").text == "1 of 33 shown"
    assert len(_visible_rows(browser, "xfailed")) == 1 and _visible_rows(browser, "failed") == []
    _click(browser, browser.find_element(By.ID, "show-all"))


def test_ten_thousand_rows_stay_fast(tmp_path):
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    passed = [c for c in sample["cases"] if c["status"] == "passed"]
    cases = list(sample["cases"])
    while len(cases) < 10_000:
        case = dict(passed[len(cases) % len(passed)])
        case["id"] = f"bulk-{len(cases)}-{case['id']}"
        cases.append(case)
    sample["cases"], sample["summary"] = cases, None
    path = tmp_path / "index.html"
    write_html(sample, path)
    driver = _driver(tmp_path / "profile-10k")
    try:
        driver.get(path.as_uri())
        loaded_ms = driver.execute_script("var t = performance.timing; return t.loadEventEnd - t.navigationStart")
        assert loaded_ms < 60_000
        timed = "var t = performance.now(); %s; document.body.offsetHeight; return performance.now() - t;"
        hide = driver.execute_script(timed % "document.querySelector('#filters input[data-status=passed]').click()")
        show = driver.execute_script(timed % "document.querySelector('#filters input[data-status=passed]').click()")
        sort = driver.execute_script(timed % "document.querySelector('#cases-table th:nth-child(5) button').click()")
        assert driver.find_element(By.ID, "shown-count").text == "10000 of 10000 shown"
        # generous bounds for a shared 2-core machine; on an idle one each takes well under 0.5 s
        assert max(hide, show, sort) < 5_000, (hide, show, sort)
    finally:
        driver.quit()


def test_planted_script_does_not_run(browser):
    assert browser.execute_script("return window.pwned") is None
    assert "pwned" not in browser.title and browser.title.startswith("tf-parity:")
    error = browser.find_element(By.CSS_SELECTOR, "#failures details.case.st-error summary code.cid")
    assert error.text == "<script>window.pwned=1;document.title='pwned'</script>"
    assert browser.execute_script("return document.scripts.length") == 1


def test_no_network_and_no_console_errors(browser):
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith(("data:", "file:")) for name in resources), resources
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def test_page_reads_without_javascript(report, tmp_path):
    driver = _driver(tmp_path / "profile-nojs", javascript=False)
    try:
        driver.get(report.as_uri())
        assert "js" not in (driver.find_element(By.TAG_NAME, "html").get_attribute("class") or "")
        worst = driver.find_element(By.CSS_SELECTOR, "#failures details.st-failed[open] table.diff td.worst")
        assert worst.is_displayed()
        assert len(_visible_rows(driver, "passed")) == 26
        assert not driver.find_element(By.ID, "filters").is_displayed()  # controls that need JS are hidden
        assert driver.find_element(By.ID, "timing-table").is_displayed()
        _save_screenshot(driver, tmp_path, "report-nojs.png")
    finally:
        driver.quit()
