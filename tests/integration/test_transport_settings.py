"""Settings checks, the password wrapper, and the exception -> status mapping (no network)."""

from __future__ import annotations

import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
import winrm.exceptions
import winrm.transport

from auditplan.collect.winrm.faults import DeadlineExceeded, classify
from auditplan.collect.winrm.settings import AuthTransport, Secret, SettingsError, TransportSettings, endpoint_for
from auditplan.records import Host, HostStatus

PASSWORD = "pw-Zq81-unique"


def settings(**kw: object) -> TransportSettings:
    base: dict[str, object] = {"username": "auditor", "password": Secret(PASSWORD)}
    base.update(kw)
    return TransportSettings(**base)  # type: ignore[arg-type]


def test_secret_never_shows_its_value() -> None:
    secret = Secret(PASSWORD)
    s = settings()
    for text in (repr(secret), str(secret), f"{secret}", repr(s), str(s)):
        assert PASSWORD not in text
    assert secret.reveal() == PASSWORD
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_basic_over_http_is_refused_unless_allowed() -> None:
    with pytest.raises(SettingsError, match="allow-basic-over-http"):
        settings(transport=AuthTransport.BASIC, scheme="http").check()
    settings(transport=AuthTransport.BASIC, scheme="http", allow_basic_over_http=True).check()
    settings(transport=AuthTransport.BASIC, scheme="https").check()
    # NTLM encrypts the message itself (MS-WSMV 2.2.9.1), so plain HTTP is fine without the flag.
    settings(transport=AuthTransport.NTLM, scheme="http").check()


def test_per_host_override_is_checked_too() -> None:
    host = Host(name="h1", address="h1", transport="basic", scheme="http", source="hosts.csv:3")
    with pytest.raises(SettingsError, match="Basic auth over HTTP"):
        endpoint_for(host, settings())


def test_read_timeout_must_exceed_operation_timeout() -> None:
    # pywinrm's own rule (winrm-protocol.md §1.1); we reject it before building a Protocol.
    with pytest.raises(SettingsError, match="must exceed"):
        settings(operation_timeout=10, read_timeout=10).check()


def test_certificate_needs_https_and_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HTTPS"):
        settings(transport=AuthTransport.CERTIFICATE, scheme="http").check()
    with pytest.raises(SettingsError, match="client-cert"):
        settings(transport=AuthTransport.CERTIFICATE).check()


def test_endpoint_urls() -> None:
    s = settings()
    assert endpoint_for(Host(name="a", address="a"), s).url == "https://a:5986/wsman"
    assert endpoint_for(Host(name="a", address="a", scheme="http"), s).url == "http://a:5985/wsman"
    assert endpoint_for(Host(name="a", address="::1", port=99), s).url == "https://[::1]:99/wsman"
    assert endpoint_for(Host(name="a", address="a"), settings(port=1234)).url == "https://a:1234/wsman"


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (winrm.exceptions.InvalidCredentialsError("rejected"), HostStatus.AUTH_FAILED),
        (winrm.exceptions.WinRMTransportError("http", 401, ""), HostStatus.AUTH_FAILED),
        (winrm.exceptions.WinRMTransportError("http", 503, ""), HostStatus.PROTOCOL_ERROR),
        (
            winrm.exceptions.WSManFaultError(500, "m", "", "Access is denied.", "s:Sender", "w:AccessDenied", 5),
            HostStatus.ACCESS_DENIED,
        ),
        (
            winrm.exceptions.WSManFaultError(500, "m", "", "quota", "s:Receiver", "w:InternalError", None),
            HostStatus.PROTOCOL_ERROR,
        ),
        (requests.exceptions.SSLError("bad cert"), HostStatus.TLS_ERROR),
        (requests.exceptions.ConnectTimeout("slow"), HostStatus.TIMEOUT),
        (requests.exceptions.ReadTimeout("slow"), HostStatus.TIMEOUT),
        (DeadlineExceeded(), HostStatus.TIMEOUT),
        (ET.ParseError("not xml"), HostStatus.PROTOCOL_ERROR),
        (StopIteration(), HostStatus.PROTOCOL_ERROR),
        (AssertionError(), HostStatus.PROTOCOL_ERROR),
    ],
)
def test_classify(exc: BaseException, status: HostStatus) -> None:
    got, reason = classify(exc, settings())
    assert got is status
    assert reason and "\n" not in reason


@pytest.mark.skipif(winrm.transport.HAVE_KERBEROS, reason="pykerberos is installed here")
def test_kerberos_without_pykerberos_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="pykerberos"):
        settings(transport=AuthTransport.KERBEROS).check()


def test_missing_ca_bundle_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no such file"):
        settings(ca_bundle=tmp_path / "nope.pem").check()


def test_kerberos_needs_no_password_or_username(monkeypatch: pytest.MonkeyPatch) -> None:
    """pywinrm's Kerberos auth takes its ticket from the caller's cache (kinit), so the settings check
    must not demand a password (nor a username). Only the flag pywinrm exports is switched here, so the
    check can be seen past the pykerberos test on a machine without it."""
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", True)
    TransportSettings(username="", password=None, transport=AuthTransport.KERBEROS).check()
    TransportSettings(username="auditor@CORP.EXAMPLE", password=None, transport=AuthTransport.KERBEROS).check()
    # The other password-based transports still refuse to run without one.
    for transport in (AuthTransport.NTLM, AuthTransport.CREDSSP):
        with pytest.raises(SettingsError, match="needs a password"):
            TransportSettings(username="auditor", password=None, transport=transport).check()


@pytest.mark.skipif(winrm.transport.HAVE_KERBEROS, reason="pykerberos is installed here")
def test_kerberos_without_password_reports_the_missing_module_not_a_password() -> None:
    with pytest.raises(SettingsError, match="pykerberos") as info:
        TransportSettings(username="", password=None, transport=AuthTransport.KERBEROS).check()
    assert "password" not in str(info.value)
