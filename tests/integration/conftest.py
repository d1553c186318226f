"""Fixtures of the end-to-end tests (helpers live in integration_fleet.py)."""

from __future__ import annotations

import pytest
from integration_fleet import ADDRESSES, USERNAME

from auditplan.simulator.certs import TlsMaterial, generate_tls_material


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA, a server certificate for every test address, a client certificate."""
    return generate_tls_material(tmp_path_factory.mktemp("tls"), ADDRESSES, client_username=USERNAME)
