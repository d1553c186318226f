"""The report's verdict first, one source of truth for every count, and accessibility basics (issue 19).

Counts: every element of the HTML carrying `data-count` must equal the count of the per-host CSV written
beside it (read with the csv module, not the report code). The browser checks run in headless Chromium:
a screenshot at 1400 px, the printed page count on A4 and Letter, the verdict element, the contrast of the
badge colours as rendered (WCAG 2 formula, written here), and a title for every chart.
"""

from __future__ import annotations

import base64
import csv
import os
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import report_fixtures as rf  # tests/emit/, on sys.path under pytest's default import mode

from auditplan.emit.report.render import render, write_report
from auditplan.emit.report.verdict import verdict

PAPERS = (("a4", 8.27, 11.69), ("letter", 8.5, 11.0))
CANNOT = "OS cannot log the command line"
ON = "4688 with command line on"
FAILED = "not reachable / failed"


class _Counts(HTMLParser):
    """Every data-count element's key and text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str, str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        key = dict(attrs).get("data-count")
        if key is not None:
            self._open.append((tag, key, []))

    def handle_data(self, data: str) -> None:
        for _, _, parts in self._open:
            parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, key, parts = self._open.pop()
            self.found.append((key, "".join(parts).strip()))


def html_counts(html: str) -> list[tuple[str, str]]:
    parser = _Counts()
    parser.feed(html)
    return parser.found


def csv_count(rows: list[dict[str, str]], key: str) -> int:
    """What the CSV says for a data-count key."""
    surveyed = [r for r in rows if r["readiness"]]
    if key == "surveyed":
        return len(surveyed)
    if key == "reachable":
        return sum(1 for r in surveyed if r["readiness"] != FAILED)
    if key.startswith("unplaced:"):
        code = key.split(":", 1)[1]
        return sum(1 for r in rows if r.get("unplaced_reason", "").split(":")[0] == code)
    return sum(1 for r in surveyed if r["readiness"] == key)


def assert_counts_match_csv(html: str, csv_path: Path) -> int:
    with csv_path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    found = html_counts(html)
    for key, shown in found:
        assert int(shown.replace(",", "")) == csv_count(rows, key), (key, shown)
    return len(found)


def test_every_count_in_the_html_is_the_csvs(tmp_path: Path) -> None:
    html_path, csv_path, _ = write_report(rf.report_inputs(), tmp_path / "report.html")
    html = html_path.read_text(encoding="utf-8")
    keys = {k for k, _ in html_counts(html)}
    # The tiles, each readiness category of the table, and each reason hosts were left out for.
    assert {"surveyed", "reachable", ON, CANNOT, FAILED} <= keys and any(k.startswith("unplaced:") for k in keys)
    assert assert_counts_match_csv(html, csv_path) >= 10


def test_a_host_that_cannot_log_the_command_line_is_never_counted_as_on(tmp_path: Path) -> None:
    """The 2008 R2 case: the registry value set, the OS unable to log it. Tile, table and CSV agree."""
    estimates, survey = rf.fleet()
    host = survey.index[survey["host"] == "host30"][0]
    survey.loc[host, "process_creation"] = "success"
    survey.loc[host, "cmdline_enabled"] = True
    assert survey.loc[host, "cmdline_supported"] is False or not bool(survey.loc[host, "cmdline_supported"])
    inputs = rf.report_inputs(estimates, survey, with_detections=False)
    html_path, csv_path, ctx = write_report(inputs, tmp_path / "r.html")
    with csv_path.open(encoding="utf-8", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["host"] == "host30")
    assert row["readiness"] == CANNOT and row["cmdline_supported"].lower() == "false"
    counts = dict(ctx["readiness"]["categories"])
    assert counts[ON] == rf.CMDLINE_ON and counts[CANNOT] == rf.UNSUPPORTED
    assert ctx["readiness"]["unsupported"] == rf.UNSUPPORTED
    assert_counts_match_csv(html_path.read_text(encoding="utf-8"), csv_path)


def _ctx(**changes: Any) -> dict[str, Any]:
    """A minimal report context for verdict(): a plan of two waves that fits, no findings."""
    base: dict[str, Any] = {
        "budget": {"kind": "gb_day", "value": 1.0, "share": 0.5, "planned": 0.5, "unit_basis": "GB/day",
                   "quantile": "p90"},
        "waves": [{"hosts": 3, "gpo": "auditplan 4688 - wave 00 (pilot)", "date": "2026-03-09",
                   "cumulative_p50": 0.1, "cumulative_gb_day_p90": 0.2},
                  {"hosts": 5, "gpo": "w1", "date": "2026-03-16", "cumulative_p50": 0.2, "cumulative_gb_day_p90": 0.5}],
        "readiness": {"surveyed": 10, "reachable": 9, "categories": [(ON, 2)]},
        "risks": [], "local_hours": [200.0, 300.0], "min_local_hours": 168.0, "logs_short": 0,
        "generated": "2026-03-02 09:30 UTC", "mb_per_gb": 1000.0, "price_per_gb": 2.0, "currency": "EUR",
    }
    base.update(changes)
    return base


def test_verdict_kinds_and_their_next_action() -> None:
    go = verdict(_ctx())
    assert go["kind"] == "go" and go["date"] == "2026-03-09" and "pilot GPO" in go["action"]
    assert go["load"]["amount"] == "200 MB to 500 MB a day" and go["load"]["budget"] == "1 GB a day"
    assert go["load"]["money"] == f"{0.2 * 2 * 365.25 / 12:.3g} to {0.5 * 2 * 365.25 / 12:.3g} EUR a month"
    high = {"severity": "high", "text": "43 host(s) would keep less than 168 hours", "fix": "x"}
    conditional = verdict(_ctx(risks=[high, {"severity": "medium", "text": "m", "fix": "y"}]))
    assert conditional["kind"] == "go-with-conditions" and conditional["conditions"] == [high]
    assert conditional["action"].startswith("Meet the conditions above")
    assert verdict(_ctx(waves=[], budget=None))["kind"] == "no-go"
    assert verdict(_ctx(readiness={"surveyed": 10, "reachable": 4, "categories": [(ON, 0)]}))["kind"] == "no-go"


def test_verdict_comes_first_with_its_badge_sentence_and_numbers() -> None:
    html, ctx = render(rf.report_inputs())
    kind = ctx["verdict"]["kind"]
    assert kind == "go-with-conditions"  # the fixture's short logs and exposed secrets are conditions
    body = html.split("<main>", 1)[1]
    first = re.search(r"<div class=\"verdict [^\"]*\" id=\"verdict\" data-verdict=\"([a-z-]+)\">", body)
    assert first and first.group(1) == kind and body.index("<div class=\"verdict") < body.index("<section")
    verdict_html = body.split("<nav", 1)[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", verdict_html))
    assert "GO WITH CONDITIONS" in text and "Go with conditions:" in text
    assert f"Next action, {ctx['waves'][0]['date']} :" in text
    for number_id in ("n-load", "n-hosts", "n-local"):
        assert f'id="{number_id}"' in verdict_html
    assert "EUR a month" in text and "a day" in text and "hours" in text


# -- in headless Chromium --------------------------------------------------------------------------------

PROBE = """(() => {
  const rgb = s => (s.match(/[0-9.]+/g) || []).slice(0, 3).map(Number);
  const badge = document.getElementById('v-verdict');
  const svgs = [...document.querySelectorAll('.chart > svg')];
  const sev = [...document.querySelectorAll('.sev')].map(e => [rgb(getComputedStyle(e).color),
                                                               rgb(getComputedStyle(e).backgroundColor)]);
  return {
    verdict: document.getElementById('verdict').dataset.verdict,
    badge: [rgb(getComputedStyle(badge).color), rgb(getComputedStyle(badge).backgroundColor)],
    badgeText: badge.textContent.trim(),
    severities: sev,
    charts: svgs.map(s => [s.getAttribute('role'), s.getAttribute('aria-label') || '',
                           (s.querySelector('title') || {}).textContent || '', s.getBoundingClientRect().width]),
    main: document.querySelector('main').getBoundingClientRect().width,
    firstInMain: [...document.querySelector('main').children].slice(0, 3).map(e => e.localName + '#' + e.id),
  };
})()"""

BADGE_CSS = "reports/report.css"


def _luminance(rgb: Sequence[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Sequence[float], b: Sequence[float]) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture(scope="module")
def chromium_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if rf.chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: tests/setup.sh installs it")
        pytest.skip("chromium is not installed (tests/setup.sh installs Debian's chromium)")
    work = tmp_path_factory.mktemp("verdict")
    html, _ = render(rf.report_inputs())
    out: dict[str, Any] = {"pdf_pages": {}}
    with rf.recording_server() as (base, recorder):
        recorder.pages["/report.html"] = html.encode("utf-8")
        with rf.chromium(work / "profile", base) as cdp:
            cdp.call("Page.enable")
            cdp.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
            start = len(cdp.events)
            cdp.call("Page.navigate", url=base + "/report.html")
            cdp.wait_for("Page.loadEventFired", after=start)
            out["dom"] = cdp.evaluate(PROBE)
            png = base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"])
            rf.keep_artifact("report-1400.png", png)
            out["png"] = png
            cdp.call("Emulation.clearDeviceMetricsOverride")
            for name, width, height in PAPERS:
                pdf = base64.b64decode(cdp.call("Page.printToPDF", paperWidth=width, paperHeight=height,
                                                printBackground=True)["data"])
                rf.keep_artifact(f"report-verdict-{name}.pdf", pdf)
                out["pdf_pages"][name] = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    return out


def test_screenshot_at_1400_px_shows_the_verdict_first(chromium_run: dict[str, Any]) -> None:
    png = chromium_run["png"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == 1400  # the IHDR width
    dom = chromium_run["dom"]
    assert dom["firstInMain"] == ["h1#", "p#", "div#verdict"]
    assert dom["verdict"] == "go-with-conditions" and dom["badgeText"] == "GO WITH CONDITIONS"


def test_printed_report_is_at_most_six_pages(chromium_run: dict[str, Any]) -> None:
    for name, pages in chromium_run["pdf_pages"].items():
        assert 2 <= pages <= 6, (name, pages)


def test_badge_and_severity_colours_are_readable(chromium_run: dict[str, Any]) -> None:
    dom = chromium_run["dom"]
    assert contrast(*dom["badge"]) >= 4.5, dom["badge"]
    assert dom["severities"]
    for fg, bg in dom["severities"]:
        assert contrast(fg, bg) >= 4.5, (fg, bg)
    # The other two badges, from the stylesheet the report inlines: white text on each background.
    css = (Path(__file__).resolve().parents[2] / BADGE_CSS).read_text(encoding="utf-8")
    for kind in ("go", "go-with-conditions", "no-go"):
        colour = re.search(rf"\.badge\.{kind} {{ background: #([0-9a-f]{{6}}); }}", css)
        assert colour, kind
        rgb = [int(colour.group(1)[i:i + 2], 16) for i in (0, 2, 4)]
        assert contrast([255, 255, 255], rgb) >= 4.5, kind


def test_every_chart_has_a_title_and_spans_the_page(chromium_run: dict[str, Any]) -> None:
    dom = chromium_run["dom"]
    assert len(dom["charts"]) >= 5
    for role, label, title, width in dom["charts"]:
        assert role == "img" and label and title == label
        assert width >= 0.95 * dom["main"] - 60  # full width of the page's text column (less padding)


def test_readiness_colours_say_what_they_mean() -> None:
    from auditplan.emit.report.readiness import CATEGORIES

    colours = dict(CATEGORIES)
    green, grey = colours[ON], colours[FAILED]
    r, g, b = (int(green[i:i + 2], 16) for i in (1, 3, 5))
    assert g > r and g > b  # on = green
    r, g, b = (int(grey[i:i + 2], 16) for i in (1, 3, 5))
    assert max(r, g, b) - min(r, g, b) < 16  # failed = grey
    _ = pd  # the fixtures' frames are pandas
