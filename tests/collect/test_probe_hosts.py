"""The probe run through the simulator's cmd.exe emulator (a real backend, not a mock), whose event
logs know their own truth: counts, caps, temp-folder fallbacks, the sample's window, boot-only; and a
command line cmd.exe would refuse is refused before any host is contacted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.collect.winrm.interpret import interpret
from auditplan.collect.winrm.probe import ProbeOptions, build_probe, split_sections

NOW = datetime(2026, 11, 28, 7, 3, 12, tzinfo=UTC)
NONCE = "abcdef"


@pytest.fixture(scope="module")
def demo() -> object:
    fleet_mod = pytest.importorskip("auditplan.simulator.fleet")
    return fleet_mod.demo_fleet()


@pytest.mark.parametrize("host", ["rds01", "legacy-erp01", "web03", "fs-muc01"])
def test_probe_through_simulated_host_matches_its_event_log_truth(demo: object, host: str) -> None:
    """Run the real command line through the simulator's cmd.exe + tool emulation; the hourly counts must
    equal the simulated log's own truth (SimEventLog.true_hourly_counts), hour by hour."""
    from auditplan.simulator.fleet import sim_host

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    profile = demo.profile(host)  # type: ignore[attr-defined]
    backend = sim_host(profile, now=now).backend
    probe = build_probe(ProbeOptions(nonce=NONCE), now)
    out = backend.run(probe.command_line, ())
    it = interpret(split_sections(out.stdout, 65001), probe)
    assert not it.unparseable
    assert it.warnings == ()
    truth_log = backend.event_log("Security")  # type: ignore[attr-defined]
    truth = dict(truth_log.true_hourly_counts(4688))
    # Each hour's query reads at most the per-hour cap (20,000 / 24 = 833): below it, the exact count.
    expected = tuple(min(833, truth.get(probe.window_start + timedelta(hours=i), 0)) for i in range(24))
    assert it.volume is not None
    assert it.volume.hour_cap == 833
    assert it.volume.hourly_4688 == expected
    assert [s < 3600 for s in it.volume.seconds_4688] == [c >= 833 for c in expected]
    if profile.sysmon.installed:
        sysmon = backend.event_log("Microsoft-Windows-Sysmon/Operational")  # type: ignore[attr-defined]
        truth_s = dict(sysmon.true_hourly_counts(1))
        expected_s = tuple(min(833, truth_s.get(probe.window_start + timedelta(hours=i), 0)) for i in range(24))
        assert it.volume.hourly_sysmon_eid1 == expected_s
        assert it.sysmon is not None and it.sysmon.installed
    else:
        assert it.volume.hourly_sysmon_eid1 is None
    assert it.os is not None and it.os.current_build == profile.os.build
    assert it.audit is not None and it.audit.process_creation == profile.audit.process_creation


def test_capped_hours_through_simulated_host(demo: object) -> None:
    """Each hour's query has its own cap (1,500 / 24 = 62): an hour above it reads 62, and the seconds its
    newest 62 events span measure the hour (events are spread evenly over a simulated hour, so 62 of the
    hour's N events span about 62/N of it); hours below the cap are exact and whole."""
    from auditplan.simulator.fleet import sim_host

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    backend = sim_host(demo.profile("rds01"), now=now).backend  # type: ignore[attr-defined]
    probe = build_probe(ProbeOptions(nonce=NONCE, max_events=1500), now)
    it = interpret(split_sections(backend.run(probe.command_line, ()).stdout, 65001), probe)
    volume = it.volume
    assert volume is not None and volume.capped and volume.hour_cap == 62
    truth = _uncapped_truth(backend, probe)
    capped = [i for i, n in enumerate(truth) if n >= 62]
    assert capped and len(capped) < 24  # the demo's terminal server is busy by day, quiet at night
    for i, n in enumerate(truth):
        if n >= 62:
            assert volume.hourly_4688[i] == 62
            covered = volume.seconds_4688[i] / 3600
            assert 0 < covered < 1
            assert 0.6 < (62 / covered) / n < 1.6  # 62 events: a Poisson spread of about 13 %
        else:
            assert (volume.hourly_4688[i], volume.seconds_4688[i]) == (n, 3600)
    ratios = [62 / (volume.seconds_4688[i] / 3600) / truth[i] for i in capped]
    assert 0.85 < sum(ratios) / len(ratios) < 1.15


def _uncapped_truth(backend: object, probe: object) -> tuple[int, ...]:
    truth = dict(backend.event_log("Security").true_hourly_counts(4688))  # type: ignore[attr-defined]
    start = probe.window_start  # type: ignore[attr-defined]
    return tuple(truth.get(start + timedelta(hours=i), 0) for i in range(probe.window_hours))  # type: ignore[attr-defined]


def _truth_4688(backend: object, probe: object) -> tuple[int, ...]:
    truth = dict(backend.event_log("Security").true_hourly_counts(4688))  # type: ignore[attr-defined]
    start, cap = probe.window_start, probe.hour_cap  # type: ignore[attr-defined]
    # An hour's query reads at most the per-hour cap.
    return tuple(min(cap, truth.get(start + timedelta(hours=i), 0)) for i in range(probe.window_hours))  # type: ignore[attr-defined]


def test_missing_temp_folder_counts_in_the_winrs_start_folder(demo: object) -> None:
    """`cd /d "%TEMP%"` fails when TEMP names no folder; the dates file then lands in WinRS's start
    folder (the profile, writable) and the counts still equal the log's truth."""
    from auditplan.simulator.fleet import sim_host
    from auditplan.simulator.host import SimulatedHost

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    backend = sim_host(demo.profile("rds01"), now=now).backend  # type: ignore[attr-defined]
    assert isinstance(backend, SimulatedHost)
    backend.fs.remove_dir(backend.environment()["TEMP"])
    assert backend.run('cd /d "%TEMP%"').exit_code != 0  # the premise: TEMP really is missing
    probe = build_probe(ProbeOptions(nonce=NONCE), now)
    it = interpret(split_sections(backend.run(probe.command_line).stdout, 65001), probe)
    assert it.warnings == () and not it.unparseable
    assert it.volume is not None and it.volume.hourly_4688 == _truth_4688(backend, probe)
    assert sum(it.volume.hourly_4688) > 0


def test_unwritable_temp_and_start_folder_name_the_cause(demo: object) -> None:
    """With TEMP missing and the start folder write-denied, `>apXs` fails; find's "File not found"
    (stderr, brought in by 2>&1) reaches the section and the message names the cause, not an empty
    excerpt."""
    from auditplan.simulator.fleet import sim_host
    from auditplan.simulator.host import SimulatedHost

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    backend = sim_host(demo.profile("rds01"), now=now).backend  # type: ignore[attr-defined]
    assert isinstance(backend, SimulatedHost)
    env = backend.environment()
    backend.fs.remove_dir(env["TEMP"])
    backend.fs.deny_writes(env["USERPROFILE"])  # WinRS's start folder
    probe = build_probe(ProbeOptions(nonce=NONCE), now)
    it = interpret(split_sections(backend.run(probe.command_line).stdout, 65001), probe)
    message = next(w for w in it.warnings if w.startswith("count_4688:"))
    assert "expected 24 hourly counts, found 0" in message
    assert "File not found - APABCDEFS" in message and "writable" in message and "%TEMP%" in message


def test_find_count_parse_error_names_a_missing_file_and_empty_output() -> None:
    from auditplan.collect.parse.tools import parse_find_counts

    text = "File not found - APABCDEFS\r\n" * 24
    err = parse_find_counts(text, 24, "count_4688")
    assert not isinstance(err, tuple)
    assert "File not found - APABCDEFS" in err.message and "writable" in err.message
    empty = parse_find_counts("", 24, "count_4688")
    assert not isinstance(empty, tuple) and "no output" in empty.message


# --- sampling only before the window's end, boot-only --------------------------------------------


def test_sample_through_simulated_host_excludes_the_current_hour(demo: object) -> None:
    """The simulated rds01 logs 4688s in the current hour (where the probe's own processes would be);
    the sample must hold only events before window_end."""
    from auditplan.simulator.fleet import sim_host

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    backend = sim_host(demo.profile("rds01"), now=now).backend  # type: ignore[attr-defined]
    truth = dict(backend.event_log("Security").true_hourly_counts(4688))  # type: ignore[attr-defined]
    assert truth[datetime(2026, 11, 28, 7, tzinfo=UTC)] > 0  # so the bound matters
    probe = build_probe(ProbeOptions(nonce=NONCE, sample_events=30), now)
    it = interpret(split_sections(backend.run(probe.command_line, ()).stdout, 65001), probe)
    assert len(it.events) == 30
    assert all(e.time < probe.window_end for e in it.events)


BOOT_FLEET = """
seed = 7
[defaults]
os = { product_name = "Windows Server 2022 Standard", build = 20348, ubr = 2655, product_type = "server", display_version = "21H2", edition_id = "ServerStandard" }
audit = { process_creation = "none" }
rates = { process_starts_per_day = 3000.0, other_security_events_per_day = 5000.0, boots_per_day = 0.5 }
[[hosts]]
name = "boot01"
"""


def test_boot_only_set_when_the_sample_holds_only_boot_processes() -> None:
    """Auditing off but the simulated host rebooted: its only 4688s are the early-boot ones
    (evtx-data.md §2.2), so the whole set fits in the sample and is_boot_only decides."""
    from auditplan.simulator.fleet import parse_fleet, sim_host

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    backend = sim_host(parse_fleet(BOOT_FLEET, "t").profiles[0], now=now).backend
    probe = build_probe(ProbeOptions(nonce=NONCE, sample_events=100), now)
    it = interpret(split_sections(backend.run(probe.command_line, ()).stdout, 65001), probe)
    assert 0 < len(it.events) < 100
    assert {e.new_process_name.rsplit("\\", 1)[-1].lower() for e in it.events if e.new_process_name} <= {
        "registry", "smss.exe", "autochk.exe", "csrss.exe", "wininit.exe", "winlogon.exe", "services.exe",
        "lsass.exe", "setupcl.exe",
    }
    assert it.volume is not None and it.volume.boot_only
    # A sample that came back full cannot tell: the rest of the log may hold other processes.
    full = build_probe(ProbeOptions(nonce=NONCE, sample_events=len(it.events)), now)
    it_full = interpret(split_sections(backend.run(full.command_line, ()).stdout, 65001), full)
    assert it_full.volume is not None and not it_full.volume.boot_only




def test_a_line_cmd_exe_would_refuse_is_refused_before_any_host_is_contacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditplan.collect.winrm import probe as probe_module

    # Every option value the CLI accepts now fits (test_command_line_fits_cmd_limit), so the guard is
    # exercised with a smaller budget: the line must never reach a host once it could be too long.
    fits = build_probe(ProbeOptions(window_hours=24, trace_seconds=900), NOW)
    monkeypatch.setattr(probe_module, "PROBE_LINE_BUDGET", len(fits.command_line))
    build_probe(ProbeOptions(window_hours=24, trace_seconds=900), NOW)
    with pytest.raises(ValueError, match="8191"):
        build_probe(ProbeOptions(window_hours=25, trace_seconds=900), NOW)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["survey", str(hosts), "--window-hours", "48", "--trace-seconds", "900",
                                       "--username", "x", "--password-env", "AP_TEST_PW", "--db", str(tmp_path / "s.db")],
                                env={"AP_TEST_PW": "not-used"})
    assert result.exit_code == 2
    assert "8191" in result.output and "--window-hours" in result.output and "--trace-seconds" in result.output
    assert not (tmp_path / "s.db").exists()  # refused before the store or any host


@pytest.mark.parametrize("locale", ["en-US", "de-DE"])
def test_missing_policy_values_read_as_off_on_every_ui_language(demo: object, locale: str) -> None:
    """reg prints its "not found" line in the host's language (simulator/tool_texts.py); a missing
    ProcessCreationIncludeCmdLine_Enabled / SCENoApplyLegacyAuditPolicy must read as off (False), not as a
    parse error (None) with a warning."""
    from dataclasses import replace

    from auditplan.collect.winrm.probe import S_REG_CMDLINE, S_REG_SCE
    from auditplan.simulator.fleet import sim_host
    from auditplan.simulator.profile import AuditProfile
    from auditplan.simulator.tool_texts import texts_for

    now = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)
    base = demo.profile("fs-muc01")  # type: ignore[attr-defined]
    profile = replace(base, locale=locale, audit=AuditProfile(process_creation=base.audit.process_creation))
    backend = sim_host(profile, now=now).backend
    probe = build_probe(ProbeOptions(nonce=NONCE, sample_events=0), now)
    sections = split_sections(backend.run(probe.command_line, (), codepage=65001).stdout, 65001)  # as the survey asks
    assert sections[S_REG_CMDLINE].text == sections[S_REG_SCE].text == texts_for(locale).reg_not_found
    assert sections[S_REG_CMDLINE].exit_code == 1
    it = interpret(sections, probe)
    assert it.audit is not None
    assert (it.audit.cmdline_enabled, it.audit.sce_no_apply_legacy) == (False, False)
    assert not [w for w in it.warnings if w.startswith(("reg_", "reg "))]
