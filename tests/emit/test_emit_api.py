"""emit.api, the stage's front door, used as a Python library: no click, the library's own errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import report_fixtures as rf  # tests/emit/, on sys.path under pytest's default import mode

from auditplan.emit.api import (
    DEFAULT_MP_ID,
    NoStore,
    PlanError,
    ReportError,
    ScomOptionError,
    detection_rules,
    evaluate_detections,
    export_rules,
    gather_report,
    write_report,
)
from auditplan.records import Host, HostResult, HostStatus, SampledEvent
from auditplan.store import Store

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HIDDEN_POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The report fixtures' estimates, and one host's sampled events: 3 hidden PowerShell of 10."""
    db = tmp_path / "auditplan.db"
    events = tuple(
        SampledEvent(time=NOW, event_id=4688, version=2,
                     new_process_name=HIDDEN_POWERSHELL if i < 3 else r"C:\Windows\System32\svchost.exe",
                     parent_process_name=r"C:\Windows\explorer.exe", subject_user_name="alice",
                     command_line="powershell -w hidden -c x" if i < 3 else "svchost -k x", size_bytes=1500)
        for i in range(10))
    with Store(db) as opened:
        opened.save_estimates("latest", rf.fleet()[0])
        opened.save_result(HostResult(host=Host(name="host01", address="host01"), status=HostStatus.OK, reason="",
                                      collected_at=NOW, events=events))
    return db


def test_write_report_without_click(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "capacity.html"
    written = write_report(store, out, org="Example", now=NOW)
    assert written.html == out and written.csv == out.with_name("capacity-hosts.csv") and written.csv.is_file()
    html = out.read_text(encoding="utf-8")
    assert written.projection_note is not None and written.projection_note in html
    assert "generated 2026-11-27 12:00 UTC" in html
    # The detections ran on the stored events: family 3 (hidden PowerShell) hit 3 of them.
    hidden = next(r for r in written.context["detections"].results if r.family == 3)
    assert hidden.hits == 3 and hidden.hosts == {"host01": 3}
    assert written.warnings == ()


def test_report_errors_are_the_librarys(store: Path, tmp_path: Path) -> None:
    with pytest.raises(NoStore, match=r"none\.db: no store here"):
        gather_report(tmp_path / "none.db")
    with pytest.raises(ReportError, match="--gpo-dir needs --plan"):
        gather_report(store, gpo_dir=tmp_path)
    bad = tmp_path / "plan.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PlanError, match=r"plan\.json"):
        gather_report(store, plan_path=bad)


def test_detections_without_click(store: Path, tmp_path: Path) -> None:
    rules = detection_rules()
    assert sorted(r.family or 0 for r in rules.rules) == [1, 2, 3, 4, 5] and rules.problems == ()
    run = evaluate_detections(store)
    hidden = next(r for r in run.evaluation.results if r.family == 3)
    assert hidden.hits == 3 and run.exposure.events == 10 and run.problems == ()
    with pytest.raises(NoStore):
        evaluate_detections(tmp_path / "none.db")


def test_exports_without_click(tmp_path: Path) -> None:
    sigma = export_rules("sigma", tmp_path / "sigma")
    assert sigma.count == 5 and len(list((tmp_path / "sigma").glob("*.yml"))) == 5
    pack = export_rules("scom", tmp_path / "scom")
    assert pack.path == tmp_path / "scom" / f"{DEFAULT_MP_ID}.xml" and pack.enabled_hosts == ()
    assert ET.parse(pack.path).getroot().tag == "ManagementPack"
    with pytest.raises(ScomOptionError, match="--mp-version"):
        export_rules("scom", tmp_path / "x.xml", mp_version="1.0")
