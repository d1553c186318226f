"""Suppressions proposed from the ranked pairs: the top benign contributors, each proven safe.

A candidate is a fleet-wide (NewProcessName, ParentProcessName) pair seen at least MIN_EVENTS times
(assumption: fewer is too little evidence to drop a process for good), with both names known. The
TOP candidates by GB/day are checked (safety.py); the accepted ones, at most MAX_ACCEPTED (a Splunk
WinEventLog input numbers blacklists 1..9), are the filters `forwarding` writes by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from auditplan.emit.detections import Rule
from auditplan.emit.forwarding.filters import NoiseFilter, filters_document, value_problem
from auditplan.emit.forwarding.safety import FilterVerdict, check_filters
from auditplan.model.api import NOISE_EMPTY, NOISE_FLEET, NoiseRanking, PairShare

MIN_EVENTS: Final = 3
TOP: Final = 10
MAX_ACCEPTED: Final = 9


@dataclass(frozen=True)
class Proposal:
    pair: PairShare
    verdict: FilterVerdict


@dataclass(frozen=True)
class NoiseReport:
    ranking: NoiseRanking
    proposals: tuple[Proposal, ...]
    rules: tuple[str, ...]  # the enabled rules every filter was checked against

    @property
    def accepted(self) -> tuple[NoiseFilter, ...]:
        return tuple(p.verdict.filter for p in self.proposals if p.verdict.accepted)

    def saving(self) -> tuple[float, float, float]:
        """GB/day the accepted filters save: p50 and its 90 % range."""
        chosen = [p.pair for p in self.proposals if p.verdict.accepted]
        return (sum(p.gb_day_p50 for p in chosen), sum(p.gb_day_low for p in chosen),
                sum(p.gb_day_high for p in chosen))

    def money(self, gb_day: float) -> float | None:
        ratio = self.ranking.cost_per_gb_day
        return gb_day * ratio if ratio is not None and math.isfinite(gb_day) else None

    def document(self, top: int = 20) -> dict[str, Any]:
        """`noise --json`: the ranking per scope, the proposals with their proof, and "filters" (the
        accepted ones), which `forwarding --filters` reads back."""
        r = self.ranking
        saved = self.saving()
        fleet = r.totals_of(NOISE_FLEET)
        return {
            "siem": r.siem, "currency": r.currency, "sampled_4688": r.events,
            "left_out_4688": r.unweighted, "interval": "90% Wilson score on the Kish effective sample size",
            "scopes": [
                {"scope": t.scope, "sampled_events": t.sampled_events, "sampled_hosts": t.sampled_hosts,
                 "hosts": t.hosts, "effective_n": round(t.effective_n, 1),
                 "gb_day": {"p10": t.gb_day_p10, "p50": t.gb_day_p50, "p90": t.gb_day_p90},
                 "pairs": [_pair_doc(p) for p in r.scope(t.scope)[:top]]}
                for t in r.totals
            ],
            "rules": list(self.rules),
            "proposals": [{**_pair_doc(p.pair), **p.verdict.document()} for p in self.proposals],
            "saving": {"gb_day_p50": saved[0], "gb_day_low": saved[1], "gb_day_high": saved[2],
                       "share_of_fleet_p50": saved[0] / fleet.gb_day_p50 if fleet and fleet.gb_day_p50 else None,
                       "money_month_p50": self.money(saved[0]), "money_month_low": self.money(saved[1]),
                       "money_month_high": self.money(saved[2])},
            **filters_document(self.accepted),
        }


def _pair_doc(p: PairShare) -> dict[str, Any]:
    return {"NewProcessName": p.new_process_name, "ParentProcessName": p.parent_process_name,
            "events": p.events, "hosts": p.hosts, "share": p.share, "share_low": p.share_low,
            "share_high": p.share_high, "gb_day_p50": p.gb_day_p50, "gb_day_low": p.gb_day_low,
            "gb_day_high": p.gb_day_high}


def propose(ranking: NoiseRanking, rules: Sequence[Rule], events: pd.DataFrame,
            attack_events: pd.DataFrame | None = None, *, top: int = TOP) -> NoiseReport:
    # A name no format can carry (control characters from a hostile host, both quotes) is never proposed.
    candidates = [p for p in ranking.scope(NOISE_FLEET)
                  if p.events >= MIN_EVENTS and NOISE_EMPTY not in (p.new_process_name, p.parent_process_name)
                  and value_problem(p.new_process_name) is None and value_problem(p.parent_process_name) is None][:top]
    filters = [NoiseFilter.of({"NewProcessName": p.new_process_name, "ParentProcessName": p.parent_process_name})
               for p in candidates]
    verdicts = check_filters(filters, rules, events, attack_events)
    proposals: list[Proposal] = []
    accepted = 0
    for pair, verdict in zip(candidates, verdicts, strict=True):
        if verdict.accepted:
            if accepted == MAX_ACCEPTED:
                continue
            accepted += 1
        proposals.append(Proposal(pair, verdict))
    return NoiseReport(ranking, tuple(proposals), tuple(r.title for r in rules))
