"""The --trace-seconds live process-start trace: script, fragment, parser, rate, and end to end.

The end-to-end test runs the real pywinrm client over HTTP on loopback against the simulator's
server, cmd.exe emulator and powershell emulation. Expected rates come from the host profile by
hand (rate x seconds), expected intervals from closed forms (Gamma quantiles at shape 1 and 2) or
the independent Wilson-Hilferty approximation.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import tree_sitter
import tree_sitter_powershell
from hypothesis import given, settings
from hypothesis import strategies as st
from winrm.exceptions import WinRMOperationTimeoutError
from winrm.protocol import Protocol

from auditplan.collect.parse.tools import ParseError
from auditplan.collect.winrm import probe
from auditplan.collect.winrm.interpret import interpret
from auditplan.collect.winrm.trace import (
    CMD_LINE_LIMIT,
    MAX_TRACE_SECONDS,
    RC_NAME,
    parse_trace,
    trace_script,
    trace_section,
)
from auditplan.model.trace_rate import day_factor, gamma_quantile, poisson_interval, trace_range
from auditplan.records import ProcessTrace
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.interface import Credentials, SimHost
from auditplan.simulator.profile import HOURLY_SHAPES, HostProfile, RateProfile
from auditplan.simulator.server import FleetServer

NOW = datetime(2026, 11, 28, 7, 3, 12, tzinfo=UTC)
NONCE = "abcdef"
M = "##APabcdef:"
ADDRESS = "127.0.0.113"
USER = Credentials("tracer", "Tr4ce-test-only")
CLIXML_PROGRESS = (
    "#< CLIXML\r\n"
    '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0">'
    "<MS><PR N=\"Record\"><AV>Preparing modules for first use.</AV></PR></MS></Obj></Objs>"
)
GOOD = "auditplan-trace seconds=30.4 starts=57 started=2026-11-28T07:03:12Z"


# --- the script and the fragment ---------------------------------------------------------------------


def decoded_script(fragment: str) -> str:
    m = re.search(r"-EncodedCommand ([A-Za-z0-9+/=]+) ", fragment)
    assert m is not None
    return base64.b64decode(m.group(1)).decode("utf-16-le")


def ps_errors(script: str) -> list[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(script.encode("utf-8"))
    bad: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            bad.append(f"{node.type} at {node.start_point}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return bad


def node_types(script: str) -> set[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    seen: set[str] = set()
    stack = [parser.parse(script.encode("utf-8")).root_node]
    while stack:
        node = stack.pop()
        seen.add(node.type)
        stack.extend(node.children)
    return seen


@pytest.mark.parametrize("seconds", [1, 60, MAX_TRACE_SECONDS])
def test_decoded_script_parses_cleanly_with_the_powershell_grammar(seconds: int) -> None:
    script = decoded_script(trace_section(seconds, M))
    assert script == trace_script(seconds)
    assert ps_errors(script) == []
    # The grammar really saw the control flow (not one long bare command).
    assert {"try_statement", "catch_clause", "while_statement", "if_statement"} <= node_types(script)
    assert f".AddSeconds({seconds})" in script and "Win32_ProcessStartTrace" in script


def test_the_grammar_check_catches_a_broken_script() -> None:
    broken = trace_script(60).replace("while([DateTime]::UtcNow -lt $d){", "while([DateTime]::UtcNow -lt $d{", 1)
    assert ps_errors(broken) != []


def test_fragment_is_short_and_fits_beside_a_24_hour_probe() -> None:
    fragment = trace_section(MAX_TRACE_SECONDS, M)
    assert len(fragment) < 2000
    line = probe.build_probe(probe.ProbeOptions(window_hours=24, nonce=NONCE), NOW).command_line
    assert len(line) + 1 + len(fragment) < CMD_LINE_LIMIT == probe.CMD_LINE_LIMIT


def test_fragment_follows_the_probe_marker_and_exit_code_idiom() -> None:
    fragment = trace_section(30, M)
    assert fragment.startswith(f"echo {M}trace&powershell.exe -NoProfile -NonInteractive -EncodedCommand ")
    # The probe's own rc suffix, read from a probe line rather than restated.
    line = probe.build_probe(probe.ProbeOptions(nonce=NONCE), NOW).command_line
    suffix = re.search(r" 2>&1 && echo ##APabcdef:rc:0\|\| call echo ##APabcdef:rc:%\^ERRORLEVEL%", line)
    assert suffix is not None and fragment.endswith(suffix.group(0))
    assert RC_NAME == probe.RC_NAME


@pytest.mark.parametrize("bad", [0, -1, MAX_TRACE_SECONDS + 1])
def test_fragment_refuses_untimeboxed_lengths(bad: int) -> None:
    with pytest.raises(ValueError, match="trace seconds"):
        trace_section(bad, M)


def test_fragment_refuses_a_marker_that_would_break_the_line() -> None:
    with pytest.raises(ValueError):
        trace_section(30, "##AP&del x:")


# --- the parser --------------------------------------------------------------------------------------


def test_good_output_with_clixml_noise_on_both_sides_and_on_the_same_line() -> None:
    expected = ProcessTrace(30.4, 57, datetime(2026, 11, 28, 7, 3, 12, tzinfo=UTC))
    assert parse_trace(GOOD + "\r\n", 0) == expected
    assert parse_trace(CLIXML_PROGRESS + "\r\n" + GOOD + "\r\n" + CLIXML_PROGRESS, 0) == expected
    assert parse_trace(CLIXML_PROGRESS + GOOD + CLIXML_PROGRESS, None) == expected  # no line breaks at all


def test_decimal_comma_is_read() -> None:
    result = parse_trace(GOOD.replace("30.4", "30,4"), 0)
    assert isinstance(result, ProcessTrace) and result.seconds == pytest.approx(30.4)


def test_access_denied_by_line_or_by_exit_code() -> None:
    for text, rc in (("auditplan-trace error=access_denied\r\n", 5), (CLIXML_PROGRESS, 5)):
        result = parse_trace(text, rc)
        assert isinstance(result, ParseError) and result.kind == "access_denied"
        assert "administrator" in result.message and result.section == "trace"


@pytest.mark.parametrize(
    ("text", "rc", "kind"),
    [
        ("auditplan-trace error=failed\r\n", 1, "malformed"),
        ("'powershell.exe' is not recognized as an internal or external command,\r\n", 9009, "not_found"),
        ("", 0, "empty"),
        (CLIXML_PROGRESS, 1, "malformed"),
        ("hello world\r\n", 0, "malformed"),
        ("auditplan-trace seconds=abc starts=1 started=2026-11-28T07:03:12Z", 0, "malformed"),
        ("auditplan-trace seconds=30 starts=-4 started=2026-11-28T07:03:12Z", 0, "malformed"),
        ("auditplan-trace seconds=0 starts=4 started=2026-11-28T07:03:12Z", 0, "malformed"),
        ("auditplan-trace seconds=30 starts=4 started=2026-13-45T07:03:12Z", 0, "malformed"),
        (GOOD + "\r\n" + GOOD.replace("starts=57", "starts=58"), 0, "malformed"),
        (GOOD + "\r\nauditplan-trace error=failed", 1, "malformed"),
        # A CLIXML error record echoing the script's own text is not a result.
        ('<S S="Error">+ $p+"seconds=$s starts=$n started=$($t.ToString(\'s\'))Z"</S>', 1, "malformed"),
    ],
)
def test_junk_and_failures_are_refused(text: str, rc: int, kind: str) -> None:
    result = parse_trace(text, rc)
    assert isinstance(result, ParseError), result
    assert result.kind == kind


def test_the_same_line_twice_is_one_result() -> None:
    assert isinstance(parse_trace(GOOD + "\r\n" + GOOD + "\r\n", 0), ProcessTrace)


def test_ten_megabytes_is_refused_quickly_without_raising() -> None:
    big = ("x" * 1023 + "\n") * 10 * 1024 + GOOD
    result = parse_trace(big, 0)
    assert isinstance(result, ParseError) and result.kind == "too_large"
    # Noise under the cap is tolerated.
    assert isinstance(parse_trace(CLIXML_PROGRESS * 500 + GOOD, 0), ProcessTrace)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), rc=st.none() | st.integers(-(2**31), 2**31))
def test_parser_never_raises(text: str, rc: int | None) -> None:
    assert isinstance(parse_trace(text, rc), ProcessTrace | ParseError)


# --- the rate ----------------------------------------------------------------------------------------


def test_zero_count_by_hand() -> None:
    # Garwood, n = 0: [0, -ln(0.10)] = [0, ln 10]; 60 s scales by 1440 to a day.
    r = trace_range(ProcessTrace(60.0, 0))
    assert (r.p10, r.p50) == (0.0, 0.0)
    assert r.p90 == pytest.approx(math.log(10) * 1440)


def test_one_count_over_a_day_by_hand() -> None:
    # n = 1: p10 = Gamma(1) quantile = -ln(0.9); p90 solves 1 - e^-x (1 + x) = 0.9 (Gamma(2)).
    r = trace_range(ProcessTrace(86400.0, 1))
    assert r.p10 == pytest.approx(-math.log(0.9), rel=1e-9)
    assert r.p50 == 1.0
    assert 1 - math.exp(-r.p90) * (1 + r.p90) == pytest.approx(0.9, abs=1e-9)
    assert r.p90 == pytest.approx(3.88972, rel=1e-5)


def wilson_hilferty(q_z: float, k: float) -> float:
    return k * (1 - 1 / (9 * k) + q_z / (3 * math.sqrt(k))) ** 3


@pytest.mark.parametrize("n", [100, 5000, 2_000_000])
def test_large_counts_agree_with_wilson_hilferty(n: int) -> None:
    z90 = 1.2815515655446004
    r = poisson_interval(n)
    assert r.p10 == pytest.approx(wilson_hilferty(-z90, n), rel=2e-3)
    assert r.p90 == pytest.approx(wilson_hilferty(z90, n + 1), rel=2e-3)
    assert r.p10 < n < r.p90


@pytest.mark.parametrize("mean", [0.5, 3.0, 20.0])
def test_garwood_tails_are_each_at_most_ten_percent(mean: float) -> None:
    """Exact coverage from the Poisson pmf: P(mean < p10(N)) <= 0.10 and P(mean > p90(N)) <= 0.10."""
    below = above = 0.0
    for n in range(0, 200):
        pmf = math.exp(n * math.log(mean) - mean - math.lgamma(n + 1))
        r = poisson_interval(n)
        below += pmf if mean < r.p10 else 0.0
        above += pmf if mean > r.p90 else 0.0
    assert below <= 0.10 + 1e-12 and above <= 0.10 + 1e-12
    assert below + above > 0.05  # and not absurdly wide


def test_hourly_shape_corrects_a_busy_hour() -> None:
    office = HOURLY_SHAPES["office"]
    trace = ProcessTrace(3600.0, 240, datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    # Hour 8 carries 2.4 / sum(office) of the day's starts.
    assert day_factor(trace, office) == pytest.approx(sum(office) / 2.4)
    assert day_factor(trace, HOURLY_SHAPES["flat"]) == pytest.approx(24.0)
    assert day_factor(ProcessTrace(3600.0, 240), office) == pytest.approx(24.0)  # no start time: flat
    assert trace_range(trace, office).p50 == pytest.approx(240 * sum(office) / 2.4)


def test_bad_traces_are_refused() -> None:
    with pytest.raises(ValueError):
        trace_range(ProcessTrace(0.0, 5))
    with pytest.raises(ValueError):
        trace_range(ProcessTrace(30.0, -1))
    with pytest.raises(ValueError):
        gamma_quantile(1.0, 3)


# --- end to end: pywinrm -> simulator server -> cmd.exe emulator -> powershell emulation -------------


def host_profile(per_day: float, *, admin: bool = True) -> HostProfile:
    return HostProfile(
        name="trace01",
        address=ADDRESS,
        seed=7,
        admin=admin,
        rates=RateProfile(process_starts_per_day=per_day, hourly_shape=HOURLY_SHAPES["flat"]),
    )


@pytest.fixture
def server_for() -> Iterator[list[FleetServer]]:
    started: list[FleetServer] = []
    yield started
    for s in started:
        s.stop()


def run_over_winrm(servers: list[FleetServer], profile: HostProfile, line: str) -> tuple[bytes, int]:
    server = FleetServer(
        [SimHost("trace01", ADDRESS, 0, SimulatedHost(profile, now=NOW))],
        users=[USER],
        auth={"basic"},
        tls=None,
        allow_unencrypted=True,
        operation_timeout_cap=0.5,
    )
    server.start()
    servers.append(server)
    p = Protocol(
        server.url("trace01"), transport="basic", username=USER.username, password=USER.password, proxy=None,
        # Plain HTTP: nothing to validate, and saying so stops pywinrm reading REQUESTS_CA_BUNDLE.
        server_cert_validation="ignore",
        operation_timeout_sec=2, read_timeout_sec=5,
    )
    shell = p.open_shell()
    command_id = p.run_command(shell, line)
    out = b""
    rc = -1
    done = False
    while not done:
        try:
            chunk, _err, rc, done = p.get_command_output_raw(shell, command_id)
        except WinRMOperationTimeoutError:
            continue  # the Receive long-poll ended with no output yet: ask again, as pywinrm's own loop does
        out += chunk
    p.close_shell(shell)
    return out, rc


def trace_section_text(stdout: bytes) -> tuple[str, int | None]:
    """The text between our trace marker and its rc line (probe.split_sections knows only its own sections)."""
    text = stdout.decode("cp437")
    m = re.search(re.escape(M) + r"trace\r\n(.*?)" + re.escape(M) + r"rc:(-?\d+)", text, re.S)
    assert m is not None, text
    return m.group(1), int(m.group(2))


def test_end_to_end_rate_matches_the_profile_within_poisson_bounds(server_for: list[FleetServer]) -> None:
    per_day, seconds = 86400.0, 900  # 1 start/s flat: 900 expected in 900 s
    line = f"echo {M}hostname&hostname&{trace_section(seconds, M)}&echo {M}end"
    stdout, rc = run_over_winrm(server_for, host_profile(per_day), line)
    assert rc == 0
    text, section_rc = trace_section_text(stdout)
    assert section_rc == 0
    result = parse_trace(text, section_rc)
    assert isinstance(result, ProcessTrace), result
    assert result.seconds == seconds and result.started_at == NOW.replace(microsecond=0)
    expected = per_day * seconds / 86400
    assert abs(result.process_starts - expected) < 4 * math.sqrt(expected)
    rate = trace_range(result)
    assert rate.p50 == pytest.approx(result.process_starts * 86400 / seconds)


def test_end_to_end_not_admin_is_access_denied(server_for: list[FleetServer]) -> None:
    line = f"echo {M}trace0&{trace_section(60, M)}&echo {M}end"
    stdout, _rc = run_over_winrm(server_for, host_profile(1000.0, admin=False), line)
    text, section_rc = trace_section_text(stdout)
    assert section_rc == 5
    result = parse_trace(text, section_rc)
    assert isinstance(result, ParseError) and result.kind == "access_denied"


def test_end_to_end_through_the_real_probe_and_interpret(server_for: list[FleetServer]) -> None:
    """The probe owner's line (probe.build_probe with trace_seconds) -> split -> interpret -> ProcessTrace."""
    per_day, seconds = 8640.0, 600  # 0.1/s flat: 60 expected
    command = probe.build_probe(probe.ProbeOptions(window_hours=24, nonce=NONCE, trace_seconds=seconds), NOW)
    assert len(command.command_line) < CMD_LINE_LIMIT
    stdout, _rc = run_over_winrm(server_for, host_profile(per_day), command.command_line)
    sections = probe.split_sections(stdout, 437)
    assert sections["trace"].exit_code == 0
    found = interpret(sections, command).trace
    assert found is not None and found.seconds == seconds
    expected = per_day * seconds / 86400
    assert abs(found.process_starts - expected) < 4 * math.sqrt(expected)


@pytest.mark.parametrize("message", ["The command line is too long.", "The input line is too long."])
def test_cmd_length_refusals_are_named(message: str) -> None:
    # Both of cmd.exe's refusals (raw length, and length after %VAR% expansion) get the same reason.
    result = parse_trace(message + "\r\n", 1)
    assert isinstance(result, ParseError)
    assert "too long for cmd.exe" in result.message
