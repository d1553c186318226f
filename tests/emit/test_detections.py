"""The five detection families: real dev EVTX events, hand-made positives, filters and near-misses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from detection_cases import CASES
from evtx import PyEvtxParser

from auditplan.emit.detections import builtin_rules_dir, evaluate, exposure, load_rules

SECURITY_PROVIDER = "Microsoft-Windows-Security-Auditing"


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    loaded, problems = load_rules([builtin_rules_dir()])
    assert problems == []
    families = [r.family for r in loaded]
    assert None not in families  # builtin rules all carry a family (None is for user rules)
    assert sorted(f for f in families if f is not None) == [1, 2, 3, 4, 5]
    return loaded


def _events(rows: Sequence[tuple[str, str, str | None, str | None]]) -> pd.DataFrame:
    """(host, NewProcessName, ParentProcessName, CommandLine) -> the sampled-events frame."""
    return pd.DataFrame(
        [{"host": h, "new_process_name": n, "parent_process_name": p, "subject_user_name": "alice",
          "command_line": c, "event_id": 4688} for h, n, p, c in rows]
    )


def _fired(rules, rows, family: int) -> bool:  # type: ignore[no-untyped-def]
    result = evaluate(rules, _events(rows), {})
    return next(r for r in result.results if r.family == family).hits > 0


@pytest.mark.parametrize(("family", "image", "parent", "cmdline", "fires"), CASES)
def test_family_cases(rules, family: int, image: str, parent: str | None, cmdline: str | None, fires: bool) -> None:  # type: ignore[no-untyped-def]
    assert _fired(rules, [("h1", image, parent, cmdline)], family) is fires


def test_no_family_fires_on_ordinary_processes(rules) -> None:  # type: ignore[no-untyped-def]
    benign = [
        ("h1", r"C:\Windows\System32\svchost.exe", r"C:\Windows\System32\services.exe", r"svchost.exe -k netsvcs -p"),
        ("h1", r"C:\Program Files\Google\Chrome\Application\chrome.exe", r"C:\Windows\explorer.exe", "chrome.exe"),
        ("h1", r"C:\Windows\System32\conhost.exe", r"C:\Windows\System32\cmd.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff"),
    ]
    assert all(r.hits == 0 for r in evaluate(rules, _events(benign), {}).results)


def test_alerts_per_day_scale_with_each_hosts_rate(rules) -> None:  # type: ignore[no-untyped-def]
    hidden = (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", None, "powershell -w hidden -c x")
    plain = (r"C:\Windows\System32\svchost.exe", None, "svchost.exe -k x")
    rows = [("a", *hidden)] * 2 + [("a", *plain)] * 98 + [("b", *hidden)] * 1 + [("b", *plain)] * 9
    result = evaluate(rules, _events(rows), {"a": 10_000.0, "b": 500.0})
    r = next(x for x in result.results if x.family == 3)
    assert r.hits == 3 and r.hosts == {"a": 2, "b": 1}
    # a: 2/100 of 10,000/day = 200; b: 1/10 of 500/day = 50 (computed by hand)
    assert r.alerts_per_day_by_host == pytest.approx({"a": 200.0, "b": 50.0})
    assert r.alerts_per_day == pytest.approx(250.0)
    assert r.top_processes == (("powershell.exe", 3),)


def _dev_events(evtx_dev_dir: Path, name: str) -> pd.DataFrame:
    """4688 events of one dev file, read with the evtx package directly (not through auditplan's ingest)."""
    rows = []
    for record in PyEvtxParser(str(evtx_dev_dir / name)).records_json():
        assert record is not None  # evtx's stub types __next__ as Optional; it never yields None
        event = json.loads(record["data"])["Event"]
        system = event["System"]
        eid = system["EventID"]
        eid = eid["#text"] if isinstance(eid, dict) else eid
        provider = system["Provider"]["#attributes"]["Name"]
        if int(eid) != 4688 or provider != SECURITY_PROVIDER:
            continue
        data = event.get("EventData") or {}
        rows.append({"host": name, "event_id": 4688, "new_process_name": data.get("NewProcessName"),
                     "parent_process_name": data.get("ParentProcessName"),
                     "subject_user_name": data.get("SubjectUserName"),
                     "command_line": data.get("CommandLine") or None})
    return pd.DataFrame(rows, columns=["host", "event_id", "new_process_name", "parent_process_name",
                                       "subject_user_name", "command_line"])


@pytest.mark.parametrize("name", ["dbcli__metasploit-psexec-powershell-target-security.evtx",
                                  "dbcli__powersploit-security.evtx"])
def test_dev_set_hidden_powershell_fires(rules, evtx_dev_dir: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    events = _dev_events(evtx_dev_dir, name)
    result = evaluate(rules, events, {name: 1000.0})
    hidden = next(r for r in result.results if r.family == 3)
    assert hidden.hits >= 1
    assert hidden.top_processes[0][0] == "powershell.exe"


@pytest.mark.parametrize("name", ["sbou__exec_sysmon_1_ftp.evtx", "sbou__exec_sysmon_lobin_regsvr32_sct.evtx"])
def test_dev_set_sysmon_only_files_fire_nothing(rules, evtx_dev_dir: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    events = _dev_events(evtx_dev_dir, name)
    assert len(events) == 0  # the technique is only in Sysmon EID 1 there (SOURCES.md)
    result = evaluate(rules, events, {})
    assert all(r.hits == 0 for r in result.results)
    assert any("no sampled 4688 events" in w for w in result.warnings)


def test_dev_set_without_command_line_warns(rules, evtx_dev_dir: Path) -> None:  # type: ignore[no-untyped-def]
    events = _dev_events(evtx_dev_dir, "sbou__security_4624_4673_token_manip.evtx")
    assert len(events) > 0 and events["command_line"].isna().all()
    result = evaluate(rules, events, {})
    assert result.cmdline_share == 0.0
    assert any("carry a CommandLine" in w for w in result.warnings)
    cmdline_rules = [r for r in result.results if r.family in (1, 3, 5)]
    assert all(any("CommandLine" in n for n in r.notes) for r in cmdline_rules)


def test_every_4688_of_the_dev_set_evaluates(rules, evtx_dev_dir: Path) -> None:  # type: ignore[no-untyped-def]
    frames = [_dev_events(evtx_dev_dir, p.name) for p in sorted(evtx_dev_dir.glob("*.evtx"))]
    events = pd.concat([f for f in frames if len(f)], ignore_index=True)
    assert len(events) == 169  # SOURCES.md: 169 4688 events in the dev set
    result = evaluate(rules, events, {})
    assert all(not any("could not be evaluated" in n for n in r.notes) for r in result.results)
    # The WSL file's dismhost.exe from AppData\Local\Temp is an installer pattern: filtered, not alerted.
    unusual = next(r for r in result.results if r.family == 4)
    assert "WIN10-client01" not in " ".join(unusual.hosts)
    assert all("dismhost.exe" != name for name, _ in unusual.top_processes)


def test_user_rules_report_fields_4688_lacks_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / "renamed.yml").write_text(
        "title: Renamed FTP\nid: 277a4393-446c-449a-b0ed-7fdc7795244c\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  sel: {OriginalFileName: ftp.exe}\n  filter: {Image|endswith: '\\ftp.exe'}\n"
        "  condition: sel and not filter\nlevel: medium\n", encoding="utf-8")
    (tmp_path / "registry.yml").write_text(
        "title: Reg\nlogsource: {category: registry_set, product: windows}\n"
        "detection:\n  sel: {TargetObject|contains: Run}\n  condition: sel\n", encoding="utf-8")
    (tmp_path / "broken.yml").write_text("title: [unclosed\n", encoding="utf-8")
    loaded, problems = load_rules([tmp_path])
    assert [r.title for r in loaded] == ["Renamed FTP"]
    assert loaded[0].family is None and loaded[0].missing_in_4688 == {"OriginalFileName"}
    assert any("broken.yml" in p for p in problems)
    assert any("registry.yml" in p and "process_creation" in p for p in problems)
    result = evaluate(loaded, _events([("h", r"C:\x\ftp.exe", None, "ftp")]), {})
    assert result.results[0].hits == 0
    assert any("OriginalFileName" in n for n in result.results[0].notes)


def test_exposure_counts_events_with_secrets() -> None:
    events = _events([("a", "x.exe", None, "net user bob ******** /add"), ("a", "y.exe", None, "y"),
                      ("b", "z.exe", None, "sqlcmd -P ********")])
    events["secrets_found"] = [1, 0, 1]
    got = exposure(events)
    assert (got.events_with_secrets, got.events, got.by_host) == (2, 3, {"a": 1, "b": 1})


def _store_with_events(db: Path) -> None:
    from datetime import UTC, datetime

    from auditplan.collect.interface import Host, HostResult, HostStatus, SampledEvent, VolumeSample
    from auditplan.store import Store

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    ps = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
    events = tuple(
        SampledEvent(time=now, event_id=4688, version=2, new_process_name=ps if i < 3 else r"C:\Windows\System32\svchost.exe",
                     parent_process_name=r"C:\Windows\explorer.exe", subject_user_name="alice",
                     command_line="powershell -w hidden -c x" if i < 3 else "svchost -k x", size_bytes=1500,
                     secrets_found=1 if i == 5 else 0)
        for i in range(10)
    )
    volume = VolumeSample(window_start=now.replace(hour=0) , window_end=now.replace(hour=23), hourly_4688=(100,) * 24)
    with Store(db) as store:
        store.save_result(HostResult(host=Host(name="web01", address="web01"), status=HostStatus.OK, reason="",
                                     collected_at=now, events=events, volume=volume))


def test_cli_evaluate_json_and_exports(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditplan.cli import main

    db = tmp_path / "store.db"
    _store_with_events(db)
    runner = CliRunner()
    result = runner.invoke(main, ["detections", "evaluate", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["family"] for r in rows} == {1, 2, 3, 4, 5}
    hidden = next(r for r in rows if r["family"] == 3)
    assert set(hidden) >= {"id", "title", "family", "hits", "alerts_per_day", "hosts"}
    assert hidden["hits"] == 3 and hidden["hosts"] == {"web01": 3}
    # 3 of 10 sampled events, at the sampled 2,400 4688/day (100 per hour) -> 720 alerts/day, by hand.
    assert hidden["alerts_per_day"] == pytest.approx(720.0)
    table = runner.invoke(main, ["detections", "evaluate", "--db", str(db)])
    assert table.exit_code == 0 and "1 command line(s) exposed a credential" in table.output
    out = tmp_path / "rules"
    assert runner.invoke(main, ["detections", "export", "--out", str(out)]).exit_code == 0
    assert len(list(out.glob("*.yml"))) == 5
    spl = tmp_path / "q.spl"
    result = runner.invoke(main, ["detections", "export", "--format", "splunk", "--out", str(spl)])
    assert result.exit_code == 0, result.output
    text = spl.read_text()
    assert text.count("EventCode=4688") == 5 and 'NewProcessName="*\\\\reg.exe"' in text
    missing = runner.invoke(main, ["detections", "evaluate", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "none.db" in missing.output
