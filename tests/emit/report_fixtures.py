"""Inputs for the HTML report tests, and a small headless-Chromium harness.

The fleet is built by hand so that every verdict figure can be derived without the report
code: 40 hosts, one surveyed twice (WinRM and EVTX), 3 unreachable, 12 of the 37 reachable
with Process Creation on, 6 of those with the command line too, 2 on an OS that cannot log it.
Some hosts, roles, sites, OS strings and command lines are hostile (markup, quotes, spreadsheet
formulas, comment terminators).

The harness speaks the Chrome DevTools Protocol over a WebSocket (RFC 6455) written here with
the standard library, so the tests need no extra package; it drives Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from auditplan.config import load_config
from auditplan.emit.detections import builtin_rules_dir, evaluate, exposure, load_rules
from auditplan.emit.report.inputs import ReportInputs
from auditplan.model.planner import PlanOptions, plan
from auditplan.model.project import Projection, project
from auditplan.model.siem import load_siem_profiles, pick_profile
from auditplan.records import EstimateSource, HostEstimate, Plan, Range, parse_plan, plan_document

HOSTILE_HOST = '<script>alert("host")</script>'
FORMULA_HOST = "=cmd|' /C calc'!A0"
QUOTE_HOST = "ws\"07' onmouseover=\"alert(3)"
HOSTILE_ROLE = "<img src=x onerror=alert(1)>"
HOSTILE_SITE = "--><script>alert(2)</script><!--"
HOSTILE_OS = "2022<svg onload=alert(4)>"
HOSTILE_IMAGE = "<img src=evil.png onerror=alert(5)>.exe"  # shown as a detection's top process
HOSTILE_PROCESS = "C:\\Users\\Public\\" + HOSTILE_IMAGE  # family 4 (unusual folder) fires on it
SECRET = "Hunter2-S3cret!"  # in one sampled command line
SECRETS_FOUND = 8  # events with secrets_found > 0: every third of 24
LOCAL_SETTINGS = {"host13": [("{0cce9215-69ae-11d9-bed3-505054503030}", "success", "Logon")],
                  "host14": [("{0cce9215-69ae-11d9-bed3-505054503030}", "success", "Logon")]}
HOSTILE_STRINGS = (HOSTILE_HOST, FORMULA_HOST, QUOTE_HOST, HOSTILE_ROLE, HOSTILE_SITE, HOSTILE_OS, HOSTILE_IMAGE)

GENERATED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PRICE_PER_GB = 2.5
CURRENCY = "EUR"
BUDGET_GB_DAY = 0.5

# Hand-derived verdict figures of the fleet below (see the module docstring).
SURVEYED = 40
REACHABLE = 37
PROCESS_CREATION_ON = 12
CMDLINE_ON = 6
UNSUPPORTED = 2


def keep_artifact(name: str, data: bytes) -> Path | None:
    """Copy a screenshot or PDF for a human to look at, into the folder named by
    AUDITPLAN_TEST_ARTIFACTS; without it nothing is written outside the test's temporary folder
    (a test run must not write into the checkout, and suites run side by side must not share a file)."""
    folder = os.environ.get("AUDITPLAN_TEST_ARTIFACTS")
    if not folder:
        return None
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _host_name(i: int) -> str:
    # The unreachable hosts: listed as unplaced, and their role-prior loads top the appendix.
    special = {37: HOSTILE_HOST, 38: FORMULA_HOST, 39: QUOTE_HOST}
    return special.get(i, f"host{i:02d}")


def fleet() -> tuple[list[HostEstimate], pd.DataFrame]:
    """Estimates and a survey frame with Store.hosts_frame()'s dtypes."""
    roles = ("domain_controller", "web_server", "workstation", HOSTILE_ROLE)
    sites = ("lon", "nyc", HOSTILE_SITE)
    shape = [0.02] * 7 + [0.07] * 10 + [0.02] * 7
    total = sum(shape)
    hourly = tuple(s / total for s in shape)
    estimates: list[HostEstimate] = []
    rows: list[dict[str, Any]] = []
    for i in range(SURVEYED):
        name = _host_name(i)
        reachable = i < REACHABLE
        on = i < PROCESS_CREATION_ON
        cmd = i < CMDLINE_ON
        supported = not (30 <= i < 30 + UNSUPPORTED)
        p50 = 1500.0 + 100.0 * i
        estimates.append(HostEstimate(
            host=name, role=roles[i % len(roles)], site=sites[i % len(sites)],
            os_family=HOSTILE_OS if i % 5 == 0 else "2019",
            events_per_day=Range(p50 / 3, p50, p50 * 3),
            source=EstimateSource.MEASURED_4688 if reachable else EstimateSource.ROLE_PRIOR,
            peak_hour_factor=max(hourly) * 24, hourly_shape=hourly, bytes_per_event_xml=1500.0,
            bytes_per_event_xml_no_cmdline=1400.0, cmdline_length_p50=80.0, bytes_source="dev_set",
            already_on=on, cmdline_already_on=cmd, cmdline_supported=supported,
        ))
        row = {
            "host": name, "status": "ok" if reachable else ("timeout" if i < SURVEYED - 1 else "auth_failed"),
            "reason": "" if reachable else "no answer", "source": "winrm", "role": roles[i % len(roles)],
            "site": sites[i % len(sites)], "product_name": HOSTILE_OS if i % 5 == 0 else "Windows Server 2019",
            "process_creation": ("success" if i < 9 else "success_and_failure") if on else "none",
            "cmdline_enabled": cmd if reachable else None, "cmdline_supported": supported if reachable else None,
            "log_max_size_bytes": 20 * 2**20, "log_file_size_bytes": 20 * 2**20, "log_history_hours": 30.0,
        }
        if not reachable:
            row["process_creation"] = None
        rows.append(row)
    # The same host ingested from EVTX as well: a second row, still one host.
    rows.append({**rows[1], "source": "evtx"})
    survey = pd.DataFrame(rows)
    for column in ("cmdline_enabled", "cmdline_supported"):
        survey[column] = survey[column].astype("boolean")
    survey["log_max_size_bytes"] = survey["log_max_size_bytes"].astype("Int64")
    survey["log_file_size_bytes"] = survey["log_file_size_bytes"].astype("Int64")
    return estimates, survey


def events() -> pd.DataFrame:
    """Sampled 4688 events with hostile process names and command lines (secrets already redacted)."""
    rows = []
    for i in range(24):
        host = _host_name(37 + i % 3)
        # One secret slipped past redaction: the report shows counts only, so it must not appear.
        secret = SECRET if i == 1 else "********"
        cmd = f"{HOSTILE_PROCESS} /c whoami /all" if i % 3 == 0 else f"cmd.exe /c net user admin {secret} /add"
        rows.append({
            "host": host, "source": "winrm", "time": GENERATED_AT, "event_id": 4688, "version": 2,
            "new_process_name": HOSTILE_PROCESS if i % 2 else "C:\\Windows\\System32\\whoami.exe",
            "parent_process_name": "C:\\Windows\\System32\\cmd.exe", "subject_user_name": "alice",
            "command_line": cmd, "size_bytes": 1500, "secrets_found": 1 if i % 3 == 1 else 0,
        })
    return pd.DataFrame(rows)


def as_plan(doc: dict[str, Any]) -> Plan:
    """A plan.json document as the report reads it."""
    return parse_plan(doc, "plan.json")


def projection_of(estimates: list[HostEstimate], survey: pd.DataFrame, siem: str = "splunk-xml") -> Projection:
    """The fleet through the real projection with a shipped SIEM profile (defaults.toml)."""
    profile = pick_profile(load_siem_profiles(load_config(None)), siem)
    return project(estimates, profile, retention_days=90, price_per_gb=PRICE_PER_GB, currency=CURRENCY,
                   seed=7, survey=survey)


def report_inputs(estimates: list[HostEstimate] | None = None, survey: pd.DataFrame | None = None,
                  with_detections: bool = True) -> ReportInputs:
    """The report's inputs through the real projection, planner and detection evaluation."""
    if estimates is None or survey is None:
        estimates, survey = fleet()
    projection = projection_of(estimates, survey)
    planned = plan(projection, PlanOptions(budget_kind="gb_day", budget=BUDGET_GB_DAY, max_step=0.2), survey=survey,
                   local_subcategories=LOCAL_SETTINGS)
    sampled = events()
    detections = None
    if with_detections:
        rules, _ = load_rules([builtin_rules_dir()])
        detections = evaluate(rules, sampled, {e.host: e.events_per_day.p50 for e in estimates})
    return ReportInputs(
        hosts=survey, projection=projection, estimates=estimates, plan=as_plan(plan_document(planned)),
        detections=detections, exposure=exposure(sampled),
        defaults_text=resources.files("auditplan").joinpath("defaults.toml").read_text(encoding="utf-8"),
        org='Example <Corp> & "Sons"', generated_at=GENERATED_AT, first_wave_date=datetime(2026, 3, 9, tzinfo=UTC),
    )


def synthetic_inputs(n: int, sites: int = 200, seed: int = 1) -> ReportInputs:
    """A large random fleet (`n` hosts over `sites` sites) through the real projection and planner."""
    rng = random.Random(seed)
    roles = ("domain_controller", "file_server", "sql_server", "web_server", "app_server", "rds_host", "workstation")
    hourly = tuple([1 / 24] * 24)
    estimates: list[HostEstimate] = []
    rows: list[dict[str, Any]] = []
    for i in range(n):
        name = f"host{i:06d}.corp.example.com"
        p50 = rng.lognormvariate(7.5, 1.0)
        on = rng.random() < 0.2
        reachable = rng.random() > 0.03
        supported = rng.random() > 0.02
        estimates.append(HostEstimate(
            host=name, role=rng.choice(roles), site=f"site{rng.randrange(sites):03d}", os_family="2019",
            events_per_day=Range(p50 / 3, p50, p50 * 3),
            source=EstimateSource.MEASURED_4688 if reachable else EstimateSource.ROLE_PRIOR,
            peak_hour_factor=1.0, hourly_shape=hourly, bytes_per_event_xml=1500.0,
            bytes_per_event_xml_no_cmdline=1400.0, cmdline_length_p50=80.0, bytes_source="dev_set",
            already_on=on, cmdline_already_on=on and rng.random() < 0.5, cmdline_supported=supported,
        ))
        rows.append({"host": name, "status": "ok" if reachable else "timeout", "reason": "",
                     "process_creation": "success" if on else "none", "cmdline_enabled": False,
                     "cmdline_supported": supported, "log_max_size_bytes": 20 * 2**20,
                     "log_file_size_bytes": 20 * 2**20, "log_history_hours": rng.uniform(4, 400)})
    survey = pd.DataFrame(rows)
    profile = pick_profile(load_siem_profiles(load_config(None)), "splunk-xml")
    projection = project(estimates, profile, retention_days=90, price_per_gb=PRICE_PER_GB, currency=CURRENCY,
                         seed=7, survey=survey)
    fleet_gb = float(projection.fleet["added_gb_day_p90"].iloc[0])
    planned = plan(projection, PlanOptions(budget_kind="gb_day", budget=fleet_gb * 0.8, max_step=fleet_gb * 0.1),
                   survey=survey)
    return ReportInputs(
        hosts=survey, projection=projection, estimates=estimates, plan=as_plan(plan_document(planned)),
        defaults_text=resources.files("auditplan").joinpath("defaults.toml").read_text(encoding="utf-8"),
        generated_at=GENERATED_AT,
    )


# -- a loopback server that records every request, also as the browser's proxy ---------------


@dataclass
class Recorder:
    pages: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            with recorder.lock:
                recorder.requests.append((self.command, self.path))

        def do_GET(self) -> None:
            self._record()
            body = recorder.pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self._record()
            self.send_error(404)

        def do_CONNECT(self) -> None:
            self._record()
            self.send_error(502)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextlib.contextmanager
def recording_server() -> Iterator[tuple[str, Recorder]]:
    """(base URL, recorder) of a loopback HTTP server; also used as the browser's proxy."""
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


# -- a minimal WebSocket client (RFC 6455) and CDP session -----------------------------------

OP_CONTINUATION, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA
DIALOG_IDS = 1_000_000  # ids of our dialog dismissals, apart from call()'s


class CdpError(RuntimeError):
    pass


class Cdp:
    """One page target over its DevTools WebSocket; events are kept in `events` in arrival order."""

    def __init__(self, ws_url: str, timeout: float = 30.0) -> None:
        rest = ws_url.removeprefix("ws://")
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.reader = self.sock.makefile("rb")
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        status = self.reader.readline()
        if b" 101 " not in status:
            raise CdpError(f"WebSocket upgrade refused: {status!r}")
        while self.reader.readline() not in (b"\r\n", b""):
            pass
        self.next_id = 0
        self._dialogs = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(OP_CLOSE, b"")
        self.reader.close()
        self.sock.close()

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = secrets.token_bytes(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 2**16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read_exact(self, n: int) -> bytes:
        data = self.reader.read(n)
        if data is None or len(data) != n:
            raise CdpError("DevTools connection closed")
        return data

    def _receive(self) -> dict[str, Any]:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read_exact(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            payload = self._read_exact(n)
            if opcode == OP_PING:
                self._send_frame(OP_PONG, payload)
                continue
            if opcode == OP_CLOSE:
                raise CdpError("DevTools closed the connection")
            if opcode in (OP_TEXT, OP_CONTINUATION):
                parts.append(payload)
                if b0 & 0x80:
                    message: dict[str, Any] = json.loads(b"".join(parts))
                    return message

    def _event(self, message: dict[str, Any]) -> None:
        self.events.append(message)
        if message["method"] == "Page.javascriptDialogOpening":
            # An alert() means injected script ran; dismiss it so the run fails fast instead of hanging.
            self._dialogs += 1
            self._send_frame(OP_TEXT, json.dumps({"id": DIALOG_IDS + self._dialogs, "method":
                                                  "Page.handleJavaScriptDialog", "params": {"accept": False}}).encode())

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send_frame(OP_TEXT, json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            message = self._receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._event(message)

    def wait_for(self, method: str, after: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[after:]:
                if event["method"] == method:
                    return event
            if time.monotonic() > deadline:
                raise CdpError(f"timed out waiting for {method}")
            message = self._receive()
            if "method" in message:
                self._event(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")


CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@contextlib.contextmanager
def chromium(profile_dir: Path, proxy: str) -> Iterator[Cdp]:
    """A headless Chromium with a fresh profile whose every non-loopback request goes to `proxy`.

    Host names other than 127.0.0.1 resolve to nothing, so nothing can leave the machine even if
    the proxy setting were ignored."""
    exe = chromium_path()
    if exe is None:
        raise CdpError("chromium not found")
    profile_dir.mkdir(parents=True, exist_ok=True)
    port_file = profile_dir / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)  # a stale one from an earlier run would point at a dead port
    args = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-port=0",
            f"--proxy-server={proxy}", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "about:blank"]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    log = (profile_dir / "chromium.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    cdp: Cdp | None = None
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise CdpError(f"chromium did not start; see {profile_dir / 'chromium.log'}")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.loads(answer.read())
        page = next(t for t in targets if t.get("type") == "page")
        cdp = Cdp(page["webSocketDebuggerUrl"])
        yield cdp
    finally:
        if cdp is not None:
            cdp.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def read_in_chromium(html: str, probe: str, work: Path) -> Any:
    """`probe` (a JavaScript expression) evaluated on `html` as headless Chromium renders it."""
    with recording_server() as (base, recorder):
        recorder.pages["/report.html"] = html.encode("utf-8")
        with chromium(work / "profile", base) as cdp:
            for domain in ("Page", "Runtime"):
                cdp.call(f"{domain}.enable")
            start = len(cdp.events)
            cdp.call("Page.navigate", url=base + "/report.html")
            cdp.wait_for("Page.loadEventFired", after=start)
            return cdp.evaluate(probe)
