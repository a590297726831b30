"""``junit.xml``: the run's results as JUnit XML (pytest's ``xunit2`` family), for CI systems.

Rendered from the same results as ``results.json`` and ``index.html`` (:func:`render`), and
written with them as one set (:func:`harness.report.results.write_report`); ``merge`` writes
one for the merged shards too. One ``<testcase>`` per expanded case, in the results' order
(file, line, id)::

    <testsuites name="tf-parity">
      <testsuite name="tf-parity" tests= failures= errors= skipped= time= timestamp= hostname=>
        <properties><property name="tf_parity_run_id" value="..."/></properties>
        <testcase classname="cases.docs.doc000.yaml" name="doc000-sparse[float32]" time="0.002">
          <properties>op, dtype, status, max_abs_err, max_ulp (a case that ran), location</properties>
          <failure message="...">...</failure>      a failed case
          <error message="...">...</error>          invalid input, a harness error, a crash, a timeout
          <skipped type="pytest.skip" message="..."/>   skipped (pytest.xfail: an expected failure)
        </testcase>

The failure's text is what the terminal printed for the case (:func:`harness.record.failure_text`).
pytest's own ``--junitxml`` still works under plain pytest; ``verify`` does not ask pytest for
it (its per-report bookkeeping cost the controller 0.1-0.15 ms per case)."""
from __future__ import annotations

import re
import socket
from typing import Any, Iterable

from harness.record import failure_text

SUITE = "tf-parity"

_ELEMENT = {"failed": "failure", "error": "error", "crashed": "error", "timeout": "error",
            "skipped": "skipped", "xfailed": "skipped"}
"""The child element of a testcase by status (none for passed and xpassed)."""

_ILLEGAL = re.compile("[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _escape(value: Any) -> str:
    """Element text: XML-escaped, with characters XML 1.0 cannot hold written as ``#xNN``."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return _ILLEGAL.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def _attr(value: Any) -> str:
    """An attribute value: :func:`_escape`, with line breaks and tabs as character references
    (a parser would turn them into spaces)."""
    return _escape(value).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def _counts(cases: list[dict]) -> dict:
    counts = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    key = {"failure": "failures", "error": "errors", "skipped": "skipped"}
    for case in cases:
        element = _ELEMENT.get(case.get("status"))
        if element:
            counts[key[element]] += 1
    return counts


def _properties(case: dict) -> Iterable[str]:
    names = ("op", "dtype", "status", "max_abs_err", "max_ulp") if case.get("op") else ("status",)
    for name in names:
        yield f'<property name="{name}" value="{_attr(case.get(name))}" />'
    yield f'<property name="location" value="{_attr(case.get("file"))}:{case.get("line")}" />'


def _outcome(case: dict) -> str:
    status = case.get("status")
    element = _ELEMENT.get(status)
    if element is None:
        return ""
    if status == "xfailed":
        return f'<skipped type="pytest.xfail" message="{_attr(case.get("xfail_reason") or "")}" />'
    if element == "skipped":
        message = case.get("message") or ""
        return f'<skipped type="pytest.skip" message="{_attr(message)}">{_escape(message)}</skipped>'
    text = failure_text(case)
    return f'<{element} message="{_attr(text.splitlines()[0] if text else status)}">{_escape(text)}</{element}>'


def _testcase(case: dict) -> str:
    file = str(case.get("file") or "")
    classname = file.replace("/", ".").replace("\\", ".")
    cost = case.get("cost") or {}
    seconds = (cost.get("check_s") or 0.0) + (cost.get("timing_s") or 0.0)
    return (f'<testcase classname="{_attr(classname)}" name="{_attr(case.get("id"))}" time="{seconds:.3f}">'
            f'<properties>{"".join(_properties(case))}</properties>{_outcome(case)}</testcase>')


def render(results: dict) -> str:
    """The JUnit XML text of ``results`` (the dict written to ``results.json``)."""
    cases = results.get("cases") or []
    run = results.get("run") or {}
    counts = _counts(cases)
    attrs = (f'name="{SUITE}" errors="{counts["errors"]}" failures="{counts["failures"]}" '
             f'skipped="{counts["skipped"]}" tests="{counts["tests"]}" time="{float(run.get("duration_s") or 0):.3f}" '
             f'timestamp="{_attr(run.get("started") or "")}" hostname="{_attr(socket.gethostname())}"')
    props = f'<properties><property name="tf_parity_run_id" value="{_attr(run.get("id") or "")}" /></properties>'
    body = "".join(_testcase(c) for c in cases)
    return (f'<?xml version="1.0" encoding="utf-8"?><testsuites name="{SUITE}"><testsuite {attrs}>{props}'
            f"{body}</testsuite></testsuites>\n")
