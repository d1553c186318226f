"""Output that survives a pipe (issue 19): nothing cut when stdout is not a terminal, `project` short by default,
detections readable at 80 columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.emit.api import detection_rules
from auditplan.model import api
from auditplan.records import AuditPolicy, AuditSetting, Host, HostResult, HostStatus, SecurityLog
from auditplan.store import Store

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
# Long enough that an 80-column table would have to cut or fold it.
LONG = "a-very-long-host-name-in-a-deeply-nested-organisational-unit-of-the-corp-domain"


def _result(name: str, role: str, site: str) -> HostResult:
    log = SecurityLog(max_size_bytes=20 * 2**20, retention="overwrite", file_size_bytes=20 * 2**20, record_count=1000,
                      oldest_record_number=1, oldest_time=NOW - timedelta(hours=48), newest_time=NOW)
    return HostResult(host=Host(name=name, address="10.0.0.1", role=role, site=site), status=HostStatus.OK,
                      reason="", collected_at=NOW, security_log=log,
                      audit=AuditPolicy(process_creation=AuditSetting.NONE, cmdline_enabled=False,
                                        sce_no_apply_legacy=True))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ap.db"
    with Store(path) as store:
        store.save_result(_result(LONG, "web_server", "a-site-name-that-is-also-rather-long-for-a-table"))
        for i in range(3):
            store.save_result(_result(f"dc{i:02d}", "domain_controller", "lon"))
    api.estimate(path)
    return path


def test_project_piped_is_one_profile_and_cuts_nothing(db: Path) -> None:
    result = CliRunner().invoke(main, ["project", "--db", str(db)])  # CliRunner's stdout is not a terminal
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "…" not in out and "..." not in out.replace("... and", "")
    assert LONG in out  # whole, on one line, in the hosts-below-target table
    assert "splunk-xml: added load, fleet" in out and "sentinel" not in out
    assert "--all-profiles" in result.stderr  # says how to see the rest
    every = CliRunner().invoke(main, ["project", "--db", str(db), "--all-profiles"])
    assert every.exit_code == 0 and "…" not in every.stdout
    for name in ("splunk-classic", "sentinel", "wef", "Fleet added load by SIEM"):
        assert name in every.stdout
    assert len(every.stdout.splitlines()) > len(out.splitlines())


def test_project_shows_sizes_for_people_and_full_precision_in_json(db: Path) -> None:
    (p,) = api.projections(db, siems=["splunk-xml"])
    gb = float(p.fleet["added_gb_day_p50"].iloc[0])
    assert gb < 1  # four hosts: well under a GB a day, so the table speaks MB
    table = CliRunner().invoke(main, ["project", "--db", str(db)]).stdout
    fleet_row = next(line for line in table.splitlines() if line.startswith("│ fleet"))
    assert " MB │" in fleet_row and "GB/day" not in fleet_row
    as_json = CliRunner().invoke(main, ["project", "--db", str(db), "--json"]).stdout
    assert repr(gb) in as_json or f"{gb}" in as_json  # the JSON keeps every digit


def test_estimate_piped_cuts_nothing(db: Path) -> None:
    result = CliRunner().invoke(main, ["estimate", "--db", str(db)])
    assert result.exit_code == 0
    assert "…" not in result.stdout and any(LONG in line for line in result.stdout.splitlines())


def test_detections_list_fits_80_columns_and_shows_whole_ids() -> None:
    result = CliRunner().invoke(main, ["detections", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for rule in detection_rules().rules:
        assert f"id {rule.id}" in result.stdout  # the whole id, not a shared prefix and "…"
    assert "…" not in result.stdout
