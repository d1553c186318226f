"""A survey of de-DE and fr-FR hosts over the real pywinrm stack: every tool answers in the host's UI
language (simulator/tool_texts.py, simulator/auditpol_fr.py), and the survey must read the same facts as on
an en-US host. The expected values are the profiles' own settings, not the parser's output."""

from __future__ import annotations

from pathlib import Path

import pytest
from integration_fleet import inventory_host, profile, serving, settings_for

from auditplan.collect import api
from auditplan.records import AuditSetting, HostStatus
from auditplan.simulator.profile import AuditProfile, OSProfile, SecurityLogProfile, SysmonProfile

LOCALES = ["en-US", "de-DE", "fr-FR"]
SERVER_2025 = OSProfile(product_name="Windows Server 2025 Standard", build=26100, ubr=1742, display_version="24H2")


@pytest.mark.parametrize("locale", LOCALES)
def test_a_localised_host_reads_like_an_english_one(tmp_path: Path, locale: str) -> None:
    # off: no command line, no SCENoApplyLegacyAuditPolicy, no Sysmon, no wmic (26100): every "missing"
    # answer (reg, sc, wevtutil, cmd.exe) comes in the host's language.
    off = profile("off", locale=locale, os=SERVER_2025,
                  audit=AuditProfile(process_creation=AuditSetting.SUCCESS_AND_FAILURE),
                  security_log=SecurityLogProfile(max_size_bytes=134217728, retention="archive"))
    on = profile("on", locale=locale, sysmon=SysmonProfile(installed=True, running=False),
                 audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True, force_subcategory=True))
    weak = profile("weak", locale=locale, admin=False)
    with serving([off, on, weak]) as server:
        hosts = [inventory_host(server, n) for n in ("off", "on", "weak")]
        results = api.survey(hosts, tmp_path / "a.db", settings_for("basic", None), concurrency=3).results
    by_name = {r.host.name: r for r in results}

    r = by_name["off"]
    assert r.status is HostStatus.OK, r.reason
    assert r.warnings == ()
    assert r.audit is not None
    assert r.audit.process_creation is AuditSetting.SUCCESS_AND_FAILURE
    assert (r.audit.cmdline_enabled, r.audit.sce_no_apply_legacy) == (False, False)
    assert r.os is not None and (r.os.current_build, r.os.cmdline_supported) == (26100, True)
    assert r.sysmon is not None and r.sysmon.installed is False
    assert r.security_log is not None
    assert (r.security_log.max_size_bytes, r.security_log.retention) == (134217728, "archive")

    r = by_name["on"]
    assert r.status is HostStatus.OK, r.reason
    assert r.warnings == ()
    assert r.audit is not None
    assert (r.audit.process_creation, r.audit.cmdline_enabled, r.audit.sce_no_apply_legacy) == (
        AuditSetting.SUCCESS, True, True)
    assert r.sysmon is not None and (r.sysmon.installed, r.sysmon.running) == (True, False)
    assert r.volume is not None and sum(r.volume.hourly_4688) > 0
    assert r.events and all(e.command_line for e in r.events)

    # Without admin rights auditpol and the Security log refuse, in the host's language.
    assert by_name["weak"].status is HostStatus.ACCESS_DENIED
