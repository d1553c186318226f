"""Who can read the Security log, end to end (issue 18): real pywinrm against the simulator, whose
`wevtutil gl Security` prints each host's channelAccess as Windows does (reference tool-outputs §3.1).

The expected readers are typed from the SDDL given to each simulated host and Microsoft's SID table,
not from the parser's output.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from integration_fleet import PASSWORD, USERNAME, profile, serving, write_hosts_csv

from auditplan.cli import main
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.fleet import FleetError, parse_fleet
from auditplan.store import Store

DEFAULT = "O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)"
CUSTOM_GROUP = "S-1-5-21-1004336348-1177238915-682003330-1105"


def test_survey_json_names_the_readers_and_flags_grants_beyond_the_default(tmp_path: Path, tls: TlsMaterial) -> None:
    hosts = [profile("plain01"), profile("broad01", security_channel_access=DEFAULT + "(A;;0x1;;;AU)"),
             profile("custom01", security_channel_access=DEFAULT + f"(A;;0x1;;;{CUSTOM_GROUP})")]
    with serving(hosts, auth="ntlm", tls=tls) as server:
        inventory = write_hosts_csv(tmp_path / "hosts.csv", server, ["plain01", "broad01", "custom01"])
        db = tmp_path / "a.db"
        result = CliRunner().invoke(
            main, ["survey", str(inventory), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
                   "--ca-bundle", str(tls.ca_cert), "--timeout", "60", "--json", "--no-progress"],
            env={"AP_PW": PASSWORD}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {row["host"]: row for row in json.loads(result.stdout)}
    assert rows["plain01"]["security_log_readers"] == ["S-1-5-18", "S-1-5-32-544", "S-1-5-32-573"]
    assert rows["plain01"]["security_log_reader_names"] == [
        "NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators", "BUILTIN\\Event Log Readers"]
    assert rows["plain01"]["security_log_readers_beyond_default"] == []
    assert rows["plain01"]["security_log_broad_readers"] is False
    assert rows["broad01"]["security_log_readers_beyond_default"] == ["S-1-5-11"]
    assert rows["broad01"]["security_log_reader_names"][-1] == "NT AUTHORITY\\Authenticated Users"
    assert rows["broad01"]["security_log_broad_readers"] is True
    assert rows["custom01"]["security_log_readers_beyond_default"] == [CUSTOM_GROUP]
    assert rows["custom01"]["security_log_reader_names"][-1] is None  # a group only the domain can name
    assert rows["custom01"]["security_log_broad_readers"] is False
    # the store keeps it (a HostResult field added after the schema: extra_json)
    with Store(db) as store:
        stored = {r.host.name: r for r in store.load_results()}
    access = stored["broad01"].security_channel_access
    assert access is not None and access.sddl == DEFAULT + "(A;;0x1;;;AU)"


def test_a_malformed_sddl_in_the_fleet_file_names_the_host() -> None:
    text = ('[[hosts]]\nname = "ok01"\n\n[[hosts]]\nname = "bad01"\n'
            'security_channel_access = "O:BAG:SYD:(A;;0x1;;;AU"\n')
    try:
        parse_fleet(text, "fleet.toml")
    except FleetError as exc:
        message = str(exc)
    else:
        raise AssertionError("a malformed SDDL was accepted")
    assert "bad01" in message and "security_channel_access" in message and "SDDL" in message
    assert "ok01" not in message
