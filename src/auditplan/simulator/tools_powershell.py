"""`powershell.exe` on a simulated host: just enough to run auditplan's process-start trace.

The emulator is not a PowerShell interpreter. It decodes `-EncodedCommand` (base64 of UTF-16LE,
winrm-protocol.md §1.5) and recognises one kind of script: one that watches
`Win32_ProcessStartTrace` until `$t.AddSeconds(N)` (collect/winrm/trace.py writes it). For such a script it
prints what the script prints on a host with this profile's rates:

- admin: `auditplan-trace seconds=N starts=K started=<UTC start>Z`, exit 0, where K is a Poisson draw
  whose mean integrates the profile's process_starts_per_day x hourly_shape over [start, start + N s]
  (the same hourly weighting as simulator/eventlog.py).
- not admin: `auditplan-trace error=access_denied`, exit 5 (UNVERIFIED on Windows: see collect/winrm/trace.py).

Time: the trace is SIMULATED time. The host clock's current value is the start, and by default the
tool returns at once (`time_scale=0`), so a 600 s trace costs tests nothing. A demo may pass
`time_scale=0.01` to really wait 1 % of N seconds.

Noise: real PowerShell run over WinRS writes a CLIXML progress record ("Preparing modules for first
use.") to stderr (winrm-protocol.md §1.5, pywinrm#245); every run here writes one, so consumers meet it.
The record's exact bytes are modelled on the shape quoted there, not on a capture (UNVERIFIED).
Any other script, bad base64 or an unknown switch gets a CLIXML error record on stderr and exit 1;
those texts are the emulator's own, not Windows'.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from auditplan.simulator.cmd_shell import CRLF, ToolContext
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import HostProfile

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED, the trace script's own `exit 5`
RESULT_PREFIX = "auditplan-trace"  # what the trace script prints ($p)
SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0

BAD_ENCODING = (
    "Cannot process the command because the value specified with -EncodedCommand is not properly encoded."
)
CLIXML_HEADER = "#< CLIXML" + CRLF
CLIXML_NS = "http://schemas.microsoft.com/powershell/2004/04"
PROGRESS_RECORD = (
    f'<Objs Version="1.1.0.1" xmlns="{CLIXML_NS}"><Obj S="progress" RefId="0"><TN RefId="0">'
    "<T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS>"
    '<I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil />'
    "<PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>"
)

# Switches powershell.exe 5.1 takes before the command; values are consumed for those that have one.
# Any unambiguous prefix is accepted, as powershell.exe does (`-enc`, `-NoP`, `-NonI`).
_FLAG_SWITCHES = ("noprofile", "noninteractive", "nologo", "noexit", "sta", "mta")
_VALUE_SWITCHES = ("inputformat", "outputformat", "executionpolicy", "windowstyle", "version")
_ENCODED = "encodedcommand"
_COMMAND = "command"

_WATCHES_PROCESS_START = re.compile(r"(?i)SELECT\s+\S+\s+FROM\s+Win32_ProcessStartTrace")
_TRACE_SECONDS = re.compile(r"(?i)\.AddSeconds\(\s*(\d{1,6})\s*\)")


def _clixml_error(message: str) -> str:
    text = message.replace("\r\n", "_x000D__x000A_")
    return f'{CLIXML_HEADER}<Objs Version="1.1.0.1" xmlns="{CLIXML_NS}"><S S="Error">{text}_x000D__x000A_</S></Objs>'


def _match_switch(word: str) -> str | None:
    """The switch a `-word` names (prefixes allowed when unambiguous; `-e`/`-ec` mean EncodedCommand)."""
    w = word.lstrip("-/").lower()
    if w in ("e", "ec", "enc"):
        return _ENCODED
    if w == "c":
        return _COMMAND
    names = (*_FLAG_SWITCHES, *_VALUE_SWITCHES, _ENCODED, _COMMAND)
    hits = [n for n in names if n.startswith(w)] if w else []
    return hits[0] if len(hits) == 1 else None


def expected_starts(profile: HostProfile, start: datetime, seconds: float) -> float:
    """Mean process starts in [start, start + seconds): the profile's daily rate spread by hourly_shape."""
    shape = profile.rates.hourly_shape
    total = float(sum(shape))
    per_day = profile.rates.process_starts_per_day
    mean = 0.0
    t = start.astimezone(UTC)
    end = t + timedelta(seconds=seconds)
    while t < end:
        hour_end = t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        span = (min(hour_end, end) - t).total_seconds()
        mean += per_day * (shape[t.hour] / total) * span / SECONDS_PER_HOUR
        t = min(hour_end, end)
    return mean


class PowerShell:
    """The `powershell` tool of one host (registered in simulator/tools.py)."""

    def __init__(
        self,
        profile: HostProfile,
        now: Callable[[], datetime],
        *,
        time_scale: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if time_scale < 0 or not math.isfinite(time_scale):
            raise ValueError("time_scale must be a finite number >= 0")
        self.profile = profile
        self.now = now
        self.time_scale = time_scale
        self.sleep = sleep
        self._runs = itertools.count(1)

    def __call__(self, ctx: ToolContext) -> CommandOutput:
        script, problem = self._script(ctx.argv)
        noise = CLIXML_HEADER + PROGRESS_RECORD
        if script is None:
            return ctx.err(noise + CRLF + _clixml_error(problem), exit_code=EXIT_FAILED)
        if not _WATCHES_PROCESS_START.search(script) or not (m := _TRACE_SECONDS.search(script)):
            problem = "simulator: this script is not emulated"
            return ctx.err(noise + CRLF + _clixml_error(problem), exit_code=EXIT_FAILED)
        if not self.profile.admin:
            return ctx.err(noise, exit_code=EXIT_ACCESS_DENIED, stdout=f"{RESULT_PREFIX} error=access_denied{CRLF}")
        seconds = int(m.group(1))
        start = self.now().astimezone(UTC)
        rng = np.random.default_rng([self.profile.seed & 0xFFFFFFFF, 0x7ACE, int(start.timestamp()), next(self._runs)])
        starts = int(rng.poisson(expected_starts(self.profile, start, seconds)))
        if self.time_scale > 0:
            self.sleep(seconds * self.time_scale)
        line = f"{RESULT_PREFIX} seconds={seconds} starts={starts} started={start.strftime('%Y-%m-%dT%H:%M:%S')}Z"
        return ctx.err(noise, exit_code=EXIT_OK, stdout=line + CRLF)

    def _script(self, argv: tuple[str, ...]) -> tuple[str | None, str]:
        """The script text, or None and why not."""
        i = 0
        while i < len(argv):
            word = argv[i]
            if not word.startswith(("-", "/")):
                return None, "simulator: only -EncodedCommand scripts are emulated"
            switch = _match_switch(word)
            if switch is None:
                return None, f"simulator: unknown switch {word}"
            if switch == _ENCODED:
                if i + 1 >= len(argv):
                    return None, "Cannot process the command because -EncodedCommand requires an argument."
                try:
                    return base64.b64decode(argv[i + 1], validate=True).decode("utf-16-le"), ""
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    return None, BAD_ENCODING
            if switch == _COMMAND:
                return None, "simulator: only -EncodedCommand scripts are emulated"
            i += 2 if switch in _VALUE_SWITCHES else 1
        return None, "simulator: no -EncodedCommand given"
