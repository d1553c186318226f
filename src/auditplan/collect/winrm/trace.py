"""The opt-in live process-start trace (`--trace-seconds S`) for hosts where 4688 is off.

DESIGN.md "Collect": a short live process-start trace (PowerShell + Win32_ProcessStartTrace) is the
one place PowerShell is worth it; it is opt-in and time-boxed. The probe owner appends
`trace_section(S, marker)` to the probe's one cmd.exe line and hands the section's text to
`parse_trace`.

Facts relied on (winrm-protocol.md, cited as "winrm §n"):
- §1.5: the script travels as `powershell ... -EncodedCommand <base64 of UTF-16LE>` inside the
  cmd.exe line, which cmd caps at 8191 characters (§3.3); base64 of UTF-16LE is ~2.67 x the script, so
  the script is kept tiny (TRACE_SCRIPT_TEMPLATE, one statement a line). At S = 900 the fragment is 1,970 characters
  (test_trace.py pins < 2,000): beside it the probe fits a 168-hour window (7,166 characters in all).
- §1.5/§3.3: PowerShell writes CLIXML (`#< CLIXML` + `<Objs>` progress records) on stderr, which the
  probe's `2>&1` folds into the section text; `parse_trace` looks for its own line anywhere in it.
- Markers and exit codes follow winrm/probe.py: `echo <marker>trace&<tool> 2>&1 && echo
  <marker>rc:0|| call echo <marker>rc:%^ERRORLEVEL%` (probe.py's docstring explains the `call` idiom).

UNVERIFIED (no capture in /work/shared/reference): that Win32_ProcessStartTrace needs an administrator
(non-admins get WBEM_E_ACCESS_DENIED, which System.Management reports as ManagementStatus.AccessDenied);
that ManagementEventWatcher.WaitForNextEvent signals its Options.Timeout as a ManagementException with
ErrorCode Timedout (WBEM_E_TIMED_OUT, 0x80043001, per the SWbemEventSource.NextEvent docs). The script
is written so that if either guess is wrong it prints `error=failed` and exits 1: a wrong guess costs
the figure, never a wrong count.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from auditplan.collect.parse.tools import ParseError
from auditplan.records import ProcessTrace
from auditplan.text import excerpt

SECTION = "trace"
RC_NAME = "rc"  # the same rc marker name as winrm/probe.py's RC_NAME (a test checks they agree)
MIN_TRACE_SECONDS = 1
MAX_TRACE_SECONDS = 900  # time-boxed: 15 minutes is already long for a survey to wait on one host
CMD_LINE_LIMIT = 8191  # winrm §3.3
POWERSHELL = "powershell.exe"
POWERSHELL_FLAGS = "-NoProfile -NonInteractive -EncodedCommand"
WQL_PROCESS_START = "SELECT ProcessID FROM Win32_ProcessStartTrace"
TRACE_LINE_PREFIX = "auditplan-trace"
EXIT_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED: the script's exit code when WMI refuses the query
EXIT_FAILED = 1
EXIT_NOT_RECOGNIZED = 9009  # cmd: powershell.exe not found (windows-tool-outputs.md §9.1)
ERROR_ACCESS_DENIED = "access_denied"
ERROR_FAILED = "failed"
TRACE_MAX_CHARS = 1_000_000  # the section is one line plus a few KB of CLIXML; more is not ours
SECONDS_PLACEHOLDER = "__SECONDS__"

# Only the count leaves the host. Every event object is dropped as it arrives ($null=), so memory stays
# flat however busy the host is. The prefix lives in $p so that a CLIXML error record echoing this
# script's text can never contain a well-formed result line. `"$s"` expands with the invariant culture
# (a dot decimal separator even on de-DE); ToString('s') is the culture-free sortable form.
TRACE_SCRIPT_TEMPLATE = f"""$p='{TRACE_LINE_PREFIX} '
$n=0
try{{
$w=New-Object Management.ManagementEventWatcher '{WQL_PROCESS_START}'
$w.Options.Timeout=[TimeSpan]::FromSeconds(1)
$t=[DateTime]::UtcNow
$d=$t.AddSeconds({SECONDS_PLACEHOLDER})
while([DateTime]::UtcNow -lt $d){{
try{{$null=$w.WaitForNextEvent();$n++}}
catch{{if("$($_.Exception.GetBaseException().ErrorCode)" -ne 'Timedout'){{throw}}}}
}}
$w.Stop()
$s=[Math]::Round(([DateTime]::UtcNow-$t).TotalSeconds,1)
$p+"seconds=$s starts=$n started=$($t.ToString('s'))Z"
}}catch{{
$e=$_.Exception.GetBaseException()
if("$($e.ErrorCode)" -eq 'AccessDenied' -or $e -is [UnauthorizedAccessException]){{
$p+'error={ERROR_ACCESS_DENIED}';exit {EXIT_ACCESS_DENIED}}}
$p+'error={ERROR_FAILED}';exit {EXIT_FAILED}
}}
"""


def _check_seconds(seconds: int) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"trace seconds must be an int, got {type(seconds).__name__}")
    if not MIN_TRACE_SECONDS <= seconds <= MAX_TRACE_SECONDS:
        raise ValueError(f"trace seconds must be {MIN_TRACE_SECONDS}..{MAX_TRACE_SECONDS}, got {seconds}")


def trace_script(seconds: int) -> str:
    """The PowerShell script that counts process starts for `seconds` seconds."""
    _check_seconds(seconds)
    return TRACE_SCRIPT_TEMPLATE.replace(SECONDS_PLACEHOLDER, str(seconds))


def encode_command(script: str) -> str:
    """-EncodedCommand's argument: base64 of the UTF-16LE script (winrm §1.5)."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def trace_command(seconds: int) -> str:
    """`powershell.exe -NoProfile -NonInteractive -EncodedCommand <b64>`, stdin from NUL.

    `<NUL` gives PowerShell an already-closed stdin, so it can never sit waiting on input the WinRS
    client will not send.
    """
    return f"{POWERSHELL} {POWERSHELL_FLAGS} {encode_command(trace_script(seconds))} <NUL"


def trace_section(seconds: int, marker_prefix: str) -> str:
    """The cmd.exe fragment for the probe line: `echo <marker_prefix>trace&powershell ... <rc suffix>`.

    `marker_prefix` is the probe's marker including its colon (probe.marker_for(nonce), `##APabcdef:`).
    The fragment has no leading or trailing `&`: join it to the other sections with `&` before the
    closing `echo <marker>end`, and list SECTION ("trace") in the probe's SECTION_ORDER. The host then
    spends `seconds` (plus about a second, plus PowerShell's start-up) in this section, so the probe's
    deadline must grow by as much.
    """
    if not marker_prefix or any(ch in marker_prefix for ch in '&|<>^"% \r\n'):
        raise ValueError("marker_prefix must be a plain marker such as '##APabcdef:'")
    rc = f" 2>&1 && echo {marker_prefix}{RC_NAME}:0|| call echo {marker_prefix}{RC_NAME}:%^ERRORLEVEL%"
    return f"echo {marker_prefix}{SECTION}&{trace_command(seconds)}{rc}"


# --- parsing -----------------------------------------------------------------------------------------

# Values are matched strictly: a line whose fields are not exactly these is not ours.
_OK_LINE = re.compile(
    TRACE_LINE_PREFIX
    + r" seconds=(?P<seconds>\d{1,6}(?:[.,]\d{1,6})?) starts=(?P<starts>\d{1,12})"
    + r" started=(?P<started>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)(?=[\s<#]|$)"
)
_ERROR_LINE = re.compile(TRACE_LINE_PREFIX + r" error=(?P<error>[a-z_]{1,40})(?=[\s<#]|$)")
# cmd.exe refuses a raw line over 8191 characters with the first (winrm §1.5), and one that grows past
# it by %VAR% expansion with the second (KB 830473; its exact text is UNVERIFIED).
_TOO_LONG = ("The command line is too long.", "The input line is too long.")
_CLIXML_HEADER = "#< CLIXML"


def parse_trace(text: str, exit_code: int | None) -> ProcessTrace | ParseError:
    """The trace section's text (markers removed) -> ProcessTrace, or a ParseError. Never raises.

    Tolerates CLIXML progress/error records around the result line (winrm §1.5). Refuses text
    with no result line, with two different result lines, or with impossible values.
    """
    try:
        return _parse(text, exit_code)
    except Exception as exc:  # a parser of untrusted host text must never take the survey down
        return ParseError(SECTION, f"unreadable trace output ({type(exc).__name__})")


def _parse(text: str, exit_code: int | None) -> ProcessTrace | ParseError:
    if len(text) > TRACE_MAX_CHARS:
        return ParseError(SECTION, f"output is {len(text)} characters, more than {TRACE_MAX_CHARS}", "too_large")
    oks = {m.group(0): m for m in _OK_LINE.finditer(text)}
    errors = {m.group("error") for m in _ERROR_LINE.finditer(text)}
    if len(oks) > 1 or (oks and errors):
        return ParseError(SECTION, "more than one trace result line")
    if oks:
        return _trace_from(next(iter(oks.values())))
    if ERROR_ACCESS_DENIED in errors or (exit_code == EXIT_ACCESS_DENIED and not errors):
        return ParseError(
            SECTION, "Win32_ProcessStartTrace: access denied (the WMI query needs an administrator)", "access_denied"
        )
    if errors:
        return ParseError(SECTION, f"the trace script failed on the host (error={sorted(errors)[0]})")
    if exit_code == EXIT_NOT_RECOGNIZED:
        return ParseError(SECTION, "powershell.exe is not available on the host", "not_found")
    if any(message in text for message in _TOO_LONG):
        return ParseError(SECTION, "the probe command line is too long for cmd.exe (8191 characters)")
    if not text.strip():
        return ParseError(SECTION, f"no output (exit code {exit_code})", "empty")
    shown = "CLIXML records only" if text.lstrip().startswith(_CLIXML_HEADER) else excerpt(text)
    return ParseError(SECTION, f"no trace result line (exit code {exit_code}): {shown}")


def _trace_from(m: re.Match[str]) -> ProcessTrace | ParseError:
    seconds = float(m.group("seconds").replace(",", "."))
    if not 0 < seconds <= 2 * MAX_TRACE_SECONDS:
        return ParseError(SECTION, f"implausible trace length {seconds} s")
    try:
        started = datetime.strptime(m.group("started"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return ParseError(SECTION, f"bad start time {m.group('started')!r}")
    return ProcessTrace(seconds=seconds, process_starts=int(m.group("starts")), started_at=started)
