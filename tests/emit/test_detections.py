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

    from auditplan.records import Host, HostResult, HostStatus, SampledEvent, VolumeSample
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
    doc = json.loads(result.stdout)
    rows = doc["rules"]
    assert {r["family"] for r in rows} == {1, 2, 3, 4, 5}
    # event 5 of _store_with_events has secrets_found=1 (counted at collection)
    assert doc["exposure"] == {"events_with_secrets": 1, "events": 10, "by_host": {"web01": 1}}
    hidden = next(r for r in rows if r["family"] == 3)
    assert set(hidden) >= {"id", "title", "family", "hits", "alerts_per_day", "hosts"}
    assert hidden["hits"] == 3 and hidden["hosts"] == {"web01": 3}
    # 3 of 10 sampled events, at the sampled 2,400 4688/day (100 per hour) -> 720 alerts/day, by hand.
    # The range: 3 hits, Garwood's exact 80 % Poisson interval 1.1021 .. 6.6808 (chi-square tables:
    # chi2(0.10; 6) / 2 and chi2(0.90; 8) / 2), as a ratio to the 3 hits.
    assert hidden["alerts_per_day"] == pytest.approx({"p10": 720 * 1.1021 / 3, "p50": 720.0, "p90": 720 * 6.6808 / 3},
                                                     rel=1e-4)
    # 15 minutes per alert by default (defaults.toml [detections]): 720 alerts -> 180 hours/day at p50.
    assert hidden["analyst_hours_per_day"]["p50"] == pytest.approx(180.0)
    assert doc["minutes_per_alert"]["value"] == 15.0 and "assumption" in doc["minutes_per_alert"]["source"]
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


_USER_HEAD = "logsource: {category: process_creation, product: windows}\nlevel: medium\ndetection:\n"


def test_cli_export_skips_broken_rules_with_a_warning_and_takes_yaml(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from auditplan.cli import main

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: [unclosed\n", encoding="utf-8")
    (rules / "mine.yaml").write_text(f"title: Mine\nid: 31111111-2222-4333-8444-555555555555\n{_USER_HEAD}"
                                     "  sel: {CommandLine|contains: zzmimizz}\n  condition: sel\n", encoding="utf-8")
    runner = CliRunner()
    spl = tmp_path / "q.spl"
    result = runner.invoke(main, ["detections", "export", "--format", "splunk", "--rules", str(rules),
                                  "--out", str(spl)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    assert "broken.yml" in result.stderr and "skipped" in result.stderr
    text = spl.read_text(encoding="utf-8")
    assert text.count("EventCode=4688") == 6 and "zzmimizz" in text
    sigma_out = tmp_path / "sigma"
    result = runner.invoke(main, ["detections", "export", "--rules", str(rules), "--out", str(sigma_out)])
    assert result.exit_code == 0 and "broken.yml" in result.stderr
    assert sorted(p.name for p in sigma_out.iterdir() if not p.name.startswith("family")) == [
        "mine.runbook.md", "mine.yaml"]  # each rule with its triage runbook (issue 18)


# Original authors of the SigmaHQ rules the built-in families derive from, typed by hand from the SigmaHQ
# rule files (reference detections-and-peers.md 1.1, 1.2, 1.5 names the ids). DRL 1.1 requires the credit.
SIGMAHQ_AUTHORS = {
    "8e2b24c9-4add-46a0-b4bb-0057b4e6187d": "Florian Roth",
    "67f113fa-e23d-4271-befa-30113b3e08b1": "E.M. Anhaus",
    "06b401f4-107c-4ff9-947f-9ec1e7649f1e": "Victor Sergeev",
    "de587dce-915e-4218-aac4-835ca6af6f70": "Swachchhanda Shrawan Poudel",
    "b98d0db6-511d-45de-ad02-e82a98729620": "Nasreddine Bencherchali",
    "3dfd06d2-eaf4-4532-9555-68aca59f57c4": "Tim Shelton",
}


@pytest.mark.parametrize("family", [1, 2, 4, 5])
def test_rules_derived_from_sigmahq_credit_the_authors(family: int) -> None:
    import yaml

    (path,) = builtin_rules_dir().glob(f"family{family}_*.yml")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    derived = [r["id"] for r in doc.get("related", []) if r["type"] == "derived"]
    assert derived, path.name
    for source in derived:
        assert SIGMAHQ_AUTHORS[source] in doc["author"], (path.name, source)
        assert source[:8] in doc["author"] and source[:8] in doc["description"]
    assert doc["license"] == "DRL-1.1"
    assert any("SigmaHQ/sigma" in ref for ref in doc["references"])


PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"


def test_hosts_without_command_line_are_named_and_not_scored(rules) -> None:  # type: ignore[no-untyped-def]
    # "seen" samples command lines; "blind" (100,000 4688/day) has none. 30 of 40 sampled events carry a
    # CommandLine (75 %), above the fleet-wide threshold, so only a per-host check can notice "blind".
    rows = ([("seen", PS, None, "powershell -w hidden -c x")] * 3 + [("seen", r"C:\x\svc.exe", None, "svc")] * 27
            + [("blind", PS, None, None)] * 9 + [("blind", r"C:\Users\Public\p.exe", None, None)])
    result = evaluate(rules, _events(rows), {"seen": 1_000.0, "blind": 100_000.0})
    assert result.hosts_without_command_line == ("blind",)
    (warning,) = [w for w in result.warnings if "blind" in w]
    assert "seen" not in warning and "cannot be evaluated" in warning
    hidden = next(r for r in result.results if r.family == 3)
    assert hidden.hosts_not_evaluated == ("blind",)
    assert any("blind" in n and "cannot be evaluated" in n for n in hidden.notes)
    # seen only: 3/30 of 1,000/day = 100 (by hand); blind's volume is not folded in as zero hits
    assert hidden.alerts_per_day == pytest.approx(100.0) and set(hidden.alerts_per_day_by_host) == {"seen"}
    # An image-only rule still reads blind: 1/10 of 100,000/day = 10,000 (by hand)
    folder = next(r for r in result.results if r.family == 4)
    assert folder.hosts_not_evaluated == () and folder.alerts_per_day == pytest.approx(10_000.0)


def test_only_hosts_without_command_line_give_no_alerts_per_day(rules) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(rules, _events([("blind", PS, None, None)] * 5), {"blind": 50_000.0})
    hidden = next(r for r in result.results if r.family == 3)
    assert hidden.alerts_per_day is None and hidden.hosts_not_evaluated == ("blind",)


def test_exposure_counts_the_redaction_marker() -> None:
    from auditplan.records import REDACTED

    events = _events([("a", "net.exe", None, f"net user bob {REDACTED} /add"), ("a", "y.exe", None, "y"),
                      ("b", "sqlcmd.exe", None, f"sqlcmd -S db -U sa -P {REDACTED}"), ("b", "z.exe", None, None)])
    got = exposure(events)  # no secrets_found column: e.g. events redacted before auditplan saw them
    assert (got.events_with_secrets, got.events, got.by_host) == (2, 4, {"a": 1, "b": 1})


def test_cli_evaluate_json_names_hosts_without_command_line_and_exposure(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from auditplan.cli import main
    from auditplan.records import REDACTED, Host, HostResult, HostStatus, SampledEvent, VolumeSample
    from auditplan.store import Store

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    Row = tuple[str, str | None, int]  # image, redacted command line, secrets_found
    seen: list[Row] = [(PS, "powershell -w hidden -c x", 0), (PS, f"powershell -c $p = '{REDACTED}'", 1)]
    blind: list[Row] = [(PS, None, 0)] * 10
    samples = {"seen01": seen + [(r"C:\x\svc.exe", "svc", 0)] * 8, "blind01": blind}
    db = tmp_path / "store.db"
    with Store(db) as store:
        for name, rows in samples.items():
            events = tuple(SampledEvent(time=now, event_id=4688, version=2, new_process_name=image,
                                        parent_process_name=None, subject_user_name="alice", command_line=cmd,
                                        size_bytes=1500, secrets_found=found) for image, cmd, found in rows)
            volume = VolumeSample(window_start=now.replace(hour=0), window_end=now.replace(hour=23),
                                  hourly_4688=(100,) * 24)
            store.save_result(HostResult(host=Host(name=name, address=name), status=HostStatus.OK, reason="",
                                         collected_at=now, events=events, volume=volume))
    result = CliRunner().invoke(main, ["detections", "evaluate", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["hosts_without_command_line"] == ["blind01"]
    assert doc["exposure"] == {"events_with_secrets": 1, "events": 20, "by_host": {"seen01": 1}}
    hidden = next(r for r in doc["rules"] if r["family"] == 3)
    assert hidden["hosts_not_evaluated"] == ["blind01"]
    # seen01: 1 of 10 sampled at 2,400/day = 240 (by hand); blind01 is not in it
    assert hidden["alerts_per_day"]["p50"] == pytest.approx(240.0)
    assert "blind01" in result.stderr
    table = CliRunner().invoke(main, ["detections", "evaluate", "--db", str(db)])
    assert "could not be evaluated on 1 host(s)" in table.stdout and "blind01" in table.stdout
    assert "seen01 1" in table.stdout


def test_simulator_secret_templates_are_fake_redacted_and_rare() -> None:
    """The demo's credential-bearing command lines: obviously fake, redacted by the collector, ~1 % of starts."""
    from importlib import resources

    from auditplan.collect.redact import redact
    from auditplan.records import REDACTED

    doc = json.loads(resources.files("auditplan.simulator").joinpath("data/event_templates.json")
                     .read_text(encoding="utf-8"))
    process = [t for t in doc["templates"] if t["kind"] == "process"]
    with_secret = [t for t in process if "Example-Not-A-Real" in dict(t["data"])["CommandLine"]]
    assert len(with_secret) >= 5
    for t in with_secret:
        cmd = dict(t["data"])["CommandLine"]
        redacted, found = redact(cmd)
        assert found >= 1 and "Example-Not-A-Real" not in redacted and REDACTED in redacted
    # every other credential-looking value in the templates is absent (only the fake ones are planted)
    assert not any("Password=" in dict(t["data"])["CommandLine"] for t in process if t not in with_secret)
    benign = [t for t in process if t["mix"] == "benign"]
    share = sum(t["weight"] for t in benign if t in with_secret) / sum(t["weight"] for t in benign)
    assert 0.005 <= share <= 0.02  # "about 1 % of process starts" (tools/build_event_templates.py DERIVED_BENIGN_SECRETS)


def test_exposure_trusts_the_collectors_count_where_known() -> None:
    from auditplan.records import REDACTED

    events = _events([("a", "net.exe", None, f"net user bob {REDACTED} /add"),
                      ("a", "x.exe", None, f"x {REDACTED}"), ("b", "y.exe", None, f"y {REDACTED}")])
    events["secrets_found"] = pd.array([1, 0, None], dtype="Int64")  # b's count is unknown: the marker decides
    got = exposure(events)
    assert (got.events_with_secrets, got.by_host) == (2, {"a": 1, "b": 1})


@pytest.mark.parametrize(
    ("detection", "fires", "expected", "not_expected"),
    [
        ("  sel: {Image|endswith: '\\x.exe', OriginalFileName: X.EXE}\n  condition: sel\n",
         False, "can never match", "alternatives"),
        ("  sel:\n    - Image|endswith: '\\x.exe'\n    - OriginalFileName: X.EXE\n  condition: sel\n",
         True, "only in alternatives (OR)", "never match on 4688"),
        ("  sel: {Image|endswith: '\\x.exe'}\n  filter: {ParentCommandLine|contains: updater}\n"
         "  condition: sel and not filter\n", True, "noisier on 4688", "can never match"),
        # a `null` filter on a field 4688 lacks always applies: the rule is dead, not noisier
        ("  sel: {Image|endswith: '\\x.exe'}\n  filter: {CurrentDirectory: null}\n  condition: sel and not filter\n",
         False, "can never match", "noisier"),
    ],
    ids=["and", "or", "filter", "null-filter"],
)
def test_fields_4688_lacks_are_classified_by_use(tmp_path: Path, detection: str, fires: bool, expected: str,
                                                 not_expected: str) -> None:
    rule = tmp_path / "user.yml"
    rule.write_text(f"title: user\n{_USER_HEAD}{detection}", encoding="utf-8")
    loaded, problems = load_rules([rule])
    assert problems == []
    (result,) = evaluate(loaded, _events([("h", r"C:\x\x.exe", None, "x.exe")]), {}).results
    assert (result.hits > 0) is fires  # what Sigma itself says on a 4688 event (the field is NULL)
    notes = " ".join(result.notes)
    assert expected in notes and not_expected not in notes, notes
    assert "AND-ed" not in notes or not fires


def test_cli_evaluate_user_rules_with_field_names_in_any_case(tmp_path: Path) -> None:
    """`commandline` is CommandLine (it crashed CREATE TABLE with a duplicate column before); unknown fields
    spelt two ways share one NULL column."""
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from auditplan.cli import main
    from auditplan.records import Host, HostResult, HostStatus, SampledEvent, VolumeSample
    from auditplan.store import Store

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    rows = [(r"C:\Users\bob\Desktop\m64\mimikatz.exe", "mimikatz.exe privilege::debug sekurlsa::logonpasswords")]
    rows += [(r"C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs")] * 9
    db = tmp_path / "store.db"
    with Store(db) as store:
        events = tuple(SampledEvent(time=now, event_id=4688, version=2, new_process_name=image, parent_process_name=None,
                                    subject_user_name="alice", command_line=cmd, size_bytes=1500, secrets_found=0)
                       for image, cmd in rows)
        store.save_result(HostResult(host=Host(name="web01", address="web01"), status=HostStatus.OK, reason="",
                                     collected_at=now, events=events,
                                     volume=VolumeSample(window_start=now.replace(hour=0),
                                                         window_end=now.replace(hour=23), hourly_4688=(100,) * 24)))
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "lower.yml").write_text(f"title: Lower\n{_USER_HEAD}  sel:\n    commandline|contains: mimikatz\n"
                                     "    image|endswith: '\\mimikatz.exe'\n  condition: sel\n", encoding="utf-8")
    (rules / "upper.yml").write_text(f"title: Upper\n{_USER_HEAD}  sel: {{COMMANDLINE|contains: SEKURLSA}}\n"
                                     "  condition: sel\n", encoding="utf-8")
    (rules / "unknown.yml").write_text(f"title: Unknown\n{_USER_HEAD}  sel: {{FooBar: x}}\n  filter: {{foobar: y}}\n"
                                       "  condition: sel and not filter\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["detections", "evaluate", "--db", str(db), "--rules", str(rules), "--json"])
    assert result.exit_code == 0, result.output
    assert result.exception is None and "Traceback" not in result.output
    by_title = {r["title"]: r for r in json.loads(result.stdout)["rules"]}
    # one matching event of 10 sampled at 2,400 4688/day -> 240 alerts/day (by hand)
    for title in ("Lower", "Upper"):
        assert by_title[title]["hits"] == 1 and by_title[title]["hosts"] == {"web01": 1}
        assert by_title[title]["alerts_per_day"]["p50"] == pytest.approx(240.0)
        assert not any("could not be evaluated" in n for n in by_title[title]["notes"])
    assert by_title["Unknown"]["hits"] == 0
    assert not any("could not be evaluated" in n for n in by_title["Unknown"]["notes"])
    loaded, problems = load_rules([rules / "lower.yml"])
    assert problems == [] and loaded[0].fields == {"CommandLine", "NewProcessName"} and loaded[0].uses_command_line


def test_splunk_export_reads_field_names_in_any_case(tmp_path: Path) -> None:
    from auditplan.emit.detections import export_queries

    rule = tmp_path / "lower.yml"
    rule.write_text(f"title: Lower\n{_USER_HEAD}  sel: {{commandline|contains: mimikatz, image|endswith: '\\m.exe'}}\n"
                    "  condition: sel\n", encoding="utf-8")
    ((_, query),), problems = export_queries([rule], "splunk")
    # windows-audit maps Image (not image) to NewProcessName; CommandLine keeps its 4688 name
    assert problems == [] and 'CommandLine="*mimikatz*"' in query and 'NewProcessName="*\\\\m.exe"' in query
