"""Secrets in sampled command lines never leave collection (issue 7).

Two simulated Server 2022 hosts (4688 + command lines on) whose every process start is one of a
set of hand-written command lines, each holding a secret token unique to this run. They are
surveyed by `auditplan survey` over real pywinrm on loopback; then estimate, project, plan, gpo,
detections evaluate/export and report run on the store through click's CliRunner. The token must
appear in no byte of the store (with its -wal/-shm), of any file under the test folder, or of any
captured stdout/stderr, while the store must show the lines arrived, redacted and counted.

The simulator is used as shipped: a real event template (its XML, size and fields) with only
NewProcessName/CommandLine changed, the way tools/build_event_templates.py derives its own templates.
"""

from __future__ import annotations

import copy
import json
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from integration_fleet import PASSWORD, USERNAME, new_address

from auditplan.cli import main
from auditplan.records import REDACTED, AuditSetting
from auditplan.simulator.eventlog import SECURITY_LOG, SimEventLog
from auditplan.simulator.eventlog_templates import (
    KIND_PROCESS,
    Prepared,
    _prepare,
    load_templates,
    security_templates,
)
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.interface import Credentials, EventLogView, SimHost
from auditplan.simulator.profile import AuditProfile, HostProfile, RateProfile
from auditplan.simulator.server import FleetServer

# Unique per run: any sighting in an output is a leak. A numeric one too: numbers were exempt once.
TOKEN = "Tk" + secrets.token_hex(12)
NUMBER = "9" + "".join(secrets.choice("0123456789") for _ in range(15))

SYS32 = "C:\\Windows\\System32\\"
# (NewProcessName, CommandLine, a piece that must survive redaction)
HOST_A: list[tuple[str, str, str]] = [
    (SYS32 + "net.exe", f"net user backdoor {TOKEN} /add", "user backdoor "),
    (SYS32 + "net.exe", f"net use \\\\fs01\\share /user:CORP\\alice {TOKEN}", "/user:CORP\\alice "),
    (SYS32 + "net1.exe", f"C:\\Windows\\system32\\net1 user bob {NUMBER} /add", "user bob "),
    (
        SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
        f"powershell.exe -c \"$p = ConvertTo-SecureString -AsPlainText -Force -String '{TOKEN}'\"",
        "-AsPlainText -Force -String '",
    ),
    (
        SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
        f"powershell.exe -c \"'{TOKEN}' | ConvertTo-SecureString -AsPlainText -Force\"",
        "| ConvertTo-SecureString",
    ),
    (
        SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
        f"powershell.exe New-LocalUser bob -Password 'it''{TOKEN}'",
        "New-LocalUser bob -Password '",
    ),
    (SYS32 + "curl.exe", f'curl.exe -H "Authorization: Bearer {TOKEN}" https://api.example.com/', "Bearer "),
    (SYS32 + "curl.exe", f"curl.exe -ualice:{TOKEN} https://api.example.com/", "-ualice:"),
]
HOST_B: list[tuple[str, str, str]] = [
    (
        "C:\\Program Files\\Microsoft SQL Server\\sqlcmd.exe",
        f'sqlcmd.exe -S db01 -U sa -P "{TOKEN}" -Q "select 1"',
        "-U sa -P ",
    ),
    ("C:\\Program Files\\7-Zip\\7z.exe", f"7z.exe a -p{TOKEN} backup.7z C:\\data", "backup.7z"),
    (
        "C:\\Program Files\\OpenSSL\\bin\\openssl.exe",
        f"openssl.exe pkcs12 -export -in c.pem -out c.pfx -passout pass:{TOKEN}",
        "-passout pass:",
    ),
    ("C:\\Tools\\PsExec64.exe", f"PsExec64.exe \\\\srv01 -u CORP\\adm -p {TOKEN} cmd.exe", "-u CORP\\adm -p "),
    ("C:\\Apps\\app.exe", f'app.exe "Driver={{ODBC}};Server=db;Uid=sa;Password={{ab;{TOKEN}}};"', "Uid=sa;"),
    (SYS32 + "schtasks.exe", f"schtasks.exe /create /tn t /tr calc /sc daily /RU CORP\\svc /RP {TOKEN}", "/RP "),
    (SYS32 + "cmdkey.exe", f"cmdkey.exe /add:srv01 /user:CORP\\u /pass:{TOKEN}", "/user:CORP\\u"),
    (
        "C:\\Program Files\\Amazon\\AWSCLIV2\\aws.exe",
        f"aws.exe configure set aws_secret_access_key {TOKEN}",
        "aws_secret_access_key ",
    ),
]
SAMPLE_EVENTS = 120  # 8 lines a host: a line misses a 120-event sample with probability (7/8)**120 ~ 1e-7


def _base_template() -> dict[str, Any]:
    """A real version-2 4688 from the packaged templates."""
    return next(
        t
        for t in load_templates()["templates"]
        if t["kind"] == "process" and int(t["system"]["version"]) == 2 and t.get("mix") == "benign"
    )


def _process_template(image: str, command_line: str) -> Prepared:
    t = copy.deepcopy(_base_template())
    old = dict(t["data"])
    t["data"] = [
        [n, image if n == "NewProcessName" else command_line if n == "CommandLine" else v] for n, v in t["data"]
    ]
    # UTF-16 in the record: two bytes per character of the changed strings.
    grown = len(image) + len(command_line) - len(old["NewProcessName"]) - len(old["CommandLine"])
    t["record_size"] = int(t["record_size"]) + 2 * grown
    t["weight"] = 1.0
    return _prepare(t, KIND_PROCESS, 2, True)


class _HostWithLines(SimulatedHost):
    """A simulated host whose process starts are only `lines` (its other Security events as shipped)."""

    def __init__(self, profile: HostProfile, lines: Sequence[tuple[str, str, str]]) -> None:
        super().__init__(profile)
        self._process = [_process_template(image, cmd) for image, cmd, _ in lines]

    def _build_log(self, name: str) -> EventLogView | None:
        if name != SECURITY_LOG:
            return super()._build_log(name)
        p = self.profile
        rest = [t for t in security_templates(2, True) if t.kind != KIND_PROCESS]
        return SimEventLog(
            log_name=SECURITY_LOG,
            seed=p.seed,
            now=datetime.now(UTC),
            computer=p.name,
            max_size_bytes=p.security_log.max_size_bytes,
            retention=p.security_log.retention,
            templates=rest + self._process,
            process_rate=p.rates.process_starts_per_day,
            other_rate=p.rates.other_security_events_per_day,
            boots_per_day=p.rates.boots_per_day,
            hourly_shape=tuple(p.rates.hourly_shape),
        )


def _profile(name: str, seed: int) -> HostProfile:
    return HostProfile(
        name=name,
        address=new_address(),
        seed=seed,
        audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True),
        rates=RateProfile(process_starts_per_day=4000.0, other_security_events_per_day=2000.0),
    )


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _leaks(paths: Sequence[Path], root: Path) -> list[str]:
    """Where TOKEN or NUMBER occurs in these files' bytes (UTF-8 or UTF-16LE, as SQLite may store text)."""
    found: list[str] = []
    for path in paths:
        data = path.read_bytes() if path.exists() else b""
        for what, needle in (("token", TOKEN), ("number", NUMBER)):
            for encoding in ("utf-8", "utf-16-le"):
                if needle.encode(encoding) in data:
                    found.append(f"{what} ({encoding}) in {path.relative_to(root)}")
    return found


def test_secret_tokens_reach_no_store_file_or_output(tmp_path: Path) -> None:
    hosts = {"sec-a": (_profile("sec-a", 11), HOST_A), "sec-b": (_profile("sec-b", 12), HOST_B)}
    sims = [
        SimHost(name=p.name, address=p.address, port=p.port, backend=_HostWithLines(p, lines))
        for p, lines in hosts.values()
    ]
    out = tmp_path / "out"
    db = out / "auditplan.db"
    results: list[Result] = []
    runner = CliRunner()

    def run(args: list[str], env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        results.append(result)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result

    with FleetServer(
        sims, users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None, allow_unencrypted=True
    ) as srv:
        inventory = tmp_path / "hosts.csv"
        rows = ["host,address,port,role"]
        rows += [f"{n},{srv.endpoint(n)[0]},{srv.endpoint(n)[1]},member" for n in hosts]
        inventory.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
        survey = [
            "survey", str(inventory), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
            "--transport", "basic", "--http", "--allow-basic-over-http", "--timeout", "60",
            "--sample-events", str(SAMPLE_EVENTS), "--window-hours", "2", "--no-progress", "--json",
        ]  # fmt: skip
        run(survey, env={"AP_PW": PASSWORD})
        # SQLite removes the -wal file when the last connection closes: a reader kept open holds it, so
        # the second survey's writes can be read there before any checkpoint folds them into the file.
        holder = sqlite3.connect(db)
        try:
            holder.execute("SELECT count(*) FROM events").fetchone()
            run([*survey, "--refresh"], env={"AP_PW": PASSWORD})
            wal = db.with_name(db.name + "-wal")
            assert wal.stat().st_size > 0
            leaks = _leaks([wal, db.with_name(db.name + "-shm"), db], tmp_path)
        finally:
            holder.close()

    # The lines did arrive: every one, redacted, with its readable rest and a secret count.
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        stored = conn.execute(
            "SELECT r.host, e.command_line, e.secrets_found FROM events e JOIN host_results r ON r.id = e.result_id"
        ).fetchall()
    for name, (_, lines) in hosts.items():
        mine = [(cmd, n) for host, cmd, n in stored if host == name]
        assert len(mine) >= SAMPLE_EVENTS * 0.9, (name, len(mine))
        assert all(cmd is not None and REDACTED in cmd and n >= 1 for cmd, n in mine), mine[:3]
        for _, _, kept in lines:
            assert any(kept in cmd for cmd, _ in mine), (name, kept)

    # Every later stage, through the CLI, reading the store and writing under out/.
    run(["estimate", "--db", str(db), "--json"])
    run(["project", "--db", str(db), "--json"])
    run(["plan", "--db", str(db), "--budget-gb-day", "100", "--out", str(out)])
    run(["gpo", "--plan", str(out / "plan.json"), "--out", str(out / "gpo"), "--domain", "corp.example.com"])
    evaluated = run(["detections", "evaluate", "--db", str(db), "--json"])
    run(["detections", "export", "--format", "sigma", "--out", str(out / "sigma")])
    run(["report", "--db", str(db), "--plan", str(out / "plan.json"), "--out", str(out / "report.html")])

    # Every sampled line held a secret, so the exposure figures count them all, per host.
    exposure = json.loads(evaluated.stdout)["exposure"]
    per_host = {name: sum(1 for host, _, _ in stored if host == name) for name in hosts}
    assert exposure["by_host"] == per_host
    assert exposure["events_with_secrets"] == len(stored)

    written = _files_under(tmp_path)
    assert db in written and (out / "report.html") in written and (out / "plan.json") in written
    leaks += _leaks(written, tmp_path)
    for i, result in enumerate(results):
        for what, needle in (("token", TOKEN), ("number", NUMBER)):
            if needle in result.stdout or needle in result.stderr:
                leaks.append(f"{what} in the output of command {i}")
            if PASSWORD in result.stdout or PASSWORD in result.stderr:
                leaks.append(f"WinRM password in the output of command {i}")
    assert leaks == []
