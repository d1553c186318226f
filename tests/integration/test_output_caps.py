"""Host output that is huge, cut, or not the probe's at all: capped, classified, memory bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from integration_fleet import PASSWORD, USERNAME, inventory_host, profile, serving, settings_for

from auditplan.collect.winrm import probe
from auditplan.collect.winrm.survey import survey_host
from auditplan.records import HostStatus
from auditplan.simulator.interface import CommandOutput, Credentials, FaultSpec, SimHost
from auditplan.simulator.server import FleetServer

HUNDRED_MB = 100 * 1024 * 1024
CAP = 1024 * 1024

# Runs in a separate process so tracemalloc sees only the client, not the simulator that
# builds the 100 MB answer. The password travels in the environment, never in argv.
CLIENT = """
import json, os, sys, tracemalloc
from auditplan.records import Host
from auditplan.collect.winrm.settings import Secret, TransportSettings
from auditplan.collect.winrm.transport import run_command_line
tracemalloc.start()
settings = TransportSettings(username=sys.argv[3], password=Secret(os.environ["AP_TEST_PASSWORD"]),
    transport="basic", scheme="http", allow_basic_over_http=True, operation_timeout=2, read_timeout=5,
    deadline=60.0, max_output_bytes=int(sys.argv[4]))
run = run_command_line(Host(name="big", address=sys.argv[1], port=int(sys.argv[2])), settings, "hostname")
print(json.dumps({"status": run.status.value, "stdout": len(run.stdout), "truncated": run.cost.truncated,
                  "peak": tracemalloc.get_traced_memory()[1], "received": run.cost.bytes_received}))
"""


def test_hundred_megabytes_are_capped_with_memory_bounded() -> None:
    with serving([profile("big", FaultSpec(oversized_output_bytes=HUNDRED_MB))]) as server:
        address, port = server.endpoint("big")
        child = subprocess.run(
            [sys.executable, "-c", CLIENT, address, str(port), USERNAME, str(CAP)],
            env={**os.environ, "AP_TEST_PASSWORD": PASSWORD},
            capture_output=True,
            timeout=120,
            check=False,
        )
        stats = server.stats("big")
    assert child.returncode == 0, child.stderr.decode(errors="replace")[-2000:]
    assert PASSWORD.encode() not in child.stdout + child.stderr
    report = json.loads(child.stdout)
    assert report["status"] == "ok"
    assert report["stdout"] == CAP
    assert report["truncated"] is True
    # Stopped reading soon after the cap (a few Receive chunks past it), not after 100 MB...
    assert report["received"] < 4 * CAP
    # ...and held at most a few multiples of the cap in memory.
    assert report["peak"] < 8 * CAP
    # The shell was deleted (which ends the command on the host, reference §4), not signalled.
    assert stats.actions[-1] == "Delete"
    assert "Signal" not in stats.actions


def test_oversized_probe_output_keeps_the_sections_before_the_junk() -> None:
    command = probe.build_probe(probe.ProbeOptions(), datetime.now(UTC))
    with serving([profile("big", FaultSpec(oversized_output_bytes=8 * CAP))]) as server:
        result = survey_host(inventory_host(server, "big"), settings_for("basic", None, max_output_bytes=CAP), command)
    assert result.status is HostStatus.OK, result.reason
    assert result.cost is not None and result.cost.truncated
    assert result.computer_name == "big"
    assert any("cut" in w for w in result.warnings)


def test_output_cut_before_any_section_is_unparseable() -> None:
    command = probe.build_probe(probe.ProbeOptions(), datetime.now(UTC))
    with serving([profile("web01")]) as server:
        result = survey_host(inventory_host(server, "web01"), settings_for("basic", None, max_output_bytes=8), command)
    assert result.status is HostStatus.UNPARSEABLE
    assert "cut at 8 bytes" in result.reason


class _NotWindows:
    """A real CommandBackend that answers every command line with text that is not the probe's."""

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        return CommandOutput(stdout=b"\x00\xff<html>Service Unavailable</html>\r\n" * 50, stderr=b"", exit_code=0)


def test_foreign_output_is_unparseable(tmp_path: Path) -> None:
    command = probe.build_probe(probe.ProbeOptions(), datetime.now(UTC))
    sim = SimHost(name="odd", address="127.0.1.98", port=0, backend=_NotWindows())
    server = FleetServer([sim], users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None,
                         allow_unencrypted=True)
    with server:
        result = survey_host(inventory_host(server, "odd"), settings_for("basic", None), command)
    assert result.status is HostStatus.UNPARSEABLE
    assert result.reason and PASSWORD not in result.reason
