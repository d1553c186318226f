"""The NTLM CHALLENGE names the simulated host and its domain (MS-NLMP 2.2.1.2, 2.2.2.1, 3.2.5.1.1),
read with pyspnego's message parser from what the server sent over a real HTTP exchange."""

from __future__ import annotations

import base64

import pytest
import requests
import spnego
from clients_fleet import COMPUTER_NAME, WORKGROUP_ADDRESS, member_profile, serving_member
from spnego._ntlm_raw.messages import AvId, Challenge, NegotiateFlags

from auditplan.simulator.profile import HostProfile


def challenge_of(url: str) -> Challenge:
    """Send an NTLM NEGOTIATE as a client would and parse the CHALLENGE the 401 carries."""
    ntlm = spnego.client("someone", "irrelevant", protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
    negotiate = ntlm.step()
    assert negotiate is not None
    response = requests.post(
        url,
        data=b"",
        headers={"Authorization": "Negotiate " + base64.b64encode(negotiate).decode()},
        timeout=5,
        proxies={"http": "", "https": ""},
    )
    assert response.status_code == 401
    [value] = response.raw.headers.getlist("WWW-Authenticate")
    scheme, _, token = value.partition(" ")
    assert scheme == "Negotiate"
    return Challenge.unpack(base64.b64decode(token))


def test_a_domain_member_names_itself_and_its_domain() -> None:
    with serving_member({"ntlm"}, None) as server:
        challenge = challenge_of(server.url("web01"))
    info = challenge.target_info
    assert info is not None
    assert info[AvId.nb_computer_name] == "WEB01"
    assert info[AvId.nb_domain_name] == "CORP"
    assert info[AvId.dns_computer_name] == COMPUTER_NAME
    assert info[AvId.dns_domain_name] == "corp.example"
    assert info[AvId.dns_tree_name] == "corp.example"
    assert AvId.timestamp in info
    # 3.2.5.1.1: a domain member's TargetName is its NetBIOS domain, flagged TARGET_TYPE_DOMAIN.
    assert challenge.target_name == "CORP"
    assert challenge.flags & NegotiateFlags.target_type_domain
    assert not challenge.flags & NegotiateFlags.target_type_server


def test_a_workgroup_host_names_itself() -> None:
    workgroup = HostProfile(name="lab07", address=WORKGROUP_ADDRESS, computer_name="LAB07")
    with serving_member({"ntlm"}, None, profile=workgroup) as server:
        challenge = challenge_of(server.url("lab07"))
    info = challenge.target_info
    assert info is not None
    assert info[AvId.nb_computer_name] == "LAB07"
    assert info[AvId.nb_domain_name] == "WORKGROUP"
    assert challenge.target_name == "LAB07"
    assert challenge.flags & NegotiateFlags.target_type_server
    assert AvId.dns_tree_name not in info


@pytest.mark.parametrize("build", [7601, 9600, 20348])
def test_the_version_field_is_the_hosts_os(build: int) -> None:
    from auditplan.simulator.profile import OSProfile

    profile = member_profile(os=OSProfile(build=build))
    with serving_member({"ntlm"}, None, profile=profile) as server:
        challenge = challenge_of(server.url("web01"))
    assert challenge.version is not None
    expected = {7601: (6, 1), 9600: (6, 3), 20348: (10, 0)}[build]
    assert (challenge.version.major, challenge.version.minor, challenge.version.build) == (*expected, build)
