"""Issue 15: the report says which hosts' ranges are capped, partial, bursty or prior-only, and what would
narrow them (HostEstimate.flags / narrow_by), counted from the estimates it was given."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import report_fixtures as rf  # tests/emit/, on sys.path under pytest's default import mode

from auditplan.emit.report.render import render


def test_method_section_counts_what_limits_the_ranges() -> None:
    estimates, survey = rf.fleet()
    flagged = {0: (("capped", "partial_day"), "a higher --max-events (whole hours counted)"),
               1: (("partial_day",), "a survey window of at least 24 h"),
               2: (("prior_only",), "measure any host of role 'x' (the pilot)")}
    estimates = [replace(e, flags=flagged[i][0], narrow_by=flagged[i][1]) if i in flagged else replace(e, flags=())
                 for i, e in enumerate(estimates)]
    page, _ctx = render(rf.report_inputs(estimates, survey, with_detections=False))
    m = re.search(r'<p id="p-range-limits">(.*?)</p>', page, re.S)
    assert m is not None
    text = html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))
    assert "(3 host(s);" in text
    first = sorted(estimates[:3], key=lambda e: e.host.lower())
    partial_first = next(e for e in first if "partial_day" in e.flags)
    # Most common first: partial day on 2 hosts, then capped and prior-only on one each.
    assert text.index("partial day") < text.index("capped") and text.index("partial day") < text.index("prior only")
    assert f"partial day (the window missed hours of the day): 2 (e.g. {partial_first.host}: " in text
    assert "role prior only: 1 (e.g. " in text and "measure any host of role 'x' (the pilot)" in text


def test_no_paragraph_when_no_range_is_limited() -> None:
    estimates, survey = rf.fleet()
    page, _ctx = render(rf.report_inputs([replace(e, flags=()) for e in estimates], survey, with_detections=False))
    assert 'id="p-range-limits"' not in page
