"""Throwaway TLS material for the simulator: a test CA, a server certificate, a client certificate.

Everything is generated fresh with `cryptography` into a directory the caller owns (a test's
tmp_path, a demo's temp dir). Keys are written 0600. Nothing here is fit for production use.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from auditplan.safe_write import write_bytes

# Microsoft's UPN otherName: certificate mapping on Windows keys on it (client cert auth).
OID_MS_UPN = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
_VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class TlsMaterial:
    """PEM paths. `untrusted_*` is a server pair signed by a second CA no client trusts (tls_broken)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_username: str
    untrusted_server_cert: Path
    untrusted_server_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    # EC P-256: generated in microseconds, unlike RSA, so every test can have fresh material.
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "auditplan simulator (test only)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = _name(common_name)
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common_name: str,
    sans: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    cert = (
        _builder(_name(common_name), ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    write_bytes(path, cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_bytes(path, pem, mode=0o600)
    return path


def generate_tls_material(
    directory: Path, addresses: Iterable[str], *, client_username: str = "auditor"
) -> TlsMaterial:
    """Write a CA, a server cert for `addresses` + localhost, a client cert for `client_username`.

    The client certificate carries the user name as CN and as a UPN otherName, which is what
    a WinRM certificate mapping matches on; the simulator maps it by CN.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ca("auditplan simulator test CA")
    ips = sorted({ipaddress.ip_address(a) for a in addresses} | {ipaddress.ip_address("127.0.0.1")})
    server_sans: list[x509.GeneralName] = [x509.DNSName("localhost"), *(x509.IPAddress(ip) for ip in ips)]
    server_cert, server_key = _leaf("localhost", server_sans, ExtendedKeyUsageOID.SERVER_AUTH, ca_cert, ca_key)
    upn = x509.OtherName(OID_MS_UPN, _der_utf8(f"{client_username}@localhost"))
    client_cert, client_key = _leaf(client_username, [upn], ExtendedKeyUsageOID.CLIENT_AUTH, ca_cert, ca_key)
    rogue_ca, rogue_key = _ca("untrusted CA")
    bad_cert, bad_key = _leaf("localhost", server_sans, ExtendedKeyUsageOID.SERVER_AUTH, rogue_ca, rogue_key)
    return TlsMaterial(
        ca_cert=_write_cert(directory / "ca.pem", ca_cert),
        server_cert=_write_cert(directory / "server.pem", server_cert),
        server_key=_write_key(directory / "server.key", server_key),
        client_cert=_write_cert(directory / "client.pem", client_cert),
        client_key=_write_key(directory / "client.key", client_key),
        client_username=client_username,
        untrusted_server_cert=_write_cert(directory / "untrusted-server.pem", bad_cert),
        untrusted_server_key=_write_key(directory / "untrusted-server.key", bad_key),
    )


def _der_utf8(text: str) -> bytes:
    """DER UTF8String, the value type of the UPN otherName."""
    raw = text.encode("utf-8")
    if len(raw) < 0x80:
        return b"\x0c" + bytes([len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return b"\x0c" + bytes([0x80 | len(length)]) + length + raw
