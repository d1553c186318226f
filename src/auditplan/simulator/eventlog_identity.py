"""Whose names a simulated event carries: the simulated host's and its domain's, not the capture's.

The event templates are real events from other machines (tools/build_event_templates.py): their
subject and target names (`WIN10-02$`, `OFFSEC`, `admmig@offsec.lan`, a workgroup PC's own name)
belong to those machines. When a template is made ready (eventlog_templates._prepare) these values
become slots that each host fills with its own names when it renders an event:

- a machine account (`NAME$`, a NetBIOS name) -> the host's own machine account `HOST$`;
- a *DomainName that named the capture's own computer (a local account) -> the host's NetBIOS name;
- any other *DomainName (the capture's domain, or WORKGROUP for its machine account) -> the host's
  logon domain: its NetBIOS domain name, or WORKGROUP on a workgroup host (MS-NLMP's names, as
  accounts.HostIdentity gives them);
- a UPN's suffix -> the host's DNS domain;
- Sysmon's `User` (`DOMAIN\\user`): both halves by the rules above.

Well-known authorities (NT AUTHORITY, Font Driver Host, Window Manager, Builtin, NT Service) and
`-` stay. SIDs stay as captured (their domain part is the capture's; UNVERIFIED consistency), and so
does command-line text. XPath queries (`wevtutil qe /q:`) see the captured names; the probe's queries
select by provider, event id and time only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SLOT_MACHINE, SLOT_DOMAIN, SLOT_LOCAL, SLOT_DNS = "\x00M\x00", "\x00D\x00", "\x00H\x00", "\x00S\x00"
SLOT_LETTERS = "MDHS"
WORKGROUP = "WORKGROUP"
USER_FIELDS = frozenset({"SubjectUserName", "TargetUserName"})
DOMAIN_FIELDS = frozenset({"SubjectDomainName", "TargetDomainName"})
SYSMON_USER_FIELD = "User"
WELL_KNOWN_DOMAINS = frozenset(
    {"", "-", "NT AUTHORITY", "NT SERVICE", "FONT DRIVER HOST", "WINDOW MANAGER", "BUILTIN", "IIS APPPOOL"}
)
_MACHINE_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,14}\$")
_UPN = re.compile(r"([^@\s]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def slotted(name: str, value: str, source_computer: str) -> str:
    """A template's Data value with the capture's own names replaced by slots (see the docstring)."""
    if name == SYSMON_USER_FIELD and "\\" in value:  # Sysmon's `DOMAIN\\user`
        domain, _, user = value.partition("\\")
        return slotted("SubjectDomainName", domain, source_computer) + "\\" + slotted("SubjectUserName", user, "")
    if name in USER_FIELDS:
        if _MACHINE_ACCOUNT.fullmatch(value):
            return SLOT_MACHINE
        upn = _UPN.fullmatch(value)
        return f"{upn.group(1)}@{SLOT_DNS}" if upn else value
    if name in DOMAIN_FIELDS:
        if value.upper() in WELL_KNOWN_DOMAINS:
            return value
        local = source_computer.split(".", 1)[0].upper()
        return SLOT_LOCAL if local and value.upper() == local else SLOT_DOMAIN
    return value


@dataclass(frozen=True)
class EventIdentity:
    """The names one host writes into its events."""

    netbios_name: str
    logon_domain: str  # NetBIOS domain name, or WORKGROUP
    dns_domain: str  # "" on a workgroup host

    @staticmethod
    def for_computer(computer: str) -> EventIdentity:
        """From the host's FQDN (`WEB01.corp.example`), or a bare name for a workgroup host."""
        host, _, domain = computer.partition(".")
        netbios_domain = domain.split(".", 1)[0].upper()[:15] if domain else WORKGROUP
        return EventIdentity(host.upper()[:15], netbios_domain, domain.lower())

    def slots(self) -> dict[str, str]:
        """Slot letter (lower case, as Prepared.slots names them) -> plain text."""
        return {
            "m": self.netbios_name + "$",
            "d": self.logon_domain,
            "h": self.netbios_name,
            "s": self.dns_domain or self.netbios_name.lower(),
        }

    def resolve(self, text: str) -> str:
        """Plain text with every slot filled (for rendered messages)."""
        if "\x00" not in text:
            return text
        for letter, value in self.slots().items():
            text = text.replace(f"\x00{letter.upper()}\x00", value)
        return text
