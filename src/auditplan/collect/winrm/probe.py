"""The one cmd.exe command line run on each host, and the splitting of its output into sections.

Shape (DESIGN.md "Collect"): `echo <marker>name& tool ...& echo <marker>next& ...`. Facts relied on,
from /work/shared/reference/windows-tool-outputs.md (cited as "tool-outputs §n"):

- §9.2: `echo` prints the text up to `&` verbatim, so markers are written as `echo X& ...` with no space
  before `&`; the splitter also strips trailing blanks from marker lines in case a shell adds one.
- Exit codes: `%ERRORLEVEL%` in a `cmd /c` line expands once, when the whole line is parsed, so every
  section would report the same stale value. Each tool is therefore followed by
  `&& echo <marker>rc:0|| call echo <marker>rc:%^ERRORLEVEL%`: `&&`/`||` act on the tool's own exit code
  (tool-outputs §9.2 "exit status is that of the last command"); on failure, `call` expands the line a
  second time at run time. In command-line (not batch) mode cmd leaves `%^ERRORLEVEL%` alone in the first
  pass because no variable `^ERRORLEVEL` exists, the caret is then removed, and `call` sees
  `%ERRORLEVEL%`. This `call` idiom is standard cmd behaviour but is NOT in the reference captures
  (UNVERIFIED there): a shell that lacks `call` simply produces no rc line, and every parser works from
  the text alone, so an unknown exit code costs nothing but the figure.
- Every tool runs with `2>&1` so its error text (reg §5.2, wevtutil §3.4/§4.3, auditpol §2.4: stderr or
  stream unknown) lands inside its own section.
- Counting 4688s per hour ON THE HOST: `wevtutil qe /f:xml` writes events back to back with no separator
  and no line breaks (tool-outputs §4.1: 3 events in 2 lines), so `| find /c "<Event "` would count
  lines, not events. `/f:text` starts every event with an `Event[N]` header and exactly one
  `  Date: <UTC ISO>Z` line (§4.2, Windows 10 / Server 2016 and later; field names are not localised).
  Each hour of the window has its own query with its own cap (collect/winrm/hour_counts.py, issue 15),
  run by one `(for %h in (HH ...) do ...)` loop per UTC day: cmd substitutes `%h` per iteration at run
  time (the line's %-expansion pass leaves it alone: paired with the next `%` it names no variable, as
  with `%^ERRORLEVEL%`). A capped hour also prints its oldest kept event's time, so the hours of a busy
  host are measured over part of each hour instead of dropped. Hours before the log's oldest event read 0
  because the log no longer holds them (compare SecurityLog.oldest_time). UNVERIFIED: the
  2020-era capture `Date: 2020-12-14T17:09:08.940` (no `Z`) suggests older builds may print local time;
  on such hosts the hourly bins would be shifted by the UTC offset (totals stay right).
- Line length: cmd.exe's 8191-character limit (winrm-protocol.md §1.5/§3.3) also covers "all environment
  variable expansions" (Microsoft KB 830473), i.e. the line after %VAR% expansion. The line therefore
  names %TEMP% exactly once, in a leading `cd /d "%TEMP%"`, and uses relative temp-file names after it,
  and %windir% once, in a `pushd` before the two audit.csv sections (relative names, then `popd`), so
  its expanded length is the raw length + len(TEMP) - 6 + len(windir) - 8 whatever the window; the raw
  line is held to PROBE_LINE_BUDGET, which leaves room for a TEMP and a windir of MAX_PATH each.
  UNVERIFIED (not in the reference): the text, stream and exit code of cmd's answer to an over-long
  expanded line ("The input line is too long."), and that `auditpol /backup /file:` resolves a
  relative name against the working directory (standard Win32 file-name resolution).
- Markers carry a random per-run nonce (`##AP3f9c2a:name`): sampled events hold command lines that an
  attacker on the host controls, and a fixed marker inside one could split the output. The first marker
  is written by our own `echo` before any tool runs, so `split_sections` learns the nonce from it.
  Where command-line auditing is on, the probe's own cmd.exe is logged (4688) with this whole command
  line, nonce and markers included, and that event can be the newest Security event (`security_newest`)
  or land in a sample; `split_sections` therefore takes a marker only as a whole line of echo output and
  never inside an `<Event>...</Event>` element (see its docstring).
- Sample pollution: up to ~70 of the newest 4688s are the probe's own processes (docs/real-fleet.md §1).
  They all start in the current hour, so the sample is bounded by `@SystemTime < window_end` like the
  counts; parse/events.py's parse_sampled_4688 also drops any event carrying the nonce and its descendants.
- Sample size and the wire (issue 3: <= 64 KB per host at the defaults, no extra round trips): the
  sample rides in the same command, so it adds no request while the output fits one Receive envelope
  (pywinrm asks for MaxEnvelopeSize 153600, winrm-protocol.md §1.2). A realistic 4688-on host
  (bench/survey.py sampling-on scenario: Server 2022, 5,000 4688/day, command lines on, 20 MB log)
  costs 37.7 KB (Basic) / 41.6 KB (NTLM) on the wire with no sample, and each sampled event ~1.35 KB
  of XML, ~1.75 KB on the wire (base64 adds a third). Measured: 20 events -> 72.7 / 76.7 KB; the old
  default of 100 -> 214.5 / 219.0 KB and one extra Receive (5 / 8 requests instead of 4 / 7).
  DEFAULT_SAMPLE_EVENTS = 12 leaves ~59 / ~63 KB. No cmd built-in can cut a section at a byte count,
  and the transport's --max-output cap acts per Receive envelope, so the event count is the lever; the
  events section comes last, so --max-output cuts it first. A sample of long command lines (a
  32K-character line is ~64 KB) still exceeds the target; --max-output is the hard bound.
"""

from __future__ import annotations

import bisect
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from auditplan.collect.errors import ProbeOptionsError
from auditplan.collect.parse.events import (
    PROCESS_CREATION_EVENT_ID,
    SECURITY_AUDITING_PROVIDER,
    SYSMON_PROCESS_CREATE_EVENT_ID,
)
from auditplan.collect.winrm import trace
from auditplan.collect.winrm.hour_counts import hour_count_loops, per_hour_cap
from auditplan.records import PROCESS_CREATION_GUID, ProbeCaps

MARKER_PREFIX = "##AP"
RC_NAME = "rc"
END_SECTION = "end"
CMD_LINE_LIMIT = 8191  # cmd.exe's maximum command line (winrm-protocol.md §3.3)
TEMP_REF = "%TEMP%"  # expanded once, in the line's leading `cd /d`
WINDIR_REF = "%windir%"  # expanded once, in the `pushd` before the audit.csv sections
MAX_PATH = 260  # a directory cmd can `cd` into is shorter than this, so %TEMP% and %windir% are too
# KB 830473: the limit holds after %VAR% expansion, so the raw line leaves room for the longest
# %TEMP% and %windir%.
PROBE_LINE_BUDGET = CMD_LINE_LIMIT - (MAX_PATH - len(TEMP_REF)) - (MAX_PATH - len(WINDIR_REF))
# Where the Group Policy client keeps the advanced audit policy it applied, and the local GPO's own
# (relative to %windir%; collect/parse/audit_source.py says where these paths come from).
AUDIT_CSV_APPLIED = r"security\audit\audit.csv"
AUDIT_CSV_LOCAL_GPO = r"System32\GroupPolicy\Machine\Microsoft\Windows NT\Audit\audit.csv"
FOR_VARIABLE = "%h"  # command-line (not batch) mode: one percent sign

SECURITY_LOG = "Security"
SYSMON_LOG = "Microsoft-Windows-Sysmon/Operational"
SYSMON_SERVICES = ("Sysmon64", "Sysmon")

KEY_CURRENT_VERSION = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
KEY_PRODUCT_OPTIONS = r"HKLM\SYSTEM\CurrentControlSet\Control\ProductOptions"
KEY_AUDIT_POLICY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\Audit"
KEY_LSA = r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa"
KEY_EVENTLOG_SECURITY = r"HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Security"
VALUE_CMDLINE = "ProcessCreationIncludeCmdLine_Enabled"  # gpo-backup-format.md §A2
VALUE_SCE_NO_APPLY_LEGACY = "SCENoApplyLegacyAuditPolicy"  # gpo-backup-format.md §A3
VALUE_PRODUCT_TYPE = "ProductType"
KB_CMDLINE = "KB3004375"  # gpo-backup-format.md §A2
BUILD_KB_CHECK = (7601, 9200)  # builds where KB_CMDLINE decides command-line support (§A2)

# The text-format line every event carries once (tool-outputs §4.2).
DATE_LINE_LABEL = "Date: "

# Section names, in the order they appear. Small, host-configuration sections come first and
# sections holding attacker-influenced event text come last, so a byte cap cuts the least useful.
S_HOSTNAME = "hostname"
S_VER = "ver"
S_REG_CURRENT_VERSION = "reg_current_version"
S_REG_PRODUCT_TYPE = "reg_product_type"
S_REG_CMDLINE = "reg_cmdline"
S_REG_SCE = "reg_sce_no_apply_legacy"
S_REG_EVENTLOG = "reg_eventlog_security"
S_KB3004375 = "kb3004375"
S_AUDITPOL_BACKUP = "auditpol_backup"
S_AUDITPOL_CSV = "auditpol_csv"
S_AUDITPOL_GET = "auditpol_get"
S_AUDIT_CSV_APPLIED = "audit_csv_applied"
S_AUDIT_CSV_LOCAL_GPO = "audit_csv_local_gpo"
S_WEVTUTIL_GL = "wevtutil_gl"
S_WEVTUTIL_GLI = "wevtutil_gli"
S_SC_SYSMON64 = "sc_sysmon64"
S_SC_SYSMON = "sc_sysmon"
S_SYSMON_GLI = "sysmon_gli"
S_COUNT_4688 = "count_4688"
S_COUNT_SYSMON = "count_sysmon_eid1"
S_OLDEST = "security_oldest"
S_NEWEST = "security_newest"
S_TRACE = trace.SECTION  # winrm/trace.py's fragment echoes its own marker
S_EVENTS = "events_4688"

DEFAULT_SAMPLE_EVENTS = 12  # see "Sample size and the wire" above
MAX_TRACE_SECONDS = trace.MAX_TRACE_SECONDS

SECTION_ORDER: tuple[str, ...] = (
    S_HOSTNAME,
    S_VER,
    S_REG_CURRENT_VERSION,
    S_REG_PRODUCT_TYPE,
    S_REG_CMDLINE,
    S_REG_SCE,
    S_REG_EVENTLOG,
    S_KB3004375,
    S_AUDITPOL_BACKUP,
    S_AUDITPOL_CSV,
    S_AUDITPOL_GET,
    S_AUDIT_CSV_APPLIED,
    S_AUDIT_CSV_LOCAL_GPO,
    S_WEVTUTIL_GL,
    S_WEVTUTIL_GLI,
    S_SC_SYSMON64,
    S_SC_SYSMON,
    S_SYSMON_GLI,
    S_COUNT_4688,
    S_COUNT_SYSMON,
    S_OLDEST,
    S_NEWEST,
    S_TRACE,
    S_EVENTS,
)

_NONCE_RE = re.compile(r"[0-9a-f]{6}")


@dataclass(frozen=True)
class ProbeOptions:
    window_hours: int = 24
    sample_events: int = DEFAULT_SAMPLE_EVENTS
    max_events: int = 20_000  # per log, spread over the window's hours (hour_counts.py); bounds host work
    max_bytes: int = 4 * 1024 * 1024  # enforced by the transport; recorded in ProbeCaps
    deadline_seconds: float = 120.0
    nonce: str | None = None  # 6 lower-case hex digits; random when None (tests pass one)
    trace_seconds: int = 0  # > 0: append winrm/trace.py's live process-start trace (PowerShell)

    def __post_init__(self) -> None:
        if not 1 <= self.window_hours <= 168:
            raise ProbeOptionsError(f"window_hours must be 1..168, got {self.window_hours}")
        if not 0 <= self.sample_events <= 10_000:
            raise ProbeOptionsError(f"sample_events must be 0..10000, got {self.sample_events}")
        if self.max_events < 1:
            raise ProbeOptionsError(f"max_events must be >= 1, got {self.max_events}")
        if self.max_bytes < 1:
            raise ProbeOptionsError(f"max_bytes must be >= 1, got {self.max_bytes}")
        if self.deadline_seconds <= 0:
            raise ProbeOptionsError(f"deadline_seconds must be > 0, got {self.deadline_seconds}")
        if self.nonce is not None and not _NONCE_RE.fullmatch(self.nonce):
            raise ProbeOptionsError("nonce must be 6 lower-case hex digits")
        if not 0 <= self.trace_seconds <= MAX_TRACE_SECONDS:
            raise ProbeOptionsError(f"trace_seconds must be 0..{MAX_TRACE_SECONDS}, got {self.trace_seconds}")


@dataclass(frozen=True)
class ProbeCommand:
    command_line: str
    sections: tuple[str, ...]  # in output order, without the closing END_SECTION
    window_start: datetime  # inclusive, UTC, on the hour
    window_end: datetime  # exclusive, UTC, on the hour (the current partial hour is left out)
    window_hours: int
    caps: ProbeCaps
    nonce: str
    sample_events: int = DEFAULT_SAMPLE_EVENTS
    hour_starts: tuple[datetime, ...] = field(default_factory=tuple)  # oldest first
    trace_seconds: int = 0
    hour_cap: int = 0  # events each hour's count query reads at most (hour_counts.per_hour_cap)

    @property
    def marker(self) -> str:
        return marker_for(self.nonce)


@dataclass(frozen=True)
class Section:
    name: str
    text: str  # decoded, rc and marker lines removed
    exit_code: int | None  # None when the shell printed no rc line for it
    truncated: bool = False  # output ended inside this section (byte cap)


def marker_for(nonce: str) -> str:
    return f"{MARKER_PREFIX}{nonce}:"


def xpath_time(t: datetime) -> str:
    """UTC ISO form used in XPath bounds: 2026-11-28T06:00:00.000Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def build_probe(options: ProbeOptions, now: datetime) -> ProbeCommand:
    """The single cmd.exe command line for one host, plus what is needed to read its output."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    nonce = options.nonce if options.nonce is not None else secrets.token_hex(3)
    mark = marker_for(nonce)
    window_end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    window_start = window_end - timedelta(hours=options.window_hours)
    hour_starts = tuple(window_start + timedelta(hours=i) for i in range(options.window_hours))
    hour_cap = per_hour_cap(options.max_events, options.window_hours)
    rc = f" 2>&1 && echo {mark}{RC_NAME}:0|| call echo {mark}{RC_NAME}:%^ERRORLEVEL%"
    # Relative names: the line starts with `cd /d "%TEMP%"`, the one %TEMP% it expands (see the docstring).
    csv_file = f"ap{nonce}.csv"
    sec_dates = f"ap{nonce}s"
    sysmon_dates = f"ap{nonce}y"
    # Before window_end only: the probe's own processes all start in the current, uncounted hour.
    q_4688 = (
        f"*[System[Provider[@Name='{SECURITY_AUDITING_PROVIDER}'] and EventID={PROCESS_CREATION_EVENT_ID}"
        f" and TimeCreated[@SystemTime<'{xpath_time(window_end)}']]]"
    )

    parts: list[tuple[str, str]] = [
        (S_HOSTNAME, "hostname"),
        (S_VER, "ver"),
        (S_REG_CURRENT_VERSION, f'reg query "{KEY_CURRENT_VERSION}"{rc}'),
        (S_REG_PRODUCT_TYPE, f'reg query "{KEY_PRODUCT_OPTIONS}" /v {VALUE_PRODUCT_TYPE}{rc}'),
        (S_REG_CMDLINE, f'reg query "{KEY_AUDIT_POLICY}" /v {VALUE_CMDLINE}{rc}'),
        (S_REG_SCE, f'reg query "{KEY_LSA}" /v {VALUE_SCE_NO_APPLY_LEGACY}{rc}'),
        (S_REG_EVENTLOG, f'reg query "{KEY_EVENTLOG_SECURITY}"{rc}'),
        # wmic is absent on the newest builds (9009, filtered away by find); it only matters on 7601/9200.
        # `<nul`: wmic reads stdin and is known to wait on it forever under WinRS, which keeps stdin open.
        (S_KB3004375, f'wmic qfe get HotFixID <nul 2>&1|find "{KB_CMDLINE}"'),
        # auditpol will not overwrite an existing backup file (tool-outputs §1.2), so delete first.
        (S_AUDITPOL_BACKUP, f"del {csv_file} 2>nul&auditpol /backup /file:{csv_file}{rc}"),
        (S_AUDITPOL_CSV, f"type {csv_file}{rc}&del {csv_file} 2>nul"),
        (S_AUDITPOL_GET, f"auditpol /get /subcategory:{PROCESS_CREATION_GUID.upper()} /r{rc}"),
        # pushd/popd: back to the temp folder afterwards without naming %TEMP% a second time.
        (S_AUDIT_CSV_APPLIED, f'pushd "{WINDIR_REF}"&type {AUDIT_CSV_APPLIED}{rc}'),
        (S_AUDIT_CSV_LOCAL_GPO, f'type "{AUDIT_CSV_LOCAL_GPO}"{rc}&popd'),
        (S_WEVTUTIL_GL, f"wevtutil gl {SECURITY_LOG}{rc}"),
        (S_WEVTUTIL_GLI, f"wevtutil gli {SECURITY_LOG}{rc}"),
        (S_SC_SYSMON64, f"sc query {SYSMON_SERVICES[0]}{rc}"),
        (S_SC_SYSMON, f"sc query {SYSMON_SERVICES[1]}{rc}"),
        (S_SYSMON_GLI, f"wevtutil gli {SYSMON_LOG}{rc}"),
        # Per-hour queries, each with its own cap (hour_counts.py): every hour of the window is counted.
        (S_COUNT_4688, "&".join(hour_count_loops(
            hour_starts, SECURITY_LOG,
            f"Provider[@Name='{SECURITY_AUDITING_PROVIDER}'] and EventID={PROCESS_CREATION_EVENT_ID}",
            hour_cap, sec_dates)) + f"&del {sec_dates}"),
        (S_COUNT_SYSMON, "&".join(hour_count_loops(
            hour_starts, SYSMON_LOG, f"EventID={SYSMON_PROCESS_CREATE_EVENT_ID}", hour_cap, sysmon_dates))
         + f"&del {sysmon_dates}"),
        (S_OLDEST, f"wevtutil qe {SECURITY_LOG} /c:1 /f:xml{rc}"),
        (S_NEWEST, f"wevtutil qe {SECURITY_LOG} /c:1 /rd:true /f:xml{rc}"),
    ]
    pieces = [f"echo {mark}{name}&{cmd}" for name, cmd in parts]
    names = [name for name, _ in parts]
    if options.trace_seconds > 0:
        # Before the sample: where 4688 is off (the trace's use) the sample is empty anyway.
        pieces.append(trace.trace_section(options.trace_seconds, mark))
        names.append(S_TRACE)
    if options.sample_events > 0:
        pieces.append(
            f"echo {mark}{S_EVENTS}&"
            f'wevtutil qe {SECURITY_LOG} /q:"{q_4688}" /c:{options.sample_events} /rd:true /f:xml{rc}'
        )
        names.append(S_EVENTS)
    # No marker before the cd: it prints nothing on success, and on failure (no such folder) the files
    # land in WinRS's start directory, the user's profile, which is writable too.
    line = f'cd /d "{TEMP_REF}" 2>nul&' + "&".join(pieces) + f"&echo {mark}{END_SECTION}"
    if len(line) > PROBE_LINE_BUDGET:
        # cmd.exe would refuse the whole line ("The input line is too long."): say which options to shrink.
        raise ProbeOptionsError(
            f"the probe command line would be {len(line)} characters; with {TEMP_REF} and {WINDIR_REF} "
            f"expanded (up to {MAX_PATH - 1} characters each) that is over cmd.exe's {CMD_LINE_LIMIT}: "
            f"use a shorter --window-hours (now {options.window_hours})"
            + (f" or no --trace-seconds (adds {len(pieces[-2 if options.sample_events else -1])} characters)"
               if options.trace_seconds else "")
        )
    caps = ProbeCaps(
        max_events=options.max_events, max_bytes=options.max_bytes, deadline_seconds=options.deadline_seconds,
        max_events_per_hour=hour_cap,
    )
    return ProbeCommand(
        command_line=line,
        sections=tuple(names),
        window_start=window_start,
        window_end=window_end,
        window_hours=options.window_hours,
        caps=caps,
        nonce=nonce,
        sample_events=options.sample_events,
        hour_starts=hour_starts,
        trace_seconds=options.trace_seconds,
        hour_cap=hour_cap,
    )


_CODEC_BY_CODEPAGE = {65001: "utf-8", 1200: "utf-16-le", 20127: "ascii", 28591: "latin-1"}
# A marker, then optional blanks (tool-outputs §9.2), then the line's end (CRLF, §0.2) or the output's end.
_MARKER_RE = re.compile(rb"##AP([0-9a-f]{6}):([a-z0-9_]+)(?::(-?[0-9]*))?[ \t]*(?:\r?\n|\Z)")
_EVENT_OPEN_RE = re.compile(rb"<Event[\s>]")
_EVENT_CLOSE = b"</Event>"


def _codec(codepage: int) -> str:
    import codecs

    name = _CODEC_BY_CODEPAGE.get(codepage, f"cp{codepage}")
    try:
        codecs.lookup(name)
    except LookupError:
        return "utf-8"
    return name


def decode(data: bytes, codepage: int) -> str:
    """Console bytes to text; never raises (undecodable bytes become U+FFFD)."""
    return data.decode(_codec(codepage), errors="replace")


def _event_spans(stdout: bytes) -> list[tuple[int, int]]:
    """[start, end) of every complete `<Event ...>...</Event>` element, in order (linear scan).

    Event data cannot hold a raw `</Event>` (wevtutil escapes `<` as `&lt;`, tool-outputs §4.1), so
    the first close after an open is that event's own end. An open without a close (output cut) hides
    nothing: no later marker exists to hide.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := _EVENT_OPEN_RE.search(stdout, pos)) is not None:
        close = stdout.find(_EVENT_CLOSE, m.start())
        if close < 0:
            break
        pos = close + len(_EVENT_CLOSE)
        spans.append((m.start(), pos))
    return spans


def _inside(spans: list[tuple[int, int]], pos: int) -> bool:
    i = bisect.bisect_right(spans, (pos, _NO_END)) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


_NO_END = 1 << 62


def _at_line_start(stdout: bytes, pos: int) -> bool:
    # After `</Event>` too: where wevtutil puts its final CRLF after XML events is UNVERIFIED (tool-outputs §4.1).
    return pos == 0 or stdout[pos - 1 : pos] == b"\n" or stdout.endswith(_EVENT_CLOSE, 0, pos)


def split_sections(stdout: bytes, codepage: int) -> dict[str, Section]:
    """Split probe output at its markers. Missing sections are absent; nothing here raises.

    A marker counts only where our own `echo` could have printed it:
    - it ends its line (optional trailing blanks, then CRLF or the end of the output);
    - a section marker also starts its line (or directly follows `</Event>`); an rc marker may follow
      other text on its line, because the tool before it may not end with a newline (`type` of a file
      without one: auditpol /backup's line endings are UNVERIFIED, tool-outputs §1.2);
    - it is never inside an `<Event>...</Event>` element: with command-line auditing on, the probe's
      own cmd.exe 4688 (nonce and markers in its CommandLine) can be the newest event or be sampled;
    - it carries the nonce of the first marker and names a section later in SECTION_ORDER than the
      current one, so marker-like text elsewhere cannot forge or reorder sections.
    The rc line of a section is the last one in it: it is echoed after the tool's output.
    """
    order = {name: i for i, name in enumerate((*SECTION_ORDER, END_SECTION))}
    spans = _event_spans(stdout)
    nonce: bytes | None = None
    current: str | None = None
    current_pos = -1
    start = 0
    chunks: list[tuple[str, int, int, int | None]] = []  # name, start, end, rc
    saw_end = False
    for m in _MARKER_RE.finditer(stdout):
        m_nonce, name_b, rc_b = m.group(1), m.group(2), m.group(3)
        name = name_b.decode()
        is_rc = name == RC_NAME and rc_b is not None
        if not is_rc and not _at_line_start(stdout, m.start()):
            continue
        if spans and _inside(spans, m.start()):
            continue
        if nonce is None:
            if name not in order or rc_b is not None:
                continue
            nonce = m_nonce
        elif m_nonce != nonce:
            continue
        if is_rc:
            if current is not None:
                # Keep the text up to the rc line; anything after it (rare) stays in the section too.
                rc = int(rc_b) if rc_b not in (b"", b"-") else None
                chunks.append((current, start, m.start(), rc))
                start = m.end()
            continue
        if rc_b is not None or name not in order or order[name] <= current_pos:
            continue
        if current is not None:
            chunks.append((current, start, m.start(), None))
        if name == END_SECTION:
            saw_end = True
            current = None
            break
        current, current_pos, start = name, order[name], m.end()
    if current is not None:
        chunks.append((current, start, len(stdout), None))
    return _assemble(stdout, chunks, codepage, truncated_last=not saw_end)


def _assemble(
    stdout: bytes, chunks: list[tuple[str, int, int, int | None]], codepage: int, *, truncated_last: bool
) -> dict[str, Section]:
    texts: dict[str, list[bytes]] = {}
    codes: dict[str, int | None] = {}
    for name, a, b, rc in chunks:
        texts.setdefault(name, []).append(stdout[a:b])
        if rc is not None:
            codes[name] = rc
        else:
            codes.setdefault(name, None)
    out: dict[str, Section] = {}
    last = chunks[-1][0] if chunks else None
    for name, parts in texts.items():
        out[name] = Section(
            name=name,
            text=decode(b"".join(parts), codepage),
            exit_code=codes.get(name),
            truncated=truncated_last and name == last,
        )
    return out
