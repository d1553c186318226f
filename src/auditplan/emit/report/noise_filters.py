"""The report's line on noise filters: the fleet's 4688 volume with the filters `auditplan noise` accepted.

The filters are those of noise.json beside plan.json (what `auditplan demo` writes, and where
`auditplan noise --json > noise.json` puts them); each is checked against the detection rules again
here (docs/forwarding.md), since the file may have been edited. An unusable file, or a filter a rule
fires on, is a warning and no line, not a failed report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pandas as pd

from auditplan.emit.detections import Rule
from auditplan.emit.forwarding.filters import FilterFileError, read_filters
from auditplan.emit.forwarding.safety import check_filters
from auditplan.model.api import FilteredVolume, ModelError, Projection, filtered_volume_of
from auditplan.text import number, percent

NOISE_FILE: Final = "noise.json"


def noise_filters_volume(plan_path: Path | None, events: pd.DataFrame, projection: Projection | None,
                         rules: Sequence[Rule], warnings: list[str]) -> tuple[FilteredVolume, str] | None:
    """(volume with and without the filters, the file) when noise.json lies beside the plan and every
    filter in it passes the detection check again (the file may have been edited since)."""
    if plan_path is None or projection is None:
        return None
    path = plan_path.parent / NOISE_FILE
    if not path.is_file():
        return None
    try:
        filters = read_filters(path)
        if not filters:
            return None
        refused = [v.filter.label() for v in check_filters(filters, rules, events) if not v.accepted]
        if refused:
            warnings.append(f"{path}: noise filters not shown: a detection rule fires on what "
                            f"{'; '.join(refused)} drops")
            return None
        return filtered_volume_of(events, projection, [f.fields for f in filters], str(path)), str(path)
    except (FilterFileError, ModelError) as exc:
        warnings.append(f"noise filters not shown: {exc}")
        return None


def noise_filters_line(found: tuple[FilteredVolume, str] | None) -> str | None:
    """The sentence the Load section shows (plain text: the template escapes it)."""
    if found is None:
        return None
    v, path = found
    mid, low, high = v.with_gb_day
    return (f"With the {v.filters} noise filter(s) of {Path(path).name} (auditplan noise; none drops an event a "
            f"detection rule fires on), the fleet's whole 4688 stream is {number(mid)} GB/day p50 "
            f"({number(low)}–{number(high)}) instead of {number(v.gb_day_p50)} ({number(v.gb_day_p10)}–"
            f"{number(v.gb_day_p90)}): the filters drop {percent(v.share)} ({percent(v.share_low)}–"
            f"{percent(v.share_high)}) of the sampled volume.")
