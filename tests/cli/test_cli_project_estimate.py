"""`auditplan project` and `auditplan estimate` print what the model's front door gives: the
capacity units and hosts short of local log history (model.api capacity_units, local_history, also
in `project --json`), and EstimateRun's rows, document and CSV (the demo writes the same CSV)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.model import api
from auditplan.records import AuditPolicy, AuditSetting, Host, HostResult, HostStatus, SecurityLog
from auditplan.store import Store
from auditplan.text import number

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _result(name: str, role: str, max_mb: int | None) -> HostResult:
    # 20 MB written in the last 48 h: a 20 MB log holds 48 h, a 4 GB one months.
    log = None if max_mb is None else SecurityLog(
        max_size_bytes=max_mb * 2**20, retention="overwrite", file_size_bytes=20 * 2**20, record_count=1000,
        oldest_record_number=1, oldest_time=NOW - timedelta(hours=48), newest_time=NOW)
    return HostResult(host=Host(name=name, address=name, role=role, site="lon"), status=HostStatus.OK, reason="",
                      collected_at=NOW, security_log=log,
                      audit=AuditPolicy(process_creation=AuditSetting.NONE, cmdline_enabled=False,
                                        sce_no_apply_legacy=True))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Five hosts on role priors: two with a 20 MB Security log (short of 7 days once 4688 is on),
    two with 4 GB, one whose log the survey did not read."""
    path = tmp_path / "ap.db"
    with Store(path) as store:
        for name, role, mb in (("dc01", "domain_controller", 20), ("web01", "web_server", 20),
                               ("web02", "web_server", 4096), ("sql01", "sql_server", 4096),
                               ("nolog01", "web_server", None)):
            store.save_result(_result(name, role, mb))
    result = CliRunner().invoke(main, ["estimate", "--db", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return path


def test_project_json_carries_capacity_units_and_the_hosts_short_of_local_history(db: Path) -> None:
    result = CliRunner().invoke(main, ["project", "--db", str(db), "--siem", "wef", "--siem", "splunk-xml", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)["siem"]
    wef, splunk = api.projections(db, siems=["wef", "splunk-xml"])
    assert wef.profile.eps_capacity > 0 and splunk.profile.eps_capacity == 0
    # WEF sizes collectors on mean EPS: units = fleet eps_mean p90 / capacity per collector.
    expected = float(wef.fleet["eps_mean_p90"].iloc[0]) / wef.profile.eps_capacity
    assert doc["wef"]["capacity_units_p90"] == pytest.approx(expected) and expected > 0
    assert doc["splunk-xml"]["capacity_units_p90"] is None
    hours = {h["host"]: h["local_hours_p90"] for h in doc["wef"]["hosts"]}
    below = doc["wef"]["local_log"]["hosts_below_min_local_hours"]
    assert sorted(below) == ["dc01", "web01"]  # the 20 MB logs; nolog01's size is unknown
    assert below == sorted(below, key=lambda h: (hours[h], h))  # shortest history first
    assert all(hours[h] < 168 for h in below) and all(hours[h] >= 168 for h in ("web02", "sql01"))
    assert doc["wef"]["local_log"]["surveyed_hosts"] == 4
    assert doc["splunk-xml"]["local_log"]["surveyed_hosts"] == 4


def test_project_table_prints_the_models_figures(db: Path) -> None:
    result = CliRunner().invoke(main, ["project", "--db", str(db), "--siem", "wef"])
    assert result.exit_code == 0, result.output
    (wef,) = api.projections(db, siems=["wef"])
    units = api.capacity_units(wef)
    assert units is not None
    text = " ".join(result.output.split())
    assert f"Capacity: {number(units, trim=True)} unit(s) of 3000 EPS" in text
    history = api.local_history(wef)
    assert (len(history.short), history.surveyed, history.target_hours) == (2, 4, 168)
    assert "Local Security log: 2 of 4 surveyed host(s) would hold < 168 h" in text
    table = result.output.split("Hosts below the local history target (p90)")[1]
    assert [line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│")] == history.hosts_below


def test_estimate_output_is_the_runs_document_and_csv(db: Path) -> None:
    runner = CliRunner()
    run = api.estimate(db)
    as_json = runner.invoke(main, ["estimate", "--db", str(db), "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == run.document()
    assert run.document()["fleet"]["hosts"] == len(run.rows()) == 5
    as_csv = runner.invoke(main, ["estimate", "--db", str(db), "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout_bytes.decode("utf-8") == run.csv_text()
    assert run.csv_text().splitlines()[-1].startswith(f"{api.FLEET_ROW},")
    table = runner.invoke(main, ["estimate", "--db", str(db)])
    assert table.exit_code == 0, table.output
    dc = next(r for r in run.rows() if r["host"] == "dc01")
    line = next(line for line in table.stdout.splitlines() if "dc01" in line)
    # text.number: three significant digits, thousands separators (rich draws the cells between │)
    assert [cell.strip() for cell in line.split("│")[4:9]] == [number(dc[k]) for k in (
        "events_per_day_p10", "events_per_day_p50", "events_per_day_p90", "peak_hour_factor", "bytes_per_event_xml")]


def test_an_estimate_run_without_hosts_has_no_fleet_row(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    Store(path).close()
    run = api.estimate(path)
    assert run.fleet is None and run.fleet_row() is None and run.csv_text() == ""
    assert run.document() == {"hosts": [], "fleet": None}
