"""GPO output across runs: GUIDs follow each wave's content, a re-run replaces its earlier backups.

Import-GPO -BackupGpoName imports the most recent backup with that display name (reference §B4), so
one --out folder must never hold two backups of one GPO name after a re-run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gpo_helpers import plan_doc, stamped, tree_digest, write

from auditplan.cli import main
from auditplan.emit.gpo import outdir as gpo_outdir
from auditplan.emit.gpo.backups import DEFAULT_BACKUP_TIME, GpoOptions, write_backups
from auditplan.emit.gpo.outdir import LOCK, MARKER, OutputConflict
from auditplan.records import PlanError, parse_plan

MANIFEST_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"
GUID_DIR = re.compile(r"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}")


def _host(name: str, p50: float = 1000.0, **extra: Any) -> dict[str, Any]:
    # The float estimates are what changes between two demo runs; none of them is GPO content.
    return {"host": name, "change": "enable_4688", "events_per_day_p50": p50, "gb_day_p90": p50 / 7e5,
            "recommended_log_max_size_mb": 512, **extra}


def _two_waves(p50: float = 1000.0) -> dict[str, Any]:
    return plan_doc([_host("dc01", p50)], [_host("web01", p50 * 1.3), _host("sql01", p50 / 3)])


def _backup_names(out: Path) -> list[tuple[str, str, str]]:
    """(folder, GPODisplayName, BackupTime) of every backup folder under out/backups."""
    found = []
    for info in sorted((out / "backups").glob("*/bkupInfo.xml")):
        root = ET.parse(info).getroot()
        found.append((info.parent.name, root.findtext(f"{{{MANIFEST_NS}}}GPODisplayName") or "",
                      root.findtext(f"{{{MANIFEST_NS}}}BackupTime") or ""))
    return found


def test_same_waves_give_identical_backups_whatever_the_plan_id_and_estimates(tmp_path: Path) -> None:
    first = write(tmp_path / "a", _two_waves(1000.0))
    second = write(tmp_path / "b", _two_waves(1234.5678))
    assert _two_waves(1000.0)["plan_id"] != _two_waves(1234.5678)["plan_id"]  # two plans, one set of waves
    assert [o.backup_guid for o in first] == [o.backup_guid for o in second]
    assert [o.gpo_guid for o in first] == [o.gpo_guid for o in second]
    assert tree_digest(tmp_path / "a" / "backups") == tree_digest(tmp_path / "b" / "backups")
    for wave in ("wave-00", "wave-01"):
        assert tree_digest(tmp_path / "a" / wave) == tree_digest(tmp_path / "b" / wave)
    # Host order within a wave is not content (the set of hosts is).
    shuffled = _two_waves()
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
    before = _listing(out)
    # No SHA-256 shows these files unchanged, so they are deleted only with --force; kept, the backup
    # would compete with this run's under one GPO name, so the run stops and says so.
    with pytest.raises(OutputConflict, match=r"bkupInfo\.xml: with no SHA-256 recorded.*--force to delete it"):
        write(out, _two_waves())
    assert _listing(out) == before
    new = write_backups(parse_plan(_two_waves()), out, GpoOptions(), force=True)
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


def _cli(plan_file: Path, out: Path, *extra: str) -> Any:
    return CliRunner().invoke(main, ["gpo", "--plan", str(plan_file), "--out", str(out), *extra])


def _plan_file(tmp_path: Path, plan: dict[str, Any]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(stamped(plan)), encoding="utf-8")
    return path


def _listing(root: Path) -> list[str]:
    """Every entry under root as written on disk, links not followed."""
    return sorted(p.relative_to(root).as_posix() + ("@" if p.is_symlink() else "") for p in root.rglob("*"))


@pytest.mark.parametrize("link", ["wave-07", "README.md", "backups", "wave-00"])
def test_nothing_is_deleted_or_written_through_a_symbolic_link(tmp_path: Path, link: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / ("README.md" if link == "README.md" else "rollout.ps1")
    original = b"\xef\xbb\xbf# someone else's file\r\nGenerated by auditplan\r\n"
    victim.write_bytes(original)
    out = tmp_path / "out"
    out.mkdir()
    # wave-07: a stale wave the marker lists, a link to a folder elsewhere (the run would delete its
    # rollout.ps1); README.md: a link to a file elsewhere (the run would overwrite it); backups and
    # wave-00: links to a folder elsewhere that this run writes into.
    (out / link).symlink_to(victim if link == "README.md" else elsewhere)
    (out / MARKER).write_text(json.dumps({"tool": "auditplan gpo", "files": [
        "README.md", "wave-07/rollout.ps1", "wave-00/rollout.ps1"]}), encoding="utf-8")
    before = _listing(out)
    with pytest.raises(OutputConflict, match=re.escape(f"{link} is a symbolic link")):
        write(out, _two_waves())
    assert victim.read_bytes() == original and sorted(p.name for p in elsewhere.iterdir()) == [victim.name]
    assert _listing(out) == before  # nothing written, nothing deleted
    result = _cli(_plan_file(tmp_path, _two_waves()), out, "--force")  # --force does not cross links either
    assert result.exit_code == 2 and "Traceback" not in result.output and "symbolic link" in result.output
    assert victim.read_bytes() == original and _listing(out) == before


def test_a_symbolic_link_marker_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text(json.dumps({"tool": "auditplan gpo", "files": []}), encoding="utf-8")
    original = victim.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).symlink_to(victim)
    with pytest.raises(OutputConflict, match="symbolic link"):
        write(out, _two_waves())
    assert victim.read_bytes() == original and _listing(out) == [MARKER + "@"]


def test_files_the_tool_did_not_write_stop_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "wave-00").mkdir(parents=True)
    mine = {"README.md": b"# My project\n", "wave-00/rollout.ps1": b"Write-Output 'mine'\r\n",
            "wave-00/hosts.txt": b"my-host\r\n"}
    for rel, data in mine.items():
        (out / rel).write_bytes(data)
    before = _listing(out)
    with pytest.raises(OutputConflict) as caught:
        write(out, _two_waves())
    for rel in mine:
        assert rel in str(caught.value)
    assert _listing(out) == before and all((out / rel).read_bytes() == data for rel, data in mine.items())
    plan_file = _plan_file(tmp_path, _two_waves())
    result = _cli(plan_file, out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "README.md" in result.output and "empty folder" in result.output and "--force" in result.output
    assert _listing(out) == before
    # --force overwrites them and records the files as auditplan's from then on.
    assert _cli(plan_file, out, "--force").exit_code == 0
    assert (out / "README.md").read_bytes() != mine["README.md"]
    assert "README.md" in json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]


def test_out_dot_in_a_project_folder_leaves_the_projects_readme(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    readme = b"# project\n\nOur own README.\n"
    (project / "README.md").write_bytes(readme)
    plan_file = _plan_file(tmp_path, _two_waves())
    monkeypatch.chdir(project)
    result = _cli(plan_file, Path("."))
    assert result.exit_code == 2 and "README.md" in result.output and "Traceback" not in result.output
    assert (project / "README.md").read_bytes() == readme and _listing(project) == ["README.md"]


def test_a_readme_beside_output_of_the_version_before_the_marker_is_not_taken_for_ours(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, _two_waves())
    (out / MARKER).unlink()  # as the release before the marker left it
    (out / "README.md").write_text("# notes about these GPOs\n", encoding="utf-8")
    with pytest.raises(OutputConflict, match=r"not written by auditplan gpo: README\.md\."):
        write(out, _two_waves())
    assert (out / "README.md").read_text(encoding="utf-8") == "# notes about these GPOs\n"
    # Its own files, recognised by their content and holding what this run writes, are replaced without
    # complaint; ones it would change have no SHA-256 to show they are unedited, so they need --force.
    (out / "README.md").unlink()
    write(out, _two_waves())
    assert not (out / "README.md").read_text(encoding="utf-8").startswith("# notes")
    (out / MARKER).unlink()
    with pytest.raises(OutputConflict, match=r"no SHA-256 recorded.*wave-01/rollout\.ps1"):
        write(out, plan_doc([_host("dc01")], [_host("web01"), _host("app01")]))
    write_backups(parse_plan(plan_doc([_host("dc01")], [_host("web01"), _host("app01")])), out, GpoOptions(),
                  force=True)
    assert b"app01" in (out / "wave-01" / "hosts.txt").read_bytes()


def test_the_marker_records_each_files_sha256(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, _two_waves())
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    on_disk = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in out.rglob("*") if p.is_file() and p.name != MARKER}
    assert marker["sha256"] == on_disk and marker["files"] == sorted(on_disk)


def test_an_edited_file_this_run_writes_again_stops_it_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, _two_waves())
    rollout = out / "wave-00" / "rollout.ps1"
    edited = rollout.read_bytes() + b"# my change\r\n"
    rollout.write_bytes(edited)
    with pytest.raises(OutputConflict, match=r"changed since auditplan gpo wrote them: wave-00/rollout\.ps1"):
        write(out, _two_waves())
    assert rollout.read_bytes() == edited
    write_backups(parse_plan(_two_waves()), out, GpoOptions(), force=True)
    assert rollout.read_bytes() != edited and b"# my change" not in rollout.read_bytes()


def test_an_edited_stale_file_is_kept_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "out"
    three = _plan_file(tmp_path, plan_doc([_host("dc01")], [_host("web01")], [_host("sql01")]))
    assert _cli(three, out).exit_code == 0
    stale_script = out / "wave-02" / "rollout.ps1"
    stale_script.write_bytes(stale_script.read_bytes() + b"# tuned for our site\r\n")
    stale_backup = next(p for p in (out / "backups").iterdir() if p.is_dir() and "wave 02" in
                        (p / "bkupInfo.xml").read_text(encoding="utf-8"))
    (stale_backup / "gpreport.xml").write_bytes(b"edited")
    result = _cli(_plan_file(tmp_path, _two_waves()), out)
    assert result.exit_code == 0, result.output
    assert stale_script.exists() and (stale_backup / "gpreport.xml").read_bytes() == b"edited"
    for rel in ("wave-02/rollout.ps1", f"backups/{stale_backup.name}/gpreport.xml"):
        assert "warning" in result.output and str(out / rel) in result.output
    # The unchanged files of the stale wave are gone; the kept ones are no longer recorded as ours.
    assert sorted(p.name for p in (out / "wave-02").iterdir()) == ["rollout.ps1"]
    assert [p.name for p in stale_backup.rglob("*")] == ["gpreport.xml"]
    files = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
    assert not any(f.startswith(("wave-02/", f"backups/{stale_backup.name}")) for f in files)


def test_an_edited_stale_backup_naming_one_of_our_gpos_stops_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = write(out, _two_waves())
    info = old[1].backup_dir / "bkupInfo.xml"
    info.write_bytes(info.read_bytes() + b"\r\n")
    before = _listing(out)
    # Wave 1 gets another host: a new backup ID under the same GPO name, so the edited old one would compete.
    with pytest.raises(OutputConflict, match="Import-GPO -BackupGpoName"):
        write(out, plan_doc([_host("dc01")], [_host("web01"), _host("sql01"), _host("app01")]))
    assert _listing(out) == before


def test_a_file_where_a_folder_goes_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "wave-01").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(OutputConflict, match="wave-01 is not a folder"):
        write(out, _two_waves())
    assert _listing(out) == ["wave-01"]


# --- Writes replace files (hard links), digests required, locking, non-regular files, messages.

def _wave0_hosts(out: Path) -> bytes:
    return (out / "wave-00" / "hosts.txt").read_bytes()


def test_a_hard_linked_file_is_replaced_not_written_into(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, _two_waves())
    # Someone keeps a hard link to our hosts.txt elsewhere; the next run (wave 0 gets another host) must
    # replace the file in --out and leave the other name's content alone.
    outside = tmp_path / "my-hosts.txt"
    os.link(out / "wave-00" / "hosts.txt", outside)
    original = outside.read_bytes()
    write(out, plan_doc([_host("dc01"), _host("dc02")], [_host("web01"), _host("sql01")]))
    assert b"dc02" in _wave0_hosts(out) and outside.read_bytes() == original
    assert os.stat(outside).st_nlink == 1
    # No marker and --force: a foreign file hard-linked to one outside is replaced, the outside one is not touched.
    other = tmp_path / "other"
    (other / "wave-00").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    os.link(victim, other / "wave-00" / "hosts.txt")
    result = _cli(_plan_file(tmp_path, _two_waves()), other, "--force")
    assert result.exit_code == 0, result.output
    assert victim.read_bytes() == b"precious\n" and _wave0_hosts(other) == b"dc01\r\n"
    assert not [p for p in other.rglob("*") if p.name.startswith(".auditplan-tmp-")]  # no temporary file left


def _copy_without_marker(src: Path, dst: Path) -> None:
    """What `cp -r src/* dst` leaves: every file but the dot-file marker."""
    shutil.copytree(src, dst)
    (dst / MARKER).unlink()


def test_edited_files_of_a_copy_without_the_marker_stop_the_run(tmp_path: Path) -> None:
    write(tmp_path / "x", _two_waves())
    out = tmp_path / "y"
    _copy_without_marker(tmp_path / "x", out)
    rollout = out / "wave-00" / "rollout.ps1"
    edited = {rollout: rollout.read_bytes() + b"Write-Output 'site tweak'\r\n",  # header kept: still looks ours
              out / "wave-00" / "hosts.txt": b"dc01\r\nmy-extra-host\r\n"}
    for path, data in edited.items():
        path.write_bytes(data)
    before = _listing(out)
    plan_file = _plan_file(tmp_path, _two_waves())
    result = _cli(plan_file, out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "wave-00/rollout.ps1" in result.output and "wave-00/hosts.txt" in result.output
    assert "--force" in result.output
    assert _listing(out) == before and all(p.read_bytes() == d for p, d in edited.items())
    # Unedited files of the copy hold exactly what the run writes: they alone never stop it.
    for path in edited:
        path.write_bytes((tmp_path / "x" / path.relative_to(out)).read_bytes())
    assert _cli(plan_file, out).exit_code == 0
    assert (out / MARKER).exists()


def _marker_without_digests(out: Path, files: list[str]) -> None:
    (out / MARKER).write_text(json.dumps({"tool": "auditplan gpo", "files": files}), encoding="utf-8")


def test_a_marker_without_digests_overwrites_and_deletes_nothing_unproven(tmp_path: Path) -> None:
    out = tmp_path / "out"
    guid = "{12345678-1234-1234-1234-123456789ABC}"
    mine = {"README.md": b"# my notes\n", f"backups/{guid}/Backup.xml": b"<my backup/>",
            "wave-07/rollout.ps1": b"Write-Output 'mine'\r\n"}
    for rel, data in mine.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    _marker_without_digests(out, sorted(mine))
    plan_file = _plan_file(tmp_path, _two_waves())
    before = _listing(out)
    result = _cli(plan_file, out)
    assert result.exit_code == 2 and "README.md" in result.output and "no SHA-256" in result.output
    assert _listing(out) == before
    # Without README.md in the way: the stale files are kept, each named in a warning.
    (out / "README.md").unlink()
    _marker_without_digests(out, sorted(mine))
    result = _cli(plan_file, out)
    assert result.exit_code == 0, result.output
    for rel in (f"backups/{guid}/Backup.xml", "wave-07/rollout.ps1"):
        assert (out / rel).read_bytes() == mine[rel]
        assert f"warning: {out / rel}: kept" in result.output
    # Listed again (without digests, beside this run's recorded files), --force deletes them: a marker of ours
    # lists them, in shapes the tool writes.
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    marker["files"] += [f"backups/{guid}/Backup.xml", "wave-07/rollout.ps1"]
    (out / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    assert _cli(plan_file, out, "--force").exit_code == 0
    assert not (out / "wave-07").exists() and not (out / "backups" / guid).exists()


def test_a_listed_backup_folder_with_an_unlisted_bkupinfo_naming_our_gpo_stops_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    guid = "{12345678-1234-1234-1234-123456789ABC}"
    folder = out / "backups" / guid
    folder.mkdir(parents=True)
    (folder / "Backup.xml").write_bytes(b"<x/>")
    (folder / "bkupInfo.xml").write_text(
        f'<BackupInst xmlns="{MANIFEST_NS}"><Comment><![CDATA[made in GPMC]]></Comment>'
        "<GPODisplayName><![CDATA[auditplan 4688 - wave 00 (pilot)]]></GPODisplayName></BackupInst>",
        encoding="utf-8")
    _marker_without_digests(out, [f"backups/{guid}/Backup.xml"])
    with pytest.raises(OutputConflict, match="Import-GPO -BackupGpoName"):
        write(out, _two_waves())
    assert not (out / "wave-00").exists()


def _start_together(tmp_path: Path, runs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run `auditplan` once per argument list in separate processes, released at the same moment."""
    go = tmp_path / "go"
    code = ("import sys, time, pathlib\n"
            "from auditplan.cli import main\n"
            "import auditplan.cli.gpo, auditplan.emit.api\n"
            "go = pathlib.Path(sys.argv[1])\n"
            "pathlib.Path(sys.argv[2]).write_text('')\n"
            "while not go.exists(): time.sleep(0.001)\n"
            "main(sys.argv[3:])\n")
    ready = [tmp_path / f"ready{i}" for i in range(len(runs))]
    procs = [subprocess.Popen([sys.executable, "-c", code, str(go), str(flag), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for flag, args in zip(ready, runs, strict=True)]
    # Released only once every process has imported auditplan and is polling (each says so by a file).
    while not all(flag.exists() for flag in ready):
        assert all(p.poll() is None for p in procs), [p.communicate()[0] for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.write_text("", encoding="utf-8")
    done = []
    for p in procs:
        output, _ = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, output, ""))
    return done


def _many_waves(prefix: str, waves: int = 12) -> dict[str, Any]:
    return plan_doc(*[[_host(f"{prefix}{w:02d}-{i}") for i in range(3)] for w in range(waves)])


def test_two_runs_at_once_into_one_folder_leave_one_backup_per_gpo_name(tmp_path: Path) -> None:
    plans = []
    for name in ("a", "b"):
        path = tmp_path / f"plan-{name}.json"
        path.write_text(json.dumps(_many_waves(name)), encoding="utf-8")
        plans.append(path)
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        run_dir = tmp_path / f"run{attempt}"
        run_dir.mkdir()
        results = _start_together(run_dir, [["gpo", "--plan", str(p), "--out", str(out)] for p in plans])
        codes = [r.returncode for r in results]
        # Either both succeed one after the other, or one waits too long and says so; never a crash.
        assert all(c in (0, 2) for c in codes) and 0 in codes, [r.stdout for r in results]
        for r in results:
            assert "Traceback" not in r.stdout
            if r.returncode == 2:
                assert LOCK in r.stdout and "another auditplan gpo is writing" in r.stdout
        names = [name for _f, name, _t in _backup_names(out)]
        assert sorted(names) == sorted(set(names)) and len(names) == 12, attempt
        recorded = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
        on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER)
        assert recorded == on_disk  # the marker describes exactly what is there: the next run accepts it
        assert not (out / LOCK).exists()
        assert _cli(plans[0], out).exit_code == 0


def test_a_second_run_waits_for_the_lock_then_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(gpo_outdir, "LOCK_WAIT_SECONDS", 0.2)
    plan_file = _plan_file(tmp_path, _two_waves())
    with gpo_outdir.output_lock(out):
        result = _cli(plan_file, out)
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert str(out / LOCK) in result.output and "another auditplan gpo is writing" in result.output
        assert not (out / "wave-00").exists()
    assert not (out / LOCK).exists()
    assert _cli(plan_file, out).exit_code == 0 and not (out / LOCK).exists()


def test_without_flock_an_exclusively_created_lock_file_is_used(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(gpo_outdir, "_fcntl", None)
    with gpo_outdir.output_lock(out):
        assert (out / LOCK).is_file()
        with pytest.raises(OutputConflict, match="another auditplan gpo is writing"), \
                gpo_outdir.output_lock(out, wait=0.1):
            pass
    assert not (out / LOCK).exists()
    write(out, _two_waves())
    assert not (out / LOCK).exists()


def test_a_symbolic_link_at_the_lock_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    (out / LOCK).symlink_to(victim)
    with pytest.raises(OutputConflict, match=re.escape(LOCK)):
        write(out, _two_waves())
    assert not victim.exists()


def _cli_process(plan_file: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`auditplan gpo` in its own process, so a run that would hang fails the test instead of stalling it."""
    return subprocess.run([sys.executable, "-m", "auditplan", "gpo", "--plan", str(plan_file), "--out", str(out),
                           *extra], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("fifo", [MARKER, "wave-00/rollout.ps1"])
def test_a_fifo_where_a_file_is_read_stops_the_run_without_hanging(tmp_path: Path, fifo: str) -> None:
    out = tmp_path / "out"
    (out / "wave-00").mkdir(parents=True)
    os.mkfifo(out / fifo)
    result = _cli_process(_plan_file(tmp_path, _two_waves()), out)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert fifo in result.stderr and "not a regular file" in result.stderr
    assert _listing(out) == sorted(["wave-00", fifo])


def test_a_marker_beyond_the_size_cap_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # Valid JSON naming the tool, padded past the cap: only the cap stops it being read whole.
    body = json.dumps({"tool": "auditplan gpo", "files": []})
    (out / MARKER).write_text(body[:-1] + " " * gpo_outdir.MAX_MARKER_BYTES + "}", encoding="utf-8")
    with pytest.raises(OutputConflict, match=r"larger than 4 MB"):
        write(out, _two_waves())
    assert not (out / "wave-00").exists()


def test_a_recorded_file_beyond_the_size_cap_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, _two_waves())
    rollout = out / "wave-00" / "rollout.ps1"
    with rollout.open("r+b") as f:
        f.truncate(gpo_outdir.MAX_RECOGNISED_BYTES + 1)
    # Even a marker recording the big file's digest does not make it ours.
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    marker["sha256"]["wave-00/rollout.ps1"] = hashlib.sha256(rollout.read_bytes()).hexdigest()
    (out / MARKER).write_text(json.dumps(marker), encoding="utf-8")
    with pytest.raises(OutputConflict, match=r"larger than 16 MB.*wave-00/rollout\.ps1"):
        write(out, plan_doc([_host("dc01"), _host("dc02")], [_host("web01"), _host("sql01")]))
    assert rollout.stat().st_size == gpo_outdir.MAX_RECOGNISED_BYTES + 1


def test_a_dangling_out_link_is_named_as_such(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "missing")
    result = _cli(_plan_file(tmp_path, _two_waves()), out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "symbolic link" in result.output and "does not exist" in result.output
    assert "File exists" not in result.output and not (tmp_path / "missing").exists()


def test_a_file_where_a_folder_goes_is_not_called_a_link(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "wave-01").write_text("a file, not a folder", encoding="utf-8")
    with pytest.raises(OutputConflict) as caught:
        write(out, _two_waves())
    assert "wave-01 is not a folder" in str(caught.value)
    assert "symbolic link" not in str(caught.value) and "outside" not in str(caught.value)


def test_force_does_not_replace_a_backup_folder_with_our_id_and_the_help_says_so(tmp_path: Path) -> None:
    first = write(tmp_path / "ref", _two_waves())
    out = tmp_path / "out"
    theirs = out / "backups" / first[0].backup_guid
    theirs.mkdir(parents=True)
    (theirs / "notes.txt").write_text("theirs", encoding="utf-8")
    result = _cli(_plan_file(tmp_path, _two_waves()), out, "--force")
    assert result.exit_code == 2 and "backup ID" in result.output and "--force does not" in result.output
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    help_text = " ".join(CliRunner().invoke(main, ["gpo", "--help"]).output.split())
    assert "does not replace a folder, a non-regular file, or an existing backup folder" in help_text
