"""Fleet TOML -> HostProfiles -> SimHosts (format: docs/fleet-toml.md); `demo_fleet()`.

Every problem is reported as `FILE: host 'NAME': KEY: what is wrong`, all problems of a file at
once (FleetError.errors), so a user fixes a fleet file in one pass.
"""

from __future__ import annotations

import ipaddress
import math
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from auditplan.records import AuditSetting, ProductType
from auditplan.records.input_limits import SMALL_MAX_BYTES, InputLimitError, loads_toml, read_text_limited
from auditplan.simulator.audit_source import SOURCES as AUDIT_SOURCES
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.interface import Credentials, FaultSpec, SimHost
from auditplan.simulator.profile import (
    HOURLY_SHAPES,
    LOCALES,
    RETENTION_MODES,
    AuditProfile,
    HostProfile,
    OSProfile,
    RateProfile,
    SecurityLogProfile,
    SysmonProfile,
)
from auditplan.simulator.sddl import DEFAULT_SECURITY_CHANNEL_ACCESS, sddl_problem

DEMO_FLEET_RESOURCE = "demo_fleet.toml"
FIRST_AUTO_ADDRESS = ipaddress.IPv4Address("127.0.0.11")
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
DEFAULT_DOMAIN = "corp.example"
GUID_RE = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
MAX_COUNT = 10000


class FleetError(ValueError):
    """A fleet file is invalid; `errors` holds one line per problem, each naming file/host/key."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = tuple(errors)


# -- value checkers: each returns the converted value or raises _Bad(message) -------------------


class _Bad(Exception):
    pass


Checker = Callable[[Any], Any]


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad(f"expected a string, got {_tname(v)}")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"expected true or false, got {_tname(v)}")
    return v


INT_MAX = 2**31 - 1  # what a Windows DWORD-ish figure or a C int can hold; larger overflows later
FLOAT_MAX = 1e12  # events/day, milliseconds, bytes/s: anything larger is a typo, not a host


def _int(minimum: int = 0, maximum: int = INT_MAX) -> Checker:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Bad(f"expected an integer, got {_tname(v)}")
        if v < minimum:
            raise _Bad(f"must be >= {minimum}, got {v}")
        if v > maximum:  # checked here: `port = 70000` used to load and crash the server with OverflowError
            raise _Bad(f"must be <= {maximum}, got {v}")
        return v

    return check


def _float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _Bad(f"expected a number, got {_tname(v)}")
    if not math.isfinite(v):  # loads_toml refuses nan/inf already; a number built in code is checked too
        raise _Bad(f"expected a finite number, got {v}")
    if v < 0:
        raise _Bad(f"must be >= 0, got {v}")
    if v > FLOAT_MAX:
        raise _Bad(f"must be <= {FLOAT_MAX:g}, got {v:g}")
    return float(v)


def _choice(*options: str) -> Checker:
    def check(v: Any) -> str:
        if not isinstance(v, str) or v not in options:
            raise _Bad(f"expected one of {', '.join(options)}, got {v!r}")
        return v

    return check


def _shape(v: Any) -> tuple[float, ...]:
    if isinstance(v, str):
        if v not in HOURLY_SHAPES:
            raise _Bad(f"unknown shape {v!r}; named shapes: {', '.join(HOURLY_SHAPES)}, or a list of 24 numbers")
        return HOURLY_SHAPES[v]
    if not isinstance(v, list) or len(v) != 24:
        raise _Bad("expected a shape name or a list of 24 numbers (hour 0 = 00:00 UTC)")
    weights = tuple(_float(x) for x in v)
    if sum(weights) <= 0:
        raise _Bad("the 24 weights must not all be 0")
    return weights


def _subcategories(v: Any) -> tuple[tuple[str, AuditSetting], ...]:
    if not isinstance(v, dict):
        raise _Bad('expected a table of "{GUID}" = "none|success|failure|success_and_failure"')
    out = []
    for guid, setting in v.items():
        if not GUID_RE.match(guid):
            raise _Bad(f"{guid!r} is not a braced GUID")
        out.append((guid.upper(), AuditSetting(_choice(*[s.value for s in AuditSetting])(setting))))
    return tuple(out)


def _sddl(v: Any) -> str:
    text = _str(v)
    if problem := sddl_problem(text):
        raise _Bad(problem)
    return text


def _optional_float(v: Any) -> float:
    return _float(v)


_SETTINGS = tuple(s.value for s in AuditSetting)
_PRODUCT_TYPES = tuple(p.value for p in ProductType)

SECTION_SCHEMAS: dict[str, dict[str, Checker]] = {
    "os": {
        "product_name": _str,
        "build": _int(1),
        "ubr": _int(0),
        "product_type": _choice(*_PRODUCT_TYPES),
        "display_version": _str,
        "edition_id": _str,
        "installation_type": _str,
        "kb3004375": _bool,
    },
    "audit": {
        "process_creation": _choice(*_SETTINGS),
        "cmdline": _bool,
        "force_subcategory": _bool,
        "subcategories": _subcategories,
        "source": _choice(*AUDIT_SOURCES),
    },
    "security_log": {"max_size_bytes": _int(65536, 2**42), "retention": _choice(*RETENTION_MODES)},
    "sysmon": {"installed": _bool, "service_name": _choice("Sysmon64", "Sysmon"), "running": _bool},
    "rates": {
        "process_starts_per_day": _float,
        "hourly_shape": _shape,
        "other_security_events_per_day": _float,
        "boots_per_day": _float,
        "day_to_day_sd": _float,
        "burstiness": _float,
    },
    "credentials": {"username": _str, "password": _str, "domain": _str},
    # Mirrors simulator.interface.FaultSpec field by field (a test keeps them in step).
    "faults": {
        "latency_ms": _float,
        "drip_bytes_per_second": _optional_float,
        "receive_timeouts": _int(0, 10_000),
        "hang": _bool,
        "reset_connection": _bool,
        "http_500_fault": _str,
        "reject_credentials": _bool,
        "access_denied": _bool,
        "malformed_xml": _bool,
        "oversized_output_bytes": _int(0, 2**30),
        "tls_broken": _bool,
    },
}
HOST_SCALARS: dict[str, Checker] = {
    "name": _str,
    "count": _int(1, 65_536),
    "address": _str,
    "port": _int(0, 65_535),
    "role": _str,
    "site": _str,
    "locale": _choice(*LOCALES),
    "computer_name": _str,
    "seed": _int(0, 2**63 - 1),
    "admin": _bool,
    "security_channel_access": _sddl,
}
TOP_LEVEL = ("domain", "seed", "defaults", "roles", "hosts")


def _tname(v: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(v), type(v).__name__)


# -- loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    source: str
    profiles: tuple[HostProfile, ...]

    def profile(self, name: str) -> HostProfile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise KeyError(name)

    def sim_hosts(self, *, now: datetime | None = None) -> list[SimHost]:
        return [sim_host(p, now=now) for p in self.profiles]


def sim_host(profile: HostProfile, *, now: datetime | None = None) -> SimHost:
    """The server's view of one host: address, port, faults, and its cmd.exe backend."""
    return SimHost(
        name=profile.name,
        address=profile.address,
        port=profile.port,
        backend=SimulatedHost(profile, now=now),
        faults=profile.faults,
        computer_name=profile.computer_name or profile.host_name,
        os_version=_os_version(profile),
        accounts=(profile.credentials,) if profile.credentials is not None else None,
    )


def _os_version(profile: HostProfile) -> tuple[int, int, int]:
    major, minor = profile.os.version.split(".")
    return int(major), int(minor), profile.os.build


def load_fleet(path: Path) -> Fleet:
    try:
        text = read_text_limited(path, SMALL_MAX_BYTES, what="fleet TOML file")
    except InputLimitError as exc:
        raise FleetError([str(exc)]) from None
    return parse_fleet(text, str(path))


def demo_fleet() -> Fleet:
    """The packaged demo fleet (simulator/demo_fleet.toml)."""
    text = resources.files("auditplan.simulator").joinpath(DEMO_FLEET_RESOURCE).read_text(encoding="utf-8")
    return parse_fleet(text, DEMO_FLEET_RESOURCE)


def parse_fleet(text: str, source: str) -> Fleet:
    try:
        doc = loads_toml(text, source)  # nesting bounded, nan/inf refused
    except InputLimitError as exc:
        raise FleetError([str(exc)]) from None
    return _Builder(source).build(doc)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []

    def error(self, where: str, key: str, message: str) -> None:
        self.errors.append(f"{self.source}: {where}: {key}: {message}" if key else f"{self.source}: {where}: {message}")

    def build(self, doc: dict[str, Any]) -> Fleet:
        for key in doc:
            if key not in TOP_LEVEL:
                self.error("top level", key, f"unknown key (allowed: {', '.join(TOP_LEVEL)})")
        domain = doc.get("domain", DEFAULT_DOMAIN)
        if not isinstance(domain, str):
            self.error("top level", "domain", f"expected a string, got {_tname(domain)}")
            domain = DEFAULT_DOMAIN
        fleet_seed = doc.get("seed", 0)
        if isinstance(fleet_seed, bool) or not isinstance(fleet_seed, int) or not 0 <= fleet_seed < 2**63:
            self.error("top level", "seed", f"expected an integer from 0 to 2**63 - 1, got {fleet_seed!r}"[:200])
            fleet_seed = 0
        defaults = self._table(doc.get("defaults", {}), "defaults")
        self._check_host_table(defaults, "defaults", allow_name=False)
        roles_raw = self._table(doc.get("roles", {}), "roles")
        roles: dict[str, dict[str, Any]] = {}
        for role, body in roles_raw.items():
            table = self._table(body, f"roles.{role}")
            self._check_host_table(table, f"role '{role}'", allow_name=False)
            roles[role] = table
        hosts_raw = doc.get("hosts", [])
        if not isinstance(hosts_raw, list):
            self.error("top level", "hosts", "expected an array of tables ([[hosts]])")
            hosts_raw = []
        entries: list[tuple[str, dict[str, Any]]] = []
        seen: dict[str, str] = {}
        for index, host in enumerate(hosts_raw):
            label = f"hosts[{index}]"
            if not isinstance(host, dict):
                self.error(label, "", "expected a table")
                continue
            name = host.get("name")
            if not isinstance(name, str) or not name:
                self.error(label, "name", "missing or not a string")
                continue
            self._check_host_table(host, f"host '{name}'")
            for expanded, merged_host in self._expand(name, host, label):
                where = f"host '{expanded}'"
                if not NAME_RE.match(expanded):
                    self.error(where, "name", "use letters, digits and '-' (at most 63 characters)")
                if expanded.lower() in seen:
                    self.error(where, "name", f"duplicate host (already defined at {seen[expanded.lower()]})")
                    continue
                seen[expanded.lower()] = label
                entries.append((expanded, merged_host))
        if not self.errors:
            profiles = self._profiles(entries, defaults, roles, domain, fleet_seed)
        if self.errors:
            raise FleetError(self.errors)
        return Fleet(self.source, tuple(profiles))

    def _table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.error(where, "", f"expected a table, got {_tname(value)}")
            return {}
        return value

    def _expand(self, name: str, host: dict[str, Any], label: str) -> list[tuple[str, dict[str, Any]]]:
        count = host.get("count")
        if count is None:
            return [(name, host)]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            self.error(f"host '{name}'", "count", f"expected an integer 1..{MAX_COUNT}")
            return []
        if "{n" not in name:
            self.error(f"host '{name}'", "name", "with count, the name needs an {n} placeholder, e.g. 'ws{n:03}'")
            return []
        if "address" in host:
            self.error(f"host '{name}'", "address", "cannot be combined with count (addresses are assigned)")
            return []
        out = []
        for n in range(1, count + 1):
            try:
                expanded = name.format(n=n)
            except (ValueError, KeyError, IndexError) as exc:
                self.error(f"host '{name}'", "name", f"bad placeholder: {exc}")
                return []
            entry = {k: v for k, v in host.items() if k != "count"}
            if isinstance(entry.get("seed"), int):
                entry["seed"] = entry["seed"] + n - 1  # one seed per host, or their logs would be identical
            out.append((expanded, entry))
        return out

    def _check_host_table(self, table: dict[str, Any], where: str, *, allow_name: bool = True) -> None:
        for key, value in table.items():
            if key in SECTION_SCHEMAS:
                if not isinstance(value, dict):
                    self.error(where, key, f"expected a table, got {_tname(value)}")
                    continue
                schema = SECTION_SCHEMAS[key]
                for sub, sub_value in value.items():
                    if sub not in schema:
                        self.error(where, f"{key}.{sub}", f"unknown key (allowed: {', '.join(schema)})")
                        continue
                    try:
                        schema[sub](sub_value)
                    except _Bad as bad:
                        self.error(where, f"{key}.{sub}", str(bad))
            elif key in HOST_SCALARS and (allow_name or key not in ("name", "count")):
                try:
                    HOST_SCALARS[key](value)
                except _Bad as bad:
                    self.error(where, key, str(bad))
            else:
                allowed = [k for k in HOST_SCALARS if allow_name or k not in ("name", "count")]
                self.error(where, key, f"unknown key (allowed: {', '.join([*allowed, *SECTION_SCHEMAS])})")

    def _profiles(
        self,
        entries: list[tuple[str, dict[str, Any]]],
        defaults: dict[str, Any],
        roles: dict[str, dict[str, Any]],
        domain: str,
        fleet_seed: int,
    ) -> list[HostProfile]:
        used: set[ipaddress.IPv4Address] = set()
        explicit: dict[str, ipaddress.IPv4Address] = {}
        for name, host in entries:
            address = host.get("address")
            if isinstance(address, str):
                try:
                    ip = ipaddress.IPv4Address(address)
                except ValueError:
                    self.error(f"host '{name}'", "address", f"{address!r} is not an IPv4 address")
                    continue
                if ip not in LOOPBACK:
                    self.error(f"host '{name}'", "address", f"{address} is not a loopback address (127.0.0.0/8)")
                elif ip in used:
                    self.error(f"host '{name}'", "address", f"{address} is already used by another host")
                used.add(ip)
                explicit[name] = ip
        next_ip = FIRST_AUTO_ADDRESS
        profiles = []
        for name, host in entries:
            role = host.get("role", defaults.get("role", "member"))
            merged = _merge(defaults, roles.get(role, {}) if isinstance(role, str) else {})
            merged = _merge(merged, host)
            if name in explicit:
                ip = explicit[name]
            else:
                while next_ip in used:
                    next_ip += 1
                ip = next_ip
                used.add(ip)
                if ip not in LOOPBACK:
                    self.error(f"host '{name}'", "address", "ran out of loopback addresses")
                    continue
            try:
                profiles.append(_profile(name, str(ip), merged, domain, fleet_seed))
            except (_Bad, ValueError, TypeError) as exc:
                self.error(f"host '{name}'", "", str(exc))
        return profiles


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "subcategories":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _section(merged: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = merged.get(key, {})
    if not isinstance(value, dict):
        raise _Bad(f"{key}: expected a table")
    schema = SECTION_SCHEMAS[key]
    return {k: schema[k](v) for k, v in value.items() if k in schema}


def _profile(name: str, address: str, merged: dict[str, Any], domain: str, fleet_seed: int) -> HostProfile:
    os_t = _section(merged, "os")
    if "product_type" in os_t:
        os_t["product_type"] = ProductType(os_t["product_type"])
    if os_t.get("display_version") == "":
        os_t["display_version"] = None  # TOML has no null: "" means the value is absent (pre-2004 builds)
    audit_t = _section(merged, "audit")
    audit = AuditProfile(
        process_creation=AuditSetting(audit_t.get("process_creation", AuditSetting.NONE.value)),
        cmdline_enabled=audit_t.get("cmdline", False),
        force_subcategory=audit_t.get("force_subcategory"),
        subcategories=audit_t.get("subcategories", ()),
        source=audit_t.get("source"),
    )
    creds_t = _section(merged, "credentials")
    credentials = None
    if creds_t:
        if "username" not in creds_t or "password" not in creds_t:
            raise _Bad("credentials: needs both username and password")
        credentials = Credentials(creds_t["username"], creds_t["password"], creds_t.get("domain", ""))
    seed = merged.get("seed")
    if seed is None:
        seed = (zlib.crc32(name.encode("utf-8")) ^ fleet_seed) & 0x7FFFFFFF
    return HostProfile(
        name=name,
        address=address,
        port=merged.get("port", 0),
        role=merged.get("role", "member"),
        site=merged.get("site", "default"),
        locale=merged.get("locale", "en-US"),
        computer_name=merged.get("computer_name", f"{name.upper()}.{domain}"),
        seed=seed,
        admin=merged.get("admin", True),
        security_channel_access=merged.get("security_channel_access", DEFAULT_SECURITY_CHANNEL_ACCESS),
        os=OSProfile(**os_t),
        audit=audit,
        security_log=SecurityLogProfile(**_section(merged, "security_log")),
        sysmon=SysmonProfile(**_section(merged, "sysmon")),
        rates=RateProfile(**_section(merged, "rates")),
        credentials=credentials,
        faults=FaultSpec(**_section(merged, "faults")),
    )
