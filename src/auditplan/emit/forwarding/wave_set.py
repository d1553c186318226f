"""What every collection format needs of a plan: per wave, its hosts, its group and its load.

Sources of the numbers (docs/forwarding.md):
- a WEC collector is planned at 3,000 events/s on average for all its subscriptions (Microsoft,
  "Use Windows Event Forwarding to help with intrusion detection"; ../shared/reference/evtx-data.md §3.1);
- the WEF delivery latency of 30 s is Microsoft's "Minimize latency" mode (same page); the batch size
  that fills one batch per latency at the wave's busiest host's peak is an assumption.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from auditplan.emit.errors import EmitError
from auditplan.records import Plan

WEC_EPS_PER_COLLECTOR: Final = 3000.0
WEC_EPS_SOURCE: Final = ("Microsoft, Use Windows Event Forwarding to help with intrusion detection: "
                         "\"planning for a total of 3,000 events per second on average for all configured "
                         "subscriptions\" per WEC server")
WEF_LATENCY_MS: Final = 30_000
WEF_MIN_ITEMS: Final = 5  # Microsoft's "Normal" batch; never fewer
WEF_MAX_ITEMS: Final = 1000  # assumption: keeps one batch well under the WS-Man envelope limits
WEF_HEARTBEAT_MS: Final = 3_600_000  # assumption: hourly heartbeat, as Microsoft's Normal mode
# A host name as a deployment server, a WEF group or a DCR lists it: a DNS name (no wildcard, no
# space, no quote). Plans written by auditplan hold nothing else; a hand-edited one is refused.
_HOST_NAME: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252}[A-Za-z0-9])?$")
GROUP_SID_TOKEN: Final = "__WAVE_GROUP_SID__"  # noqa: S105 (a placeholder install.ps1 replaces, not a secret)


@dataclass(frozen=True)
class WaveSet:
    """One wave as the collectors see it."""

    number: int
    name: str
    hosts: tuple[str, ...]
    group: str  # the wave's computer group, as `auditplan gpo` names it
    slug: str  # auditplan-4688-wave-NN: subscription, DCR and server-class name
    eps_mean_p50: float | None
    eps_peak_p90: float | None
    cumulative_eps_mean_p50: float | None
    cumulative_eps_peak_p90: float | None
    host_peak_eps_max: float | None  # the busiest host's peak events/s (p90)
    gb_day_p50: float | None
    gb_day_p90: float | None

    @property
    def collectors(self) -> int | None:
        """WEC collectors for every wave up to this one at the plan's peak (p90), at WEC_EPS_PER_COLLECTOR."""
        if self.cumulative_eps_peak_p90 is None:
            return None
        return max(1, math.ceil(self.cumulative_eps_peak_p90 / WEC_EPS_PER_COLLECTOR))

    @property
    def wef_max_items(self) -> int:
        peak = self.host_peak_eps_max
        if peak is None or not math.isfinite(peak):
            return WEF_MIN_ITEMS
        return int(min(WEF_MAX_ITEMS, max(WEF_MIN_ITEMS, math.ceil(peak * WEF_LATENCY_MS / 1000))))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def wave_sets(plan: Plan, group_name: Callable[[int], str]) -> list[WaveSet]:
    """The plan's waves with their loads; `group_name(wave_number) -> str` names each wave's group as the
    GPO's rollout script creates it. EmitError for a host name no collector config can carry."""
    out: list[WaveSet] = []
    means: list[float | None] = []
    peaks: list[float | None] = []
    for wave in plan.waves:
        for h in wave.hosts:
            if not _HOST_NAME.match(h.host):
                raise EmitError(f"plan {plan.plan_id or '(no id)'}: wave {wave.number}: host name {h.host!r} "
                                "is not a DNS name; a collector config cannot list it")
        load = wave.load
        mean = _finite(load.eps_mean_p50) if load else None
        peak = _finite(load.eps_peak_p90) if load else None
        if peak is None:
            peak = _sum([_finite(h.eps_peak_p90) for h in wave.hosts])
        means.append(mean)
        peaks.append(peak)
        host_peaks = [p for h in wave.hosts if (p := _finite(h.eps_peak_p90)) is not None]
        out.append(WaveSet(
            number=wave.number, name=wave.name, hosts=tuple(h.host for h in wave.hosts),
            group=group_name(wave.number),
            slug=f"auditplan-4688-wave-{wave.number:02d}",
            eps_mean_p50=mean, eps_peak_p90=peak, cumulative_eps_mean_p50=_sum(means),
            # Peaks of waves need not coincide: their sum is an upper bound, which is what sizing wants.
            cumulative_eps_peak_p90=_sum(peaks),
            host_peak_eps_max=max(host_peaks) if host_peaks else None,
            gb_day_p50=_finite(load.gb_day_p50) if load else None,
            gb_day_p90=_finite(load.gb_day_p90) if load else None,
        ))
    return out

