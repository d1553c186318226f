"""GPO backups: checked by Samba's parsers (independent), byte rules from the reference, real backups' shape."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import tree_sitter_powershell
from click.testing import CliRunner
from gpo_helpers import stamped, tree_digest
from samba_gpo import AUDIT_REL, INF_REL, POL_REL, samba_parse
from tree_sitter import Language, Node, Parser

from auditplan.cli import main
from auditplan.emit.gpo.backups import GpoOptions, write_backups
from auditplan.records import PlanError, parse_plan

BKP_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations"
MANIFEST_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"

HOSTILE = "x'; Remove-Item C:\\ -Recurse; ' <b>&amp;]]> \u2019$(calc) \"q\" \u00e9\u00df\u4e2d"


def _plan(**wave0: object) -> dict[str, object]:
    host0: dict[str, object] = {"host": "dc01.corp.example", "recommended_log_max_size_mb": 512}
    host0.update(wave0)
    return stamped({
        "schema_version": 1,
        "waves": [
            {"wave": 0, "name": "pilot", "hosts": [host0]},
            {"wave": 1, "name": "wave 1", "hosts": [{"host": "web01"}, {"host": "sql01"}]},
        ],
        "unplaced": [],
    })


def _write(tmp_path: Path, plan: dict[str, object], **options: object) -> list:  # type: ignore[type-arg]
    return write_backups(parse_plan(stamped(plan)), tmp_path, GpoOptions(**options))  # type: ignore[arg-type]


def test_samba_reads_every_payload_file(tmp_path: Path) -> None:
    outputs = _write(tmp_path, _plan(), log_max_size_mb=1024)
    for o in outputs:
        got = samba_parse(o.backup_dir)
        assert got["preg_signature"] == "PReg" and got["preg_version"] == 1
        assert got["preg_roundtrip"] is True  # Samba re-encodes our bytes identically
        assert got["entries"] == [
            {"key": r"Software\Microsoft\Windows\CurrentVersion\Policies\System\Audit",
             "value": "ProcessCreationIncludeCmdLine_Enabled", "type": 4, "size": 4, "data": 1},
            {"key": r"Software\Policies\Microsoft\Windows\EventLog\Security",
             "value": "MaxSize", "type": 4, "size": 4, "data": 1024 * 1024},
        ]
        assert got["audit_header"] == ["Machine Name", "Policy Target", "Subcategory", "Subcategory GUID",
                                       "Inclusion Setting", "Exclusion Setting", "Setting Value"]
        assert got["audit_lines"] == [{
            "Machine Name": "", "Policy Target": "System", "Subcategory": "Audit Process Creation",
            "Subcategory GUID": "{0cce922b-69ae-11d9-bed3-505054503030}", "Inclusion Setting": "Success",
            "Exclusion Setting": "", "Setting Value": "1"}]
        assert got["inf_nonempty_sections"] == ["Registry Values"]
        assert got["inf_registry_values"] == {
            r"MACHINE\System\CurrentControlSet\Control\Lsa\SCENoApplyLegacyAuditPolicy": "4,1"}


def _reference_cmdline_entry(reference_dir: Path) -> bytes:
    """The 236-byte registry.pol of reference §B9, rebuilt from the hex dump printed there."""
    text = (reference_dir / "gpo-backup-format.md").read_text(encoding="utf-8")
    section = text.split("### B9.")[1].split("### B10.")[0]
    data = bytearray(b"PReg\x01\x00\x00\x00")
    for line in section.splitlines():
        m = re.match(r"^0000[0-9a-f]{4}: ((?:[0-9a-f]{2} )*[0-9a-f]{2})", line)
        if m:
            data += bytes.fromhex(m.group(1).replace(" ", ""))
    return bytes(data)


def test_registry_pol_bytes_equal_the_real_gpmc_entry(tmp_path: Path, reference_dir: Path) -> None:
    (o, _) = _write(tmp_path, _plan())
    ours = o.backup_dir.joinpath(*POL_REL).read_bytes()
    expected = _reference_cmdline_entry(reference_dir)
    assert len(expected) == 236  # the reference says: a file with only this entry = 236 bytes
    assert ours == expected


def test_audit_csv_and_inf_bytes(tmp_path: Path) -> None:
    (o, _) = _write(tmp_path, _plan())
    csv_bytes = o.backup_dir.joinpath(*AUDIT_REL).read_bytes()
    # DESIGN.md "Emit": the exact row; UTF-8 without BOM, CRLF after every line including the last.
    assert csv_bytes == (
        b"Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting,Setting Value\r\n"
        b",System,Audit Process Creation,{0cce922b-69ae-11d9-bed3-505054503030},Success,,1\r\n"
    )
    inf = o.backup_dir.joinpath(*INF_REL).read_bytes()
    assert inf[:2] == b"\xff\xfe"
    text = inf[2:].decode("utf-16-le")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert text.splitlines()[:2] == ["[Unicode]", "Unicode=yes"]
    report = (o.backup_dir / "gpreport.xml").read_bytes()
    assert report[:2] == b"\xff\xfe"
    ET.fromstring(report[2:].decode("utf-16-le").split("?>", 1)[1])
    backup = (o.backup_dir / "Backup.xml").read_bytes()
    assert not backup.startswith(b"\xef\xbb\xbf") and backup.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert b"\n" not in backup.replace(b"\r\n", b"")
    assert (o.backup_dir / "bkupInfo.xml").read_bytes().endswith(b"</BackupInst>\r\n")


def test_include_failure_sets_value_3(tmp_path: Path) -> None:
    (o, _) = _write(tmp_path, _plan(), include_failure=True)
    assert o.backup_dir.joinpath(*AUDIT_REL).read_bytes().endswith(
        b",System,Audit Process Creation,{0cce922b-69ae-11d9-bed3-505054503030},Success and Failure,,3\r\n")


def _tags(element: ET.Element) -> list[str]:
    return [child.tag for child in element]


def _real_backups(reference_dir: Path) -> list[Path]:
    return sorted(p.parent for p in (reference_dir / "gpo-examples").rglob("Backup.xml"))


def test_structure_matches_real_gpmc_backups(tmp_path: Path, reference_dir: Path) -> None:
    (o, _) = _write(tmp_path, _plan())
    ours = ET.parse(o.backup_dir / "Backup.xml").getroot()
    ours_info = ET.parse(o.backup_dir / "bkupInfo.xml").getroot()
    real_dirs = _real_backups(reference_dir)
    assert len(real_dirs) >= 4
    for real_dir in real_dirs:
        real = ET.parse(real_dir / "Backup.xml").getroot()
        assert ours.tag == real.tag == f"{{{BKP_NS}}}GroupPolicyBackupScheme"
        assert ours.attrib == real.attrib  # bkp:version 2.0, bkp:type GroupPolicyBackupTemplate
        ours_core = ours.find(f"{{{BKP_NS}}}GroupPolicyObject/{{{BKP_NS}}}GroupPolicyCoreSettings")
        real_core = real.find(f"{{{BKP_NS}}}GroupPolicyObject/{{{BKP_NS}}}GroupPolicyCoreSettings")
        assert ours_core is not None and real_core is not None
        assert _tags(ours_core) == _tags(real_core)
        real_info = ET.parse(real_dir / "bkupInfo.xml").getroot()
        assert _tags(ours_info) == _tags(real_info) and ours_info.tag == real_info.tag
        assert ours_info.tag == f"{{{MANIFEST_NS}}}BackupInst"
        # The real ones agree with themselves: folder name = bkupInfo ID, Backup.xml ID = GPOGuid.
        assert real_dir.name == real_info.findtext(f"{{{MANIFEST_NS}}}ID")
    # Our GUIDs are consistent the same way.
    assert o.backup_dir.name == ours_info.findtext(f"{{{MANIFEST_NS}}}ID") == o.backup_guid
    assert ours.findtext(f".//{{{BKP_NS}}}GroupPolicyCoreSettings/{{{BKP_NS}}}ID") == \
        ours_info.findtext(f"{{{MANIFEST_NS}}}GPOGuid") == o.gpo_guid
    # audit.csv is an FSObjectFile of the "Unknown Extension" group, as in every real backup (§B3).
    unknown = [e for e in ours.iter(f"{{{BKP_NS}}}GroupPolicyExtension")
               if e.get(f"{{{BKP_NS}}}ID") == "{F15C46CD-82A0-4C2D-A210-5D0D3182A418}"]
    locations = [f.get(f"{{{BKP_NS}}}Location") for f in unknown[0].iter(f"{{{BKP_NS}}}FSObjectFile")]
    assert locations == ["DomainSysvol\\GPO\\Machine\\microsoft\\windows nt\\Audit\\audit.csv"]
    # Every file a Backup.xml entry points at exists in the backup.
    for f in ours.iter(f"{{{BKP_NS}}}FSObjectFile"):
        loc = f.get(f"{{{BKP_NS}}}Location")
        if loc:
            assert o.backup_dir.joinpath(*loc.split("\\")).is_file(), loc
    guids = ours.findtext(f".//{{{BKP_NS}}}MachineExtensionGuids") or ""
    groups = re.findall(r"\[([^\]]*)\]", guids)
    assert groups == sorted(groups) and len(groups) == 3
    manifest = ET.parse(tmp_path / "backups" / "manifest.xml").getroot()
    assert [i.findtext(f"{{{MANIFEST_NS}}}ID") for i in manifest] == [o.backup_guid, _.backup_guid]


def test_same_plan_gives_identical_bytes_and_other_waves_other_guids(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    first = _write(a, _plan())
    _write(b, _plan())
    assert tree_digest(a) == tree_digest(b)
    # GUIDs follow what each wave's GPO holds, not the plan id (test_gpo_rerun.py): other hosts, other GUIDs.
    other = _plan(host="dc02.corp.example")
    other["waves"][1]["hosts"] = [{"host": "web02"}]  # type: ignore[index]
    third = _write(c, other)
    assert {o.backup_guid for o in first}.isdisjoint({o.backup_guid for o in third})


def _ps_parser() -> Parser:
    return Parser(Language(tree_sitter_powershell.language()))


def _text(node: Node, errors: str = "strict") -> str:
    # Node.text is None only for a tree parsed without its source; these trees come from bytes.
    assert node.text is not None
    return node.text.decode(errors=errors)


def _errors(node: Node) -> list[str]:
    found = [_text(node, errors="replace")[:80]] if node.type == "ERROR" or node.is_missing else []
    for child in node.children:
        found += _errors(child)
    return found


def _string_literals(node: Node) -> list[str]:
    found = [_text(node)] if node.type == "verbatim_string_characters" else []
    for child in node.children:
        found += _string_literals(child)
    return found


def test_hostile_names_are_escaped_in_xml_and_powershell(tmp_path: Path) -> None:
    plan = _plan(host=HOSTILE)
    plan["waves"][0]["name"] = "pilot #> Remove-Item <# " + HOSTILE  # type: ignore[index]
    outputs = _write(tmp_path, plan, name_prefix="Corp's \"4688\" <pilot> & co")
    o = outputs[0]
    info = ET.parse(o.backup_dir / "bkupInfo.xml").getroot()
    assert info.findtext(f"{{{MANIFEST_NS}}}GPODisplayName") == o.display_name
    backup = ET.parse(o.backup_dir / "Backup.xml").getroot()
    assert backup.findtext(f".//{{{BKP_NS}}}DisplayName") == o.display_name
    report = (o.backup_dir / "gpreport.xml").read_bytes()[2:].decode("utf-16-le").split("?>", 1)[1]
    assert ET.fromstring(report).findtext("{http://www.microsoft.com/GroupPolicy/Settings}Name") == o.display_name
    parser = _ps_parser()
    for script in ("rollout.ps1", "verify.ps1", "rollback.ps1"):
        raw = (o.script_dir / script).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        tree = parser.parse(raw[3:])
        assert _errors(tree.root_node) == [], script
        literals = _string_literals(tree.root_node)
        # The hostile host name survives as exactly one single-quoted literal whose value is the name.
        decoded = [lit[1:-1].replace("''", "'").replace("\u2019\u2019", "\u2019") for lit in literals]
        assert HOSTILE in decoded, script
        # Nothing from the plan escaped into code: no command named Remove-Item or calc appears.
        commands = [_text(n) for n in _walk(tree.root_node) if n.type == "command_name"]
        assert "Remove-Item" not in commands or script == "verify.ps1"
        assert "calc" not in " ".join(commands)


def _walk(node: Node) -> list[Node]:
    nodes = [node]
    for child in node.children:
        nodes += _walk(child)
    return nodes


def test_local_settings_are_listed_or_preserved(tmp_path: Path) -> None:
    local = [{"guid": "{0cce9215-69ae-11d9-bed3-505054503030}", "setting": "success", "name": "Logon"},
             {"guid": "{0CCE9217-69AE-11D9-BED3-505054503030}", "setting": "failure", "name": "Account Lockout"}]
    # --process-creation-only (the old default) lists the host that loses them; the default keeps them.
    (o, _) = _write(tmp_path / "plain", _plan(local_subcategories=local), process_creation_only=True)
    assert o.hosts_losing_local_settings == ("dc01.corp.example",)
    assert "dc01.corp.example" in (tmp_path / "plain" / "README.md").read_text()
    (p, _) = _write(tmp_path / "kept", _plan(local_subcategories=local), preserve_local=True)
    rows = p.backup_dir.joinpath(*AUDIT_REL).read_bytes().decode().splitlines()
    assert rows[2:] == [
        ",System,Logon,{0cce9215-69ae-11d9-bed3-505054503030},Success,,1",
        ",System,Account Lockout,{0cce9217-69ae-11d9-bed3-505054503030},Failure,,2",
    ]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"schema_version": 2, "plan_id": "x", "waves": []}, "schema_version"),
        ({"schema_version": 1, "plan_id": "x", "waves": [{"wave": -1, "hosts": []}]}, "waves[0].wave"),
        ({"schema_version": 1, "plan_id": "x", "waves": [{"wave": 0, "hosts": [{"host": 7}]}]}, "hosts[0].host"),
        ({"schema_version": 1, "plan_id": "x", "waves": [{"wave": 0, "hosts": [
            {"host": "a", "local_subcategories": [{"guid": "nope", "setting": "success"}]}]}]}, "guid"),
    ],
)
def test_bad_plans_name_the_key(plan: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError, match=re.escape(message)):
        parse_plan(plan)


def test_cli_writes_backups_and_reports_bad_input(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_plan()), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["gpo", "--plan", str(plan_file), "--out", str(tmp_path / "out"),
                                  "--domain", "corp.example.com"])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 GPO backup(s)" in result.output
    assert len(list((tmp_path / "out" / "backups").glob("{*}"))) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    result = runner.invoke(main, ["gpo", "--plan", str(bad), "--out", str(tmp_path / "out2")])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "not JSON" in result.output
