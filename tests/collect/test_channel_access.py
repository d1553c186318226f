"""Who can read the Security log (issue 18): the channelAccess SDDL of `wevtutil gl Security`.

Samba's SDDL parser (python3-samba, run under Debian's python3) is the independent oracle for which
principals an SDDL allows to read; the expected names and flags are typed from Microsoft's SID tables.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from auditplan.collect.parse.channel_access import (
    DEFAULT_SECURITY_CHANNEL_ACCESS,
    SddlError,
    parse_channel_access,
    parse_sddl,
)
from auditplan.collect.parse.tools import ParseError

SYSTEM_PYTHON = Path("/usr/bin/python3")
ORACLE = Path(__file__).with_name("sddl_oracle.py")
DOMAIN = "S-1-5-21-1111-2222-3333"
# reference windows-tool-outputs.md §3.1, verbatim
GL_TEXT = (
    "name: Security\r\nenabled: true\r\ntype: Admin\r\nowningPublisher:\r\nisolation: Custom\r\n"
    "channelAccess: O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)\r\nlogging:\r\n"
    "  logFileName: %SystemRoot%\\System32\\Winevt\\Logs\\Security.evtx\r\n  retention: false\r\n"
    "  autoBackup: false\r\n  maxSize: 20971520\r\npublishing:\r\n  fileMax: 1\r\n"
)
SDDLS = [
    DEFAULT_SECURITY_CHANNEL_ACCESS,
    DEFAULT_SECURITY_CHANNEL_ACCESS + "(A;;0x1;;;AU)",
    DEFAULT_SECURITY_CHANNEL_ACCESS + "(A;;0x1;;;WD)(A;;0x1;;;S-1-5-20)",
    DEFAULT_SECURITY_CHANNEL_ACCESS + f"(A;;0x1;;;{DOMAIN}-1105)",
    DEFAULT_SECURITY_CHANNEL_ACCESS + "(A;;GR;;;DU)",
    DEFAULT_SECURITY_CHANNEL_ACCESS + "(A;;GA;;;BU)",
    DEFAULT_SECURITY_CHANNEL_ACCESS + "(A;;0x2;;;AU)",  # write only: not a reader
    "O:BAG:SYD:(D;;0x1;;;WD)(A;;0xf0005;;;SY)(A;;0x1;;;WD)",  # denied read wins
    "O:BAG:SYD:PAI(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x3;;;BO)(A;;0x5;;;SO)(A;;0x1;;;IU)",
    "O:BAG:SYD:(A;;CC;;;NS)(A;;0x5;;;BA)",  # CC is 0x1
]
BAD = ["O:BAG:SYD:(A;;0x1;;;S-1-5-32-573", "O:BAG:SYD:(Q;;0x1;;;BA)", "O:BAG:SYD:(A;;0x1;;BA)",
       "O:BAG:SYD:(A;;0x1;;;not-a-sid)"]


def _oracle(lines: list[str]) -> list[dict[str, object]]:
    if not SYSTEM_PYTHON.exists() or subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import samba.dcerpc.security"], capture_output=True, check=False
    ).returncode:
        if os.environ.get("CI"):
            pytest.fail("python3-samba is not installed: tests/setup.sh installs it; the SDDL oracle must run in CI")
        pytest.skip("Debian's python3-samba is not installed (tests/setup.sh installs it when run as root)")
    out = subprocess.run([str(SYSTEM_PYTHON), str(ORACLE), DOMAIN], input="\n".join(lines), capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    return [json.loads(line) for line in out.stdout.splitlines()]


def _samba_readers(doc: dict[str, object]) -> set[str]:
    """SIDs an allow ACE grants read (0x1, generic read or all) and no deny ACE takes back."""
    reads = 0x1 | 0x80000000 | 0x10000000
    aces = doc["aces"]
    assert isinstance(aces, list)
    denied = {sid for kind, mask, sid in aces if kind == 1 and mask & reads}
    return {sid for kind, mask, sid in aces if kind == 0 and mask & reads} - denied


def _ours(sddl: str) -> set[str]:
    domain_rid = {"DU": 513, "DC": 515, "DG": 514, "DA": 512}
    return {f"{DOMAIN}-{domain_rid[r.sid]}" if r.sid in domain_rid else r.sid for r in parse_sddl(sddl).readers}


def test_readers_agree_with_samba() -> None:
    for sddl, doc in zip(SDDLS, _oracle(SDDLS), strict=True):
        assert "error" not in doc, (sddl, doc)
        assert _ours(sddl) == _samba_readers(doc), sddl


def test_malformed_sddl_is_refused_by_both() -> None:
    for sddl, doc in zip(BAD, _oracle(BAD), strict=True):
        assert "error" in doc, sddl
        with pytest.raises(SddlError):
            parse_sddl(sddl)
    with pytest.raises(SddlError):  # Samba reads "0xZZ" as 0; a mask that is not hex is refused here
        parse_sddl("O:BAG:SYD:(A;;0xZZ;;;BA)")


def test_default_acl_has_no_reader_beyond_default() -> None:
    access = parse_channel_access(GL_TEXT)
    assert access is not None and not isinstance(access, ParseError)
    assert [(r.sid, r.name) for r in access.readers] == [
        ("S-1-5-18", "NT AUTHORITY\\SYSTEM"), ("S-1-5-32-544", "BUILTIN\\Administrators"),
        ("S-1-5-32-573", "BUILTIN\\Event Log Readers")]
    assert access.beyond_default == () and access.broad == ()


def test_grants_beyond_the_default_are_flagged_and_broad_groups_named() -> None:
    access = parse_sddl(DEFAULT_SECURITY_CHANNEL_ACCESS + f"(A;;0x1;;;AU)(A;;0x1;;;{DOMAIN}-1105)(A;;0x1;;;NS)")
    extra = {r.sid: r for r in access.beyond_default}
    assert set(extra) == {"S-1-5-11", f"{DOMAIN}-1105", "S-1-5-20"}
    assert extra["S-1-5-11"].name == "NT AUTHORITY\\Authenticated Users" and extra["S-1-5-11"].broad
    assert extra[f"{DOMAIN}-1105"].name is None and not extra[f"{DOMAIN}-1105"].broad  # a custom group
    assert extra["S-1-5-20"].name == "NT AUTHORITY\\NETWORK SERVICE" and not extra["S-1-5-20"].broad
    assert [r.sid for r in access.broad] == ["S-1-5-11"]
    assert parse_sddl(DEFAULT_SECURITY_CHANNEL_ACCESS + f"(A;;0x1;;;{DOMAIN}-513)").broad[0].name == "Domain Users"


def test_no_dacl_means_everyone() -> None:
    # Windows: a descriptor without a DACL (or NO_ACCESS_CONTROL) denies no one
    for sddl in ("O:BAG:SY", "O:BAG:SYD:NO_ACCESS_CONTROL"):
        assert [(r.sid, r.broad) for r in parse_sddl(sddl).readers] == [("S-1-1-0", True)]


def test_host_output_malformed_or_missing() -> None:
    bad = parse_channel_access(GL_TEXT.replace("(A;;0x1;;;S-1-5-32-573)", "(A;;0x1;;;S-1-5-32-573"))
    assert isinstance(bad, ParseError) and "malformed SDDL" in bad.message and "channelAccess" in bad.message
    assert parse_channel_access("name: Security\r\nlogging:\r\n  maxSize: 1\r\n") is None
    assert isinstance(parse_channel_access("channelAccess: " + "(" * 20_000), ParseError)
