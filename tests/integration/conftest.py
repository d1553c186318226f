"""Fixtures of the end-to-end tests (helpers live in integration_fleet.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from integration_fleet import ADDRESSES, USERNAME, DemoRun

from auditplan.cli import main
from auditplan.simulator.certs import TlsMaterial, generate_tls_material


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA, a server certificate for every test address, a client certificate."""
    return generate_tls_material(tmp_path_factory.mktemp("tls"), ADDRESSES, client_username=USERNAME)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The whole demo (48 simulated hosts surveyed, an EVTX ingested, every later stage) run once per
    session: it costs ~10 s of CPU, and every test of it reads its output without changing it.
    Tests that use it carry @pytest.mark.xdist_group("demo") so that one xdist worker runs them all."""
    out = tmp_path_factory.mktemp("demo-run") / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out)], catch_exceptions=False)
    return DemoRun(result.exit_code, result.stdout, result.stderr, out)
