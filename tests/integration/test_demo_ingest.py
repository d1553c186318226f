"""`auditplan demo`'s ingest stage: the shipped Security.evtx joins the surveyed fleet as an
offline-collected host, and estimate, plan and report carry it.

Expectations come from reference/evtx-dev/SOURCES.md (the DFIRArtifactMuseum row: 583 events,
34 4688s, Computer WIN-FUDU2CKJOE8, auditing off, sha256 512a2c32...) and from issue 3: a log with
only boot-time 4688s is "auditing off", not a rate, so its 4688/day comes from its role's peers.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from importlib import resources

import pytest
from integration_fleet import DemoRun

from auditplan.records import EstimateSource, HostStatus
from auditplan.store import Store

EVTX_NAME = "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"
EVTX_SHA256 = "512a2c32ad5076634d0cd991896a3d1bb924cf23279db2b92bd2b78c8f2c794b"  # evtx-dev/SOURCES.md
HOST = "aptsim-srv2022-evtx"
DNS_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")  # one RFC 1123 label


def test_evtx_ships_as_package_data_with_its_licence() -> None:
    data = resources.files("auditplan.simulator").joinpath("data")
    assert hashlib.sha256(data.joinpath(EVTX_NAME).read_bytes()).hexdigest() == EVTX_SHA256
    sources = data.joinpath("SOURCES.md").read_text(encoding="utf-8")
    assert EVTX_NAME in sources and EVTX_SHA256 in sources
    assert "MIT License" in sources and "Copyright (c) 2022 Andrew Rathbun" in sources
    assert "AndrewRathbun/DFIRArtifactMuseum" in sources


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_demo_ingests_an_offline_host(demo_run: DemoRun) -> None:
    assert DNS_NAME.match(HOST)
    out, result = demo_run.out, demo_run
    assert result.exit_code == 0, result.stdout + result.stderr

    stages = [line.split(":", 1)[0] for line in result.stdout.splitlines()
              if re.match(r"[a-z]+: ", line)]
    assert stages.index("survey") < stages.index("ingest") < stages.index("estimate")
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("ingest: ")]
    assert HOST in line and "WIN-FUDU2CKJOE8" in line
    assert "583 events" in line and "34 x 4688" in line
    assert "2023-10-18 02:44..05:44 UTC" in line  # facts: first 02:44:40, last 05:44:35
    assert "auditing off" in line and "3 boots" in line

    with Store(out / "auditplan.db") as store:
        results = [r for r in store.load_results() if r.host.name == HOST]
        estimates = {e.host: e for e in store.load_estimates("latest")}
        surveyed = store.finished_hosts()  # source winrm: the ingest adds no surveyed host
    (r,) = results
    assert r.source == "evtx" and r.status is HostStatus.OK
    assert r.host.role == "member_server"
    assert r.computer_name == "WIN-FUDU2CKJOE8"
    assert r.security_log is not None and r.security_log.record_count == 583
    assert r.volume is not None and r.volume.boot_only and sum(r.volume.hourly_4688) == 34
    assert HOST not in surveyed and len(surveyed) == 48  # demo_fleet.toml: 48 hosts

    # Auditing off: no measured rate; the member servers measured in the survey calibrate it.
    e = estimates[HOST]
    assert e.source is EstimateSource.ROLE_PEERS
    assert not e.already_on
    assert any("boot-time" in n for n in e.notes)
    assert 0 < e.events_per_day.p10 < e.events_per_day.p50 < e.events_per_day.p90

    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    placed = {h["host"]: h for w in plan["waves"] for h in w["hosts"]}
    assert HOST in placed, [u for u in plan["unplaced"] if u["host"] == HOST]
    assert placed[HOST]["change"] == "enable_4688"
    assert placed[HOST]["source"] == "role_peers"

    with (out / "report-hosts.csv").open(encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if row["host"] == HOST]
    assert len(rows) == 1
    assert (rows[0]["source"], rows[0]["estimate_source"]) == ("evtx", "role_peers")
    assert rows[0]["boot_only"] == "true" and rows[0]["log_record_count"] == "583"
    assert HOST in (out / "report.html").read_text(encoding="utf-8")
