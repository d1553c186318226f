"""`auditplan noise` and `auditplan forwarding`: the ranking, the proof that no filter blinds a rule,
and bad input (a plan from another store, an empty sample, a filter file naming no real field)."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import forwarding_fixtures as ff  # tests/emit/, on sys.path under pytest's default import mode
import pandas as pd
import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.emit.api import detection_rules, evaluate_events, noise_report, write_forwarding, write_report
from auditplan.emit.forwarding.filters import NoiseFilter
from auditplan.emit.forwarding.safety import check_filters
from auditplan.model import api as model

RULES = {r.family: r.title for r in detection_rules().rules}
FAMILY3 = RULES[3]  # hidden PowerShell


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> ff.Fixture:
    return ff.make_store(tmp_path_factory.mktemp("noise") / "out")


def _attack_events(paths: list[Path]) -> pd.DataFrame:
    rows = []
    for xml in ff.real_4688_xml(paths):
        d = ff.event_data(ff.strip_namespaces(xml))
        rows.append({"host": "attack", "event_id": 4688, "new_process_name": d.get("NewProcessName"),
                     "parent_process_name": d.get("ParentProcessName"), "subject_user_name": d.get("SubjectUserName"),
                     "command_line": d.get("CommandLine")})
    return pd.DataFrame(rows)


def test_ranking_weights_hosts_by_volume_and_says_how_sure(fixture: ff.Fixture) -> None:
    ranking = model.noise(fixture.db)
    fleet = ranking.scope(model.NOISE_FLEET)
    # Every host samples the same mix (6, 3, 2, 1 of 12), so each share is that fraction whatever the weights.
    shares = {(p.new_process_name, p.parent_process_name): p for p in fleet}
    svchost = shares[(ff.SVCHOST, ff.SERVICES)]
    assert fleet[0] is svchost and math.isclose(svchost.share, 6 / 12)
    assert math.isclose(shares[(ff.CONHOST, ff.CMD)].share, 3 / 12)
    assert math.isclose(shares[(ff.POWERSHELL, ff.EXPLORER)].share, 1 / 12)
    assert svchost.share_low < svchost.share < svchost.share_high
    # Unequal weights: fewer effective events than sampled ones, so a wider interval than plain Wilson on 72.
    totals = ranking.totals_of(model.NOISE_FLEET)
    assert totals is not None and totals.sampled_events == 72 and totals.effective_n < 72
    projection = model.project(fixture.db)
    fleet_gb = float(projection.fleet["gb_day_p50"].iloc[0])
    assert math.isclose(svchost.gb_day_p50, 0.5 * fleet_gb, rel_tol=1e-9)
    assert svchost.gb_day_low < svchost.gb_day_p50 < svchost.gb_day_high
    roles = {t.scope for t in ranking.totals} - {model.NOISE_FLEET}
    assert roles == {"web_server", "domain_controller", "member_server"}
    web = {(p.new_process_name, p.parent_process_name): p for p in ranking.scope("web_server")}
    assert web[(ff.DLLHOST, ff.SVCHOST)].events == 4 and math.isclose(web[(ff.DLLHOST, ff.SVCHOST)].share, 2 / 12)


def test_proposals_refuse_the_pair_a_rule_fires_on(fixture: ff.Fixture) -> None:
    report = noise_report(fixture.db)
    verdicts = {(p.pair.new_process_name, p.pair.parent_process_name): p.verdict for p in report.proposals}
    assert verdicts[(ff.SVCHOST, ff.SERVICES)].accepted
    assert verdicts[(ff.CONHOST, ff.CMD)].accepted
    refused = verdicts[(ff.POWERSHELL, ff.EXPLORER)]
    assert not refused.accepted and FAMILY3 in refused.rules_on_dropped and FAMILY3 in refused.rules_on_probes
    assert {f.fields["NewProcessName"] for f in report.accepted} == {ff.SVCHOST, ff.CONHOST, ff.DLLHOST}
    mid, low, high = report.saving()
    assert low < mid < high and math.isclose(mid, sum(p.pair.gb_day_p50 for p in report.proposals
                                                       if p.verdict.accepted))
    doc = report.document()
    assert doc["filters"] == [f.document() for f in report.accepted]
    assert "hidden" not in json.dumps(doc)  # command lines (secrets) are never shown


def test_probe_refuses_a_filter_no_sampled_event_betrays() -> None:
    """No sampled event of powershell under cmd.exe is an attack, but a canary attack command line
    run as that process is: the filter is refused."""
    rules = detection_rules().rules
    benign = pd.DataFrame([{"host": "h", "event_id": 4688, "new_process_name": ff.POWERSHELL,
                            "parent_process_name": ff.CMD, "subject_user_name": "svc", "command_line": ff.BENIGN_PS}])
    (ps,) = check_filters([NoiseFilter.of({"NewProcessName": ff.POWERSHELL, "ParentProcessName": ff.CMD})],
                          rules, benign)
    assert not ps.accepted and ps.rules_on_dropped == () and FAMILY3 in ps.rules_on_probes
    # Without a parent, the filter also drops what ftp.exe starts (family 2 keys on the parent).
    (child,) = check_filters([NoiseFilter.of({"NewProcessName": ff.CONHOST})], rules, benign)
    assert not child.accepted and RULES[2] in child.rules_on_probes


def test_no_accepted_filter_drops_an_attack_the_rules_catch(fixture: ff.Fixture, evtx_dev_dir: Path) -> None:
    """The real attack EVTX (GPL-3.0 ones read in place): the rules' hits there survive every accepted filter,
    whether or not the attack events were part of the proof."""
    attacks = _attack_events(sorted(evtx_dev_dir.glob("*.evtx")))
    assert len(attacks) > 100
    hits = evaluate_events(attacks, {})
    assert sum(r.hits for r in hits.results) > 0
    rules = detection_rules().rules
    for attack_events in (None, attacks):
        report = noise_report(fixture.db, attack_events=attack_events)
        assert report.accepted
        for f in report.accepted:
            dropped = attacks[f.mask(attacks)]
            assert all(r.hits == 0 for r in evaluate_events(dropped, {}, rules).results), f.label()
    # A filter made from an attack's own pair is refused once the attack events are in the proof.
    hidden = attacks[attacks["command_line"].fillna("").str.contains("-w hidden", case=False)
                     & attacks["new_process_name"].fillna("").str.lower().str.endswith("powershell.exe")].iloc[0]
    fields = {"NewProcessName": hidden["new_process_name"], "ParentProcessName": hidden["parent_process_name"]}
    f = NoiseFilter.of({k: v for k, v in fields.items() if isinstance(v, str) and v})  # v1 events have no parent
    (verdict,) = check_filters([f], rules, pd.DataFrame(columns=attacks.columns), attacks)
    assert not verdict.accepted and FAMILY3 in verdict.rules_on_dropped


def test_forwarding_writes_every_format_with_the_accepted_filters(fixture: ff.Fixture, tmp_path: Path) -> None:
    out = tmp_path / "fwd"
    result = CliRunner().invoke(main, ["forwarding", "--plan", str(fixture.plan), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "WEC collector(s) at 3,000 events/s" in result.output
    inputs = (out / "splunk" / "inputs.conf").read_text()
    assert sum(line.startswith("blacklist") for line in inputs.splitlines()) == 3
    assert "powershell" not in inputs.lower()
    assert (out / "wef" / "auditplan-4688-wave-00.xml").read_text().count("<Suppress") == 3
    assert {p.name for p in out.iterdir()} == {"wef", "splunk", "sentinel", "winlogbeat", "README.md"}
    none = tmp_path / "none"
    result = CliRunner().invoke(main, ["forwarding", "--plan", str(fixture.plan), "--out", str(none), "--no-filters",
                                       "--format", "wef,winlogbeat"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in none.iterdir()} == {"wef", "winlogbeat", "README.md"}
    assert "Suppress" not in (none / "wef" / "auditplan-4688-wave-00.xml").read_text()


def test_forwarding_takes_a_filter_file_from_noise_json(fixture: ff.Fixture, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["noise", "--db", str(fixture.db), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # stderr names the plan found beside the store
    doc["filters"] = doc["filters"][:1]
    path = tmp_path / "filters.json"
    path.write_text(json.dumps(doc))
    written = write_forwarding(fixture.plan, tmp_path / "fwd", filters_path=path, formats=["splunk"])
    assert [f.fields for f in written.filters] == [doc["filters"][0]["match"]]


@pytest.mark.parametrize(("content", "message"), [
    ({"filters": [{"match": {"NewProcessNmae": "C:\\x.exe"}}]}, "names no 4688 field auditplan can filter on: "
                                                                 "NewProcessNmae"),
    ({"filters": [{"match": {}}]}, "naming at least one field"),
    ({"rules": []}, 'expected a JSON object with a "filters" list'),
    ({"filters": [{"match": {"NewProcessName": ff.POWERSHELL, "ParentProcessName": ff.EXPLORER}}]},
     f"{FAMILY3}"),
])
def test_bad_filter_file_names_the_file_and_writes_nothing(fixture: ff.Fixture, tmp_path: Path,
                                                           content: object, message: str) -> None:
    path = tmp_path / "filters.json"
    path.write_text(json.dumps(content))
    out = tmp_path / "fwd"
    result = CliRunner().invoke(main, ["forwarding", "--plan", str(fixture.plan), "--out", str(out),
                                       "--filters", str(path)])
    assert result.exit_code == 2 and str(path) in result.output and message in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_plan_from_another_store_is_refused(fixture: ff.Fixture, tmp_path: Path) -> None:
    other = ff.make_store(tmp_path / "other", scale=3.0)
    out = tmp_path / "fwd"
    result = CliRunner().invoke(main, ["forwarding", "--plan", str(fixture.plan), "--db", str(other.db),
                                       "--out", str(out)])
    assert result.exit_code == 2 and "made from another store" in result.output and str(other.db) in result.output
    assert not out.exists()


def test_empty_sample_names_the_store(tmp_path: Path) -> None:
    empty = ff.make_store(tmp_path / "empty", events=False)
    result = CliRunner().invoke(main, ["noise", "--db", str(empty.db)])
    assert result.exit_code == 2 and "no sampled 4688 events" in result.output and str(empty.db) in result.output
    out = tmp_path / "fwd"
    result = CliRunner().invoke(main, ["forwarding", "--plan", str(empty.plan), "--out", str(out)])
    assert result.exit_code == 2 and "no sampled 4688 events" in result.output and not out.exists()
    assert "--no-filters writes the configs" in result.output


def test_noise_table_names_the_top_contributors(fixture: ff.Fixture) -> None:
    result = CliRunner().invoke(main, ["noise", "--db", str(fixture.db)])
    assert result.exit_code == 0, result.output
    fleet = result.output.split("\n\n")[1].splitlines()
    assert fleet[0].startswith("(fleet): 72 sampled events from 6 of 6 host(s)")
    assert "svchost.exe <- C:\\Windows\\System32\\services.exe" in fleet[1] and "50.0%" in fleet[1]
    assert "REFUSE" in result.output and "ACCEPT" in result.output


def test_filter_mask_is_case_insensitive_equality() -> None:
    frame = pd.DataFrame({"new_process_name": ["C:\\A.exe", "c:\\a.EXE", "C:\\A.exe2", None],
                          "parent_process_name": ["p", "P", "p", "p"]})
    f = NoiseFilter.of({"NewProcessName": "c:\\a.exe", "ParentProcessName": "p"})
    assert f.mask(frame).tolist() == [True, True, False, False]
    ET.fromstring(f"<x>{f.label()}</x>".replace("\\", "/"))  # a label is plain text


def test_project_shows_volume_with_and_without_filters(fixture: ff.Fixture, tmp_path: Path) -> None:
    """The three accepted filters drop 11 of every host's 12 sampled events: 11/12 of the volume."""
    path = tmp_path / "filters.json"
    path.write_text(json.dumps(noise_report(fixture.db).document()))
    result = CliRunner().invoke(main, ["project", "--db", str(fixture.db), "--siem", "splunk-xml",
                                       "--filters", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["siem"]["splunk-xml"]
    filtered, fleet = doc["filtered"], doc["fleet"]
    assert filtered["filters"] == 3 and math.isclose(filtered["share"], 11 / 12)
    assert math.isclose(filtered["gb_day_without_p50"], fleet["gb_day_p50"])
    assert math.isclose(filtered["gb_day_with_p50"], fleet["gb_day_p50"] / 12)
    assert filtered["gb_day_with_low"] < filtered["gb_day_with_p50"] < filtered["gb_day_with_high"]
    text = CliRunner().invoke(main, ["project", "--db", str(fixture.db), "--siem", "splunk-xml", "--filters", str(path)])
    assert "With the 3 noise filter(s) of" in " ".join(text.output.split())
    bad = tmp_path / "bad.json"
    bad.write_text('{"filters": [{"match": {"Image": "x.exe"}}]}')
    result = CliRunner().invoke(main, ["project", "--db", str(fixture.db), "--filters", str(bad)])
    assert result.exit_code == 2 and str(bad) in result.output and "Image" in result.output


def test_report_shows_volume_with_the_filters_of_noise_json(tmp_path: Path) -> None:
    fx = ff.make_store(tmp_path / "out")
    noise = fx.plan.parent / "noise.json"
    noise.write_text(json.dumps(noise_report(fx.db).document()))
    written = write_report(fx.db, tmp_path / "r.html", plan_path=fx.plan)
    html = written.html.read_text(encoding="utf-8")
    line = html.split('<p id="noise-filters">', 1)[1].split("</p>", 1)[0]
    assert "With the 3 noise filter(s) of noise.json" in line and "drop 92%" in line
    # An edited file whose filter blinds a rule is not shown; the terminal is told why.
    noise.write_text(json.dumps({"filters": [{"match": {"NewProcessName": ff.POWERSHELL,
                                                        "ParentProcessName": ff.EXPLORER}}]}))
    written = write_report(fx.db, tmp_path / "r2.html", plan_path=fx.plan)
    assert 'id="noise-filters"' not in written.html.read_text(encoding="utf-8")
    assert any("noise filters not shown" in w for w in written.warnings)


def test_a_format_that_cannot_be_written_leaves_nothing_half_written(fixture: ff.Fixture, tmp_path: Path) -> None:
    """Ten filters (safe: no rule fires on them) render as WEF but not as Splunk (blacklist1..9):
    the run stops before writing anything, WEF included."""
    path = tmp_path / "filters.json"
    path.write_text(json.dumps({"filters": [{"match": {"NewProcessName": f"C:\\Windows\\System32\\tool{i}.exe",
                                                       "ParentProcessName": ff.SERVICES}} for i in range(10)]}))
    out = tmp_path / "fwd"
    result = CliRunner().invoke(main, ["forwarding", "--plan", str(fixture.plan), "--out", str(out),
                                       "--filters", str(path), "--format", "wef,splunk"])
    assert result.exit_code == 2 and "at most 9 blacklists" in result.output, result.output
    assert not out.exists()


def test_a_hostile_process_name_is_ranked_but_never_proposed(tmp_path: Path) -> None:
    """A host's event whose NewProcessName carries a line break (a .conf injection, invalid XML) is shown
    in the ranking but no filter is made of it, and every config still writes."""
    from auditplan.records import Host, HostResult, HostStatus, SampledEvent
    from auditplan.store import Store

    fx = ff.make_store(tmp_path / "out")
    hostile = "C:\\x.exe\n[WinEventLog://Security]\ndisabled = 1"
    events = tuple(SampledEvent(time=ff.NOW, event_id=4688, version=2, new_process_name=hostile,
                                parent_process_name=ff.SERVICES, subject_user_name="svc", command_line="x",
                                size_bytes=1500) for _ in range(12))
    with Store(fx.db) as store:
        store.save_result(HostResult(host=Host(name="app02", address="app02", role="member_server", site="lon"),
                                     status=HostStatus.OK, reason="", collected_at=ff.NOW, events=events))
    report = noise_report(fx.db)
    assert any(p.new_process_name == hostile for p in report.ranking.scope(model.NOISE_FLEET))
    assert all(p.pair.new_process_name != hostile for p in report.proposals)
    written = write_forwarding(fx.plan, tmp_path / "fwd")
    inputs = (tmp_path / "fwd" / "splunk" / "inputs.conf").read_text()
    assert "disabled = 1" not in inputs and written.filters
