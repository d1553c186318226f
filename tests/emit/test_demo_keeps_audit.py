"""Done-when of issue 14 on the demo fleet: every wave host whose audit policy is local or Windows'
default keeps every subcategory it had on (as the survey read it over WinRM), in the audit.csv of
its wave's GPO as Samba's parser reads it; hosts whose policy a domain GPO delivers get Process
Creation only."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from samba_gpo import audit_settings

from auditplan.cli import main
from auditplan.records import read_plan
from auditplan.store import Store

BITS = {"none": 0, "success": 1, "failure": 2, "success_and_failure": 3}
PC = "{0cce922b-69ae-11d9-bed3-505054503030}"


@pytest.mark.slow
def test_demo_wave_gpos_keep_every_local_and_default_hosts_subcategories(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run = CliRunner().invoke(main, ["demo", "--out", str(out)], catch_exceptions=False)
    assert run.exit_code == 0, run.stdout + run.stderr
    with Store(out / "auditplan.db") as store:
        surveyed = {r.host.name: r for r in store.load_results(source="winrm")}
    plan = read_plan(out / "plan.json")
    gpo = out / "gpo"
    checked = {"local": 0, "default": 0, "gpo": 0}
    for wave in plan.waves:
        folders = {"": gpo / f"wave-{wave.number:02d}", "gpo": gpo / f"wave-{wave.number:02d}-gpo"}
        members = {kind: set((f / "hosts.txt").read_text().split()) if (f / "hosts.txt").exists() else set()
                   for kind, f in folders.items()}
        for planned in wave.hosts:
            if planned.host not in surveyed:  # ingested from EVTX only: source unknown, in the union GPO
                assert planned.audit_policy_source is None and planned.host in members[""]
                continue
            result = surveyed[planned.host]
            source = result.audit_policy_source
            assert source == planned.audit_policy_source
            kind = "gpo" if source == "gpo" else ""
            assert planned.host in members[kind], (planned.host, source)
            backup = _backup_of(gpo, folders[kind])
            got = audit_settings(backup)
            if source == "gpo":
                assert set(got) == {PC}
            else:
                assert result.audit is not None and result.audit.subcategories
                for sub in result.audit.subcategories:
                    bits = BITS[sub.setting.value]
                    if sub.guid != PC and bits:
                        assert got.get(sub.guid, 0) & bits == bits, (planned.host, sub)
            checked[source or "unknown"] = checked.get(source or "unknown", 0) + 1
    assert checked["local"] and checked["default"] and checked["gpo"], checked


def _backup_of(gpo: Path, script_dir: Path) -> Path:
    """The backup folder a wave's scripts import: rollout.ps1's backup is named by its GPO's display
    name in the manifest; hosts.txt and the backup share the folder's GPO (one backup per folder)."""
    import xml.etree.ElementTree as ET

    ns = "{http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest}"
    rollout = (script_dir / "rollout.ps1").read_text(encoding="utf-8-sig")
    line = next(ln for ln in rollout.splitlines() if ln.startswith("$GpoName = '"))
    name = line[len("$GpoName = '"):-1].replace("''", "'")
    root = ET.parse(gpo / "backups" / "manifest.xml").getroot()
    for inst in root.iter(f"{ns}BackupInst"):
        if inst.findtext(f"{ns}GPODisplayName") == name:
            return gpo / "backups" / str(inst.findtext(f"{ns}ID")).strip()
    raise AssertionError(f"no backup named {name!r}")
