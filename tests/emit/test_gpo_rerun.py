"""GPO output across runs: GUIDs follow each wave's content, a re-run replaces its earlier backups.

Import-GPO -BackupGpoName imports the most recent backup with that display name (reference §B4), so
one --out folder must never hold two backups of one GPO name after a re-run.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gpo_helpers import plan_doc, tree_digest, write

from auditplan.cli import main
from auditplan.emit.gpo import DEFAULT_BACKUP_TIME, PlanError, parse_plan
from auditplan.emit.gpo_outdir import MARKER, OutputConflict

MANIFEST_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"
GUID_DIR = re.compile(r"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}")


def _host(name: str, p50: float = 1000.0, **extra: Any) -> dict[str, Any]:
    # The float estimates are what changes between two demo runs; none of them is GPO content.
    return {"host": name, "change": "enable_4688", "events_per_day_p50": p50, "gb_day_p90": p50 / 7e5,
            "recommended_log_max_size_mb": 512, **extra}


def _two_waves(plan_id: str = "plan-a", p50: float = 1000.0) -> dict[str, Any]:
    return plan_doc([_host("dc01", p50)], [_host("web01", p50 * 1.3), _host("sql01", p50 / 3)], plan_id=plan_id)


def _backup_names(out: Path) -> list[tuple[str, str, str]]:
    """(folder, GPODisplayName, BackupTime) of every backup folder under out/backups."""
    found = []
    for info in sorted((out / "backups").glob("*/bkupInfo.xml")):
        root = ET.parse(info).getroot()
        found.append((info.parent.name, root.findtext(f"{{{MANIFEST_NS}}}GPODisplayName") or "",
                      root.findtext(f"{{{MANIFEST_NS}}}BackupTime") or ""))
    return found


def test_same_waves_give_identical_backups_whatever_the_plan_id_and_estimates(tmp_path: Path) -> None:
    first = write(tmp_path / "a", _two_waves("plan-a", 1000.0))
    second = write(tmp_path / "b", _two_waves("plan-b", 1234.5678))
    assert [o.backup_guid for o in first] == [o.backup_guid for o in second]
    assert [o.gpo_guid for o in first] == [o.gpo_guid for o in second]
    assert tree_digest(tmp_path / "a" / "backups") == tree_digest(tmp_path / "b" / "backups")
    for wave in ("wave-00", "wave-01"):
        assert tree_digest(tmp_path / "a" / wave) == tree_digest(tmp_path / "b" / wave)
    # Host order within a wave is not content (the set of hosts is).
    shuffled = _two_waves("plan-c")
    shuffled["waves"][1]["hosts"].reverse()
    assert [o.backup_guid for o in write(tmp_path / "c", shuffled)] == [o.backup_guid for o in first]


@pytest.mark.parametrize(
    ("change", "changed_waves"),
    [
        ("move sql01 to wave 0", {0, 1}),
        ("rename host", {1}),
        ("name prefix", {0, 1}),
        ("include failure", {0, 1}),
        ("log size", {0, 1}),
        ("wave name", {0}),
    ],
)
def test_what_a_gpo_contains_changes_its_guids(tmp_path: Path, change: str, changed_waves: set[int]) -> None:
    base = write(tmp_path / "base", _two_waves())
    plan = _two_waves()
    options: dict[str, Any] = {}
    if change == "move sql01 to wave 0":
        plan["waves"][0]["hosts"].append(plan["waves"][1]["hosts"].pop())
    elif change == "rename host":
        plan["waves"][1]["hosts"][0]["host"] = "web02"
    elif change == "name prefix":
        options["name_prefix"] = "SEC 4688"
    elif change == "include failure":
        options["include_failure"] = True
    elif change == "log size":
        options["log_max_size_mb"] = 1024
    elif change == "wave name":
        plan["waves"][0]["name"] = "canary"
    other = write(tmp_path / "other", plan, **options)
    for a, b in zip(base, other, strict=True):
        assert (a.backup_guid != b.backup_guid) == (a.wave in changed_waves), (change, a.wave)
        assert (a.gpo_guid != b.gpo_guid) == (a.wave in changed_waves), (change, a.wave)
        assert a.backup_guid != a.gpo_guid


def test_rerun_into_the_same_folder_leaves_one_backup_per_gpo_name(tmp_path: Path) -> None:
    out = tmp_path / "out"
    three = plan_doc([_host("dc01")], [_host("web01")], [_host("sql01")])
    old = write(out, three)
    mine = out / "my-notes.txt"
    mine.write_text("kept", encoding="utf-8")
    user_file = old[2].backup_dir / "notes.txt"  # a user's file inside a backup folder that goes stale
    user_file.write_text("kept", encoding="utf-8")
    # Second run: wave 1 has other hosts (new GUID), wave 2 no longer exists.
    new = write(out, plan_doc([_host("dc01")], [_host("web01"), _host("app01")]))
    assert new[0].backup_guid == old[0].backup_guid and new[1].backup_guid != old[1].backup_guid

    backups = [b for b in _backup_names(out)]
    names = [name for _folder, name, _time in backups]
    assert sorted(names) == sorted(o.display_name for o in new)  # one backup per GPO name
    assert {folder for folder, _n, _t in backups} == {o.backup_guid for o in new}
    assert not old[1].backup_dir.exists()  # only our files were in it: gone entirely
    # The stale wave-2 folder held a user's file: that file stays, every file of ours is gone.
    assert [p.name for p in old[2].backup_dir.rglob("*")] == ["notes.txt"]
    assert mine.read_text(encoding="utf-8") == "kept" and user_file.read_text(encoding="utf-8") == "kept"
    assert not (out / "wave-02").exists()
    manifest = ET.parse(out / "backups" / "manifest.xml").getroot()
    assert [i.findtext(f"{{{MANIFEST_NS}}}ID") for i in manifest] == [o.backup_guid for o in new]


def test_output_of_the_version_before_the_marker_is_recognised(tmp_path: Path) -> None:
    # Built by hand as the previous release wrote it: no marker, bkupInfo Comment "auditplan plan <id> wave <n>".
    out = tmp_path / "out"
    stale = out / "backups" / "{11111111-2222-3333-4444-555555555555}"
    (stale / "DomainSysvol" / "GPO" / "Machine").mkdir(parents=True)
    (stale / "bkupInfo.xml").write_text(
        f'<BackupInst xmlns="{MANIFEST_NS}"><GPOGuid><![CDATA[{{AAAAAAAA-2222-3333-4444-555555555555}}]]></GPOGuid>'
        "<BackupTime><![CDATA[2000-01-01T00:00:00]]></BackupTime><ID><![CDATA[{11111111-2222-3333-4444-555555555555}]]>"
        "</ID><Comment><![CDATA[auditplan plan 0123abcd wave 0]]></Comment>"
        "<GPODisplayName><![CDATA[auditplan 4688 - wave 00 (pilot)]]></GPODisplayName></BackupInst>\r\n",
        encoding="utf-8")
    (stale / "Backup.xml").write_text("<x/>", encoding="utf-8")
    (stale / "DomainSysvol" / "GPO" / "Machine" / "registry.pol").write_bytes(b"PReg\x01\x00\x00\x00")
    new = write(out, _two_waves())
    assert not stale.exists()
    assert [name for _f, name, _t in _backup_names(out)].count(new[0].display_name) == 1
    assert json.loads((out / MARKER).read_text(encoding="utf-8"))["tool"] == "auditplan gpo"


def test_a_foreign_backup_with_one_of_our_names_stops_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    foreign = out / "backups" / "{99999999-8888-7777-6666-555555555555}"
    foreign.mkdir(parents=True)
    info = (f'<BackupInst xmlns="{MANIFEST_NS}"><BackupTime><![CDATA[2030-01-01T00:00:00]]></BackupTime>'
            "<Comment><![CDATA[made in GPMC]]></Comment>"
            "<GPODisplayName><![CDATA[AUDITPLAN 4688 - wave 01 (wave 1)]]></GPODisplayName></BackupInst>")
    (foreign / "bkupInfo.xml").write_text(info, encoding="utf-8")
    with pytest.raises(OutputConflict, match=re.escape(str(foreign))):
        write(out, _two_waves())
    assert (foreign / "bkupInfo.xml").read_text(encoding="utf-8") == info  # untouched
    assert not (out / "wave-00").exists()  # nothing written
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_two_waves()), encoding="utf-8")
    result = CliRunner().invoke(main, ["gpo", "--plan", str(plan_file), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Import-GPO -BackupGpoName" in result.output and foreign.name in result.output


def test_a_tampered_marker_deletes_nothing_outside_our_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("x", encoding="utf-8")
    (out / "mine.ps1").write_text("x", encoding="utf-8")
    (out / MARKER).write_text(json.dumps({"tool": "auditplan gpo", "files": [
        "../victim.txt", str(victim), "mine.ps1", "wave-00/../../victim.txt"]}), encoding="utf-8")
    write(out, _two_waves())
    assert victim.exists() and (out / "mine.ps1").exists()


def test_backup_time_comes_from_the_plan_when_it_has_one(tmp_path: Path) -> None:
    write(tmp_path / "none", _two_waves())
    assert {t for _f, _n, t in _backup_names(tmp_path / "none")} == {DEFAULT_BACKUP_TIME}
    dated = _two_waves()
    dated["created_at"] = "2026-11-20T09:30:15+01:00"
    outputs = write(tmp_path / "dated", dated)
    assert {t for _f, _n, t in _backup_names(tmp_path / "dated")} == {"2026-11-20T08:30:15"}  # UTC, as GPMC
    report = (outputs[0].backup_dir / "gpreport.xml").read_bytes()[2:].decode("utf-16-le")
    assert "<CreatedTime>2026-11-20T08:30:15</CreatedTime>" in report
    bad = _two_waves()
    bad["created_at"] = "last tuesday"
    with pytest.raises(PlanError, match=r"created_at: not an ISO 8601 time"):
        parse_plan(bad, "plans/plan.json")
