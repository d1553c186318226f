"""reg, sc, wevtutil, cmd.exe and auditpol on de-DE and fr-FR hosts against the localised captures cited in
tests/data/SOURCES.md (byte for byte where a capture exists), and the texts no capture shows against
simulator/tool_texts.py (UNVERIFIED there). Shells use code page 65001, as the survey asks."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditplan.records import AuditSetting
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import AuditProfile, HostProfile, OSProfile
from auditplan.simulator.tool_texts import texts_for

CAPTURES = Path(__file__).parents[1] / "data" / "captures"
NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
UTF8 = 65001


def capture(name: str) -> str:
    return (CAPTURES / name).read_bytes().decode("utf-8")


def host(locale: str, **kw: object) -> SimulatedHost:
    return SimulatedHost(HostProfile(name="h1", address="127.0.0.11", locale=locale, **kw), now=NOW)  # type: ignore[arg-type]


def run(h: SimulatedHost, line: str) -> CommandOutput:
    return h.run(line, (), codepage=UTF8)


@pytest.mark.parametrize(("locale", "name"), [("en-US", "reg-query-not-found.txt"),
                                              ("de-DE", "reg-query-not-found-de.txt"),
                                              ("fr-FR", "reg-query-not-found-fr.txt")])
def test_reg_missing_value_is_the_capture(locale: str, name: str) -> None:
    out = run(host(locale), r'reg query "HKLM\SYSTEM\CurrentControlSet\Control\Lsa" /v SCENoApplyLegacyAuditPolicy')
    assert (out.stdout, out.stderr.decode("utf-8"), out.exit_code) == (b"", capture(name), 1)


@pytest.mark.parametrize(("locale", "name"), [("en-US", "sc-query-missing-1060.txt"),
                                              ("de-DE", "sc-query-missing-1060-de.txt"),
                                              ("fr-FR", "sc-query-missing-1060-fr.txt")])
def test_sc_missing_service_is_the_capture(locale: str, name: str) -> None:
    out = run(host(locale), "sc query Sysmon64")
    assert (out.stdout.decode("utf-8"), out.stderr, out.exit_code) == (capture(name), b"", 1060)


@pytest.mark.parametrize(("locale", "name", "typed"), [("de-DE", "cmd-unknown-command-de.txt", "node"),
                                                       ("fr-FR", "cmd-unknown-command-fr.txt", "echooo")])
def test_unknown_command_is_the_capture(locale: str, name: str, typed: str) -> None:
    out = run(host(locale), typed)
    assert (out.stdout, out.stderr.decode("utf-8"), out.exit_code) == (b"", capture(name), 9009)


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR"])
def test_sc_state_lines_keep_their_english_labels(locale: str) -> None:
    # SOURCES.md "sc de": German captures show `STATE : 4 RUNNING`; the parser reads the number and the name.
    out = run(host(locale), "sc query eventlog")
    assert b"        STATE              : 4  RUNNING " in out.stdout and out.exit_code == 0


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR"])
def test_wmic_missing_on_server_2025_answers_in_the_host_language(locale: str) -> None:
    h = host(locale, os=OSProfile(build=26100, ubr=1742, product_name="Windows Server 2025 Standard"))
    out = run(h, "wmic qfe get HotFixID")
    expected = texts_for(locale).cmd
    assert out.exit_code == 9009
    assert out.stderr.decode("utf-8") == next(v for k, v in expected.items() if "{name}" in k).format(name="wmic")


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR"])
def test_type_of_a_missing_file_uses_the_system_message(locale: str) -> None:
    out = run(host(locale), r"type C:\nope.csv")
    texts = texts_for(locale)
    assert out.exit_code == 1
    assert out.stderr.decode("utf-8") in texts.cmd.values()
    assert out.stderr.decode("utf-8") != "The system cannot find the file specified.\r\n"


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR"])
def test_wevtutil_missing_channel_and_access_denied(locale: str) -> None:
    texts = texts_for(locale)
    out = run(host(locale), "wevtutil gli Microsoft-Windows-Sysmon/Operational")
    assert out.exit_code == 15007
    assert out.stderr.decode("utf-8").split("\r\n")[1] == texts.channel_not_found
    denied = run(host(locale, admin=False), "wevtutil qe Security /c:1 /f:xml")
    assert denied.exit_code == 5
    assert denied.stderr.decode("utf-8").split("\r\n")[0] == texts.access_denied


@pytest.mark.parametrize("locale", ["en-US", "de-DE", "fr-FR"])
def test_wevtutil_text_values_are_localised_and_field_names_are_not(locale: str) -> None:
    h = host(locale, audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True))
    out = run(h, 'wevtutil qe Security /q:"*[System[EventID=4688]]" /c:1 /rd:true /f:text')
    text = out.stdout.decode("utf-8")
    texts = texts_for(locale)
    assert out.exit_code == 0
    assert f"  Task: {texts.task('Process Creation')}\r\n" in text
    assert f"  Keyword: {texts.keyword_success}\r\n" in text
    assert f"  Level: {texts.level_information}\r\n" in text
    # The probe counts these lines (collect/winrm/hour_counts.py): English in every language (§4.2).
    assert "\r\n  Date: " in text and "\r\n  Event ID: 4688\r\n" in text


def test_french_auditpol_names_are_the_capture() -> None:
    # SOURCES.md "auditpol fr": every subcategory of a French `auditpol /list /subcategory:* /v /r`.
    with (CAPTURES / "auditpol-list-subcategory-fr-evtx2sigma.csv").open(encoding="utf-8", newline="") as f:
        listed = {row["Guid"]: row["SubCategory"] for row in csv.DictReader(f) if row["Guid"].startswith("{0CCE")}
    h = host("fr-FR", os=OSProfile(build=17763, ubr=5329, product_name="Windows Server 2019 Standard"))
    out = run(h, "auditpol /get /category:* /r")
    rows = [r for r in csv.reader(out.stdout.decode("utf-8").splitlines()[2:]) if r]
    assert {r[3]: r[2] for r in rows} == listed
    assert len(listed) == 59


def test_french_process_creation_reads_through_the_parser() -> None:
    from auditplan.collect.parse.tools import AuditpolReport, parse_auditpol_report

    for setting in AuditSetting:
        h = host("fr-FR", audit=AuditProfile(process_creation=setting))
        out = run(h, "auditpol /get /subcategory:{0CCE922B-69AE-11D9-BED3-505054503030} /r")
        report = parse_auditpol_report(out.stdout.decode("utf-8"))
        assert isinstance(report, AuditpolReport)
        assert report.setting_for("{0cce922b-69ae-11d9-bed3-505054503030}") is setting
