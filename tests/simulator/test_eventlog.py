"""SimEventLog: truth, retention, wevtutil qe output, and the real-event templates.

Expectations come from the reference files (windows-tool-outputs.md §3-4, evtx-data.md §2.2,
gpo-backup-format.md §A2/§A5), from the real EVTX dev set read with the `evtx` package, or from
the profile's own rates (Poisson bounds), never from the module's output alone. The process mix
is judged by auditplan's own five detection rules (emit/sigma, evaluated with pySigma) and by an
attack-like pattern list written here, against the band 0.1-0.5 % of process starts.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditplan.emit.detections import Rule, builtin_rules_dir, evaluate, load_rules
from auditplan.records import AuditSetting
from auditplan.simulator.eventlog import SimEventLog
from auditplan.simulator.eventlog_templates import KIND_PROCESS, Prepared, process_draw_table, security_templates
from auditplan.simulator.profile import (
    HOURLY_SHAPES,
    AuditProfile,
    HostProfile,
    OSProfile,
    RateProfile,
    SecurityLogProfile,
    SysmonProfile,
)

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
NOW = datetime(2026, 11, 28, 7, 30, 15, 250000, tzinfo=UTC)
TEMPLATES_JSON = Path(__file__).resolve().parents[2] / "src" / "auditplan" / "simulator" / "data" / "event_templates.json"
# The generator is a development script of the checkout (tools/), not a module of the package.
BUILD_SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "build_event_templates.py"
MB = 1024 * 1024
# evtx-data.md §2.2: the 11 early-boot 4688s, in order, from the audit-off baseline.
BOOT_SEQUENCE = ["Registry", "smss.exe", "autochk.exe", "smss.exe", "csrss.exe", "smss.exe", "wininit.exe",
                 "csrss.exe", "winlogon.exe", "services.exe", "lsass.exe"]


def host(*, seed: int = 11, rate: float = 2000.0, other: float = 3000.0, boots: float = 0.0,
         audit: AuditSetting = AuditSetting.SUCCESS, cmdline: bool = True, build: int = 20348,
         kb: bool = False, max_size: int = 4 * MB, retention: str = "overwrite", sysmon: bool = False,
         shape: tuple[float, ...] = HOURLY_SHAPES["flat"]) -> HostProfile:
    return HostProfile(
        name="srv01", address="127.0.0.11", computer_name="srv01.corp.example", seed=seed,
        os=OSProfile(build=build, kb3004375=kb),
        audit=AuditProfile(process_creation=audit, cmdline_enabled=cmdline),
        security_log=SecurityLogProfile(max_size_bytes=max_size, retention=retention),
        sysmon=SysmonProfile(installed=sysmon),
        rates=RateProfile(process_starts_per_day=rate, hourly_shape=shape, other_security_events_per_day=other,
                          boots_per_day=boots),
    )


def events(xml_bytes: bytes) -> list[ET.Element]:
    """Split wevtutil /f:xml output (events back to back, §4.1) and parse each event."""
    text = xml_bytes.decode("ascii")
    parts = [p for p in text.split("<Event xmlns=") if p.strip()]
    return [ET.fromstring("<Event xmlns=" + p.rstrip("\r\n")) for p in parts]


def sys_text(ev: ET.Element, tag: str) -> str:
    el = ev.find(f"{NS}System/{NS}{tag}")
    assert el is not None
    return el.text or ""


def sys_attr(ev: ET.Element, tag: str, attr: str) -> str:
    el = ev.find(f"{NS}System/{NS}{tag}")
    assert el is not None
    value = el.get(attr)
    assert value is not None, (tag, attr)
    return value


def data(ev: ET.Element) -> dict[str, str]:
    return {d.get("Name", ""): d.text or "" for d in ev.iter(f"{NS}Data")}


def qe(log: SimEventLog, *args: str) -> bytes:
    out = log.query(args)
    assert out.exit_code == 0, out.stderr
    return out.stdout


def window(h: datetime) -> str:
    a = h.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    b = (h + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return f"/q:*[System[(EventID=4688) and TimeCreated[@SystemTime>='{a}' and @SystemTime<'{b}']]]"


# ------------------------------------------------------------------ truth and determinism


def test_same_seed_same_log_other_seed_differs() -> None:
    args = ("/q:*[System[(EventID=4688)]]", "/c:50", "/rd:true", "/f:xml")
    a = SimEventLog.for_security(host(seed=3), NOW)
    b = SimEventLog.for_security(host(seed=3), NOW)
    c = SimEventLog.for_security(host(seed=4), NOW)
    assert qe(a, *args) == qe(b, *args)
    assert a.true_hourly_counts(4688) == b.true_hourly_counts(4688)
    assert qe(a, *args) != qe(c, *args)


def test_hourly_count_queries_equal_the_truth() -> None:
    log = SimEventLog.for_security(host(boots=2.0), NOW)
    truth = log.true_hourly_counts(4688)
    assert len(truth) > 20 and sum(c for _, c in truth) > 1000
    for hour_start, count in truth:
        assert hour_start.minute == 0 and hour_start.tzinfo is not None
        got = qe(log, window(hour_start), "/c:1000000", "/f:xml").count(b"<Event ")
        assert got == count, hour_start


def test_rate_and_hourly_shape_follow_the_profile() -> None:
    shape = HOURLY_SHAPES["office"]
    rate = 4800.0
    log = SimEventLog.for_security(host(rate=rate, other=0.0, max_size=400 * MB, shape=shape), NOW)
    truth = log.true_hourly_counts(4688)
    whole = [(h, c) for h, c in truth if h + timedelta(hours=1) <= NOW][1:]  # drop partial edges
    days = len(whole) / 24
    assert days > 20
    total = sum(c for _, c in whole)
    expected = rate * len(whole) / 24  # shape weights average out over whole days
    assert abs(total - expected) < 5 * math.sqrt(expected) + rate  # Poisson + one partial day
    by_hour = [0] * 24
    for h, c in whole:
        by_hour[h.hour] += c
    for hour in range(24):
        exp = rate * shape[hour] / sum(shape) * days
        assert abs(by_hour[hour] - exp) < 5 * math.sqrt(exp) + rate * shape[hour] / sum(shape), hour
    assert log.true_daily_rate == rate


# ------------------------------------------------------------------ qe options


def test_count_caps_and_direction() -> None:
    log = SimEventLog.for_security(host(), NOW)
    newest = events(qe(log, "/q:*[System[(EventID=4688)]]", "/c:7", "/rd:true", "/f:xml"))
    oldest = events(qe(log, "/q:*[System[(EventID=4688)]]", "/c:7", "/f:xml"))
    assert len(newest) == 7 and len(oldest) == 7
    rids = [int(sys_text(e, "EventRecordID")) for e in newest]
    assert rids == sorted(rids, reverse=True) and len(set(rids)) == 7
    times = [sys_attr(e, "TimeCreated", "SystemTime") for e in newest]
    assert times == sorted(times, reverse=True)
    assert int(sys_text(oldest[0], "EventRecordID")) < int(sys_text(newest[-1], "EventRecordID"))
    assert all(sys_text(e, "EventID") == "4688" for e in newest + oldest)


def test_output_shapes() -> None:
    log = SimEventLog.for_security(host(), NOW)
    out = qe(log, "/q:*[System[(EventID=4688)]]", "/c:3", "/rd:true", "/f:xml")
    # §4.1: events back to back, no separator, no root; one CRLF at the end (UNVERIFIED placement).
    assert out.startswith(b"<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>")
    assert out.count(b"</Event><Event xmlns=") == 2 and out.endswith(b"</Event>\r\n")
    assert b"\r\n" not in out[:-2] and b"\n" not in out[:-2]
    assert b"SystemTime='" in out and re.search(rb"SystemTime='\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z'", out)
    rooted = qe(log, "/q:*[System[(EventID=4688)]]", "/c:3", "/f:xml", "/e:root")
    assert rooted.startswith(b"<root>\r\n<Event ") and rooted.endswith(b"</Event></root>\r\n")
    assert len(rooted.split(b"\r\n")) == 3  # 2 lines + trailing CRLF (§4.1 measurement)
    # zero matches: exit 0, no output at all
    none = log.query(("/q:*[System[(EventID=4)]]", "/f:xml"))
    assert none.exit_code == 0 and none.stdout == b"" and none.stderr == b""


def test_text_format() -> None:
    text = qe(SimEventLog.for_security(host(), NOW), "/q:*[System[(EventID=4688)]]", "/c:2", "/rd:true",
              "/f:text").decode("ascii")
    lines = text.split("\r\n")
    assert lines[0] == "Event[0]"  # Server 2022 (20348): no colon (§4.2)
    assert lines[1:5] == ["  Log Name: Security", "  Source: Microsoft-Windows-Security-Auditing",
                          lines[3], "  Event ID: 4688"]
    assert re.fullmatch(r"  Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", lines[3])
    assert "  Task: Process Creation" in lines and "  Keyword: Audit Success" in lines
    assert "  Computer: srv01.corp.example" in lines and "  Description: " in lines
    assert "A new process has been created." in lines and "Event[1]" in lines
    assert lines[lines.index("Event[1]") - 1] == ""  # a blank line separates events
    old = qe(SimEventLog.for_security(host(build=17763), NOW), "/c:1", "/f:text").decode("ascii")
    assert old.startswith("Event[0]:\r\n")


@pytest.mark.parametrize(("args", "code", "stderr"), [
    (("/q:*[System[EventID=4688]",), 15001, b"The specified query is invalid.\r\nFailed to open event query.\r\n"),
    (("/q:*[System[contains(Computer,'x')]]",), 15001,
     b"The specified query is invalid.\r\nFailed to open event query.\r\n"),
    (("/c:0",), 87, b"Invalid value for property count.\r\n"),
    (("/f:json",), 87, b"Invalid value for option f.\r\nThe parameter is incorrect.\r\n"),
    (("/nosuch:1",), 87, b"The parameter is incorrect.\r\n"),
])
def test_errors(args: tuple[str, ...], code: int, stderr: bytes) -> None:
    out = SimEventLog.for_security(host(), NOW).query(args)
    assert (out.exit_code, out.stderr, out.stdout) == (code, stderr, b"")


# ------------------------------------------------------------------ gl / gli figures and retention


def test_log_figures_agree_with_the_events() -> None:
    log = SimEventLog.for_security(host(max_size=1 * MB), NOW)
    all_xml = qe(log, "/f:xml")
    assert all_xml.count(b"<Event ") == log.record_count
    first = events(qe(log, "/c:1"))[0]
    last = events(qe(log, "/c:1", "/rd:true"))[0]
    assert int(sys_text(first, "EventRecordID")) == log.oldest_record_number
    assert int(sys_text(last, "EventRecordID")) == log.oldest_record_number + log.record_count - 1
    assert log.oldest_time is not None and log.newest_time is not None
    t_first = sys_attr(first, "TimeCreated", "SystemTime")
    t_last = sys_attr(last, "TimeCreated", "SystemTime")
    assert t_first[:26] == log.oldest_time.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert t_last[:26] == log.newest_time.strftime("%Y-%m-%dT%H:%M:%S.%f")
    # overwrite: full, newest event within the last minutes; file = 4 KiB header + 64 KiB chunks
    assert NOW - log.newest_time < timedelta(minutes=5)
    assert (log.file_size_bytes - 4096) % 65536 == 0
    assert log.max_size_bytes - 2 * 65536 <= log.file_size_bytes <= log.max_size_bytes
    assert log.record_count == sum(c for eid in (4688, 4624, 4625, 4648, 4672, 4798, 4799, 5379)
                                   for _, c in log.true_hourly_counts(eid))
    # record sizes from the dev set (≈ 500-1000 B each, tools/build_event_templates.py): 1 MB holds ~1-2 thousand
    assert 1000 < log.record_count < 2500


def test_do_not_overwrite_stops_when_full() -> None:
    log = SimEventLog.for_security(host(max_size=1 * MB, retention="do_not_overwrite", rate=500, other=500), NOW)
    assert log.oldest_record_number == 1
    assert log.newest_time is not None and NOW - log.newest_time > timedelta(days=30)
    assert log.max_size_bytes - 2 * 65536 <= log.file_size_bytes <= log.max_size_bytes


def test_small_log_that_never_fills() -> None:
    log = SimEventLog.for_security(host(max_size=64 * MB, rate=10, other=10), NOW)
    assert log.oldest_record_number == 1
    assert log.file_size_bytes < 10 * MB
    assert log.oldest_time is not None and NOW - log.oldest_time > timedelta(days=80)


# ------------------------------------------------------------------ Windows versions and policy


def test_audit_off_writes_only_the_boot_sequence() -> None:
    log = SimEventLog.for_security(host(audit=AuditSetting.NONE, boots=3.0, max_size=64 * MB), NOW)
    evs = events(qe(log, "/q:*[System[(EventID=4688)]]", "/f:xml"))
    assert evs and len(evs) % 11 == 0
    names = [data(e)["NewProcessName"].rsplit("\\", 1)[-1] for e in evs]
    for i in range(0, len(names), 11):
        assert names[i:i + 11] == BOOT_SEQUENCE
    assert all(data(e)["CommandLine"] == "" for e in evs)
    assert log.true_daily_rate == pytest.approx(33.0)


def test_2008_r2_events_have_no_command_line() -> None:
    evs = events(qe(SimEventLog.for_security(host(build=7601), NOW), "/q:*[System[(EventID=4688)]]", "/c:40"))
    assert len(evs) == 40
    for e in evs:
        assert sys_text(e, "Version") == "0"
        assert "CommandLine" not in data(e) and "ParentProcessName" not in data(e)  # §A5: v0 = fields 0-7
        assert list(data(e)) == ["SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId",
                                 "NewProcessId", "NewProcessName", "TokenElevationType", "ProcessId"]


def test_versions_by_build_and_policy() -> None:
    v1 = events(qe(SimEventLog.for_security(host(build=9600), NOW), "/q:*[System[(EventID=4688)]]", "/c:30"))
    assert {sys_text(e, "Version") for e in v1} == {"1"}
    assert all(data(e)["CommandLine"] for e in v1) and all("MandatoryLabel" not in data(e) for e in v1)
    kb = events(qe(SimEventLog.for_security(host(build=7601, kb=True), NOW), "/q:*[System[(EventID=4688)]]",
                   "/c:30"))
    assert {sys_text(e, "Version") for e in kb} == {"1"} and all(data(e)["CommandLine"] for e in kb)
    # policy off on a current build: the field is there and empty (§A2, real captures)
    off = events(qe(SimEventLog.for_security(host(cmdline=False), NOW), "/q:*[System[(EventID=4688)]]",
                    "/c:30"))
    assert {sys_text(e, "Version") for e in off} == {"2"}
    assert all(data(e)["CommandLine"] == "" for e in off)
    raw = qe(SimEventLog.for_security(host(cmdline=False), NOW), "/q:*[System[(EventID=4688)]]", "/c:1")
    assert b"<Data Name='CommandLine'></Data>" in raw


# ------------------------------------------------------------------ Sysmon


def test_sysmon_log() -> None:
    assert SimEventLog.for_sysmon(host(sysmon=False), NOW) is None
    log = SimEventLog.for_sysmon(host(sysmon=True, audit=AuditSetting.NONE, rate=3000.0), NOW)
    assert log is not None and log.log_name == "Microsoft-Windows-Sysmon/Operational"
    truth = log.true_hourly_counts(1)
    assert log.true_hourly_counts(4688) == [(h, 0) for h, _ in truth]
    for hour_start, count in truth[-3:]:
        a = hour_start.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        b = (hour_start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        q = f"/q:*[System[(EventID=1) and TimeCreated[@SystemTime>='{a}' and @SystemTime<'{b}']]]"
        assert qe(log, q).count(b"<Event ") == count
    ev = events(qe(log, "/c:1", "/rd:true"))[0]
    assert ev.find(f"{NS}System/{NS}Provider").get("Name") == "Microsoft-Windows-Sysmon"  # type: ignore[union-attr]
    d = data(ev)
    st = sys_attr(ev, "TimeCreated", "SystemTime")
    assert d["UtcTime"] == st[:10] + " " + st[11:23]  # re-stamped with the event
    assert d["Image"].lower().endswith(".exe")


def test_stopped_sysmon_writes_no_process_starts() -> None:
    import dataclasses

    running = host(sysmon=True, rate=3000.0)
    stopped = dataclasses.replace(running, sysmon=SysmonProfile(installed=True, running=False))
    log = SimEventLog.for_sysmon(stopped, NOW)
    assert log is not None  # the channel exists (wevtutil gli works) ...
    assert sum(n for _, n in log.true_hourly_counts(1)) == 0  # ... but nothing was logged
    assert qe(log, "/c:5") == b""
    busy = SimEventLog.for_sysmon(running, NOW)
    assert busy is not None and sum(n for _, n in busy.true_hourly_counts(1)) > 0


# ------------------------------------------------------------------ the templates and their sources


def _licences(sources_md: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in sources_md.read_text(encoding="utf-8").splitlines():
        # the per-file table: | `file` | origin | licence | ... (a later table lists checksums)
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 3 and re.fullmatch(r"`[^`]+\.evtx`", cells[0]) and not cells[2].startswith("`"):
            out.setdefault(cells[0].strip("`"), cells[2])
    return out


def test_templates_carry_only_cc0_and_mit_sources(evtx_dev_dir: Path) -> None:
    licences = _licences(evtx_dev_dir / "SOURCES.md")
    assert licences["sbou__exec_sysmon_1_ftp.evtx"] == "GPL-3.0"  # the parse reads the licence column
    assert TEMPLATES_JSON.stat().st_size < 300_000
    doc = json.loads(TEMPLATES_JSON.read_text(encoding="utf-8"))
    kinds = set()
    for t in doc["templates"]:
        kinds.add(t["kind"])
        src = t["source"].get("process_fields_from", t["source"])
        assert licences[src["file"]] in ("CC0-1.0", "MIT"), src["file"]
        assert src["licence"] == licences[src["file"]]
        assert isinstance(src["record_number"], int)
    assert kinds == {"process", "other", "boot", "sysmon"}
    assert all(licences[f] in ("CC0-1.0", "MIT") for f in doc["sources"])


def _real_4688s(evtx_dev_dir: Path) -> dict[tuple[str, int], ET.Element]:
    """(file, record number) -> the real 4688 event, from the CC0/MIT files of the dev set."""
    import evtx

    real: dict[tuple[str, int], ET.Element] = {}
    licences = _licences(evtx_dev_dir / "SOURCES.md")
    for path in evtx_dev_dir.glob("*.evtx"):
        if licences.get(path.name) not in ("CC0-1.0", "MIT"):
            continue
        for rec in evtx.PyEvtxParser(str(path)).records():
            assert rec is not None  # evtx's stub types __next__ as Optional; it never yields None
            ev = ET.fromstring(rec["data"].split("?>", 1)[1])
            if sys_text(ev, "EventID") == "4688":
                real[(path.name, int(rec["event_record_id"]))] = ev
    return real


def _process_templates() -> list[dict[str, object]]:
    doc = json.loads(TEMPLATES_JSON.read_text(encoding="utf-8"))
    return [t for t in doc["templates"] if t["kind"] == "process"]


def test_rendered_events_keep_the_real_fields(evtx_dev_dir: Path) -> None:
    real = _real_4688s(evtx_dev_dir)
    by_key: dict[tuple[str, str, str], dict[str, object]] = {}
    derived = 0
    for t in _process_templates():
        d = dict(t["data"])  # type: ignore[call-overload]
        src = t["source"]
        assert isinstance(src, dict)
        orig = data(real[(src["file"], src["record_number"])])
        changed = src.get("fields_changed", [])
        # only the process identity may change, and only where the attribution says so
        assert set(changed) <= {"NewProcessName", "CommandLine", "ParentProcessName"}
        assert list(d) == list(orig)
        assert {k: v for k, v in d.items() if k not in changed} == {k: v for k, v in orig.items() if k not in changed}
        assert all(d[f] != orig[f] for f in changed)
        if changed:
            derived += 1
            assert src["derived"] == (f"derived from {src['file']}#{src['record_number']}, "
                                      f"fields changed: {', '.join(changed)}")
        else:
            assert "derived" not in src
        key = (d["NewProcessName"], d["CommandLine"], d["NewProcessId"])
        assert key not in by_key  # a rendered event names its template
        by_key[key] = t
    assert derived >= 15
    log = SimEventLog.for_security(host(boots=1.0, rate=20000.0), NOW)
    rendered = events(qe(log, "/q:*[System[(EventID=4688)]]", "/c:3000", "/rd:true"))
    assert len(rendered) == 3000
    seen_derived = 0
    for ev in rendered:
        d = data(ev)
        t = by_key[(d["NewProcessName"], d["CommandLine"], d["NewProcessId"])]
        # Subject/target names are re-stamped with the host's, like Computer (test_event_identity.py).
        names = {"SubjectUserName", "SubjectDomainName", "TargetUserName", "TargetDomainName"}
        template = dict(t["data"])  # type: ignore[call-overload]
        assert {k: v for k, v in d.items() if k not in names} == {k: v for k, v in template.items() if k not in names}
        assert d["SubjectDomainName"] in ("CORP", "SRV01", "NT AUTHORITY", "Window Manager", "-", "")
        src = t["source"]
        assert isinstance(src, dict)
        seen_derived += "derived" in src
        orig_ev = real[(src["file"], src["record_number"])]
        for tag in ("EventID", "Version", "Level", "Task", "Opcode", "Keywords", "Channel"):
            assert sys_text(ev, tag) == sys_text(orig_ev, tag), tag
        for el, attr in (("Execution", "ProcessID"), ("Execution", "ThreadID"), ("Provider", "Name")):
            assert sys_attr(ev, el, attr) == sys_attr(orig_ev, el, attr), (el, attr)  # both present, equal
        # re-stamped: Computer, time, record number
        assert sys_text(ev, "Computer") == "srv01.corp.example" != sys_text(orig_ev, "Computer")
        assert sys_attr(ev, "TimeCreated", "SystemTime").startswith("2026-11-")
    assert seen_derived > 0


# ------------------------------------------------------------------ the process mix

# Attack-like command lines, written from the technique list of the task and SOURCES.md's
# "attack-cmdline" kind (not from tools/build_event_templates.py's ATTACK_PATTERNS), plus the five families' shapes.
ATTACK_LIKE = [re.compile(p, re.IGNORECASE) for p in (
    r"wevtutil(\.exe)?\"?\s+cl\b", r"auditpol(\.exe)?\"?\s+/clear", r"\breg(\.exe)?\"?\s+add\b",
    r"certutil(\.exe)?\"?\s+-urlcache", r"\bnet1?(\.exe)?\"?\s+(user|group)\b", r"schtasks(\.exe)?\"?\s+/create",
    r"\bsc(\.exe)?\"?\s+config\b", r"\btscon\b", r"sethc\.exe", r"\s-w(indowstyle)?\s+hidden", r"javascript:",
    r"\bftp(\.exe)?\"?\s.*-s:", r"\\Users\\Public\\", r"\\AppData\\Local\\Temp\\", r"/enable-feature", r"\bwsl\.exe",
)]


def _frame(rows: list[dict[str, str]], hosts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "host": hosts,
        "new_process_name": [r.get("NewProcessName") for r in rows],
        "parent_process_name": [r.get("ParentProcessName") for r in rows],
        "subject_user_name": [r.get("SubjectUserName") for r in rows],
        "command_line": [r.get("CommandLine") for r in rows],
    })


def _family_rules() -> list[Rule]:
    rules, problems = load_rules([builtin_rules_dir()])
    assert not problems
    assert sorted(r.family for r in rules if r.family) == [1, 2, 3, 4, 5]
    return rules


def test_a_day_of_process_starts_is_mostly_benign() -> None:
    """20,000 starts/day: the five families match 0.1-0.5 % of them (PROCESS_MIX says 0.2 %)."""
    rate = 20000.0
    log = SimEventLog.for_security(host(seed=21, rate=rate, other=0.0, max_size=256 * MB), NOW)
    end = NOW.replace(minute=0, second=0, microsecond=0)
    a = (end - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    b = end.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    q = f"/q:*[System[(EventID=4688) and TimeCreated[@SystemTime>='{a}' and @SystemTime<'{b}']]]"
    rows = [data(e) for e in ET.fromstring(qe(log, q, "/c:1000000", "/f:xml", "/e:root"))]
    n = len(rows)
    assert abs(n - rate) < 5 * math.sqrt(rate)
    result = evaluate(_family_rules(), _frame(rows, ["srv01"] * n), {"srv01": rate})
    family_hits = sum(r.hits for r in result.results)
    assert 0.001 <= family_hits / n <= 0.005, family_hits
    assert all(r.hits > 0 for r in result.results), [(r.family, r.hits) for r in result.results]
    attack_like = sum(1 for r in rows if any(p.search(r["CommandLine"] + "\n" + r["NewProcessName"])
                                             for p in ATTACK_LIKE))
    assert 0.001 <= attack_like / n <= 0.005, attack_like
    # the old uniform draw made a quarter of all starts `wevtutil cl`
    assert sum(1 for r in rows if " cl " in r["CommandLine"] and "wevtutil" in r["CommandLine"]) < 0.001 * n
    assert len({r["NewProcessName"].lower() for r in rows}) >= 20  # the benign bulk is varied


def test_sysmon_process_starts_follow_the_same_mix() -> None:
    rate = 10000.0
    log = SimEventLog.for_sysmon(host(sysmon=True, rate=rate), NOW)
    assert log is not None
    b = NOW.replace(minute=0, second=0, microsecond=0)
    a = (b - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    q = f"/q:*[System[(EventID=1) and TimeCreated[@SystemTime>='{a}']]]"
    rows = [data(e) for e in ET.fromstring(qe(log, q, "/c:1000000", "/f:xml", "/e:root"))]
    assert abs(len(rows) - rate) < 5 * math.sqrt(rate) + rate / 24 * 2  # a day plus the current hour
    like = sum(1 for r in rows if any(p.search(r["CommandLine"] + "\n" + r["Image"]) for p in ATTACK_LIKE))
    assert 0.001 <= like / len(rows) <= 0.005, like
    assert len({r["Image"].lower() for r in rows}) >= 20


def test_class_shares_and_a_missing_class() -> None:
    pool = [t for t in security_templates(2, True) if t.kind == KIND_PROCESS]

    def shares(templates: list[Prepared]) -> dict[str, float]:
        p = np.diff(process_draw_table(templates), prepend=0.0)
        out: dict[str, float] = {}
        for t, x in zip(templates, p, strict=True):
            out[t.mix] = out.get(t.mix, 0.0) + float(x)
        return out

    assert shares(pool) == pytest.approx({"benign": 0.997, "attack": 0.001, "attack_family": 0.002})
    # without the five-family templates, benign and attack keep their 997:1 ratio
    rest = [t for t in pool if t.mix != "attack_family"]
    assert shares(rest) == pytest.approx({"benign": 0.997 / 0.998, "attack": 0.001 / 0.998})
    # within a class, an image's weight is shared by its templates: 14 `wevtutil cl` weigh as one image
    p = dict(zip([t.data for t in pool], np.diff(process_draw_table(pool), prepend=0.0), strict=True))
    wevtutil = [x for d, x in p.items() if dict(d)["NewProcessName"].lower().endswith("\\wevtutil.exe")]
    auditpol = [x for d, x in p.items() if dict(d)["NewProcessName"].lower().endswith("\\auditpol.exe")]
    assert len(wevtutil) == 14 and len(auditpol) == 1
    assert sum(wevtutil) == pytest.approx(auditpol[0], rel=1e-4)  # weights are stored to 6 decimals


def test_template_classes_agree_with_the_detection_rules() -> None:
    """Exactly the attack_family templates match a family rule, and each family has one."""
    process = _process_templates()
    rows = [dict(t["data"]) for t in process]  # type: ignore[call-overload]
    result = evaluate(_family_rules(), _frame(rows, [str(i) for i in range(len(rows))]), {})
    matched = set().union(*(r.hosts for r in result.results))
    assert matched == {str(i) for i, t in enumerate(process) if t["mix"] == "attack_family"}
    assert all(r.hits >= 1 for r in result.results)
    for t, row in zip(process, rows, strict=True):
        like = any(p.search(row["CommandLine"] + "\n" + row["NewProcessName"]) for p in ATTACK_LIKE)
        assert like == (t["mix"] != "benign"), row["CommandLine"]
        weight = t["weight"]
        assert isinstance(weight, float | int) and weight > 0


def _build_templates(argv: list[str]) -> int:
    """tools/build_event_templates.py's main(), loaded from its file."""
    spec = importlib.util.spec_from_file_location("build_event_templates", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: int = module.main(argv)
    return result


def test_generator_rebuilds_the_packaged_json(evtx_dev_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "event_templates.json"
    assert _build_templates([str(evtx_dev_dir), str(out)]) == 0
    assert out.read_bytes() == TEMPLATES_JSON.read_bytes()


def test_profile_changes_are_seen() -> None:
    base = host()
    louder = replace(base, rates=replace(base.rates, process_starts_per_day=20000.0))
    quiet = SimEventLog.for_security(base, NOW).true_hourly_counts(4688)[-5:-1]
    loud = SimEventLog.for_security(louder, NOW).true_hourly_counts(4688)[-5:-1]
    assert sum(c for _, c in loud) > 5 * sum(c for _, c in quiet)


def test_rendered_xml_and_quoted_query() -> None:
    log = SimEventLog.for_security(host(), NOW)
    plain = qe(log, "/q:*[System[(EventID=4688)]]", "/c:2", "/rd:true")
    assert qe(log, '/q:"*[System[(EventID=4688)]]"', "/c:2", "/rd:true") == plain
    assert qe(log, "/QUERY:*[System[(EventID=4688)]]", "/COUNT:2", "/RD:TRUE", "/format:xml") == plain
    rendered = events(qe(log, "/q:*[System[(EventID=4688)]]", "/c:2", "/rd:true", "/f:RenderedXml"))
    assert len(rendered) == 2
    info = rendered[0].find(f"{NS}RenderingInfo")
    assert info is not None and info.get("Culture") == "en-US"
    message = info.find(f"{NS}Message")
    assert message is not None and (message.text or "").startswith("A new process has been created.")
    assert data(rendered[0])["CommandLine"] in (message.text or "")


def test_archive_keeps_the_events_since_the_last_backup() -> None:
    log = SimEventLog.for_security(host(max_size=1 * MB, retention="archive", rate=500, other=500), NOW)
    assert log.oldest_record_number > 1  # earlier files were backed up and a new one started
    assert log.newest_time is not None and NOW - log.newest_time < timedelta(hours=2)
    assert log.file_size_bytes <= log.max_size_bytes
    assert qe(log, "/f:xml").count(b"<Event ") == log.record_count
    with pytest.raises(ValueError, match="retention"):
        SimEventLog.for_security(host(retention="circular"), NOW)
