"""What one simulated Windows host is: OS, audit state, log config, Sysmon, event rates, faults.

Frozen dataclasses, built by simulator/fleet.py from a fleet TOML (docs/fleet-toml.md) and read
by simulator/host.py (the cmd.exe world) and simulator/eventlog.py (the event logs). The field
names below are a contract with eventlog.py: `name`, `seed`, `audit.process_creation`,
`audit.cmdline_enabled`, `rates.*`, `security_log.*`, `sysmon.installed`, `sysmon.service_name`,
`os.build`, `computer_name`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditplan.records import AuditSetting, ProductType
from auditplan.simulator.interface import Credentials, FaultSpec
from auditplan.simulator.sddl import DEFAULT_SECURITY_CHANNEL_ACCESS

RETENTION_MODES = ("overwrite", "archive", "do_not_overwrite")
LOCALES = ("en-US", "de-DE", "fr-FR")

# Console (OEM) code page a shell gets when the client does not ask for one
# (windows-tool-outputs.md §0.1: 437 on en-US, 850 on many Western European installs).
OEM_CODEPAGE = {"en-US": 437, "de-DE": 850, "fr-FR": 850}
# ANSI code page: auditpol /backup writes its CSV in it (windows-tool-outputs.md §1.2).
ANSI_CODEPAGE = {"en-US": 1252, "de-DE": 1252, "fr-FR": 1252}

# Named hour-of-day shapes (24 weights, hour 0 = 00:00 UTC). Assumptions, not measurements:
# no public source gives per-role hourly 4688 profiles (evtx-data.md §0).
HOURLY_SHAPES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # Office hours 07-18 UTC carry most process starts; nights keep a floor of services/tasks.
    "office": (
        0.3,
        0.3,
        0.3,
        0.3,
        0.3,
        0.4,
        0.7,
        1.6,
        2.4,
        2.6,
        2.5,
        2.3,
        2.2,
        2.4,
        2.5,
        2.3,
        2.0,
        1.4,
        0.8,
        0.5,
        0.4,
        0.4,
        0.3,
        0.3,
    ),
    # Servers: a steady base with a business-hours bump.
    "server": (
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.9,
        1.1,
        1.3,
        1.4,
        1.4,
        1.3,
        1.3,
        1.3,
        1.4,
        1.3,
        1.2,
        1.1,
        1.0,
        0.9,
        0.9,
        0.8,
        0.8,
        0.8,
    ),
    # Nightly batch/maintenance window 01-04 UTC (backups, ETL, index jobs).
    "batch": (
        1.2,
        3.0,
        3.5,
        3.0,
        2.0,
        0.8,
        0.6,
        0.7,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.8,
        0.7,
        0.6,
        0.6,
        0.6,
        0.6,
        0.7,
        0.9,
    ),
}


@dataclass(frozen=True)
class OSProfile:
    """What `reg query ...\\Windows NT\\CurrentVersion` and `ver` report."""

    product_name: str = "Windows Server 2022 Standard"
    build: int = 20348
    ubr: int = 2655
    product_type: ProductType = ProductType.SERVER
    display_version: str | None = "21H2"
    edition_id: str = "ServerStandard"
    installation_type: str = "Server"  # "Server" | "Server Core" | "Client"
    # 7601 (7 / 2008 R2) and 9200 (8 / 2012) need KB3004375 for 4688 CommandLine
    # (gpo-backup-format.md §A2); ignored on later builds.
    kb3004375: bool = False

    @property
    def version(self) -> str:
        """Major.minor as `ver` prints it, derived from the build."""
        if self.build >= 10240:
            return "10.0"
        if self.build >= 9600:
            return "6.3"
        if self.build >= 9200:
            return "6.2"
        if self.build >= 7600:
            return "6.1"
        return "6.0"

    @property
    def cmdline_supported(self) -> bool:
        return self.build >= 9600 or self.kb3004375


@dataclass(frozen=True)
class AuditProfile:
    process_creation: AuditSetting = AuditSetting.NONE
    cmdline_enabled: bool = False  # ProcessCreationIncludeCmdLine_Enabled = 1
    # SCENoApplyLegacyAuditPolicy: None = value absent (the Windows default), else 0/1.
    force_subcategory: bool | None = None
    # Other subcategories set locally, by upper-case braced GUID (override the defaults table).
    subcategories: tuple[tuple[str, AuditSetting], ...] = ()
    # Where the policy comes from (simulator/audit_source.py): None (the built-in table, no audit.csv),
    # "default", "local", "local_gpo" or "gpo".
    source: str | None = None


@dataclass(frozen=True)
class SecurityLogProfile:
    max_size_bytes: int = 20971520  # 20 MB: the documented default (gpo-backup-format.md §A4)
    retention: str = "overwrite"  # "overwrite" | "archive" | "do_not_overwrite"


@dataclass(frozen=True)
class SysmonProfile:
    installed: bool = False
    service_name: str = "Sysmon64"  # "Sysmon64" (64-bit) or "Sysmon"
    running: bool = True


@dataclass(frozen=True)
class RateProfile:
    """True event rates of the host (what eventlog.py generates from)."""

    # True process starts/day: the 4688 rate when auditing is on, the Sysmon EID 1 rate with Sysmon.
    process_starts_per_day: float = 2000.0
    hourly_shape: tuple[float, ...] = HOURLY_SHAPES["flat"]
    other_security_events_per_day: float = 20000.0
    boots_per_day: float = 1.0 / 30.0
    # Day-to-day variation (simulator/variation.py): each UTC day's rate is multiplied by a log-normal
    # factor of mean 1 and this log-sd, and with `burstiness` > 0 each hour's by a gamma factor of mean 1
    # and that coefficient of variation. 0 keeps the rates stationary (the default).
    day_to_day_sd: float = 0.0
    burstiness: float = 0.0


@dataclass(frozen=True)
class HostProfile:
    name: str  # the fleet key (also what the inventory calls the host)
    address: str  # loopback address the host listens on
    port: int = 0  # 0 = ephemeral
    role: str = "member"
    site: str = "default"
    locale: str = "en-US"
    computer_name: str = ""  # FQDN used in events' Computer field
    seed: int = 0
    admin: bool = True  # False: the account lacks admin rights (auditpol / Security log denied)
    os: OSProfile = field(default_factory=OSProfile)
    audit: AuditProfile = field(default_factory=AuditProfile)
    security_log: SecurityLogProfile = field(default_factory=SecurityLogProfile)
    sysmon: SysmonProfile = field(default_factory=SysmonProfile)
    rates: RateProfile = field(default_factory=RateProfile)
    # Per-host account that this host accepts instead of the fleet's; repr=False keeps the
    # password out of any log line that prints a profile.
    credentials: Credentials | None = field(default=None, repr=False)
    faults: FaultSpec = field(default_factory=FaultSpec)
    # The Security channel's SDDL, as `wevtutil gl Security` prints it (channelAccess).
    security_channel_access: str = DEFAULT_SECURITY_CHANNEL_ACCESS

    @property
    def host_name(self) -> str:
        """What `hostname` prints: the first label of the FQDN, case as configured."""
        return (self.computer_name or self.name).split(".", 1)[0]

    @property
    def netbios_name(self) -> str:
        """%COMPUTERNAME% and auditpol's Machine Name column: upper case, at most 15 characters."""
        return self.host_name.upper()[:15]

    @property
    def oem_codepage(self) -> int:
        return OEM_CODEPAGE.get(self.locale, 437)

    @property
    def ansi_codepage(self) -> int:
        return ANSI_CODEPAGE.get(self.locale, 1252)
