"""Which (NewProcessName, ParentProcessName) pairs make the 4688 volume, from sampled events.

Each sampled 4688 of a host stands for gb_day_h / n_h of its projected GB/day (n_h: the host's
sampled 4688s), so a busy host's sample weighs more than a quiet one's. A pair's share of a scope
(a role, or the fleet) is the weighted share of its events; its GB/day is that share of the scope's
projected 4688 GB/day, all of its hosts counted (sampled or not: the unsampled ones are taken to
run the same mix as the sampled ones of their scope).

How sure a share is: a Wilson score interval at 90 % (z = 1.645, the p10..p90 the rest of auditplan
shows) on the Kish effective sample size n_eff = (sum w)^2 / sum w^2 of the event weights. Samples
are small (a dozen events a host by default) and are the most recent events of each host, not a
random draw: the interval covers sampling noise, not a day whose mix differs from the sampled hour.
The GB/day range multiplies the share's low end by the scope's p10 GB/day and its high end by the
p90. Wilson (1927), "Probable inference, the law of succession, and statistical inference"; Kish
(1965), "Survey Sampling", design effect of unequal weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

from auditplan.model.errors import ModelError
from auditplan.model.project import Projection

# The 4688 EventData fields a noise filter may name, and the sampled column each is in, in the order the
# event carries them (emit/forwarding's Splunk regexes rely on the order).
FILTER_FIELDS: Final = {
    "SubjectUserName": "subject_user_name",
    "NewProcessName": "new_process_name",
    "ParentProcessName": "parent_process_name",
}
Z90: Final = 1.6448536269514722  # the standard normal's 95th percentile: a two-sided 90 % interval
FLEET: Final = "(fleet)"
EMPTY: Final = "(empty)"  # a 4688 without the field (v1 events, or early-boot processes)


@dataclass(frozen=True)
class PairShare:
    """One (NewProcessName, ParentProcessName) pair in one scope."""

    scope: str  # a role, or FLEET
    new_process_name: str
    parent_process_name: str
    events: int  # sampled 4688s of the pair in the scope
    hosts: int  # sampled hosts where it was seen
    share: float  # weighted share of the scope's 4688 volume
    share_low: float  # 90 % Wilson interval
    share_high: float
    gb_day_p50: float  # share x the scope's projected 4688 GB/day
    gb_day_low: float  # share_low x the scope's p10 GB/day
    gb_day_high: float  # share_high x the scope's p90 GB/day


@dataclass(frozen=True)
class ScopeTotals:
    scope: str
    sampled_events: int
    sampled_hosts: int
    hosts: int  # hosts of the scope in the projection
    effective_n: float
    gb_day_p10: float
    gb_day_p50: float
    gb_day_p90: float


def wilson(p: float, n: float, z: float = Z90) -> tuple[float, float]:
    """The Wilson score interval of a proportion `p` observed on `n` (possibly effective) trials."""
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _name(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value) or str(value) == "":
        return EMPTY
    return str(value)


def _weighted(events: pd.DataFrame, hosts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sampled events of hosts with projected volume, each with its weight (gb_day_h / n_h) and role;
    and the hosts' volume frame indexed by host."""
    volume = hosts.set_index("host")[["role", "gb_day_p10", "gb_day_p50", "gb_day_p90"]].copy()
    volume["role"] = volume["role"].map(_name)
    columns = ["host", *[c for c in FILTER_FIELDS.values() if c in events]]
    sample = events[columns].copy()
    sample = sample[sample["host"].isin(volume.index)]
    per_host = sample.groupby("host").size()
    gb = volume["gb_day_p50"].astype(float).fillna(0.0)
    sample["weight"] = sample["host"].map(gb) / sample["host"].map(per_host)
    sample = sample[sample["weight"] > 0].copy()
    sample["role"] = sample["host"].map(volume["role"])
    return sample, volume


def rank_pairs(events: pd.DataFrame, hosts: pd.DataFrame, groups: pd.DataFrame | None = None
               ) -> tuple[list[PairShare], list[ScopeTotals]]:
    """Pairs ranked by GB/day per scope (FLEET first, then roles by name), and each scope's totals.

    `events`: sampled 4688s (host, new_process_name, parent_process_name); `hosts`: the projection's
    per-host frame (host, role, gb_day_p10/p50/p90); `groups`: its fleet and by-role totals (indexed by
    FLEET or the role), whose p10/p50/p90 `project` shows (a sum of host quantiles is not the fleet's);
    a scope missing there sums its hosts. Hosts with no projected volume weigh nothing."""
    sample, volume = _weighted(events, hosts)
    sample["new_process_name"] = sample["new_process_name"].map(_name)
    sample["parent_process_name"] = sample["parent_process_name"].map(_name)
    pairs: list[PairShare] = []
    totals: list[ScopeTotals] = []
    scopes = [(FLEET, sample, volume)] + [
        (role, sample[sample["role"] == role], volume[volume["role"] == role]) for role in sorted(set(sample["role"]))
    ]
    for scope, rows, scope_hosts in scopes:
        if rows.empty:
            continue
        total_w = float(rows["weight"].sum())
        n_eff = total_w ** 2 / float((rows["weight"] ** 2).sum())
        columns = ("gb_day_p10", "gb_day_p50", "gb_day_p90")
        if groups is not None and scope in groups.index:
            g10, g50, g90 = (float(groups.loc[scope, c]) for c in columns)
        else:
            g10, g50, g90 = (float(scope_hosts[c].sum()) for c in columns)
        sampled_hosts = int(rows["host"].nunique())
        totals.append(ScopeTotals(scope, len(rows), sampled_hosts, len(scope_hosts), n_eff, g10, g50, g90))
        grouped = rows.groupby(["new_process_name", "parent_process_name"]).agg(
            events=("weight", "size"), weight=("weight", "sum"), hosts=("host", "nunique"))
        scoped = []
        for (image, parent), g in grouped.iterrows():
            share = float(g["weight"]) / total_w
            low, high = wilson(share, n_eff)
            scoped.append(PairShare(scope, str(image), str(parent), int(g["events"]), int(g["hosts"]), share, low,
                                    high, share * g50, low * g10, high * g90))
        scoped.sort(key=lambda p: (-p.gb_day_p50, p.new_process_name.lower(), p.parent_process_name.lower()))
        pairs.extend(scoped)
    return pairs, totals


@dataclass(frozen=True)
class NoiseRanking:
    """The ranked pairs of a store's sampled 4688s against one projection."""

    pairs: tuple[PairShare, ...]
    totals: tuple[ScopeTotals, ...]
    siem: str  # the projection's SIEM profile
    cost_per_gb_day: float | None  # money a month for 1 GB/day (None: no price)
    currency: str
    events: int  # sampled 4688s used
    unweighted: int  # sampled 4688s of hosts without projected volume, left out

    def scope(self, name: str) -> list[PairShare]:
        return [p for p in self.pairs if p.scope == name]

    def totals_of(self, name: str) -> ScopeTotals | None:
        return next((t for t in self.totals if t.scope == name), None)


def noise_ranking(events: pd.DataFrame, projection: Projection, where: str) -> NoiseRanking:
    """Rank the sampled 4688s of `events` against `projection`; ModelError naming `where` (the store)
    when there is no sampled 4688 to rank."""
    if len(events) and "event_id" in events:
        events = events[events["event_id"] == 4688]
    if not len(events):
        raise ModelError(f"{where}: no sampled 4688 events to rank; survey hosts with Process Creation auditing "
                         "on, or ingest their Security.evtx")
    hosts = projection.hosts.reset_index(drop=True)
    groups = pd.concat([projection.fleet.rename(index=lambda _: FLEET), projection.by_role])
    pairs, totals = rank_pairs(events, hosts, groups)
    used = sum(t.sampled_events for t in totals if t.scope == FLEET)
    if not used:
        raise ModelError(f"{where}: none of the {len(events)} sampled 4688 events is of a host with a projected "
                         "volume; run `auditplan estimate` first")
    fleet = projection.fleet
    gb = float(fleet["gb_day_p50"].iloc[0])
    cost = float(fleet["cost_month_p50"].iloc[0])
    ratio = cost / gb if gb > 0 and math.isfinite(cost) else None
    return NoiseRanking(tuple(pairs), tuple(totals), projection.profile.name, ratio, projection.currency,
                        used, len(events) - used)


@dataclass(frozen=True)
class FilteredVolume:
    """The fleet's whole 4688 stream with and without a set of noise filters (GB/day, 90 % ranges)."""

    filters: int
    share: float  # weighted share of the sampled volume the filters drop
    share_low: float
    share_high: float
    gb_day_p10: float  # without the filters: the projection's fleet
    gb_day_p50: float
    gb_day_p90: float
    saved_gb_day_p50: float
    saved_gb_day_low: float
    saved_gb_day_high: float

    @property
    def with_gb_day(self) -> tuple[float, float, float]:
        """With the filters: p50, and the range from the most the filters may drop at p10 to the least at p90."""
        return (self.gb_day_p50 - self.saved_gb_day_p50, self.gb_day_p10 * (1 - self.share_high),
                self.gb_day_p90 * (1 - self.share_low))

    def document(self) -> dict[str, float | int]:
        mid, low, high = self.with_gb_day
        return {"filters": self.filters, "share": self.share, "share_low": self.share_low,
                "share_high": self.share_high, "gb_day_without_p50": self.gb_day_p50,
                "gb_day_with_p50": mid, "gb_day_with_low": low, "gb_day_with_high": high,
                "saved_gb_day_p50": self.saved_gb_day_p50, "saved_gb_day_low": self.saved_gb_day_low,
                "saved_gb_day_high": self.saved_gb_day_high}


def filtered_volume(events: pd.DataFrame, projection: Projection, filters: Sequence[Mapping[str, str]],
                    where: str) -> FilteredVolume:
    """What `filters` (Windows field name -> value, compared without regard to ASCII case) drop of the
    fleet's projected 4688 volume, weighted as the ranking is; ModelError naming `where` without a sample."""
    if len(events) and "event_id" in events:
        events = events[events["event_id"] == 4688]
    sample, _ = _weighted(events, projection.hosts.reset_index(drop=True)) if len(events) else (events, None)
    if not len(sample):
        raise ModelError(f"{where}: no sampled 4688 events of a host with a projected volume; the filters' "
                         "saving cannot be measured")
    dropped = pd.Series(False, index=sample.index)
    for f in filters:
        hit = pd.Series(True, index=sample.index)
        for name, value in f.items():
            column = FILTER_FIELDS[name]
            values = sample[column] if column in sample else pd.Series("", index=sample.index)
            hit &= values.fillna("").astype(str).str.lower() == value.lower()
        dropped |= hit
    weights = sample["weight"]
    share = float(weights[dropped].sum() / weights.sum())
    n_eff = float(weights.sum()) ** 2 / float((weights ** 2).sum())
    low, high = wilson(share, n_eff)
    fleet = projection.fleet.iloc[0]
    g10, g50, g90 = (float(fleet[c]) for c in ("gb_day_p10", "gb_day_p50", "gb_day_p90"))
    return FilteredVolume(len(filters), share, low, high, g10, g50, g90, share * g50, low * g10, high * g90)
