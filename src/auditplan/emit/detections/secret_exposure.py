"""How many sampled command lines exposed a secret (counted and redacted at collection, never shown)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from auditplan.records import REDACTED


@dataclass(frozen=True)
class Exposure:
    events_with_secrets: int
    events: int
    by_host: dict[str, int]



def exposure(events: pd.DataFrame) -> Exposure:
    """Sampled events whose command line held a credential (already redacted when collected).

    An event counts when the collector's count (`secrets_found`) says so; where that count is unknown
    (no column, or NULL: events that reached auditplan already redacted), when its command line carries
    the collector's redaction marker.
    """
    if not len(events):
        return Exposure(0, 0, {})
    counted = (pd.to_numeric(events["secrets_found"], errors="coerce") if "secrets_found" in events
               else pd.Series(float("nan"), index=events.index))
    marked = (events["command_line"].fillna("").astype(str).str.contains(REDACTED, regex=False)
              if "command_line" in events else pd.Series(False, index=events.index))
    found = (counted.fillna(0) > 0) | (counted.isna() & marked)
    hit = events[found]
    return Exposure(len(hit), len(events), {str(k): int(v) for k, v in sorted(Counter(hit["host"]).items())})
