"""Fixtures of the independent-client tests."""

from __future__ import annotations

import pytest
from clients_fleet import ADDRESS, WORKGROUP_ADDRESS

from auditplan.simulator.certs import TlsMaterial, generate_tls_material


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA, a server certificate for the test addresses, a client certificate (CN auditor)."""
    return generate_tls_material(
        tmp_path_factory.mktemp("clients-tls"), [ADDRESS, WORKGROUP_ADDRESS], client_username="auditor"
    )
