"""Per-hour event counts whose cost is bounded per hour, and the reading of their output (issue 15).

One whole-window query with one cap (`/c:20000`) kept only the newest few hours of a busy host: a
120,000/day terminal server kept 4 of 24 hours, from the quiet end of the day. Here every hour of the
window gets its own query with its own cap, so every hour of the day is represented whatever the rate:

    (for %h in (07 08 ... 23) do @wevtutil qe LOG /q:"*[System[... and TimeCreated[@SystemTime>='DAYT%h:00:00.000Z'
        and @SystemTime<='DAYT%h:59:59.999Z']]]" /c:CAP /rd:true /f:text|find "Date: ">F&find /c "Date: " F
        &find /n "Date: " F|find "[CAP]")

- The cap per hour is the probe's event budget spread over the window (`per_hour_cap`): the host renders
  at most `max_events` events per log, as before, and the wire carries one count line per hour.
- Count only: `/f:text` gives each event exactly one `Date:` line (tool-outputs §4.2); `find` keeps those
  (~40 bytes an event) in a temp file and `find /c` prints `---------- F: n` (§7, VERBATIM file form).
- A capped hour is not a lost hour: with `/rd:true` the query kept the hour's newest CAP events, and
  `find /n ... | find "[CAP]"` prints the CAP-th `Date:` line (`[CAP]  Date: <time>`), the oldest one kept.
  CAP events in [that time, the hour's end) measure the hour's rate; the model treats the hour's count as
  at least CAP (a lower bound) and the partial span as its measurement (model/estimate_hours.py).
  `find /n` numbers lines `[N]text` (find's documented /n switch; the exact bytes are UNVERIFIED in the
  reference, so a missing or unreadable line only costs the span: the hour stays a lower bound).
- The upper bound `%h:59:59.999Z` leaves out events in the hour's last millisecond (an XPath bound
  cannot name the next hour through `%h`): at most 1/3,600,000 of an hour.
- Line length: about 420 characters per loop and log; whole days share one nested loop, so any window
  up to a week costs at most three loops per log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auditplan.collect.parse.tools import ParseError
from auditplan.text import excerpt

FOR_VARIABLE = "%h"
DAY_VARIABLE = "%d"
DATE_LABEL = "Date: "
HOUR_SECONDS = 3600.0
MIN_HOUR_CAP = 10  # below this a capped hour's span says little; the probe refuses smaller budgets per hour


def per_hour_cap(max_events: int, hours: int) -> int:
    """The events one hour's query may read: the per-log budget spread evenly over the window's hours."""
    return max(MIN_HOUR_CAP, max_events // max(1, hours))


def hour_count_loops(hour_starts: tuple[datetime, ...], log: str, xpath_head: str, cap: int, path: str) -> list[str]:
    """FOR loops that print one count per hour of `hour_starts` (oldest first): one loop per UTC day the
    window only partly covers, and one nested `for %d in (days) do @for %h in (00 ... 23)` for the whole
    days between them, so a week costs three loops, not eight. `xpath_head` is the query's System
    conditions before the time bound (e.g. "Provider[...] and EventID=4688")."""
    by_day: dict[str, list[str]] = {}
    for start in hour_starts:
        utc = start.astimezone(UTC)
        by_day.setdefault(utc.strftime("%Y-%m-%d"), []).append(utc.strftime("%H"))
    groups: list[tuple[list[str], list[str]]] = []  # (days, hours), in window order
    for day, hours in by_day.items():
        if len(hours) == 24 and groups and len(groups[-1][1]) == 24:
            groups[-1][0].append(day)
        else:
            groups.append(([day], hours))
    loops = []
    for days, hours in groups:
        day = days[0] if len(days) == 1 else DAY_VARIABLE
        bounds = (f"TimeCreated[@SystemTime>='{day}T{FOR_VARIABLE}:00:00.000Z'"
                  f" and @SystemTime<='{day}T{FOR_VARIABLE}:59:59.999Z']")
        query = f"*[System[{xpath_head} and {bounds}]]"
        body = (f'for {FOR_VARIABLE} in ({" ".join(hours)}) do @wevtutil qe {log} /q:"{query}" /c:{cap} /rd:true'
                f' /f:text|find "{DATE_LABEL}">{path}&find /c "{DATE_LABEL}" {path} 2>&1'
                f'&find /n "{DATE_LABEL}" {path}|find "[{cap}]"')
        loops.append(f"(for {DAY_VARIABLE} in ({' '.join(days)}) do @{body})" if len(days) > 1 else f"({body})")
    return loops


@dataclass(frozen=True)
class HourCounts:
    counts: tuple[int, ...]  # events per hour, oldest first; a capped hour reads `cap`
    seconds: tuple[float, ...]  # seconds of the hour the count covers: 3600, less for a capped hour, 0 = unknown span
    capped_hours: int


# find /c on a file (tool-outputs §7, VERBATIM): ten dashes, the upper-cased path, ": ", the count.
_COUNT_LINE = re.compile(r"^-{10} .*: (\d{1,12})\s*$")
_NOT_FOUND = re.compile(r"File not found - [^\r\n]*")
_CAPPED_LINE = re.compile(r"^\[(\d{1,9})\]\s*Date:\s*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(Z?)\s*$")


def _time(text: str) -> datetime | None:
    whole, _, frac = text.partition(".")
    try:
        t = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return t + timedelta(microseconds=int((frac + "000000")[:6])) if frac else t


def parse_hour_counts(text: str, hour_starts: tuple[datetime, ...], cap: int, section: str) -> HourCounts | ParseError:
    """The count line of every hour in order, each capped one followed by its `[cap]  Date:` line."""
    counts: list[int] = []
    seconds: list[float] = []
    for line in text.splitlines():
        m = _COUNT_LINE.match(line)
        if m is not None:
            counts.append(int(m.group(1)))
            seconds.append(HOUR_SECONDS)
            continue
        line_m = _CAPPED_LINE.match(line.strip())
        if line_m is None or not counts or int(line_m.group(1)) != cap or counts[-1] < cap:
            continue
        hour = len(counts) - 1
        oldest = _time(line_m.group(2))
        if hour >= len(hour_starts) or oldest is None or not line_m.group(3):
            # Without the UTC mark the time may be local (tool-outputs §4.2, older builds): span unknown.
            seconds[-1] = 0.0
            continue
        end = hour_starts[hour] + timedelta(hours=1)
        span = (end - oldest).total_seconds()
        seconds[-1] = span if 0 < span <= HOUR_SECONDS else 0.0
    if len(counts) != len(hour_starts):
        missing = _NOT_FOUND.search(text)
        why = (f"find could not read the temp file ({excerpt(missing.group(0))}): check that %TEMP% or WinRS's "
               "start folder is writable" if missing else excerpt(text) if text.strip() else "no output")
        return ParseError(section, f"expected {len(hour_starts)} hourly counts, found {len(counts)}: {why}")
    for i, c in enumerate(counts):
        if c >= cap and seconds[i] == HOUR_SECONDS:
            seconds[i] = 0.0  # capped, but its oldest kept event's line did not come back
    return HourCounts(tuple(counts), tuple(seconds), sum(1 for c in counts if c >= cap))
