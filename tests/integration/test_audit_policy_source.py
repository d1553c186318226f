"""`survey --json` says where each host's audit policy comes from and gives its subcategory table,
through real pywinrm against simulated hosts whose fleet profile sets `audit.source`.

Expected values are the profiles' settings below and Microsoft's documented default table
("Audit Policy Recommendations", Windows Default column), written out by hand.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner
from integration_fleet import PASSWORD, USERNAME, profile, serving, write_hosts_csv

from auditplan.cli import main
from auditplan.records import AuditSetting
from auditplan.simulator.profile import AuditProfile

LOGON = "{0cce9215-69ae-11d9-bed3-505054503030}"
FILE_SHARE = "{0cce9224-69ae-11d9-bed3-505054503030}"
PROCESS_CREATION = "{0cce922b-69ae-11d9-bed3-505054503030}"
ON_BY_DEFAULT = {
    "{0cce9212-69ae-11d9-bed3-505054503030}": "success_and_failure",  # System Integrity
    "{0cce9214-69ae-11d9-bed3-505054503030}": "success_and_failure",  # Other System Events
    "{0cce9210-69ae-11d9-bed3-505054503030}": "success",  # Security State Change
    LOGON: "success_and_failure",
    "{0cce9216-69ae-11d9-bed3-505054503030}": "success",  # Logoff
    "{0cce9217-69ae-11d9-bed3-505054503030}": "success",  # Account Lockout
    "{0cce921b-69ae-11d9-bed3-505054503030}": "success",  # Special Logon
    "{0cce9243-69ae-11d9-bed3-505054503030}": "success_and_failure",  # Network Policy Server
    "{0cce922f-69ae-11d9-bed3-505054503030}": "success",  # Audit Policy Change
    "{0cce9230-69ae-11d9-bed3-505054503030}": "success",  # Authentication Policy Change
    "{0cce9235-69ae-11d9-bed3-505054503030}": "success",  # User Account Management
}


def _on(table: dict[str, str]) -> dict[str, str]:
    return {guid: setting for guid, setting in table.items() if setting != "none"}


def test_survey_json_names_the_source_and_the_table(tmp_path: Path) -> None:
    share = ((FILE_SHARE.upper(), AuditSetting.SUCCESS),)
    profiles = [
        profile("defaulted", audit=AuditProfile(source="default")),
        profile("tuned", audit=AuditProfile(source="local", subcategories=share)),
        profile("secpol", audit=AuditProfile(source="local_gpo", subcategories=share)),
        profile("managed", audit=AuditProfile(source="gpo", process_creation=AuditSetting.SUCCESS,
                                              subcategories=((LOGON.upper(), AuditSetting.FAILURE),))),
        profile("plain"),  # no source in its profile: the simulator's built-in table, no audit.csv
    ]
    names = [p.name for p in profiles]
    with serving(profiles) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, names)
        result = CliRunner().invoke(
            main, ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME, "--password-env",
                   "AP_PW", "--transport", "basic", "--http", "--allow-basic-over-http", "--json", "--no-progress"],
            env={"AP_PW": PASSWORD}, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    rows = {row["host"]: row for row in json.loads(result.stdout)}
    assert {name: rows[name]["audit_policy_source"] for name in names} == {
        "defaulted": "default", "tuned": "local", "secpol": "local", "managed": "gpo", "plain": "local"}
    # Every subcategory is listed, by lower-case braced GUID, with one of the four settings.
    for row in rows.values():
        table = row["audit_subcategories"]
        assert len(table) >= 50 and set(table.values()) <= {"none", "success", "failure", "success_and_failure"}
        assert all(guid == guid.lower() and guid.startswith("{") for guid in table)
    assert _on(rows["defaulted"]["audit_subcategories"]) == ON_BY_DEFAULT
    # The domain GPO replaced the host's own policy: only what it sets is on.
    assert _on(rows["managed"]["audit_subcategories"]) == {LOGON: "failure", PROCESS_CREATION: "success"}
    assert rows["tuned"]["audit_subcategories"][FILE_SHARE] == "success"


def test_survey_csv_flattens_the_table(tmp_path: Path) -> None:
    with serving([profile("defaulted", audit=AuditProfile(source="default"))]) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["defaulted"])
        result = CliRunner().invoke(
            main, ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME, "--password-env",
                   "AP_PW", "--transport", "basic", "--http", "--allow-basic-over-http", "--csv", "--no-progress"],
            env={"AP_PW": PASSWORD}, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["audit_policy_source"] == "default"
    cells = dict(item.split("=", 1) for item in row["audit_subcategories"].split(";"))
    assert _on(cells) == ON_BY_DEFAULT
