"""The simulator's powershell.exe: the trace script's output, its rate, access denied, refusals.

Expected means are computed by hand from the profile (rate x hour weight x seconds), not taken
from the emulator; counts are checked against Poisson bounds.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime

import pytest

from auditplan.simulator.cmd_shell import Shell, ToolContext
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.profile import HOURLY_SHAPES, HostProfile, RateProfile
from auditplan.simulator.tools_powershell import PowerShell, expected_starts

NOW = datetime(2026, 11, 28, 7, 30, 0, tzinfo=UTC)
LINE_RE = r"auditplan-trace seconds=(\d+) starts=(\d+) started=(\S+)Z"


WATCHER = "$w=New-Object Management.ManagementEventWatcher 'SELECT ProcessID FROM Win32_ProcessStartTrace'\n"
LOOP = "while([DateTime]::UtcNow -lt $d){$null=$w.WaitForNextEvent();$n++}\n"


def trace_script(seconds: int) -> str:
    """A script of the shape collect/winrm/trace.py writes, written out here independently of that module."""
    deadline = f"$t=[DateTime]::UtcNow\n$d=$t.AddSeconds({seconds})\n"
    return "$p='auditplan-trace '\n$n=0\n" + WATCHER + deadline + LOOP


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def profile(per_day: float = 2400.0, shape: str = "flat", *, seed: int = 1, admin: bool = True) -> HostProfile:
    return HostProfile(
        name=f"h{seed}",
        address="127.0.0.113",
        seed=seed,
        admin=admin,
        rates=RateProfile(process_starts_per_day=per_day, hourly_shape=HOURLY_SHAPES[shape]),
    )


def run(p: HostProfile, command: str, now: datetime = NOW) -> tuple[str, str, int]:
    out = SimulatedHost(p, now=now).run(command)
    return out.stdout.decode("cp437"), out.stderr.decode("cp437"), out.exit_code


def test_expected_starts_by_hand() -> None:
    # Flat: 2400/day is 100/hour.
    assert expected_starts(profile(2400.0), NOW, 3600) == pytest.approx(100.0)
    # Office shape from 07:30 for an hour: half of hour 7 (weight 1.6) and half of hour 8 (2.4).
    office = HOURLY_SHAPES["office"]
    by_hand = 2400.0 * (0.5 * 1.6 + 0.5 * 2.4) / sum(office)
    assert expected_starts(profile(2400.0, "office"), NOW, 3600) == pytest.approx(by_hand)


def test_trace_prints_one_result_line_with_the_host_clock_as_start() -> None:
    out, err, rc = run(profile(), f"powershell.exe -NoProfile -NonInteractive -EncodedCommand {encoded(trace_script(60))}")
    assert rc == 0
    m = re.fullmatch(LINE_RE + "\r\n", out)
    assert m is not None, out
    assert m.group(1) == "60" and m.group(3) == "2026-11-28T07:30:00"
    # The progress noise real PowerShell writes over WinRS (winrm-protocol.md §1.5).
    assert err.startswith("#< CLIXML\r\n") and 'S="progress"' in err


def test_counts_follow_the_profile_rate_within_poisson_bounds() -> None:
    # 43200/day flat = 0.5/s; 600 s -> mean 300 per host. 40 hosts: the total has mean 12000.
    counts = []
    for seed in range(40):
        out, _err, rc = run(profile(43200.0, seed=seed), f"powershell -enc {encoded(trace_script(600))}")
        m = re.search(LINE_RE, out)
        assert rc == 0 and m is not None
        counts.append(int(m.group(2)))
    total = sum(counts)
    assert abs(total - 12000) < 4 * math.sqrt(12000)
    # Poisson, not a constant: the dispersion index sum((c-m)^2)/m is chi-square(39); 99.9 % range 14.3..72.1.
    mean = total / len(counts)
    dispersion = sum((c - mean) ** 2 for c in counts) / mean
    assert 14.3 < dispersion < 72.1


def test_not_admin_prints_access_denied_and_exits_5() -> None:
    out, _err, rc = run(profile(admin=False), f"powershell.exe -NoProfile -EncodedCommand {encoded(trace_script(10))}")
    assert (out, rc) == ("auditplan-trace error=access_denied\r\n", 5)


@pytest.mark.parametrize(
    "args",
    [
        "-NoProfile -EncodedCommand " + encoded("Get-Process"),  # not the trace script
        "-NoProfile -EncodedCommand not*base64",
        "-NoProfile -EncodedCommand",
        "-Command Get-Date",
        "-Bogus -EncodedCommand " + encoded(trace_script(5)),
        "Get-Date",
    ],
)
def test_other_invocations_fail_with_a_clixml_error_and_no_stdout(args: str) -> None:
    out, err, rc = run(profile(), f"powershell.exe {args}")
    assert out == "" and rc == 1
    assert '<S S="Error">' in err


def test_registered_in_the_cmd_emulator_with_redirections() -> None:
    out, _err, rc = run(profile(), f"powershell.exe -NoP -NonI -e {encoded(trace_script(5))} <NUL 2>&1 && echo ok")
    assert rc == 0
    assert out.startswith("auditplan-trace seconds=5 ") and "#< CLIXML" in out and out.endswith("ok\r\n")


def test_time_scale_waits_a_fraction_and_default_waits_nothing() -> None:
    waited: list[float] = []
    host = SimulatedHost(profile(), now=NOW)
    shell: Shell = host.shell()
    argv = ("-EncodedCommand", encoded(trace_script(600)))
    ctx = ToolContext("powershell", argv, " ".join(argv), b"", shell)
    PowerShell(host.profile, lambda: NOW, sleep=waited.append)(ctx)
    assert waited == []
    PowerShell(host.profile, lambda: NOW, time_scale=0.01, sleep=waited.append)(ctx)
    assert waited == [pytest.approx(6.0)]
    with pytest.raises(ValueError):
        PowerShell(host.profile, lambda: NOW, time_scale=-1)
