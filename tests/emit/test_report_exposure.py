"""The report's "Who can read the command lines" section and the analyst hours (issue 18), read back
from the page headless Chromium renders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import report_fixtures as rf

from auditplan.emit.report.inputs import ReportInputs
from auditplan.emit.report.render import render

DEFAULT = (["S-1-5-18", "S-1-5-32-544", "S-1-5-32-573"],
           ["NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators", "BUILTIN\\Event Log Readers"])
PROBE = ("({rows: [...document.querySelectorAll('#t-log-readers tr')].slice(1).map(r => [...r.cells].map(c => "
         "c.textContent)), broad: document.querySelector('#v-broad-readers')?.textContent, "
         "read: document.querySelector('#v-readers-hosts').textContent, "
         "risks: document.querySelector('#v-risks').textContent})")


BROAD_HOST = '<b onmouseover="alert(1)">broad</b>03'  # a reachable host renamed to markup


def _with_readers(survey: pd.DataFrame) -> pd.DataFrame:
    frame = survey.copy()
    frame["host"] = frame["host"].replace({"host03": BROAD_HOST})
    readers: list[Any] = []
    names: list[Any] = []
    extra: list[Any] = []
    broad: list[Any] = []
    for i, host in enumerate(frame["host"]):
        if frame["status"].iloc[i] != "ok":
            readers.append(None)
            names.append(None)
            extra.append(None)
            broad.append(None)
            continue
        sids, labels = list(DEFAULT[0]), list[str | None](DEFAULT[1])
        more: list[str] = []
        if host == BROAD_HOST:  # a broad grant on the host whose name is markup
            sids.append("S-1-5-11")
            labels.append("NT AUTHORITY\\Authenticated Users")
            more.append("S-1-5-11")
        elif host == "host05":  # a custom group: beyond the default, not broad
            sids.append("S-1-5-21-1-2-3-1105")
            labels.append(None)
            more.append("S-1-5-21-1-2-3-1105")
        readers.append(sids)
        names.append(labels)
        extra.append(more)
        broad.append(host == BROAD_HOST)
    frame["security_log_readers"] = readers
    frame["security_log_reader_names"] = names
    frame["security_log_readers_beyond_default"] = extra
    frame["security_log_broad_readers"] = pd.Series(broad, dtype="boolean")
    return frame


@pytest.mark.skipif(rf.chromium_path() is None, reason="needs Debian's chromium (tests/setup.sh)")
def test_broad_readers_are_flagged_and_escaped(tmp_path: Path) -> None:
    estimates, survey = rf.fleet()
    html, _ctx = render(ReportInputs(hosts=_with_readers(survey), projection=None, estimates=estimates))
    page = rf.read_in_chromium(html, PROBE, tmp_path)
    # the broad host first, then the custom group; the hostile host name is text, not markup
    assert page["rows"] == [[BROAD_HOST, "NT AUTHORITY\\Authenticated Users (S-1-5-11)", "yes"],
                            ["host05", "S-1-5-21-1-2-3-1105", "no"]]
    assert page["broad"] == "1"
    assert int(page["read"]) == rf.REACHABLE + 1  # every reachable row, the host ingested twice included
    assert "read the Security log" in page["risks"]


def test_no_reader_columns_no_claim() -> None:
    estimates, survey = rf.fleet()
    html, ctx = render(ReportInputs(hosts=survey, projection=None, estimates=estimates))
    assert ctx["log_readers"]["hosts_read"] == 0 and 'id="t-log-readers"' not in html
    assert "No host grants read beyond" not in html
