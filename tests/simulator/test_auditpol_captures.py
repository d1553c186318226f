"""auditpol on Server 2022, byte for byte against real captures (tests/data/SOURCES.md: mondoohq/mql
testdata, an English CIS-hardened WS2022 and a German WS2022): the full subcategory set including
{0CCE924B-...} Access Rights, the `/backup` row order per language, the ANSI file and OEM console
code pages; older builds without Access Rights; the usage text on a bad parameter."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditplan.records import AuditSetting
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.profile import AuditProfile, HostProfile, OSProfile

CAPTURES = Path(__file__).parents[1] / "data" / "captures"
NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
ACCESS_RIGHTS = "{0CCE924B-69AE-11D9-BED3-505054503030}"
PROCESS_CREATION = "{0CCE922B-69AE-11D9-BED3-505054503030}"
SETTING_VALUE = {"0": AuditSetting.NONE, "1": AuditSetting.SUCCESS, "2": AuditSetting.FAILURE, "3": AuditSetting.SUCCESS_AND_FAILURE}


def profile_from_backup(data: bytes, encoding: str, **kw: object) -> HostProfile:
    """A host whose settings are the capture's (read from the locale-free Setting Value column)."""
    overrides = []
    for line in data.decode(encoding).split("\r\n")[1:]:
        cols = line.split(",")
        if len(cols) == 7 and cols[3].startswith("{"):
            overrides.append((cols[3], SETTING_VALUE[cols[6]]))
    pc = dict(overrides)[PROCESS_CREATION]
    return HostProfile(audit=AuditProfile(process_creation=pc, subcategories=tuple(overrides)), **kw)  # type: ignore[arg-type]


def backup_of(profile: HostProfile) -> bytes:
    h = SimulatedHost(profile, now=NOW)
    out = h.run("auditpol /backup /file:C:\\b.csv")
    assert out.exit_code == 0, out
    return h.fs.read("C:\\b.csv") or b""


@pytest.mark.parametrize(
    ("capture", "encoding", "locale", "machine"),
    [
        ("auditpol-backup-ws2022-en-mql.csv", "cp1252", "en-US", "WS2022-CIS"),
        ("auditpol-backup-ws2022-de-mql-cp1252.csv", "cp1252", "de-DE", "WS2022-DE"),
    ],
)
def test_server_2022_backup_is_the_capture_byte_for_byte(capture: str, encoding: str, locale: str, machine: str) -> None:
    data = (CAPTURES / capture).read_bytes()
    profile = profile_from_backup(
        data, encoding, name=machine.lower(), address="127.0.0.11", computer_name=machine, locale=locale
    )
    assert backup_of(profile) == data


@pytest.mark.parametrize(
    ("capture", "locale", "machine", "console"),
    [
        ("auditpol-get-ws2022-en-mql.csv", "en-US", "WS2022-CIS", "cp437"),
        ("auditpol-get-ws2022-de-mql.csv", "de-DE", "WS2022-DE", "cp850"),
    ],
)
def test_server_2022_get_all_is_the_capture(capture: str, locale: str, machine: str, console: str) -> None:
    captured = (CAPTURES / capture).read_bytes().decode("utf-8").split("\r\n")
    # Settings from the matching backup capture of the same machine.
    backup = "auditpol-backup-ws2022-en-mql.csv" if locale == "en-US" else "auditpol-backup-ws2022-de-mql-cp1252.csv"
    profile = profile_from_backup(
        (CAPTURES / backup).read_bytes(), "cp1252", name=machine.lower(), address="127.0.0.11",
        computer_name=machine, locale=locale,
    )
    out = SimulatedHost(profile, now=NOW).run("auditpol /get /category:* /r")
    lines = out.stdout.decode(console).split("\r\n")
    # The capture dropped /get's blank second line (gpo-backup-format.md §A1); the rest is identical.
    assert lines[1] == ""
    assert [lines[0], *lines[2:]] == captured


def test_builds_before_server_2022_have_no_access_rights() -> None:
    old = SimulatedHost(HostProfile(name="s2019", address="127.0.0.11", os=OSProfile(build=17763)), now=NOW)
    new = SimulatedHost(HostProfile(name="s2022", address="127.0.0.11"), now=NOW)
    assert ACCESS_RIGHTS.encode() not in old.run("auditpol /get /category:* /r").stdout
    assert ACCESS_RIGHTS.encode() in new.run("auditpol /get /category:* /r").stdout
    assert len(backup_of(old.profile).split(b"\r\n")) == len(backup_of(new.profile).split(b"\r\n")) - 1
    refused = old.run(f"auditpol /get /subcategory:{ACCESS_RIGHTS} /r")
    assert refused.exit_code == 0x57
    assert refused.stderr == b"Error 0x00000057 occurred:\r\nThe parameter is incorrect.\r\n"


def test_a_bad_parameter_prints_the_usage_the_capture_shows() -> None:
    # windows-tool-outputs.md §2.4, jpboyce/cb_cis_windows_2016#9: an unknown subcategory name gave
    # the usage on STDOUT and "Error 0x00000057 occurred: / The parameter is incorrect." on STDERR.
    h = SimulatedHost(HostProfile(name="s2016", address="127.0.0.11", os=OSProfile(build=14393)), now=NOW)
    out = h.run('auditpol /get /subcategory:"No Such Subcategory" /r')
    assert out.stderr == b"Error 0x00000057 occurred:\r\nThe parameter is incorrect.\r\n"
    lines = out.stdout.decode("ascii").split("\r\n")
    assert lines[0] == "Usage: AuditPol command [<sub-command><options>]"
    assert lines[1] == "Commands (only one command permitted per execution)"
    assert [ln.split()[0] for ln in lines[2:11]] == [
        "/?", "/get", "/set", "/list", "/backup", "/restore", "/clear", "/remove", "/resourceSACL",
    ]
    assert lines[10].endswith("Configure global resource SACLs")
    assert lines[11] == "Use AuditPol <command> /? for details on each command"
    # A refused privilege is not a bad parameter: no usage then.
    denied = SimulatedHost(HostProfile(name="u", address="127.0.0.11", admin=False), now=NOW).run(
        f"auditpol /get /subcategory:{PROCESS_CREATION} /r"
    )
    assert denied.stdout == b""
