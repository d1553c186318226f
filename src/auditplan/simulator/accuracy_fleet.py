"""Fleets of known truth for the estimate accuracy check (bench/accuracy.py, tests/integration/test_accuracy.py).

Each seed draws a fleet whose role medians sit far from the model's priors (defaults.toml [priors.roles]):
terminal servers 5x above, web servers 7.5x, file servers 3x below, ... Hosts spread log-normally around
their role's median (clipped to 50..200,000 4688/day), with flat/office/server/batch hour-of-day shapes,
bursty hours, day-to-day variation (simulator/variation.py), Security logs from the 20 MB default (a
10,000-40,000/day host's log then holds only part of the window) to large, and three audit states: 4688 on (measured),
off with Sysmon (Sysmon-only) and off (the model falls back to role peers, or to the prior for the one
role with nothing measured). The truth of a host is its expected 4688/day once auditing is on:
`process_starts_per_day` (the variation factors have mean 1) plus the 11 early-boot 4688s per boot.

Everything here is an assumption chosen to exercise the model, not a claim about real fleets.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from auditplan.records import AuditSetting, EstimateSource, HostEstimate, ProductType, Range
from auditplan.simulator.profile import (
    HOURLY_SHAPES,
    AuditProfile,
    HostProfile,
    OSProfile,
    RateProfile,
    SecurityLogProfile,
    SysmonProfile,
)

BOOT_4688 = 11  # early-boot 4688s per boot, written even with auditing off (evtx-data.md §2.2)
MIN_RATE = 50.0
MAX_RATE = 200_000.0
DEFAULT_LOG = 20 * 1024 * 1024
SMALL_LOG_RATE = 40_000.0
MAX_LOG = 4_032 * 1024 * 1024
# Bytes the simulated Security log spends per process start and per other event (rough record sizes of
# the templates), used only to size the large logs so they hold a few days.
_BYTES_PER_EVENT = 1_800


@dataclass(frozen=True)
class RoleTruth:
    role: str  # inventory role (a [priors.roles] key)
    hosts: int
    median: float  # the fleet's true median 4688/day for the role
    spread: float  # log-sd of hosts around it
    shapes: tuple[str, ...]  # hour-of-day shapes drawn from ("bursty" = flat with bursty hours)
    measured_share: float  # share of hosts with 4688 on
    sysmon_share: float  # share of the others with Sysmon


# Priors (defaults.toml): dc 2,000, terminal 20,000, file 1,000, web 2,000, db 1,500, ws 2,000, member 1,500.
ROLES: tuple[RoleTruth, ...] = (
    RoleTruth("domain_controller", 8, 6_000.0, 0.5, ("flat", "server", "bursty"), 0.6, 0.2),
    RoleTruth("terminal_server", 8, 100_000.0, 0.45, ("office", "flat"), 0.6, 0.2),
    RoleTruth("file_server", 10, 300.0, 0.6, ("office", "server"), 0.6, 0.2),
    RoleTruth("web_server", 10, 15_000.0, 0.5, ("flat", "bursty"), 0.6, 0.2),
    RoleTruth("database_server", 10, 4_000.0, 0.5, ("batch", "server"), 0.6, 0.2),
    RoleTruth("workstation", 16, 600.0, 0.8, ("office",), 0.6, 0.2),
    # Nothing measured in this role: its hosts rest on the prior (1,500), here 1.7x below the truth.
    RoleTruth("member_server", 10, 2_500.0, 0.5, ("server", "flat"), 0.0, 0.0),
)


@dataclass(frozen=True)
class TruthHost:
    profile: HostProfile
    true_per_day: float  # expected 4688/day once Process Creation (Success) is audited
    shape: str
    audit_on: bool
    sysmon: bool


def accuracy_fleet(seed: int, address: str = "127.0.0.1", roles: tuple[RoleTruth, ...] = ROLES) -> list[TruthHost]:
    """One fleet of known truth, the same for the same seed."""
    rng = random.Random(seed * 7919 + 15)
    hosts: list[TruthHost] = []
    for spec in roles:
        on = round(spec.hosts * spec.measured_share)
        for i in range(spec.hosts):
            rate = round(min(MAX_RATE, max(MIN_RATE, spec.median * math.exp(rng.gauss(0.0, spec.spread)))), 1)
            shape = spec.shapes[rng.randrange(len(spec.shapes))]
            audit_on = i < on
            sysmon = not audit_on and rng.random() < spec.sysmon_share / max(1e-9, 1 - spec.measured_share)
            # A third of the hosts below SMALL_LOG_RATE keep Windows' 20 MB default log (at 10,000-40,000/day it
            # holds part of a day: a partial window); the rest hold about three days. A 20 MB log on a
            # 150,000/day host holds about an hour, which no day-shape extrapolation rescues: such hosts are
            # left to the notes ("a larger Security log"), not to this check.
            small_log = rng.random() < 1 / 3 and rate < SMALL_LOG_RATE
            other = rng.choice((5_000.0, 20_000.0, 60_000.0))
            roomy = int(min(MAX_LOG, max(DEFAULT_LOG, 3 * (rate + other) * _BYTES_PER_EVENT)))
            size = DEFAULT_LOG if small_log else roomy
            size = max(DEFAULT_LOG, size // 65536 * 65536)
            rates = RateProfile(
                process_starts_per_day=rate,
                hourly_shape=HOURLY_SHAPES["flat" if shape == "bursty" else shape],
                other_security_events_per_day=other,
                day_to_day_sd=round(rng.uniform(0.03, 0.15), 3),
                burstiness=1.0 if shape == "bursty" else 0.0,
            )
            product = ProductType.DOMAIN_CONTROLLER if spec.role == "domain_controller" else (
                ProductType.WORKSTATION if spec.role == "workstation" else ProductType.SERVER)
            os = (OSProfile(product_name="Windows 11 Enterprise", build=22631, ubr=4460, product_type=product,
                            display_version="23H2", edition_id="Enterprise", installation_type="Client")
                  if product is ProductType.WORKSTATION else OSProfile(product_type=product))
            profile = HostProfile(
                name=f"s{seed}-{spec.role[:4]}{i:02d}",
                address=address,
                role=spec.role,
                site=f"site{i % 3}",
                seed=seed * 100_003 + len(hosts),
                os=os,
                audit=AuditProfile(process_creation=AuditSetting.SUCCESS if audit_on else AuditSetting.NONE,
                                   cmdline_enabled=audit_on),
                security_log=SecurityLogProfile(max_size_bytes=size),
                sysmon=SysmonProfile(installed=sysmon),
                rates=rates,
            )
            hosts.append(TruthHost(profile, rate + BOOT_4688 * rates.boots_per_day, shape, audit_on, sysmon))
    return hosts


CLASSES = {
    EstimateSource.MEASURED_4688: "measured",
    EstimateSource.SYSMON_EID1: "measured",
    EstimateSource.PROCESS_TRACE: "trace",
    EstimateSource.ROLE_PEERS: "peers",
    EstimateSource.ROLE_PRIOR: "prior",
}
BUSY = 50_000.0  # 4688/day from which a measured host counts as busy (its own error target)


def _p50_error(r: Range, truth: float) -> float:
    return r.p50 / truth - 1


def _covers(r: Range, truth: float) -> bool:
    return r.p10 <= truth <= r.p90


@dataclass(frozen=True)
class HostScore:
    host: str
    cls: str  # measured / peers / prior / trace
    truth: float
    estimate: Range
    shape: str

    @property
    def error(self) -> float:
        """Signed relative error of p50."""
        return _p50_error(self.estimate, self.truth)

    @property
    def covered(self) -> bool:
        return _covers(self.estimate, self.truth)


@dataclass(frozen=True)
class FleetScore:
    seed: int
    truth: float
    fleet: Range
    hosts: tuple[HostScore, ...]

    @property
    def fleet_error(self) -> float:
        return _p50_error(self.fleet, self.truth)

    @property
    def fleet_covered(self) -> bool:
        return _covers(self.fleet, self.truth)


def score_fleet(seed: int, truth: Sequence[TruthHost], estimates: Sequence[HostEstimate], fleet: Range) -> FleetScore:
    """Each host's estimate against its truth (hosts matched by name)."""
    by_name = {e.host: e for e in estimates}
    scores = tuple(HostScore(t.profile.name, CLASSES[by_name[t.profile.name].source], t.true_per_day,
                             by_name[t.profile.name].events_per_day, t.shape) for t in truth)
    return FleetScore(seed, sum(t.true_per_day for t in truth), fleet, scores)


def summary(scores: Sequence[FleetScore]) -> dict[str, float]:
    """The issue-15 figures over several fleets: fleet error and coverage, per-host median |p50 error|
    (measured hosts, and measured hosts >= BUSY), 80 % interval coverage overall and per class."""
    hosts = [h for s in scores for h in s.hosts]
    measured = [h for h in hosts if h.cls == "measured"]
    busy = [h for h in measured if h.truth >= BUSY]
    out: dict[str, float] = {
        "fleet_error_max": max(abs(s.fleet_error) for s in scores),
        "fleet_covered": sum(s.fleet_covered for s in scores) / len(scores),
        "measured_median_abs_error": statistics.median(abs(h.error) for h in measured) if measured else math.nan,
        "busy_median_abs_error": statistics.median(abs(h.error) for h in busy) if busy else math.nan,
        "coverage": sum(h.covered for h in hosts) / len(hosts),
    }
    for cls in ("measured", "peers", "prior", "trace"):
        members = [h for h in hosts if h.cls == cls]
        if members:
            out[f"coverage_{cls}"] = sum(h.covered for h in members) / len(members)
            out[f"median_error_{cls}"] = statistics.median(h.error for h in members)
            out[f"hosts_{cls}"] = len(members)
    return out
