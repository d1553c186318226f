"""What the report reads: the survey, the projection and where it came from, the plan, detections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from auditplan.emit.detections import Evaluation, Exposure
from auditplan.emit.report import DEFAULT_TITLE
from auditplan.model.api import FilteredVolume, Projection
from auditplan.records import HostEstimate, Plan


@dataclass(frozen=True)
class ProjectionNote:
    """Where the report's projection comes from: the one `auditplan plan` stored with the plan
    (`planned`), or one computed for this report, and why."""

    planned: bool
    siem: str
    estimate_run: str | None = None
    plan_id: str | None = None
    reason: str = ""  # why it was computed for this report; empty when planned
    # plan.json was edited by hand and read with --accept-edited-plan: the id its content has now.
    edited_id: str | None = None

    @property
    def text(self) -> str:
        run = f"estimates {self.estimate_run}, " if self.estimate_run else ""
        edited = ("" if self.edited_id is None else
                  f" plan.json was edited by hand after `auditplan plan` wrote plan {self.plan_id} (its content is "
                  f"now {self.edited_id}): the waves shown are the edited ones, not the ones planned.")
        if self.planned:
            return f"Projection as planned: plan {self.plan_id}, {run}SIEM profile {self.siem}.{edited}"
        because = f" ({self.reason})" if self.reason else ""
        return f"Projection computed for this report: {run}SIEM profile {self.siem}{because}.{edited}"


def projected_rates(projection: Projection | None) -> dict[str, float]:
    """Host -> the 4688/day (p50) the projection used: the rates the report scales by, so that a
    report of a plan's stored projection does not mix in estimates made after it."""
    if projection is None or not {"host", "p50"} <= set(projection.hosts.columns):
        return {}
    return {str(h): float(r) for h, r in zip(projection.hosts["host"], projection.hosts["p50"], strict=True)}


@dataclass(frozen=True)
class ReportInputs:
    hosts: pd.DataFrame  # Store.hosts_frame()
    projection: Projection | None
    estimates: Sequence[HostEstimate]
    plan: Plan | None = None  # plan.json
    detections: Evaluation | None = None
    exposure: Exposure | None = None
    defaults_text: str = ""  # defaults.toml, for each number's documented basis
    title: str = DEFAULT_TITLE
    org: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime(2000, 1, 1))
    wave_interval_days: int = 7
    first_wave_date: datetime | None = None
    gpo_names: Mapping[int, str] | None = None  # wave -> GPO display name, from `auditplan gpo`'s manifest
    # The effective configuration the projection used, and each leaf's source ("default", the
    # --config file, or an option); None: the defaults of `defaults_text`.
    config: Mapping[str, Any] | None = None
    config_sources: Mapping[str, str] | None = None
    projection_note: ProjectionNote | None = None
    warnings: tuple[str, ...] = ()  # said on the terminal, not in the report (e.g. an unreadable GPO manifest)
    # The events/s basis ("mean" or "peak") of the SIEM profile of the projection stored with the plan:
    # the rate the planner held under an events/s budget. None when no projection is stored with it.
    plan_eps_basis: str | None = None
    # recalibration.json beside plan.json (`auditplan plan` against the store's previous plan), when it is
    # this plan's: the comparison section. None: no earlier plan.
    recalibration: Mapping[str, Any] | None = None
    # The fleet's 4688 volume with the noise filters of noise.json beside plan.json (`auditplan noise`),
    # and that file; None when there is none.
    noise_filters: tuple[FilteredVolume, str] | None = None
