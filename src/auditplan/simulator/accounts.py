"""Who a simulated host is (its names and domain) and which accounts it accepts, as Windows decides it.

Names (MS-NLMP 2.2.2.1 AV_PAIR; 3.2.5.1.1): a host has a NetBIOS computer name (%COMPUTERNAME%,
upper case, at most 15 characters), a DNS computer name (its FQDN) and, when domain-joined, a DNS
domain name and a NetBIOS domain name (the domain's first label, upper case); a workgroup host's
NetBIOS "domain" is its workgroup (WORKGROUP).

Accounts: a `Credentials` whose domain is empty or names the host itself is a *local* account (the
host's SAM); one whose domain names the host's domain is a *domain* account; any other domain is an
account of a domain this host does not know, so it never logs in.

What the client types, and which account it reaches (user name formats:
https://learn.microsoft.com/en-us/windows/win32/secauthn/user-name-formats; NTLM sends a UPN as the
whole UserName with an empty DomainName, and `.` as the DomainName of `.\\user`):

| typed                 | NTLM DomainName / UserName | account                                        |
|-----------------------|----------------------------|------------------------------------------------|
| `user`                | "" / user                  | local, else the host's domain (UNVERIFIED order)|
| `HOST\\user`, `.\\user` | HOST or . / user           | local                                          |
| `user@HOST`           | "" / user@HOST             | local                                          |
| `DOMAIN\\user`          | DOMAIN / user              | domain (NetBIOS or DNS domain name)            |
| `user@domain.fqdn`    | "" / user@domain.fqdn      | domain                                         |
| `OTHER\\user`           | OTHER / user               | refused                                        |

Basic carries the same typed text and follows the same table. Where real Windows differs in a
corner (a bare name that is both a local and a domain account; an unknown domain on a workgroup
host), docs/windows-validation.md lists the lab check.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from auditplan.simulator.interface import Credentials

WORKGROUP = "WORKGROUP"
NETBIOS_MAX = 15
_FORBIDDEN = frozenset(":\r\n\\@")


@dataclass(frozen=True)
class HostIdentity:
    """The names a host gives itself: in the NTLM CHALLENGE, in events, in %USERDOMAIN%."""

    dns_computer_name: str  # "SRV3.corp.example", or "SRV3" for a workgroup host
    os_major: int = 10
    os_minor: int = 0
    os_build: int = 20348

    @staticmethod
    def for_name(name: str, domain: str = "") -> HostIdentity:
        return HostIdentity(f"{name}.{domain}" if domain else name)

    @property
    def netbios_name(self) -> str:
        return self.dns_computer_name.split(".", 1)[0].upper()[:NETBIOS_MAX]

    @property
    def dns_domain(self) -> str:
        """The DNS domain ("" for a workgroup host)."""
        return self.dns_computer_name.split(".", 1)[1].lower() if "." in self.dns_computer_name else ""

    @property
    def joined(self) -> bool:
        return bool(self.dns_domain)

    @property
    def netbios_domain(self) -> str:
        return self.dns_domain.split(".", 1)[0].upper()[:NETBIOS_MAX] if self.joined else WORKGROUP

    def names_host(self, text: str) -> bool:
        """`HOST`, the FQDN, or `.`: the local machine."""
        return text == "." or text.upper() == self.netbios_name or text.lower() == self.dns_computer_name.lower()

    def names_domain(self, text: str) -> bool:
        return self.joined and (text.upper() == self.netbios_domain or text.lower() == self.dns_domain)


@dataclass(frozen=True)
class Principal:
    """An account a login reached: `DOMAIN\\user` as Windows writes it in events and whoami."""

    domain: str
    username: str
    credentials: Credentials

    def __str__(self) -> str:
        return f"{self.domain}\\{self.username}"


def split_typed(typed: str) -> tuple[str, str]:
    """(DomainName, UserName) as an NTLM client puts the typed account on the wire."""
    if "\\" in typed:
        domain, user = typed.split("\\", 1)
        return domain, user
    return "", typed


class AccountBook:
    """The accounts one host accepts, resolved by Windows' rules for that host's identity."""

    def __init__(self, identity: HostIdentity, accounts: Sequence[Credentials]) -> None:
        for account in accounts:
            for text in (account.username, account.domain):
                if any(ch in _FORBIDDEN for ch in text):
                    raise ValueError(f"account name {text!r} may not contain ':', '\\', '@' or line breaks")
        self.identity = identity
        self._local = [a for a in accounts if not a.domain or identity.names_host(a.domain)]
        self._domain = [a for a in accounts if a.domain and not identity.names_host(a.domain)]

    def resolve(self, domain: str, user: str) -> Principal | None:
        """The account reached by an NTLM DomainName/UserName pair (or a Basic name split alike)."""
        me = self.identity
        if not domain and "@" in user:
            name, suffix = user.rsplit("@", 1)
            if me.names_host(suffix) and suffix != ".":
                return self._local_account(name)
            if me.joined and suffix.lower() == me.dns_domain:
                return self._domain_account(name)
            return None
        if not domain:
            return self._local_account(user) or self._domain_account(user)
        if me.names_host(domain):
            return self._local_account(user)
        if me.names_domain(domain):
            return self._domain_account(user)
        return None

    def _local_account(self, name: str) -> Principal | None:
        for account in self._local:
            if account.username.lower() == name.lower():
                return Principal(self.identity.netbios_name, account.username, account)
        return None

    def _domain_account(self, name: str) -> Principal | None:
        for account in self._domain:
            if account.username.lower() == name.lower() and self.identity.names_domain(account.domain):
                return Principal(self.identity.netbios_domain, account.username, account)
        return None

    def check_password(self, typed: str, password: str) -> Principal | None:
        """Basic: the typed account and its password (compared in constant time)."""
        principal = self.resolve(*split_typed(typed))
        if principal is None:
            return None
        if hmac.compare_digest(principal.credentials.password.encode("utf-8"), password.encode("utf-8")):
            return principal
        return None

    def local_user(self, name: str) -> Principal | None:
        """A certificate mapping names a local account (WS-Man client certificate mapping)."""
        return self._local_account(name)
