"""Fleet TOML `audit.source` (simulator/audit_source.py): parsed and checked, the audit.csv files a
host has for each source, and a demo fleet with hosts of every kind the survey tells apart."""

from __future__ import annotations

from collections import Counter

import pytest

from auditplan.simulator.fleet import FleetError, demo_fleet, parse_fleet
from auditplan.simulator.host import SimulatedHost

APPLIED = "C:\\Windows\\security\\audit\\audit.csv"
LOCAL_GPO = "C:\\Windows\\System32\\GroupPolicy\\Machine\\Microsoft\\Windows NT\\Audit\\audit.csv"
FLEET = """
[[hosts]]
name = "g"
audit = { source = "gpo", process_creation = "success", subcategories = { "{0CCE9215-69AE-11D9-BED3-505054503030}" = "failure" } }
[[hosts]]
name = "lg"
audit = { source = "local_gpo", subcategories = { "{0CCE9224-69AE-11D9-BED3-505054503030}" = "success" } }
[[hosts]]
name = "d"
audit = { source = "default" }
"""


def test_each_source_has_its_files() -> None:
    hosts = {p.name: SimulatedHost(p) for p in parse_fleet(FLEET, "t.toml").profiles}
    applied = hosts["g"].fs.read(APPLIED)
    assert applied is not None and hosts["g"].fs.read(LOCAL_GPO) is None
    lines = applied.decode().split("\r\n")
    assert lines[0].endswith(",Setting Value") and lines[-1] == ""
    assert ",{0cce9215-69ae-11d9-bed3-505054503030},Failure,,2" in applied.decode()
    assert ",{0cce922b-69ae-11d9-bed3-505054503030},Success,,1" in applied.decode()
    assert hosts["lg"].fs.read(APPLIED) == hosts["lg"].fs.read(LOCAL_GPO) is not None
    assert hosts["d"].fs.read(APPLIED) is None and hosts["d"].fs.read(LOCAL_GPO) is None
    # cmd's pushd/popd (the probe reads the files relative to %windir%) come back to the start folder.
    out = hosts["g"].run('pushd "%windir%"&type security\\audit\\audit.csv&popd&cd')
    assert out.stdout.startswith(b"Machine Name,") and out.stdout.endswith(b"C:\\Users\\auditor\r\n")


def test_a_bad_source_is_named() -> None:
    with pytest.raises(FleetError, match="source"):
        parse_fleet('[[hosts]]\nname = "x"\naudit = { source = "domain" }\n', "t.toml")


def test_the_demo_fleet_has_hosts_of_every_source() -> None:
    sources = Counter(p.audit.source for p in demo_fleet().profiles)
    assert sources["gpo"] >= 3 and sources["default"] >= 3 and sources["local"] >= 3
