"""`auditplan survey` through click's CliRunner against the simulator: output shapes, exit
codes, inventory errors, the security defaults, and no password anywhere it could leak."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from integration_fleet import PASSWORD, USERNAME, profile, serving, write_hosts_csv

from auditplan.cli import main
from auditplan.records import AuditSetting
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.interface import FaultSpec
from auditplan.simulator.profile import AuditProfile, OSProfile

REQUIRED_KEYS = {"host", "status", "reason", "process_creation", "cmdline_enabled", "os_build", "product_type"}


def _run(args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env, input=stdin, catch_exceptions=False)


def _all_output(result: Result) -> str:
    return result.stdout + result.stderr


def test_json_output_exit_codes_and_inventory_errors(tmp_path: Path, tls: TlsMaterial) -> None:
    on = profile(
        "web01",
        audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True),
        os=OSProfile(product_name="Windows Server 2019 Standard", build=17763, ubr=5458),
    )
    off = profile("web02")
    bad = profile("badcreds", FaultSpec(reject_credentials=True))
    with serving([on, off, bad], auth="ntlm", tls=tls) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["web01", "web02", "badcreds"])
        with hosts.open("a", encoding="utf-8") as handle:
            handle.write("bad host!,127.0.0.1,5986,member\r\n")  # line 5: not a host name
        db = tmp_path / "out" / "a.db"
        result = _run(
            ["survey", str(hosts), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
             "--ca-bundle", str(tls.ca_cert), "--timeout", "60", "--json", "--no-progress"],
            env={"AP_PW": PASSWORD},
        )
    assert result.exit_code == 1, _all_output(result)
    assert f"{hosts}:5:" in result.stderr  # file:line: reason, and the survey went on
    rows = json.loads(result.stdout)
    by_host = {row["host"]: row for row in rows}
    assert set(by_host) == {"web01", "web02", "badcreds"}
    assert all(REQUIRED_KEYS <= row.keys() for row in rows)
    # Expected values are the profiles' settings above (and HostProfile's defaults for web02).
    assert (by_host["web01"]["status"], by_host["web01"]["process_creation"], by_host["web01"]["cmdline_enabled"],
            by_host["web01"]["os_build"], by_host["web01"]["product_type"]) == ("ok", "success", True, 17763, "server")
    assert (by_host["web02"]["process_creation"], by_host["web02"]["cmdline_enabled"],
            by_host["web02"]["os_build"]) == ("none", False, 20348)
    assert by_host["badcreds"]["status"] == "auth_failed"
    assert PASSWORD not in _all_output(result)
    assert PASSWORD.encode() not in b"".join(p.read_bytes() for p in db.parent.iterdir())


def test_all_ok_exits_zero_and_prompts_hidden_without_a_password_source(
    tmp_path: Path, tls: TlsMaterial, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CliRunner's stdin is a pipe and CI has no controlling terminal; the prompt is only offered when a
    # terminal is available (see the no-terminal test), so say there is one.
    monkeypatch.setattr("auditplan.cli.survey._terminal_available", lambda: True)
    with serving([profile("web01")], auth="basic", tls=tls) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["web01"])
        result = _run(
            ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME, "--transport", "basic",
             "--ca-bundle", str(tls.ca_cert), "--csv"],  # with the progress bar, which goes to stderr
            env={"AUDITPLAN_PASSWORD": None},  # type: ignore[dict-item]
            stdin=PASSWORD + "\n",
        )
    assert result.exit_code == 0, _all_output(result)
    assert "Password for auditor" in result.stderr
    assert PASSWORD not in _all_output(result)  # hidden input is not echoed
    header, row = result.stdout.splitlines()[:2]
    assert header.startswith("host,status,reason,")
    assert row.startswith("web01,ok,,")


def test_csv_is_the_store_row_and_neutralises_full_width_formulas(tmp_path: Path) -> None:
    """`survey --csv` prints the store's one row (store/rows.py): the columns of Store.hosts_frame(), from
    which the report's per-host CSV is built. A role starting with a full-width equals sign (U+FF1D, which
    some spreadsheets read as "=") gets the apostrophe: the survey's own cell check used to let it through."""
    from auditplan.store import Store

    with serving([profile("web01")]) as server:
        address, port = server.endpoint("web01")
        hosts = tmp_path / "hosts.csv"
        hosts.write_text(f"host,address,port,role\nweb01,{address},{port},\uff1d1+2\n", encoding="utf-8")
        db = tmp_path / "a.db"
        result = _run(["survey", str(hosts), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
                       "--transport", "basic", "--http", "--allow-basic-over-http", "--no-progress", "--csv"],
                      env={"AP_PW": PASSWORD})
    assert result.exit_code == 0, _all_output(result)
    (row,) = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert row["role"] == "'\uff1d1+2"
    with Store(db) as store:
        frame = store.hosts_frame()
    assert list(row) == list(frame.columns)
    for renamed in ("sce_no_apply_legacy", "log_max_size_bytes", "log_history_hours", "sysmon_installed",
                    "product_name"):
        assert renamed in row
    assert not {"force_subcategory", "security_log_max_bytes", "sysmon", "os_name"} & set(row)
    assert (row["host"], row["status"], row["process_creation"], row["cmdline_enabled"]) == ("web01", "ok", "none", "false")


def test_basic_over_http_is_a_usage_error_without_the_flag(tmp_path: Path) -> None:
    with serving([profile("web01")], auth="basic") as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["web01"])
        args = ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME,
                "--password-env", "AP_PW", "--transport", "basic", "--http", "--no-progress", "--json"]
        refused = _run(args, env={"AP_PW": PASSWORD})
        assert refused.exit_code == 2
        assert "--allow-basic-over-http" in refused.stderr
        assert server.stats("web01").requests == 0
        allowed = _run([*args, "--allow-basic-over-http"], env={"AP_PW": PASSWORD})
    assert allowed.exit_code == 0, _all_output(allowed)
    assert json.loads(allowed.stdout)[0]["status"] == "ok"


def test_unreadable_inputs_are_usage_errors_without_traceback(tmp_path: Path) -> None:
    missing = _run(["survey", str(tmp_path / "nope.txt"), "--username", "u", "--password-env", "X"],
                   env={"X": "x"})
    assert missing.exit_code == 2
    assert "nope.txt: no such file" in missing.stderr
    assert "Traceback" not in _all_output(missing)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n", encoding="utf-8")
    result = _run(["survey", str(empty), "--username", "u", "--password-env", "X"], env={"X": "x"})
    assert result.exit_code == 2
    assert "no hosts" in result.stderr
    unset = tmp_path / "one.txt"
    unset.write_text("web01\n", encoding="utf-8")
    result = _run(["survey", str(unset), "--username", "u", "--password-env", "AP_UNSET_VAR"],
                  env={"AP_UNSET_VAR": None})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert "AP_UNSET_VAR" in result.stderr


def test_help_documents_exit_codes() -> None:
    result = _run(["survey", "--help"])
    assert result.exit_code == 0
    for text in ("Exit status", "0  every host ended ok", "1  some hosts failed", "2  usage or input error"):
        assert text in result.stdout


def test_help_shows_the_domain_backslash() -> None:
    # "\a" in the docstring was the BEL character: help printed 'CORP<BEL>uditor'.
    result = _run(["survey", "--help"])
    assert "--username 'CORP\\auditor'" in result.stdout
    assert "\x07" not in result.stdout
    # The example block is still printed as written (click's \b marker kept working).
    assert "\n    auditplan survey hosts.csv --transport kerberos --window-hours 72 --sample-events 10\n" in result.stdout


def test_insecure_warns_loudly_and_skips_verification(tmp_path: Path, tls: TlsMaterial) -> None:
    with serving([profile("web01")], auth="ntlm", tls=tls) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["web01"])
        base = ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME,
                "--password-env", "AP_PW", "--json", "--refresh"]
        # Without --ca-bundle the simulator's certificate cannot be verified, even with its CA in
        # REQUESTS_CA_BUNDLE (the README says the survey ignores that variable)...
        strict = _run(base, env={"AP_PW": PASSWORD, "REQUESTS_CA_BUNDLE": str(tls.ca_cert)})
        insecure = _run([*base, "--insecure"], env={"AP_PW": PASSWORD})
    assert strict.exit_code == 1
    assert json.loads(strict.stdout)[0]["status"] == "tls_error"
    # ...and the admin is told why (certifi, not the OS store) and what to pass.
    assert "1 host(s) failed certificate verification" in strict.stderr
    assert "--ca-bundle FILE" in strict.stderr
    # ...and --insecure connects anyway, after a warning that cannot be missed.
    assert insecure.exit_code == 0, _all_output(insecure)
    assert "WARNING: --insecure" in insecure.stderr
    assert json.loads(insecure.stdout)[0]["status"] == "ok"


def test_a_named_ca_that_does_not_match_gets_no_certifi_hint(tmp_path: Path, tls: TlsMaterial) -> None:
    from auditplan.simulator.certs import generate_tls_material

    other = generate_tls_material(tmp_path / "other-ca", ["127.0.0.9"])
    with serving([profile("web01")], auth="ntlm", tls=tls) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["web01"])
        result = _run(["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME,
                       "--password-env", "AP_PW", "--json", "--ca-bundle", str(other.ca_cert)],
                      env={"AP_PW": PASSWORD})
    assert result.exit_code == 1
    row = json.loads(result.stdout)[0]
    assert row["status"] == "tls_error" and "certificate verification failed" in row["reason"]
    assert "certifi" not in result.stderr  # the admin named a CA: the hint about the default bundle is wrong here


def test_per_host_transport_and_scheme_from_the_csv(tmp_path: Path, tls: TlsMaterial) -> None:
    from auditplan.simulator.fleet import sim_host
    from auditplan.simulator.interface import Credentials
    from auditplan.simulator.server import FleetServer

    web01, web02 = profile("web01"), profile("web02")
    server = FleetServer([sim_host(web01), sim_host(web02)], users=[Credentials(USERNAME, PASSWORD)],
                         auth={"basic", "ntlm"}, tls=tls)
    with server:
        (a1, p1), (a2, p2) = server.endpoint("web01"), server.endpoint("web02")
        hosts = tmp_path / "hosts.csv"
        hosts.write_text(f"host,address,port,transport\nweb01,{a1},{p1},basic\nweb02,{a2},{p2},\n", encoding="utf-8")
        result = _run(["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME,
                       "--password-env", "AP_PW", "--ca-bundle", str(tls.ca_cert), "--json"],
                      env={"AP_PW": PASSWORD})
        basic, ntlm = server.stats("web01"), server.stats("web02")
    assert result.exit_code == 0, _all_output(result)
    # Basic is pre-emptive (4 requests); NTLM over HTTPS adds two 401 legs (reference §4); either may
    # add Receive long-poll repeats (answered w:TimedOut) when the probe outlasts the OperationTimeout.
    assert basic.requests == 4 + basic.timed_out_receives and "(401)" not in basic.actions
    assert ntlm.requests == 6 + ntlm.timed_out_receives and ntlm.actions[:2] == ("(401)", "(401)")
    assert basic.conversation == ntlm.conversation[2:] == ("Create", "Command", "Receive", "Delete")


def test_window_sample_and_cap_options_reach_the_probe(tmp_path: Path) -> None:
    """--window-hours 6 --sample-events 5 --max-events 1000 --trace-seconds 30 against a 4688-on host:
    6 hourly counts, 5 sampled events, the cap recorded, and the deadline grown by the trace time."""
    from auditplan.store import Store

    on = profile("rds01", audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True))
    with serving([on], auth="basic") as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["rds01"])
        db = tmp_path / "a.db"
        result = _run(
            ["survey", str(hosts), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
             "--transport", "basic", "--http", "--allow-basic-over-http", "--timeout", "60", "--no-progress",
             "--json", "--window-hours", "6", "--sample-events", "5", "--max-events", "1000",
             "--trace-seconds", "30"],
            env={"AP_PW": PASSWORD},
        )
    assert result.exit_code == 0, _all_output(result)
    with Store(db) as store:
        (saved,) = store.load_results(source="winrm")
    assert saved.volume is not None and len(saved.volume.hourly_4688) == 6
    assert len(saved.events) == 5
    assert saved.caps is not None and saved.caps.max_events == 1000
    assert saved.caps.deadline_seconds == 60 + 30 + 30  # --timeout + --trace-seconds + start-up margin
    assert not any("trace" in w for w in saved.warnings)


def test_kerberos_asks_for_no_password(tmp_path: Path) -> None:
    """Kerberos uses the ticket cache: no username needed, no password prompt, no password variable.
    Without pykerberos here the settings check then names the missing module (exit 2)."""
    import winrm.transport

    hosts = tmp_path / "hosts.txt"
    hosts.write_text("web01\n", encoding="utf-8")
    result = _run(["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--transport", "kerberos",
                   "--no-progress"], env={"AUDITPLAN_PASSWORD": None, "AUDITPLAN_USERNAME": None},  # type: ignore[dict-item]
                  stdin="")
    assert "Password for" not in result.stderr
    assert "--username is required" not in result.stderr
    if winrm.transport.HAVE_KERBEROS:
        return  # with pykerberos the survey itself runs (and fails to reach web01): not this test's point
    assert result.exit_code == 2
    assert "pykerberos" in result.stderr and "password" not in result.stderr.lower()


def test_cmdline_cell_says_when_the_os_cannot_log_the_command_line() -> None:
    from auditplan.cli.survey import _cmdline_cell

    assert _cmdline_cell(True, True) == "on"
    assert _cmdline_cell(True, False) == "on (unsupported OS)"
    assert _cmdline_cell(False, None) == "off"
    assert _cmdline_cell(None, None) == "-"


# --- cmd.exe's limit after %TEMP% expansion, and the longest window (KB 830473) ---------------------

# The longest folder the classic Win32 API creates (MAX_PATH - 12 = 248): a TEMP as long as Windows
# allows, under an RDS-style per-session subfolder of a domain account's duplicate profile.
LONG_TEMP = "C:\\Users\\svc-auditplan.CORP.000\\AppData\\Local\\Temp\\2\\"
LONG_TEMP += "x" * (248 - len(LONG_TEMP))


class _LongTempHost:
    """A SimulatedHost whose account has LONG_TEMP as TEMP/TMP (built lazily: imports stay local)."""

    @staticmethod
    def sim_host(host_profile: object) -> object:
        from auditplan.simulator.host import SimulatedHost
        from auditplan.simulator.interface import SimHost
        from auditplan.simulator.profile import HostProfile

        class LongTemp(SimulatedHost):
            def environment(self, principal: str | None = None) -> dict[str, str]:
                env = super().environment(principal)
                env["TEMP"] = env["TMP"] = LONG_TEMP
                return env

        assert isinstance(host_profile, HostProfile)
        return SimHost(host_profile.name, host_profile.address, host_profile.port, LongTemp(host_profile))


def _survey_long_temp_host(tmp_path: Path, extra: list[str]) -> tuple[Result, object, object]:
    """Survey one 4688-on host with LONG_TEMP through the CLI; (result, stored result, its backend)."""
    from auditplan.simulator.fleet import sim_host
    from auditplan.simulator.interface import Credentials, SimHost
    from auditplan.simulator.server import FleetServer
    from auditplan.store import Store

    on = profile("longtemp01", audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True))
    assert sim_host(on).backend.environment()["TEMP"] != LONG_TEMP  # type: ignore[attr-defined]
    host = _LongTempHost.sim_host(on)
    assert isinstance(host, SimHost)
    server = FleetServer([host], users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None,
                         allow_unencrypted=True, operation_timeout_cap=1.0)
    with server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["longtemp01"])
        db = tmp_path / "a.db"
        result = _run(
            ["survey", str(hosts), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
             "--transport", "basic", "--http", "--allow-basic-over-http", "--timeout", "60", "--no-progress",
             "--json", *extra],
            env={"AP_PW": PASSWORD},
        )
    with Store(db) as store:
        saved = store.load_results(source="winrm")
    return result, (saved[0] if saved else None), host.backend


def _expected_hourly(backend: object, saved: object, hours: int) -> tuple[int, ...]:
    from auditplan.records import HostResult

    assert isinstance(saved, HostResult) and saved.volume is not None
    truth = dict(backend.event_log("Security").true_hourly_counts(4688))  # type: ignore[attr-defined]
    start = saved.volume.window_start
    assert saved.volume.window_end - start == timedelta(hours=hours)
    return tuple(truth.get(start + timedelta(hours=i), 0) for i in range(hours))


def test_default_probe_runs_on_a_host_whose_temp_is_as_long_as_windows_allows(tmp_path: Path) -> None:
    """The old probe named %TEMP% ~56 times; cmd refuses a line longer than 8191 characters after
    expansion. The probe now expands it once (cd /d) and the host answers ok."""
    from auditplan.collect.winrm.probe import ProbeOptions, build_probe
    from auditplan.records import HostResult

    result, saved, backend = _survey_long_temp_host(tmp_path, [])
    assert result.exit_code == 0, _all_output(result)
    assert json.loads(result.stdout)[0]["status"] == "ok"
    assert isinstance(saved, HostResult) and saved.volume is not None
    assert saved.warnings == ()
    assert saved.volume.hourly_4688 == _expected_hourly(backend, saved, 24)
    assert sum(saved.volume.hourly_4688) > 0
    # The same line with every temp file named "%TEMP%\..." again (the old shape) is refused by the
    # simulated cmd.exe on this host, as KB 830473 says Windows does: the host really is a test of it.
    line = build_probe(ProbeOptions(nonce="abcdef"), datetime.now(UTC)).command_line
    old_shape = re.sub(r"\bapabcdef(\.csv|s|y)\b", lambda m: f'"%TEMP%\\\\{m.group(0)}"', line)
    # 4 auditpol CSV names, 3 names in each of the 4 hour-count loops (2 UTC days x 2 logs), 2 dels, + the cd.
    assert old_shape.count("%TEMP%") == 4 + 12 + 2 + 1 and len(old_shape) <= 8191
    refused = backend.run(old_shape, ())  # type: ignore[attr-defined]
    assert (refused.stdout, refused.stderr) == (b"", b"The input line is too long.\r\n")


def test_the_longest_window_the_cli_accepts_runs_end_to_end(tmp_path: Path) -> None:
    """--window-hours 168 (the IntRange maximum) with the longest trace and the widest cap, on the
    long-TEMP host: 168 hourly counts, each equal to the simulated log's own truth."""
    from auditplan.records import HostResult

    result, saved, backend = _survey_long_temp_host(
        tmp_path, ["--window-hours", "168", "--trace-seconds", "900", "--max-events", "10000000"]
    )
    assert result.exit_code == 0, _all_output(result)
    assert isinstance(saved, HostResult) and saved.volume is not None
    assert saved.warnings == ()
    assert len(saved.volume.hourly_4688) == 168
    assert saved.volume.hourly_4688 == _expected_hourly(backend, saved, 168)
    assert saved.trace is not None and saved.trace.seconds == 900


# --- host text on the terminal ------------------------------------------------------------------------


def test_fault_text_with_rich_markup_is_shown_as_text(tmp_path: Path) -> None:
    """A host's fault subcode is host-controlled: "[/x]" is a closing Rich tag with no opening one,
    which made the summary table raise rich.errors.MarkupError instead of printing."""
    with serving([profile("odd01", FaultSpec(http_500_fault="w:Internal[/x]")), profile("web01")]) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, ["odd01", "web01"])
        result = CliRunner().invoke(
            main,
            ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", USERNAME, "--password-env",
             "AP_PW", "--transport", "basic", "--http", "--allow-basic-over-http", "--no-progress"],
            env={"AP_PW": PASSWORD},
        )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, _all_output(result)
    assert "survey summary" in result.stdout
    assert "w:Internal[/x]" in result.stdout  # shown verbatim, not eaten as markup
    assert "web01" in result.stdout and "protocol_error" in result.stdout


def test_terminal_text_drops_escape_sequences_and_controls() -> None:
    from rich.console import Console

    from auditplan.cli.survey import _summary_table
    from auditplan.text import terminal as terminal_safe

    # CSI colour, OSC 8 hyperlink / window title, a bare ESC form, C1 CSI, BEL, CR, bidi override.
    hostile = "a\x1b[31mred\x1b[0m b\x1b]0;pwned\x07c \x1b]8;;http://x\x1b\\d\x1bce\x9b2Jf\x07g\rh\u202ei"
    assert terminal_safe(hostile) == "ared bc def g h i"
    assert terminal_safe("w:Internal[/x] plain") == "w:Internal[/x] plain"
    row = {"host": "web01", "status": "protocol_error", "process_creation": None, "cmdline_enabled": None,
           "cmdline_supported": None, "os_build": None, "product_type": None, "reason": hostile + " [bold]x[/]"}
    console = Console(width=300, record=True, force_terminal=True)
    console.print(_summary_table([row], Counter({"protocol_error": 1})))
    shown = console.export_text(styles=False)
    assert "ared bc def g h i [bold]x[/]" in shown
    assert "\x1b]" not in console.export_text(styles=True) and "\x07" not in shown


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX sessions and /dev/tty")
def test_no_password_source_and_no_terminal_is_a_usage_error(tmp_path: Path) -> None:
    """`auditplan survey hosts < /dev/null` from cron or CI: a real process with no controlling
    terminal (a new session, so /dev/tty cannot be opened) and stdin not a terminal gets exit 2 and
    the ways to give a password, not GetPassWarning and "Aborted!" with exit 1."""
    import os
    import subprocess

    hosts = tmp_path / "hosts.txt"
    hosts.write_text("web01\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("AUDITPLAN_PASSWORD", "AUDITPLAN_USERNAME")}
    with open(os.devnull, "rb") as devnull:
        done = subprocess.run(
            [sys.executable, "-m", "auditplan", "survey", str(hosts), "--db", str(tmp_path / "a.db"),
             "--username", USERNAME, "--no-progress"],
            stdin=devnull, capture_output=True, text=True, env=env, timeout=60, check=False,
            start_new_session=True,
        )
    assert done.returncode == 2, done.stderr
    for way in ("--password-env", "AUDITPLAN_PASSWORD", "--credentials"):
        assert way in done.stderr
    assert "Aborted" not in done.stderr and "GetPassWarning" not in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "a.db").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pseudo-terminals")
def test_hosts_on_a_pipe_still_prompt_on_the_controlling_terminal(tmp_path: Path) -> None:
    """`echo 127.0.0.1 | auditplan survey /dev/stdin --username x` typed in a terminal: stdin is a pipe,
    but getpass asks on /dev/tty, so the hidden prompt is offered (not the no-terminal exit 2)."""
    import fcntl
    import os
    import pty
    import select
    import subprocess
    import termios
    import time

    master, slave = pty.openpty()

    def take_terminal() -> None:  # runs in the child after setsid: the pty becomes its /dev/tty
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if k not in ("AUDITPLAN_PASSWORD", "AUDITPLAN_USERNAME")}
    child = subprocess.Popen(
        [sys.executable, "-m", "auditplan", "survey", "/dev/stdin", "--db", str(tmp_path / "a.db"),
         "--username", "x", "--no-progress"],
        stdin=subprocess.PIPE, stdout=slave, stderr=slave, env=env, start_new_session=True,
        preexec_fn=take_terminal, pass_fds=(slave,),
    )
    os.close(slave)
    seen = b""
    try:
        assert child.stdin is not None
        child.stdin.write(b"127.0.0.1\n")
        child.stdin.close()
        deadline = time.monotonic() + 30
        while b"Password for x" not in seen and time.monotonic() < deadline and child.poll() is None:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
    finally:
        child.kill()
        child.wait(timeout=30)
        os.close(master)
    assert b"Password for x" in seen, seen.decode(errors="replace")
    assert b"no terminal" not in seen


def test_csv_without_a_host_column_stops_with_file_line_and_what_was_expected(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.csv"
    hosts.write_text("name,role\nweb01,iis\ndc01,dc\n", encoding="utf-8")
    result = _run(["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--username", "u", "--password-env", "X"],
                  env={"X": "x"})
    assert result.exit_code == 2
    assert f"{hosts}:1: 'name,role' looks like a CSV header row" in result.stderr
    assert "'host' column" in result.stderr
    assert "has the character" not in result.stderr  # not one complaint per data line
    assert not (tmp_path / "a.db").exists()
