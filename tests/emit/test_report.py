"""The HTML capacity report (issue 6), rendered by a real headless Chromium.

One Chromium run serves the report from a loopback server that also acts as the browser's
proxy, and records: every request, console messages, the DOM, a screenshot and A4 / Letter PDFs.
Expected figures are derived from the hand-built fleet (report_fixtures) or straight from the
Projection frames, and formatted by this file's own formatter.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import re
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import click
import pandas as pd
import pytest
import report_fixtures as rf  # tests/emit/, on sys.path under pytest's default import mode
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.config import NO_SOURCE, defaults_table
from auditplan.emit.report import charts
from auditplan.emit.report.context import build_context
from auditplan.emit.report.inputs import ReportInputs
from auditplan.emit.report.render import render, write_report
from auditplan.model.api import ESTIMATE_RUN as RUN_LABEL
from auditplan.model.planner import BUDGET_EPS, PlanOptions, plan
from auditplan.model.project import DAYS_PER_MONTH, SECONDS_PER_DAY
from auditplan.records import Plan, plan_document, plan_id_of
from auditplan.store import Store
from auditplan.text import chart_label

VIEWPORT = (1280, 900)  # a laptop's first screen
# (name, width in, height in) of the paper sizes the print CSS must handle.
PAPERS = (("a4", 8.27, 11.69), ("letter", 8.5, 11.0))
PAGE_MARGIN_MM = (14, 12)  # report.css @page margin: 14mm 12mm
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def people(x: float) -> str:
    """The report's number style, written independently: 3 significant digits, 1,234 above 1000."""
    if not math.isfinite(x):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:#.3g}".rstrip(".")


CAPACITY_CODES = ("exceeds_step", "exceeds_budget", "max_waves")  # docs/plan-json.md, unplaced reasons


def _doc(plan: Plan | None) -> dict[str, Any]:
    """The plan the report was given, as its plan.json document."""
    assert plan is not None
    return plan_document(plan)


def _planned_from_hosts(plan: Mapping[str, Any]) -> float:
    """The plan's total load at p90 in GB/day, summed from its hosts (not its wave totals)."""
    assert plan["budget"]["kind"] == "gb_day" and plan["budget"]["quantile"] == "p90"
    total = math.fsum(h["gb_day_p90"] for w in plan["waves"] for h in w["hosts"])
    # plan.json rounds each number to six significant digits.
    assert total == pytest.approx(plan["waves"][-1]["cumulative"]["budget"], rel=1e-4)
    return total


def _capacity_unplaced(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [u for u in plan["unplaced"] if u["reason"].split(":")[0] in CAPACITY_CODES]


def _line_points(svg: str, gid: str) -> list[tuple[float, float]]:
    """The (x, y) vertices of the first path in matplotlib's <g id=gid>."""
    match = re.search(rf'<g id="{gid}">\s*<path d="([^"]*)"', svg)
    assert match, f"no line {gid} in the chart"
    numbers = [float(n) for n in re.findall(r"-?[0-9.]+", match.group(1))]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


def chart_share(svg: str, values: list[float]) -> float:
    """The last point of the chart's p90 line as a share of its capacity line, read off the SVG.

    `values` are the plotted data of the p90 line; their screen heights fix the y-axis scale
    (least squares), which then places the capacity line's height back in data units."""
    ys = [y for _, y in _line_points(svg, "cumulative-p90")]
    assert len(ys) == len(values) >= 2
    n = len(values)
    mean_v, mean_y = sum(values) / n, sum(ys) / n
    slope = sum((v - mean_v) * (y - mean_y) for v, y in zip(values, ys, strict=True)) / sum(
        (v - mean_v) ** 2 for v in values)
    zero = mean_y - slope * mean_v
    for v, y in zip(values, ys, strict=True):  # a linear axis through every point
        assert zero + slope * v == pytest.approx(y, abs=0.05)
    capacity_ys = {y for _, y in _line_points(svg, "capacity")}
    assert len(capacity_ys) == 1, "the capacity line is not horizontal"
    capacity = (capacity_ys.pop() - zero) / slope
    return values[-1] / capacity


# -- one render, one browser run -------------------------------------------------------------


@dataclass
class Rendered:
    inputs: ReportInputs
    html_path: Path
    csv_path: Path
    html: str
    ctx: dict[str, Any]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    inputs = rf.report_inputs()
    out = tmp_path_factory.mktemp("report") / "report.html"
    html_path, csv_path, ctx = write_report(inputs, out)
    return Rendered(inputs, html_path, csv_path, html_path.read_text(encoding="utf-8"), ctx)


@dataclass
class PageRun:
    dom: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class BrowserRun:
    pages: dict[str, PageRun] = field(default_factory=dict)
    direct: list[tuple[str, str]] = field(default_factory=list)  # requests for the loopback server itself
    proxied: list[tuple[str, str]] = field(default_factory=list)  # requests for anywhere else
    screenshot: Path | None = None
    pdfs: dict[str, bytes] = field(default_factory=dict)
    print_dom: dict[str, dict[str, Any]] = field(default_factory=dict)  # paper -> PRINT_PROBE


DOM_PROBE = """(() => {
  const all = [...document.querySelectorAll('*')];
  const verdict = document.getElementById('verdict');
  return {
    ids: Object.fromEntries([...document.querySelectorAll('[id^="v-"]')].map(e => [e.id, e.textContent.trim()])),
    tags: [...new Set(all.map(e => e.localName))].sort(),
    links: [...document.querySelectorAll('a')].map(a => a.getAttribute('href')),
    handlers: all.flatMap(e => [...e.attributes].filter(a => a.name.toLowerCase().startsWith('on'))
                                              .map(a => e.localName + '@' + a.name)),
    text: document.body.innerText,
    title: document.title,
    risks: [...document.querySelectorAll('#v-risks li')].map(li => li.textContent.trim()),
    firstInMain: [...document.querySelector('main').children].slice(0, 3).map(e => e.localName + '#' + e.id),
    verdictBottom: verdict ? verdict.getBoundingClientRect().bottom : NaN,
    viewportHeight: window.innerHeight,
    charts: document.querySelectorAll('.chart > svg').length,
    headings: [...document.querySelectorAll('h2')].map(h => h.textContent.trim()),
    waveRows: [...document.querySelectorAll('#t-waves tr')].map(tr => [...tr.cells].map(c => c.textContent.trim())),
    waveLast: (document.getElementById('w-last') || {}).textContent || '',
    headline: document.querySelector('#verdict .headline').textContent.replace(/\\s+/g, ' ').trim(),
    fleetLine: (document.querySelector('#verdict .fleet') || {}).textContent || '',
  };
})()"""

PRINT_PROBE = """(() => {
  const style = sel => { const e = document.querySelector(sel); return e ? getComputedStyle(e) : {}; };
  const verdict = document.getElementById('verdict');
  const v = verdict ? verdict.getBoundingClientRect() : {height: NaN, width: NaN};
  return {
    verdictAfter: style('#verdict').breakAfter,
    sectionInside: style('section').breakInside,
    verdictInside: style('#verdict').breakInside,
    chartInside: style('.chart').breakInside,
    rowInside: style('tbody tr').breakInside,
    theadDisplay: style('thead').display,
    h2After: style('h2').breakAfter,
    verdictHeight: v.height, verdictWidth: v.width,
  };
})()"""

SETTLE = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => r(1), 50))))"


def _usable(width_in: float, height_in: float) -> tuple[float, float]:
    """Printable (width, height) in CSS px (1/96 in) inside report.css's @page margins."""
    return ((width_in - 2 * PAGE_MARGIN_MM[1] / 25.4) * 96, (height_in - 2 * PAGE_MARGIN_MM[0] / 25.4) * 96)


def _load(cdp: rf.Cdp, url: str) -> PageRun:
    start = len(cdp.events)
    cdp.call("Page.navigate", url=url)
    cdp.wait_for("Page.loadEventFired", after=start)
    cdp.evaluate(SETTLE)
    dom = cdp.evaluate(DOM_PROBE)
    return PageRun(dom, cdp.events[start:])


@pytest.fixture(scope="module")
def browser(rendered: Rendered, tmp_path_factory: pytest.TempPathFactory) -> BrowserRun:
    if rf.chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: tests/setup.sh installs it; the report must be rendered in CI")
        pytest.skip("chromium is not installed (tests/setup.sh installs Debian's chromium)")
    work = tmp_path_factory.mktemp("chromium")
    run = BrowserRun()
    html = rendered.html.encode("utf-8")
    # The same report without its Content-Security-Policy: it must need no network by itself,
    # not merely have its requests blocked.
    no_csp = re.sub(rb'<meta http-equiv="Content-Security-Policy"[^>]*>', b"", html)
    assert no_csp != html, "the report lost its CSP meta tag"
    with rf.recording_server() as (base, recorder):
        recorder.pages["/report.html"] = html
        recorder.pages["/no-csp.html"] = no_csp
        with rf.chromium(work / "profile", base) as cdp:
            for domain in ("Page", "Runtime", "Log", "Network"):
                cdp.call(f"{domain}.enable")
            cdp.call("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0], height=VIEWPORT[1],
                     deviceScaleFactor=1, mobile=False)
            run.pages["/no-csp.html"] = _load(cdp, base + "/no-csp.html")
            run.pages["/report.html"] = _load(cdp, base + "/report.html")
            shot = cdp.call("Page.captureScreenshot", format="png")
            run.screenshot = work / "report.png"
            run.screenshot.write_bytes(base64.b64decode(shot["data"]))
            cdp.call("Emulation.setEmulatedMedia", media="print")
            for name, width, height in PAPERS:
                # Lay the page out at the paper's printable size to measure it as printed.
                cdp.call("Emulation.setDeviceMetricsOverride", width=round(_usable(width, height)[0]),
                         height=round(_usable(width, height)[1]), deviceScaleFactor=1, mobile=False)
                cdp.evaluate(SETTLE)
                run.print_dom[name] = cdp.evaluate(PRINT_PROBE)
            cdp.call("Emulation.clearDeviceMetricsOverride")
            for name, width, height in PAPERS:
                pdf = cdp.call("Page.printToPDF", paperWidth=width, paperHeight=height, printBackground=True)
                run.pdfs[name] = base64.b64decode(pdf["data"])
                (work / f"report-{name}.pdf").write_bytes(run.pdfs[name])
        with recorder.lock:
            requests = list(recorder.requests)
    # Chromium's own background traffic (time sync, updates) goes through the proxy with an
    # absolute URL; the page's requests would too, so both lists are kept and checked below.
    run.direct = [r for r in requests if r[1].startswith("/")]
    run.proxied = [r for r in requests if not r[1].startswith("/")]
    kept = rf.keep_artifact("report.png", run.screenshot.read_bytes())
    for name, _, _ in PAPERS:
        rf.keep_artifact(f"report-{name}.pdf", run.pdfs[name])
    print(f"\nreport screenshot: {run.screenshot}" + (f" (copied to {kept})" if kept else ""))
    return run


# -- self-contained, no network ----------------------------------------------------------------


def test_report_is_one_self_contained_file(rendered: Rendered) -> None:
    html = rendered.html
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    # One <link>, the empty data: favicon that stops the browser asking for /favicon.ico.
    assert re.findall(r"<link\b[^>]*>", html) == ['<link rel="icon" href="data:,">']
    assert "@import" not in html
    assert re.search(r'<meta http-equiv="Content-Security-Policy" content="default-src \'none\';', html)
    # Every reference is inside the document: fragment ids of the inline SVG, or data: URLs.
    refs = re.findall(r'(?:\bsrc|\bhref|xlink:href)\s*=\s*"([^"]*)"', html)
    assert refs, "the charts' glyphs should be <use xlink:href='#...'>"
    assert all(r.startswith(("#", "data:")) for r in refs), [r for r in refs if not r.startswith("#")][:5]
    urls = re.findall(r"url\(([^)]*)\)", html)
    assert all(u.strip("'\"").startswith("#") for u in urls), urls[:5]
    assert rendered.csv_path == rendered.html_path.with_name("report-hosts.csv")
    assert rendered.csv_path.is_file()


def test_page_makes_no_network_request(browser: BrowserRun) -> None:
    # The loopback server saw exactly the two documents, nothing else (no favicon, no assets).
    assert browser.direct == [("GET", "/no-csp.html"), ("GET", "/report.html")]
    for path, page in browser.pages.items():
        sent = [e["params"]["request"]["url"] for e in page.events if e["method"] == "Network.requestWillBeSent"]
        assert len(sent) == 1 and sent[0].endswith(path), (path, sent)
        failed = [e["params"] for e in page.events if e["method"] == "Network.loadingFailed"]
        assert failed == [], failed
    # Anything the page asked of another host would reach the proxy with the page as referrer;
    # what did reach it is the browser's own background traffic, not a page URL.
    assert not any("127.0.0.1" in target for _, target in browser.proxied), browser.proxied


def test_no_console_errors(browser: BrowserRun) -> None:
    for path, page in browser.pages.items():
        problems = [e["params"] for e in page.events
                    if e["method"] in ("Runtime.exceptionThrown", "Page.javascriptDialogOpening")]
        problems += [e["params"] for e in page.events if e["method"] == "Runtime.consoleAPICalled"
                     and e["params"]["type"] in ("error", "warning", "assert")]
        problems += [e["params"]["entry"] for e in page.events if e["method"] == "Log.entryAdded"
                     and e["params"]["entry"]["level"] in ("error", "warning")]
        assert problems == [], (path, problems)


# -- the first screen: the verdict ----------------------------------------------------------


def test_screenshot_and_verdict_on_the_first_screen(browser: BrowserRun) -> None:
    assert browser.screenshot is not None
    png = browser.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    dom = browser.pages["/report.html"].dom
    assert dom["firstInMain"][:3] == ["h1#", "p#", "div#verdict"]
    assert dom["viewportHeight"] == VIEWPORT[1]
    assert dom["verdictBottom"] <= VIEWPORT[1], "the verdict does not fit on the first screen"


def test_verdict_numbers_are_the_projection_numbers(rendered: Rendered, browser: BrowserRun) -> None:
    ids = browser.pages["/report.html"].dom["ids"]
    projection = rendered.inputs.projection
    assert projection is not None
    fleet = projection.fleet.iloc[0]
    plan = _doc(rendered.inputs.plan)
    # Survey facts, counted by hand in report_fixtures.
    assert ids["v-surveyed"] == str(rf.SURVEYED)
    assert ids["v-reachable"] == str(rf.REACHABLE)
    assert ids["v-pc-on"] == f"{round(100 * rf.PROCESS_CREATION_ON / rf.REACHABLE)}%" == "32%"
    assert ids["v-cmd-on"] == f"{round(100 * rf.CMDLINE_ON / rf.REACHABLE)}%" == "16%"
    assert ids["v-unsupported"] == str(rf.UNSUPPORTED)
    assert ids["v-secrets"] == str(rf.SECRETS_FOUND)
    # Load and money: the Projection's fleet row, and its internal consistency.
    assert ids["v-gb"] == people(fleet["added_gb_day_p50"])
    assert ids["v-gb-range"] == f"{people(fleet['added_gb_day_p10'])} – {people(fleet['added_gb_day_p90'])}"
    assert ids["v-eps"] == people(fleet["added_eps_mean_p50"])
    assert ids["v-eps-peak"] == people(fleet["added_eps_peak_p90"])
    assert ids["v-cost"] == people(fleet["added_cost_month_p50"])
    assert fleet["added_cost_month_p50"] == pytest.approx(fleet["added_gb_day_p50"] * DAYS_PER_MONTH * rf.PRICE_PER_GB,
                                                          rel=1e-4)
    assert fleet["added_eps_mean_p50"] == pytest.approx(fleet["added_events_day_p50"] / SECONDS_PER_DAY, rel=1e-4)
    # The fleet p50 lies between the sum of per-host p10s and p90s (it is a sum of those hosts).
    hosts = projection.hosts
    assert hosts["added_gb_day_p10"].sum() < fleet["added_gb_day_p50"] < hosts["added_gb_day_p90"].sum()
    # Headroom and waves: the plan's load against its budget (issue 6 review: the headline once
    # divided the simulated whole-fleet p90 by the budget, 58 %, while the waves held 75 %).
    planned = _planned_from_hosts(plan)
    assert ids["v-headroom"] == f"{100 * planned / rf.BUDGET_GB_DAY:.0f}%" == "75%"
    assert ids["v-planned"] == people(planned)
    assert "v-capacity-unplaced" not in ids  # every host that could be placed was
    # The simulated whole-fleet figure is context, labelled as such.
    assert ids["v-headroom-fleet"] == f"{100 * fleet['added_gb_day_p90'] / rf.BUDGET_GB_DAY:.0f}%" == "58%"
    dom = browser.pages["/report.html"].dom
    assert dom["fleetLine"].startswith("Whole fleet, if everything were enabled")
    assert dom["text"].count("whole fleet, if everything were enabled") == 3  # the three load/money KPIs
    assert ids["v-budget"] == people(rf.BUDGET_GB_DAY)
    assert ids["v-waves"] == str(len(plan["waves"])) and len(plan["waves"]) >= 2


def test_headline_chart_and_table_show_the_same_share(rendered: Rendered, browser: BrowserRun) -> None:
    plan = _doc(rendered.inputs.plan)
    budget = plan["budget"]["value"]
    expected = f"{100 * _planned_from_hosts(plan) / budget:.0f}%"
    dom = browser.pages["/report.html"].dom
    assert dom["ids"]["v-headroom"] == expected
    # One word for the figure the user passed: the headline and the chart caption both say budget
    # (issue 6 review: the headline said "of the headroom" for the caption's "of the budget").
    assert f"fit the SIEM budget, using {expected} of it at p90" in dom["headline"]
    assert "headroom" not in dom["headline"]
    assert f"{expected} of the {people(budget)} GB/day budget (the red line)" in dom["waveLast"]
    assert "headroom" not in dom["waveLast"]
    verdict_text = dom["text"].split("Contents")[0]
    assert "headroom" not in verdict_text.split("Whole fleet")[0]
    assert "budget (SIEM headroom)" in dom["text"]  # the Key figures tile names what the budget is
    # The wave table: its last row's cumulative share, and its cumulative GB/day p90 column.
    header, *rows = dom["waveRows"]
    share_col, cum_col = header.index("cumulative, share of budget"), header.index("cumulative GB/day p90")
    assert [r[0] for r in rows] == [str(w["wave"]) for w in plan["waves"]]
    assert rows[-1][share_col] == expected
    running = 0.0
    for row, wave in zip(rows, plan["waves"], strict=True):
        running += math.fsum(h["gb_day_p90"] for h in wave["hosts"])
        assert row[cum_col] == people(running)
        assert row[share_col] == f"{100 * running / budget:.0f}%"
    assert dom["waveLast"].startswith(f"After the last wave (wave {plan['waves'][-1]['wave']}): "
                                      f"{people(_planned_from_hosts(plan))} GB/day at p90, {expected} of the")
    # The chart: its last p90 point against its capacity line, measured in the SVG.
    cumulative = [w["cumulative"]["gb_day_p90"] for w in plan["waves"]]
    svg = next(x for x in _svgs(rendered.html) if 'id="capacity"' in x)
    assert f"{100 * chart_share(svg, cumulative):.0f}%" == expected
    assert chart_share(svg, cumulative) == pytest.approx(_planned_from_hosts(plan) / budget, rel=1e-3)


def test_top_three_risks_in_plain_words(rendered: Rendered, browser: BrowserRun) -> None:
    risks = browser.pages["/report.html"].dom["risks"]
    projection = rendered.inputs.projection
    assert projection is not None
    short = int((projection.hosts["local_hours_p90"] < projection.min_local_hours).sum())
    assert short > 0
    assert len(risks) == 3
    assert risks[0].startswith(f"{short} host(s) would keep less than 168 hours")
    assert risks[1].startswith(f"{rf.SECRETS_FOUND} of 24 sampled command lines carried a credential")
    assert risks[2].startswith(f"{rf.UNSUPPORTED} host(s) run an OS that cannot log the command line")
    text = browser.pages["/report.html"].dom["text"]
    # The others are in the Risks section: unreachable hosts and local settings a GPO would wipe.
    assert f"{rf.SURVEYED - rf.REACHABLE} host(s) could not be surveyed (1 auth failed, 2 timeout)" in text
    assert f"{len(rf.LOCAL_SETTINGS)} host(s) audit other subcategories that a GPO with advanced audit policy clears" in text


def test_sections_and_charts(browser: BrowserRun) -> None:
    dom = browser.pages["/report.html"].dom
    sections = ["Key figures", "Findings and fix checklist", "Rollout waves", "Compared with the previous plan",
                "Load", "Readiness", "Local Security logs after enablement", "Detection value",
                "Who can read the command lines", "Method and assumptions", "Appendix: top hosts by added load"]
    assert dom["headings"] == ["Contents", *sections]
    # The table of contents lists every section, in order.
    assert [line.split(". ", 1)[-1] for line in dom["text"].split("Contents\n", 1)[1].splitlines()[:11]] == sections
    # cumulative by wave, by role, by site, hour of day, readiness, local history
    assert dom["charts"] == 6
    assert "auditplan 4688 - wave 00 (pilot)" in dom["text"]


# -- hostile host data -------------------------------------------------------------------------


def test_hostile_text_is_text_not_markup(rendered: Rendered, browser: BrowserRun) -> None:
    for path, page in browser.pages.items():
        dom = page.dom
        injected = {"script", "img", "iframe", "object", "embed", "foreignobject", "b-evil"} & set(dom["tags"])
        assert not injected, (path, injected)
        # The only links are the table of contents' own, to sections of the page.
        assert dom["links"] and all(href.startswith("#s-") for href in dom["links"]), (path, dom["links"])
        assert dom["handlers"] == [], (path, dom["handlers"][:5])
        for hostile in rf.HOSTILE_STRINGS:
            assert hostile in dom["text"], (path, hostile)
        assert dom["title"] == "Process creation auditing: capacity report"
        assert 'Example <Corp> & "Sons"' in dom["text"]
    # The hostile process name is in the detection table, where rule family 4 caught it.
    assert f"{rf.HOSTILE_IMAGE} (12)" in browser.pages["/report.html"].dom["text"]


def test_secrets_and_command_lines_never_shown(rendered: Rendered) -> None:
    csv_text = rendered.csv_path.read_text(encoding="utf-8")
    for text in (rendered.html, csv_text):
        assert rf.SECRET not in text
        assert "net user admin" not in text


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


def test_chart_markup_is_safe(rendered: Rendered) -> None:
    svgs = _svgs(rendered.html)
    assert len(svgs) == 6
    for svg in svgs:
        assert "<!--" not in svg and "-->" not in svg
        lowered = svg.lower()
        assert "<script" not in lowered and "onload" not in lowered and "onerror" not in lowered
        assert "<img" not in lowered and "<foreignobject" not in lowered
    assert not re.search(r"<!--|-->", rendered.html.split("<main>", 1)[1])


@pytest.mark.parametrize("label", [rf.HOSTILE_SITE, rf.HOSTILE_ROLE, "a-->b", "x</svg><script>y</script>"])
def test_chart_labels_cannot_break_out(label: str) -> None:
    cleaned = chart_label(label)
    assert not set(cleaned) & set("<>&\"'-!=")
    svg = charts.bars_with_range([label, "plain"], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], f"title {label}", "GB/day")
    assert "-->" not in svg and "<!--" not in svg and "<script" not in svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_csv_neutralises_formulas(rendered: Rendered) -> None:
    rows = list(csv.DictReader(io.StringIO(rendered.csv_path.read_text(encoding="utf-8"), newline="")))
    by_host = {r["host"]: r for r in rows}
    assert len(rows) == rf.SURVEYED  # the host surveyed twice is one row
    assert "'" + rf.FORMULA_HOST in by_host and rf.FORMULA_HOST not in by_host
    assert rf.HOSTILE_HOST in by_host and rf.QUOTE_HOST in by_host
    sites = {r["site"] for r in rows}
    assert "'" + rf.HOSTILE_SITE in sites
    for row in rows:
        for column, cell in row.items():
            if cell.startswith(FORMULA_START):
                float(cell)  # only a negative number may start with "-"; anything else fails here
                assert column not in ("host", "role", "site", "reason"), (column, cell)


# -- print ----------------------------------------------------------------------------------------


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_print_layout_a4_and_letter(browser: BrowserRun) -> None:
    for name, width, height in PAPERS:
        p = browser.print_dom[name]
        assert p["verdictAfter"] == "page"  # the verdict alone on page 1 (after the title)
        # Long sections flow on; the verdict, charts and rows stay whole; table headers repeat.
        assert p["sectionInside"] == "auto"
        assert p["verdictInside"] == p["chartInside"] == p["rowInside"] == "avoid"
        assert p["theadDisplay"] == "table-header-group"
        assert p["h2After"] == "avoid"
        usable_w, usable_h = _usable(width, height)
        # Laid out at the printable width, the verdict fits that width and one page's height.
        assert p["verdictWidth"] <= usable_w + 1, (name, p)
        assert p["verdictHeight"] < usable_h, (name, p)
        pdf = browser.pdfs[name]
        assert pdf.startswith(b"%PDF-")
        assert 2 <= _pdf_pages(pdf) <= 6, (name, _pdf_pages(pdf))
    assert browser.pdfs["a4"] != browser.pdfs["letter"]


# -- without a browser -------------------------------------------------------------------------------


def test_ten_thousand_hosts_under_3_mb(tmp_path: Path) -> None:
    inputs = rf.synthetic_inputs(10_000, sites=300)
    html_path, csv_path, ctx = write_report(inputs, tmp_path / "big.html")
    size = html_path.stat().st_size
    assert size < 3 * 2**20, size
    assert len(ctx["by_site"]) == 15 and ctx["by_site_more"] == 285
    assert "285 more sites with less load are in the CSV" in html_path.read_text(encoding="utf-8")
    assert sum(1 for _ in csv_path.open(encoding="utf-8")) == 10_001


def test_survey_booleans_in_any_dtype() -> None:
    estimates, survey = rf.fleet()
    for dtype in ("boolean", "object"):
        frame = survey.copy()
        for column in ("cmdline_enabled", "cmdline_supported"):
            values = [None if v is pd.NA else bool(v) for v in survey[column]]
            frame[column] = pd.Series(values, dtype=dtype) if dtype == "object" else survey[column]
        ready = build_context(ReportInputs(hosts=frame, projection=None, estimates=estimates))["readiness"]
        assert (ready["surveyed"], ready["reachable"], ready["unsupported"]) == (rf.SURVEYED, rf.REACHABLE,
                                                                                   rf.UNSUPPORTED)
        assert sum(n for _, n in ready["categories"]) == rf.SURVEYED
    numpy_bools = survey.dropna(subset=["cmdline_supported"]).astype({"cmdline_supported": bool})
    ready = build_context(ReportInputs(hosts=numpy_bools, projection=None, estimates=[]))["readiness"]
    assert ready["unsupported"] == rf.UNSUPPORTED


def test_report_without_plan_projection_or_detections() -> None:
    estimates, survey = rf.fleet()
    html, ctx = render(ReportInputs(hosts=survey, projection=None, estimates=estimates))
    assert "No plan given" in html and "No detection data" in html
    assert ctx["waves"] == [] and ctx["budget"] is None
    empty, _ = render(ReportInputs(hosts=survey.iloc[0:0], projection=None, estimates=[]))
    assert "<h1>" in empty


def test_every_default_has_a_source(rendered: Rendered) -> None:
    rows = {r["name"]: r for r in defaults_table(rendered.inputs.defaults_text)}
    assert len(rows) > 50
    assert [n for n, r in rows.items() if r["source"] == NO_SOURCE] == []
    # A comment on the line, and an entry of a [siem.X.sources] table.
    # (Keys present in defaults.toml before and after the fleet_draws/fleet_seed merge into [plan].)
    assert rows["priors.roles.default.median_per_day"]["source"].startswith("assumption")
    assert "stored twice" in rows["siem.sentinel.cmdline_factor"]["source"]
    assert rows["plan.draws"]["source"].startswith("Monte Carlo draws for")  # the block above
    assert rows["priors.min_sampled_events"]["source"].startswith("Fewest sampled")
    table = defaults_table('[a]\n# from the manual\n# page 2\nx = 1\ny = 2  # measured\nz = 3\n# new block\n'
                           'w = 4\n\nv = 5\n\n[a.sources]\nz = "paper"\n')
    assert [(r["name"], r["source"]) for r in table] == [
        ("a.x", "from the manual page 2"), ("a.y", "measured"), ("a.z", "paper"), ("a.w", "new block"),
        ("a.v", NO_SOURCE)]


def test_estimate_source_mix_is_shown(rendered: Rendered) -> None:
    assert "measured_4688 37, role_prior 3" in re.sub(r"\s+", " ", rendered.html)


def test_cli_report_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "none.db"), "--out",
                                       str(tmp_path / "r.html")])
    assert result.exit_code != 0
    assert "none.db" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


def test_same_inputs_same_report(rendered: Rendered) -> None:
    again, _ = render(replace(rendered.inputs))
    assert again == rendered.html


def test_cli_report_from_a_store_and_plan(tmp_path: Path) -> None:
    inputs = rf.report_inputs(with_detections=False)
    db = tmp_path / "auditplan.db"
    with Store(db) as store:
        store.save_estimates(RUN_LABEL, inputs.estimates)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(_doc(inputs.plan)), encoding="utf-8")
    out = tmp_path / "out" / "capacity.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out),
                                       "--title", "<b>T</b>", "--org", "=HYPERLINK(1)"])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out} and {out.with_name('capacity-hosts.csv')}" in result.output
    html = out.read_text(encoding="utf-8")
    assert "<title>&lt;b&gt;T&lt;/b&gt;</title>" in html and "=HYPERLINK(1)" in html
    assert f'<span class="value" id="v-waves">{len(inputs.plan.waves) if inputs.plan else 0}</span>' in html
    hosts = list(csv.DictReader(io.StringIO(out.with_name("capacity-hosts.csv").read_text(encoding="utf-8"))))
    assert len(hosts) == rf.SURVEYED and "'" + rf.FORMULA_HOST in {h["host"] for h in hosts}


def test_cli_report_bad_plan_names_the_file(tmp_path: Path) -> None:
    inputs = rf.report_inputs(with_detections=False)
    db = tmp_path / "auditplan.db"
    with Store(db) as store:
        store.save_estimates(RUN_LABEL, inputs.estimates)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out",
                                       str(tmp_path / "r.html")])
    assert result.exit_code == 2
    # records.read_plan's message: the file, and where in it the JSON breaks.
    assert "plan.json: not JSON: line 1 column 2" in result.output and "Traceback" not in result.output


def test_events_per_second_budget(rendered: Rendered) -> None:
    projection = rendered.inputs.projection
    assert projection is not None
    peak = float(projection.fleet["added_eps_peak_p90"].iloc[0])
    budget = round(peak * 2, 3)  # twice the fleet's p90 peak: fits, at about 50 %
    survey = rf.fleet()[1]
    planned = plan(projection, PlanOptions(budget_kind=BUDGET_EPS, budget=budget, max_step=budget / 2), survey=survey)
    inputs = replace(rendered.inputs, plan=rf.as_plan(plan_document(planned)), detections=None, exposure=None)
    html, ctx = render(inputs)
    assert ctx["budget"]["unit"] == "events/s"
    # The headline's share is the plan's: its waves' loads (in the budget's unit) over the budget.
    doc = plan_document(planned)
    held = math.fsum(w["load"]["budget"] for w in doc["waves"])
    assert f'<span id="v-headroom">{100 * held / budget:.0f}%</span>' in html
    assert f"{100 * held / budget:.0f}% of the {people(budget)} events/s (mean) budget" in html
    # The simulated whole fleet, at the rate the profile's licence counts (splunk-xml: mean).
    assert projection.profile.eps_basis == "mean"
    whole = float(projection.fleet["added_eps_mean_p90"].iloc[0])
    assert f'<span id="v-headroom-fleet">{100 * whole / budget:.0f}%</span>' in html
    assert f'<span class="value" id="v-budget">{people(budget)}</span>' in html
    assert "events/s (mean) budget (SIEM headroom) for the rollout" in html and "cumulative" in ctx["charts"]


def _tight_plan(rendered: Rendered) -> dict[str, Any]:
    """The fixture fleet planned under a step smaller than its largest hosts and a budget smaller
    than the rest: capacity leaves hosts unplaced beside the unreachable and already-enabled ones."""
    projection = rendered.inputs.projection
    assert projection is not None and rendered.inputs.plan is not None
    loads = sorted(h["gb_day_p90"] for w in _doc(rendered.inputs.plan)["waves"] for h in w["hosts"])
    step = loads[-4]  # the three largest placeable hosts exceed one step
    planned = plan(projection, PlanOptions(budget_kind="gb_day", budget=10 * step, max_step=step),
                   survey=rf.fleet()[1])
    return plan_document(planned)


def test_capacity_unplaced_hosts_lead_the_risks_and_the_headline(rendered: Rendered) -> None:
    doc = _tight_plan(rendered)
    capacity = _capacity_unplaced(doc)
    codes = {u["reason"].split(":")[0] for u in capacity}
    assert codes == {"exceeds_step", "exceeds_budget"}
    others = [u for u in doc["unplaced"] if u not in capacity]
    assert {u["reason"].split(":")[0] for u in others} >= {"already_enabled", "unreachable"}
    html, ctx = render(replace(rendered.inputs, plan=rf.as_plan(doc)))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    # The headline counts only hosts capacity left out, with the plan's own share of the budget.
    expected = f"{100 * _planned_from_hosts(doc) / doc['budget']['value']:.0f}%"
    assert f'<span id="v-capacity-unplaced">{len(capacity)}</span> do not fit the SIEM budget and the wave step' in html
    assert f'<span id="v-headroom">{expected}</span>' in html
    assert ctx["verdict"]["kind"] == "go-with-conditions" and 'data-verdict="go-with-conditions"' in html
    assert "Go with conditions:" in text
    # The top risk names the count, why (each reason in its own words), the hosts and the options.
    step = sum(1 for u in capacity if u["reason"].startswith("exceeds_step"))
    over = len(capacity) - step
    first = sorted(capacity, key=lambda u: u["host"].lower())[:3]
    top = ctx["risks"][0]["text"]
    assert top.startswith(f"{len(capacity)} host(s) are in no wave ({step} because its own load is larger than "
                          f"one wave's step; {over} because the budget is used up): "
                          + ", ".join(u["host"] for u in first))
    assert "a larger step (--max-step-gb-day) and a larger budget (--budget-gb-day)" in top
    verdict_risks = re.search(r'<ol class="risks" id="v-risks">(.*?)</ol>', html, re.S)
    assert verdict_risks and verdict_risks.group(1).count("<li>") == 3
    assert "are in no wave" in verdict_risks.group(1).split("</li>")[0]
    # ...and the hosts it points at head the unplaced table under Findings, by reason, in words.
    table = re.search(r"<h3>Hosts not placed in a wave</h3>\s*<table id=\"t-unplaced\">(.*?)</table>", html, re.S)
    assert table
    rows = re.findall(r'data-count="unplaced:(\w+)">(\d+)</td><td>(.*?)</td>', table.group(1))
    by_code = Counter(u["reason"].split(":")[0] for u in capacity)
    assert {code: int(n) for code, n, _ in rows[:len(by_code)]} == dict(by_code)
    assert sum(int(n) for _, n, _ in rows) == len(doc["unplaced"])
    words = dict((code, w) for code, _, w in rows)
    assert words["exceeds_step"].startswith("alone add more than one wave may")


def test_no_capacity_risk_when_every_placeable_host_is_placed(rendered: Rendered) -> None:
    doc = _doc(rendered.inputs.plan)
    assert doc["unplaced"] and _capacity_unplaced(doc) == []
    assert not any("are in no wave" in r["text"] for r in rendered.ctx["risks"])
    assert "v-capacity-unplaced" not in rendered.html


# Why a host is in no wave, in words (docs/plan-json.md's capacity codes), and the `auditplan plan`
# option each reason calls for (`auditplan plan --help`), by budget kind.
REASON_WORDS = {"exceeds_step": "because its own load is larger than one wave's step",
                "exceeds_budget": "because the budget is used up",
                "max_waves": "because the wave limit was reached"}
REASON_OPTION = {("exceeds_step", "gb_day"): "--max-step-gb-day", ("exceeds_step", "eps"): "--max-step-eps",
                 ("exceeds_budget", "gb_day"): "--budget-gb-day", ("exceeds_budget", "eps"): "--budget-eps",
                 ("max_waves", "gb_day"): "--max-waves", ("max_waves", "eps"): "--max-waves"}
HEADLINE_LIMIT = {"exceeds_step": "the wave step", "exceeds_budget": "the SIEM budget", "max_waves": "the wave limit"}


def _plan_options() -> set[str]:
    """Every long option of the real `auditplan plan` click command."""
    group = cast(click.Group, main)
    command = group.get_command(click.Context(group), "plan")
    assert command is not None
    return {opt for param in command.params for opt in param.opts if opt.startswith("--")}


def _limited_plan(rendered: Rendered, kind: str, reason: str) -> dict[str, Any]:
    """The fixture fleet planned so that one limit, `reason`, leaves hosts out."""
    projection = rendered.inputs.projection
    assert projection is not None and rendered.inputs.plan is not None
    placeable = {h["host"] for w in _doc(rendered.inputs.plan)["waves"] for h in w["hosts"]}
    # splunk-xml counts mean events/s; the budget's load per host, as the planner sees it.
    column = "added_gb_day_p90" if kind == "gb_day" else "added_eps_mean_p90"
    hosts = projection.hosts[projection.hosts["host"].isin(placeable)]
    loads = sorted(x for x in hosts[column].tolist() if x > 0)
    total = math.fsum(loads)
    options = {
        "exceeds_step": PlanOptions(budget_kind=kind, budget=10 * total, max_step=(loads[-1] + loads[-2]) / 2),
        "exceeds_budget": PlanOptions(budget_kind=kind, budget=total / 2, max_step=total / 2),
        "max_waves": PlanOptions(budget_kind=kind, budget=10 * total, max_step=total / 4, max_waves=1),
    }[reason]
    return plan_document(plan(projection, options, survey=rf.fleet()[1]))


@pytest.mark.parametrize("kind", ["gb_day", "eps"])
@pytest.mark.parametrize("reason", list(REASON_WORDS))
def test_capacity_risk_words_each_reason_and_names_real_options(rendered: Rendered, kind: str, reason: str) -> None:
    doc = _limited_plan(rendered, kind, reason)
    capacity = _capacity_unplaced(doc)
    assert capacity and {u["reason"].split(":")[0] for u in capacity} == {reason}
    html, ctx = render(replace(rendered.inputs, plan=rf.as_plan(doc), detections=None, exposure=None))
    risk = next(r["text"] for r in ctx["risks"] if "are in no wave" in r["text"])
    assert risk.startswith(f"{len(capacity)} host(s) are in no wave ({len(capacity)} {REASON_WORDS[reason]}): ")
    for other, words in REASON_WORDS.items():
        if other != reason:
            assert words not in risk
    assert "lack of SIEM capacity" not in risk
    # Every option the advice names is one `auditplan plan` takes (issue 6 review: --max-step is not).
    named = set(re.findall(r"--[a-z][a-z-]*", risk))
    assert REASON_OPTION[(reason, kind)] in named
    assert named <= _plan_options(), named - _plan_options()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    after = text.split(" do not fit ")[1]
    assert after.startswith(HEADLINE_LIMIT[reason]), after[:80]
    if reason == "exceeds_step":
        # The demo's rds03 case: the budget had room for the host, only the step did not.
        planned = doc["waves"][-1]["cumulative"]["budget"]
        assert kind != "gb_day" or all(planned + u["gb_day_p90"] < doc["budget"]["value"] for u in capacity)
        assert not after.startswith("the SIEM budget")


def _table(html: str, table_id: str) -> list[list[str]]:
    """The cells of the table `table_id`, header row first, tags stripped."""
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert body, table_id
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]


@pytest.mark.parametrize(("siem", "basis"), [("splunk-xml", "mean"), ("qradar", "peak")])
def test_events_per_second_budget_waves_show_the_counted_rate(rendered: Rendered, siem: str, basis: str) -> None:
    """An events/s budget counts one rate, the profile's (defaults.toml eps_basis: splunk-xml mean,
    QRadar peak): the wave table shows that rate per wave, and the share is its sum over the budget."""
    estimates, survey = rf.fleet()
    projection = rf.projection_of(estimates, survey, siem)
    assert projection.profile.eps_basis == basis
    counted = math.fsum(x for x in projection.hosts[f"added_eps_{basis}_p90"].tolist() if x > 0)
    budget = round(1.1 * counted, 3)  # every host fits at the counted rate
    doc = plan_document(plan(projection, PlanOptions(budget_kind=BUDGET_EPS, budget=budget, max_step=budget / 3),
                             survey=survey))
    assert not _capacity_unplaced(doc)
    # Expected figures from the plan's hosts: mean events/s is the host's added 4688/day over a day
    # (a cmdline_only host adds no events, only bytes); peak is the host's own peak-hour figure.
    mean = [math.fsum(h["events_per_day_p90"] for h in w["hosts"] if h["change"] == "enable_4688")
            / SECONDS_PER_DAY for w in doc["waves"]]
    peak = [math.fsum(h["eps_peak_p90"] for h in w["hosts"]) for w in doc["waves"]]
    assert math.fsum(peak) > 1.5 * math.fsum(mean)  # the two bases differ here
    held = mean if basis == "mean" else peak
    if basis == "mean":
        assert math.fsum(peak) > budget  # summing the peak column would read as over the budget
    inputs = replace(rendered.inputs, projection=projection, plan=rf.as_plan(doc), detections=None, exposure=None)
    html, _ = render(inputs)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))
    total = math.fsum(held)
    share = f"{100 * total / budget:.0f}%"
    assert f"using {share} of it at p90" in text
    assert f"{people(total)} events/s ({basis}) added to the SIEM by the plan" in text
    assert f'<span class="value" id="v-budget">{people(budget)}</span>' in html
    assert f"events/s ({basis}) budget (SIEM headroom)" in text
    header, *rows = _table(html, "t-waves")
    own, cum = header.index(f"events/s {basis} p90"), header.index(f"cumulative events/s {basis} p90")
    share_col = header.index("cumulative, share of budget")
    assert ("peak events/s p90" in header) == (basis == "mean")  # context only where not counted
    running = 0.0
    for row, figure in zip(rows, held, strict=True):
        running += figure
        assert row[own] == people(figure)
        assert row[cum] == people(running)
        assert row[share_col] == f"{100 * running / budget:.0f}%"
        if basis == "mean":
            assert row[header.index("peak events/s p90")] == people(peak[rows.index(row)])
    assert rows[-1][share_col] == share
    assert f"{share} of the {people(budget)} events/s ({basis}) budget (the red line)" in text
    # A report costed with another profile (`auditplan report --siem`) keeps the plan's basis.
    if basis == "peak":
        other = render(replace(inputs, projection=rendered.inputs.projection))[0]
        assert f"cumulative events/s {basis} p90" in _table(other, "t-waves")[0]


# -- plan.json read by `auditplan report` ----------------------------------------------------------


@pytest.fixture(scope="module")
def store_and_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Mapping[str, Any]]:
    """A store holding the fixture fleet's estimates, and its plan.json document."""
    inputs = rf.report_inputs(with_detections=False)
    db = tmp_path_factory.mktemp("cli-store") / "auditplan.db"
    with Store(db) as store:
        store.save_estimates(RUN_LABEL, inputs.estimates)
    return db, _doc(inputs.plan)


def _bad(doc: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `doc` with the value at `path` ("a.0.b") replaced."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    *parents, last = path.split(".")
    target = out
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(last) if isinstance(target, list) else last] = value
    return out


@pytest.mark.parametrize(("path", "value", "field"), [
    ("waves", "abc", "waves: expected a list"),
    ("waves.0.load", None, "waves[0].load: expected an object, got null"),
    ("waves.1.cumulative", [], "waves[1].cumulative: expected an object, got a list"),
    ("waves.0.cumulative.gb_day_p90", "abc", "waves[0].cumulative.gb_day_p90: expected a number or null"),
    ("budget", [], "budget: expected an object, got a list"),
    ("budget.value", "0.5", "budget.value: expected a number > 0"),
    ("budget.kind", "tb_day", "budget.kind: expected 'gb_day' or 'eps'"),
    ("unplaced", {"host": "x"}, "unplaced: expected a list, got an object"),
    ("unplaced.0.reason", 7, "unplaced[0].reason: expected a string, got a number"),
    ("waves.0.hosts.0", "dc01", "waves[0].hosts[0]: expected an object"),
    ("schema_version", 2, "schema_version 2 is not 1"),
])
def test_cli_report_malformed_plan_names_file_and_field(
        store_and_plan: tuple[Path, Mapping[str, Any]], tmp_path: Path, path: str, value: Any, field: str) -> None:
    db, doc = store_and_plan
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(_bad(doc, path, value)), encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # click's usage error, not an exception escaping
    # The file, then the field (emit/gpo.parse_plan, shared with `auditplan gpo`, may name the wave first).
    error = result.output.split("Error: ", 1)[1]
    assert error.startswith(f"{plan_path}: ") and field in error, error
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_report_reads_a_plan_without_optional_fields(
        store_and_plan: tuple[Path, Mapping[str, Any]], tmp_path: Path) -> None:
    # docs/plan-json.md's first example: no cumulative.budget; absent unplaced and siem are fine too.
    db, doc = store_and_plan
    lean = json.loads(json.dumps(doc))
    for wave in lean["waves"]:
        del wave["cumulative"]["budget"]
    del lean["unplaced"], lean["siem"]
    lean["plan_id"] = plan_id_of(lean)  # an older plan, as `auditplan plan` wrote it then
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(lean), encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = f"{100 * _planned_from_hosts(doc) / doc['budget']['value']:.0f}%"
    assert f'<span id="v-headroom">{expected}</span>' in out.read_text(encoding="utf-8")


# -- GPO names in the waves table -------------------------------------------------------------------


def _gpo_cell_names(html: str) -> list[str]:
    table = re.search(r'<table id="t-waves">(.*?)</table>', html, re.S)
    assert table
    return re.findall(r'<td class="small">(.*?)</td>', table.group(1))


def test_gpo_names_are_the_ones_gpo_wrote(store_and_plan: tuple[Path, Mapping[str, Any]], tmp_path: Path) -> None:
    db, doc = store_and_plan
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(doc), encoding="utf-8")
    gpo = CliRunner().invoke(main, ["gpo", "--plan", str(plan_path), "--out", str(tmp_path / "gpo"),
                                    "--name-prefix", "Contoso Audit"])
    assert gpo.exit_code == 0, gpo.output
    # The names `auditplan gpo` printed, one line per wave: "wave  N:  H hosts  <name>  backups/{...}".
    printed = re.findall(r"^wave\s+\d+:\s+\d+ hosts\s+(.+?)\s+backups/", gpo.output, re.M)
    assert len(printed) == len(doc["waves"]) and all(n.startswith("Contoso Audit") for n in printed)
    # Found beside plan.json without being told, and from --gpo-dir anywhere else.
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "gpo", moved)
    for extra in ([], ["--gpo-dir", str(moved)]):
        out = tmp_path / f"r{len(extra)}.html"
        result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out),
                                           *extra])
        assert result.exit_code == 0, result.output
        html = out.read_text(encoding="utf-8")
        assert _gpo_cell_names(html) == printed
        assert "auditplan 4688 - wave" not in html and "(default name)" not in html


def test_gpo_names_of_another_plan_are_not_shown(store_and_plan: tuple[Path, Mapping[str, Any]],
                                                 tmp_path: Path) -> None:
    db, doc = store_and_plan
    other = json.loads(json.dumps(doc))
    other["waves"][0]["hosts"][-1]["host"] = "another-host"  # another plan: a different pilot host
    other["plan_id"] = plan_id_of(other)
    (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
    gpo = CliRunner().invoke(main, ["gpo", "--plan", str(tmp_path / "other.json"), "--out", str(tmp_path / "gpo"),
                                    "--name-prefix", "Contoso Audit"])
    assert gpo.exit_code == 0, gpo.output
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = _gpo_cell_names(out.read_text(encoding="utf-8"))
    # Wave 0's hosts differ: its default name, marked; the other waves match and show Contoso's.
    assert names[0] == "auditplan 4688 - wave 00 (pilot) (default name)"
    assert all(n.startswith("Contoso Audit - wave") for n in names[1:])


def test_without_gpo_output_the_column_says_default_and_how_to_change(rendered: Rendered) -> None:
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", rendered.html))
    assert "GPO (default name)" in text
    assert 'default --name-prefix "auditplan 4688"' in text and "--gpo-dir" in text
    plan = _doc(rendered.inputs.plan)
    assert _gpo_cell_names(rendered.html) == [f"auditplan 4688 - wave {w['wave']:02d} ({w['name']})"
                                              for w in plan["waves"]]


def test_cli_report_bad_gpo_dir_is_a_clear_error(store_and_plan: tuple[Path, Mapping[str, Any]], tmp_path: Path) -> None:
    db, doc = store_and_plan
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "gpo" / "backups").mkdir(parents=True)
    (tmp_path / "gpo" / "backups" / "manifest.xml").write_text("<Backups", encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out),
                                       "--gpo-dir", str(tmp_path / "gpo")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "manifest.xml: not a GPO backup manifest" in result.output
    # Found by itself beside plan.json, the same file only warns: the report goes on with default names.
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "showing default GPO names" in result.output
    assert "GPO (default name)" in out.read_text(encoding="utf-8")
