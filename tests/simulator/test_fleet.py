"""Fleet TOML loading: profiles, address assignment, errors naming file/host/key, the demo fleet."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import Counter
from pathlib import Path

import pytest

from auditplan.records import AuditSetting, ProductType
from auditplan.simulator.fleet import SECTION_SCHEMAS, FleetError, demo_fleet, load_fleet, parse_fleet
from auditplan.simulator.interface import FaultSpec
from auditplan.simulator.profile import HOURLY_SHAPES

MINIMAL = """
[[hosts]]
name = "alpha"

[[hosts]]
name = "beta"
address = "127.0.0.11"

[[hosts]]
name = "gamma"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str) -> tuple[str, ...]:
    path = write(tmp_path, text)
    with pytest.raises(FleetError) as info:
        load_fleet(path)
    return info.value.errors


def test_minimal_fleet_defaults_and_address_assignment(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, MINIMAL))
    by_name = {p.name: p for p in fleet.profiles}
    # beta took .11 explicitly; the others get the next free addresses in file order.
    assert by_name["beta"].address == "127.0.0.11"
    assert by_name["alpha"].address == "127.0.0.12"
    assert by_name["gamma"].address == "127.0.0.13"
    alpha = by_name["alpha"]
    assert alpha.audit.process_creation is AuditSetting.NONE
    assert alpha.locale == "en-US"
    assert alpha.computer_name == "ALPHA.corp.example"
    assert alpha.security_log.max_size_bytes == 20971520
    assert alpha.admin is True and alpha.credentials is None


def test_defaults_roles_and_host_merge_key_by_key(tmp_path: Path) -> None:
    text = """
domain = "example.test"
[defaults]
site = "hq"
rates = { process_starts_per_day = 100.0, boots_per_day = 2.0 }

[roles.web]
os = { build = 17763, ubr = 1, product_type = "server" }
rates = { process_starts_per_day = 500.0, hourly_shape = "office" }

[[hosts]]
name = "w1"
role = "web"
rates = { other_security_events_per_day = 7.0 }
audit = { process_creation = "success", cmdline = true, force_subcategory = false, subcategories = { "{0cce9215-69ae-11d9-bed3-505054503030}" = "failure" } }
"""
    p = load_fleet(write(tmp_path, text)).profile("w1")
    assert p.site == "hq"
    assert p.computer_name == "W1.example.test"
    assert (p.os.build, p.os.product_type) == (17763, ProductType.SERVER)
    assert p.rates.process_starts_per_day == 500.0  # role over defaults
    assert p.rates.boots_per_day == 2.0  # from defaults
    assert p.rates.other_security_events_per_day == 7.0  # host
    assert p.rates.hourly_shape == HOURLY_SHAPES["office"]
    assert p.audit.cmdline_enabled is True and p.audit.force_subcategory is False
    assert p.audit.subcategories == (("{0CCE9215-69AE-11D9-BED3-505054503030}", AuditSetting.FAILURE),)


def test_count_expands_names_and_credentials_and_faults(tmp_path: Path) -> None:
    text = """
[[hosts]]
name = "ws{n:02}"
count = 3
faults = { latency_ms = 20, receive_timeouts = 2 }

[[hosts]]
name = "locked"
credentials = { username = "other", password = "not-the-fleet-password" }
"""
    fleet = load_fleet(write(tmp_path, text))
    assert [p.name for p in fleet.profiles] == ["ws01", "ws02", "ws03", "locked"]
    assert fleet.profile("ws02").faults == FaultSpec(latency_ms=20.0, receive_timeouts=2)
    locked = fleet.profile("locked")
    assert locked.credentials is not None and locked.credentials.username == "other"
    # The password is kept out of the profile's repr (it may end up in a log line).
    assert "not-the-fleet-password" not in repr(locked)
    # Seeds differ per host and are stable.
    assert len({p.seed for p in fleet.profiles}) == 4
    assert load_fleet(write(tmp_path, text)).profile("ws01").seed == fleet.profile("ws01").seed


def test_sim_hosts_carry_address_faults_and_a_working_backend(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, MINIMAL + "faults = { hang = true }\n"))
    hosts = {h.name: h for h in fleet.sim_hosts()}
    assert hosts["gamma"].faults.hang is True
    assert hosts["alpha"].address == "127.0.0.12" and hosts["alpha"].port == 0
    assert hosts["alpha"].backend.run("hostname", ()).stdout == b"ALPHA\r\n"


# --- errors: each names the file, the host and the key -------------------------------------------


def test_bad_type_names_file_host_and_key(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, '[[hosts]]\nname = "h1"\nos = { build = "20348" }\n')
    assert len(errs) == 1
    assert str(tmp_path / "fleet.toml") in errs[0]
    assert "host 'h1'" in errs[0]
    assert "os.build" in errs[0]
    assert "expected an integer" in errs[0]


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    errs = errors_of(
        tmp_path,
        '[[hosts]]\nname = "h1"\ncolour = "red"\naudit = { cmd_line = true }\n[extra]\nx = 1\n',
    )
    text = "\n".join(errs)
    assert "host 'h1': colour: unknown key" in text
    assert "host 'h1': audit.cmd_line: unknown key" in text
    assert "top level: extra: unknown key" in text
    assert all(e.startswith(str(tmp_path / "fleet.toml")) for e in errs)


def test_duplicate_host_names(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, '[[hosts]]\nname = "dup"\n[[hosts]]\nname = "DUP"\n')
    assert len(errs) == 1
    assert "host 'DUP': name: duplicate host (already defined at hosts[0])" in errs[0]


def test_bad_values(tmp_path: Path) -> None:
    text = """
[[hosts]]
name = "h1"
address = "10.0.0.5"
locale = "ja-JP"
audit = { process_creation = "yes" }
security_log = { retention = "forever" }
rates = { hourly_shape = [1, 2, 3] }

[[hosts]]
name = "h2"
address = "127.0.0.20"

[[hosts]]
name = "h3"
address = "127.0.0.20"
"""
    text_errors = "\n".join(errors_of(tmp_path, text))
    assert "host 'h1': locale: expected one of en-US, de-DE, fr-FR, got 'ja-JP'" in text_errors
    assert (
        "host 'h1': audit.process_creation: expected one of none, success, failure, success_and_failure" in text_errors
    )
    assert "host 'h1': security_log.retention" in text_errors
    assert "host 'h1': rates.hourly_shape" in text_errors
    # Address problems are reported once the values themselves are valid.
    fixed = text.replace('locale = "ja-JP"\n', "").replace('"yes"', '"success"').replace('"forever"', '"archive"')
    fixed = fixed.replace("[1, 2, 3]", '"flat"')
    address_errors = "\n".join(errors_of(tmp_path, fixed))
    assert "host 'h1': address: 10.0.0.5 is not a loopback address" in address_errors
    assert "host 'h3': address: 127.0.0.20 is already used by another host" in address_errors


def test_role_and_defaults_errors_name_the_table(tmp_path: Path) -> None:
    errs = "\n".join(
        errors_of(tmp_path, '[roles.web]\nrates = { process_starts_per_day = -1 }\n[[hosts]]\nname = "a"\n')
    )
    assert "role 'web': rates.process_starts_per_day: must be >= 0" in errs


def test_credentials_need_both_parts(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, '[[hosts]]\nname = "a"\ncredentials = { username = "x" }\n')
    assert "host 'a'" in errs[0] and "credentials" in errs[0]


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, "[[hosts]\nname = 1\n")
    assert errs[0].startswith(f"{tmp_path / 'fleet.toml'}: TOML syntax error")


def test_fault_table_mirrors_faultspec() -> None:
    assert set(SECTION_SCHEMAS["faults"]) == {f.name for f in dataclasses.fields(FaultSpec)}


def test_parse_fleet_reports_every_problem_at_once() -> None:
    with pytest.raises(FleetError) as info:
        parse_fleet('[[hosts]]\nname = "a"\nport = "x"\nadmin = 1\n', "inline.toml")
    assert len(info.value.errors) == 2
    assert all(e.startswith("inline.toml: host 'a': ") for e in info.value.errors)


# --- the demo fleet ------------------------------------------------------------------------------


def test_demo_fleet_composition() -> None:
    fleet = demo_fleet()
    profiles = fleet.profiles
    assert len(profiles) >= 40
    roles = Counter(p.role for p in profiles)
    for role in (
        "domain_controller",
        "file_server",
        "database_server",
        "web_server",
        "terminal_server",
        "member_server",
        "workstation",
    ):
        assert roles[role] >= 2, role
    assert roles["workstation"] >= 10
    addresses = [ipaddress.IPv4Address(p.address) for p in profiles]
    assert len(set(addresses)) == len(addresses)
    assert all(a.is_loopback for a in addresses)
    # Domain controllers report LanmanNT, workstations WinNT.
    assert all(p.os.product_type is ProductType.DOMAIN_CONTROLLER for p in profiles if p.role == "domain_controller")
    assert all(p.os.product_type is ProductType.WORKSTATION for p in profiles if p.role == "workstation")


def test_demo_fleet_has_every_audit_state() -> None:
    profiles = demo_fleet().profiles
    states = {(p.audit.process_creation.includes_success, p.audit.cmdline_enabled) for p in profiles}
    assert (False, False) in states  # off
    assert (True, False) in states  # success without command line
    assert (True, True) in states  # success with command line
    assert any(p.audit.process_creation is AuditSetting.SUCCESS for p in profiles)


def test_demo_fleet_special_hosts() -> None:
    profiles = demo_fleet().profiles
    assert any(p.locale == "de-DE" for p in profiles)
    legacy = [p for p in profiles if p.os.build == 7601]
    assert legacy and not legacy[0].os.cmdline_supported
    assert any(p.sysmon.installed and p.sysmon.running for p in profiles)

    def history_hours(p: object) -> float:
        # Hours of Security log history at a conservative 1,000 bytes per event (evtx-data.md §2.1:
        # a 4688 is 1.0-1.5 KB; other Security events are assumed similar).
        rates = p.rates  # type: ignore[attr-defined]
        per_day = rates.process_starts_per_day + rates.other_security_events_per_day
        return p.security_log.max_size_bytes / 1000 / per_day * 24  # type: ignore[attr-defined,no-any-return]

    assert any(history_hours(p) < 6 for p in profiles)  # a log that rolls over within hours
    faults = [p.faults for p in profiles]
    assert any(f.reject_credentials for f in faults)
    assert any(f.hang or f.receive_timeouts for f in faults)
    assert any(f.reset_connection for f in faults)
    assert any(f.malformed_xml for f in faults)
    assert any(f.access_denied for f in faults)
    assert any(not p.admin for p in profiles)
    assert all(p.credentials is None for p in profiles)  # no secrets in the packaged file


def test_demo_fleet_hosts_answer() -> None:
    for sim in demo_fleet().sim_hosts():
        out = sim.backend.run("hostname", ())
        assert out.exit_code == 0
        assert out.stdout.decode("ascii").strip().lower() == sim.name.lower()


def test_german_demo_host_prints_german_auditpol() -> None:
    fleet = demo_fleet()
    german = next(p for p in fleet.profiles if p.locale == "de-DE")
    sim = next(h for h in fleet.sim_hosts() if h.name == german.name)
    out = sim.backend.run("auditpol /get /subcategory:{0CCE922B-69AE-11D9-BED3-505054503030} /r", ())
    assert ",Prozesserstellung,{0CCE922B-69AE-11D9-BED3-505054503030},Erfolg,".encode("cp850") in out.stdout


def test_count_with_an_explicit_seed_gives_each_host_its_own(tmp_path: Path) -> None:
    fleet = load_fleet(write(tmp_path, '[[hosts]]\nname = "h{n}"\ncount = 3\nseed = 100\n'))
    assert [p.seed for p in fleet.profiles] == [100, 101, 102]
