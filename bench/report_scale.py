"""The report at scale: a results.json of 100,000 cases, its page opened in headless Chromium.

``big_results(n)`` repeats the passing cases of ``tests/data/sample_results.json`` (with its
failures kept) up to ``n`` cases. ``browser_figures(page)`` opens a built page from disk and
measures, in the page's own clock: when it is ready (``data-ready-ms``: the first page of
each table drawn and every control live), the DOM's interactive point, and the latency of
status, op and search filters, a sort, a page turn and the ledger toggle (each until the
next layout). The first change also parses the embedded data and is reported on its own.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "sample_results.json"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run")

_TIMED = "var t = performance.now(); %s; document.body.offsetHeight; return performance.now() - t;"
ACTIONS = (
    ("first_change_with_data_parse", "document.querySelector('#filters input[data-status=passed]').click()"),
    ("status_filter", "document.querySelector('#filters input[data-status=passed]').click()"),
    ("sort", "document.querySelector('#cases-table th[data-field=ulp_v] button').click()"),
    ("op_filter", "var s = document.getElementById('f-op'); s.value = 'tf.nn.softmax'; "
                  "s.dispatchEvent(new Event('change'))"),
    ("search", "var s = document.getElementById('search'); s.value = 'log_softmax'; "
               "s.dispatchEvent(new Event('change'))"),
    ("show_all", "document.getElementById('show-all').click()"),
    ("next_page", "document.getElementById('page-next').click()"),
    ("ledger_toggle", "document.getElementById('ledger-flagged').click()"),
)


def big_results(n: int = 100_000) -> dict:
    sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
    passed = [c for c in sample["cases"] if c["status"] == "passed"]
    cases = list(sample["cases"])
    while len(cases) < n:
        case = dict(passed[len(cases) % len(passed)])
        case["id"] = f"bulk-{len(cases)}-{case['id']}"
        cases.append(case)
    sample["cases"], sample["summary"] = cases, None
    return sample


def driver(profile: Path, javascript: bool = True, size: str = "1400,1800"):
    """Headless Chromium under Selenium, with its own profile and the browser log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={size}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def browser_figures(page: Path) -> dict:
    """Milliseconds: ready, DOM interactive, load, then each of :data:`ACTIONS`."""
    with tempfile.TemporaryDirectory(prefix="report-scale-") as profile:
        drv = driver(Path(profile))
        try:
            drv.get(page.as_uri())
            out = {"page_bytes": page.stat().st_size,
                   "ready_ms": int(drv.execute_script(
                       "return +document.documentElement.getAttribute('data-ready-ms')")),
                   "dom_interactive_ms": drv.execute_script(
                       "var t = performance.timing; return t.domInteractive - t.navigationStart"),
                   "load_ms": drv.execute_script("var t = performance.timing; return t.loadEventEnd - t.navigationStart")}
            for name, script in ACTIONS:
                out[f"{name}_ms"] = round(drv.execute_script(_TIMED % script), 1)
            out["shown"] = drv.find_element("id", "shown-count").text
            out["severe_console_messages"] = [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]
            return out
        finally:
            drv.quit()
