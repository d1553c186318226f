"""plan.csv: one row per host of a plan, for spreadsheets (docs/plan-json.md, last section).

Beside plan.json rather than in records/plan.py: its cells go through auditplan.text.csv_cell
(host names and reasons come from hosts and files, so they are untrusted), and records import
nothing else of auditplan.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Final

from auditplan.records import Plan, plan_number
from auditplan.text import csv_cell

CSV_COLUMNS: Final = ("host", "wave", "reason", "gb_day_p50", "gb_day_p90", "role", "site")



def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """plan.csv rows: every host once, sorted by host; wave empty when unplaced."""
    rows = []
    for h in sorted([*(h for w in plan.waves for h in w.hosts), *plan.unplaced], key=lambda h: h.host.lower()):
        rows.append(
            {
                "host": h.host,
                "wave": "" if h.wave is None else h.wave,
                "reason": h.reason,
                "gb_day_p50": plan_number(h.gb_day_p50),
                "gb_day_p90": plan_number(h.gb_day_p90),
                "role": h.role or "",
                "site": h.site or "",
            }
        )
    return rows


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def plan_csv_text(plan: Plan) -> str:
    """plan.csv: header + plan_rows, CRLF, RFC 4180 quoting; a text cell a spreadsheet would read
    as a formula gets text.csv_cell's apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in plan_rows(plan):
        writer.writerow(
            [csv_cell(r["host"]), r["wave"], csv_cell(r["reason"]), _csv_number(r["gb_day_p50"]),
             _csv_number(r["gb_day_p90"]), csv_cell(r["role"]), csv_cell(r["site"])]
        )
    return out.getvalue()
