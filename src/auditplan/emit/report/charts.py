"""Charts of the capacity report, drawn with matplotlib as self-contained inline SVG.

Labels come from inventories and hosts, so they are reduced to a safe character set before
plotting (text.chart_label): matplotlib copies text into SVG comments, where "-->" would end the comment.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from auditplan.text import chart_label

_COMMENT = re.compile(r"<!--.*?-->", re.S)
HOUR_TICKS = (1, 6, 24, 72, 168, 720, 2160, 8760)  # hour, quarter day, day, 3 days, week, month, quarter, year
COLOURS = ("#1f4e79", "#6fa8dc", "#c00000", "#f4b183", "#70ad47", "#7f7f7f")

matplotlib.rcParams.update(
    {
        "svg.fonttype": "path",  # glyphs as paths: no font files, no external references
        "svg.hashsalt": "auditplan",  # deterministic element ids
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def _svg(fig: Figure, title: str, description: str = "") -> str:
    """The figure as inline SVG that says what it shows: role="img", an aria-label and a <title> (the
    glyphs are paths, so without them a screen reader or a search finds no text in a chart)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE: the SVG is inlined in HTML
    text = _COMMENT.sub("", text)
    label = html.escape(chart_label(f"{title}. {description}" if description else title, 300), quote=True)
    head_end = text.index(">") + 1
    return (text[: head_end - 1] + f' role="img" aria-label="{label}">' + f"<title>{label}</title>"
            + text[head_end:])


def cumulative_by_wave(
    labels: Sequence[str], held: Sequence[float], capacity: float | None, unit: str, *, held_label: str,
    total: tuple[Sequence[float], Sequence[float], Sequence[float]] | None = None,
) -> str:
    """The running load after each wave: what the plan holds against the budget (`held`) and, when
    known, the simulated total's p10-p90 band and p50 (`total`)."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    x = list(range(len(labels)))
    if total is not None:
        p10, p50, p90 = total
        ax.fill_between(x, p10, p90, color=COLOURS[1], alpha=0.45, label="simulated total, p10 to p90",
                        step="post" if len(x) == 1 else None)
        # Element ids (SVG <g id=...>) let a reader, or a test, find the lines the verdict quotes.
        ax.plot(x, p50, marker="o", color=COLOURS[0], label="simulated total, p50", gid="cumulative-p50")
    ax.plot(x, held, marker="o", linestyle="--", color=COLOURS[0], label=held_label, gid="cumulative-p90")
    if capacity is not None and math.isfinite(capacity):
        ax.axhline(capacity, color=COLOURS[2], linewidth=1.5, label="capacity (budget)", gid="capacity")
    ax.set_xticks(x, [chart_label(lbl, 16) for lbl in labels])
    ax.set_ylabel(unit)
    ax.set_ylim(bottom=0)
    # Outside the axes: inside it sat on the budget line.
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Cumulative added load by wave")
    shown = f"{held_label}" + (", and the simulated total's p10 to p90 and p50" if total is not None else "")
    return _svg(fig, "Cumulative added load by wave", f"{shown}, in {unit} after each wave"
                + (f", against the budget of {capacity:g} {unit}" if capacity is not None else ""))


def bars_with_range(
    labels: Sequence[str], p10: Sequence[float], p50: Sequence[float], p90: Sequence[float], title: str, unit: str
) -> str:
    fig, ax = plt.subplots(figsize=(10, max(1.6, 0.32 * len(labels) + 0.9)))
    y = list(range(len(labels)))
    lower = [max(0.0, m - lo) for m, lo in zip(p50, p10, strict=True)]
    upper = [max(0.0, hi - m) for m, hi in zip(p50, p90, strict=True)]
    ax.barh(y, p50, color=COLOURS[0], xerr=[lower, upper], error_kw={"ecolor": COLOURS[5], "capsize": 3})
    ax.set_yticks(y, [chart_label(lbl) for lbl in labels])
    ax.invert_yaxis()
    ax.set_xlabel(f"{unit} (bar p50, whisker p10 to p90)")
    ax.set_title(title)
    return _svg(fig, title, f"{unit}, bar p50, whisker p10 to p90")


def hour_of_day(events_per_hour: Sequence[float]) -> str:
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.bar(range(24), events_per_hour, color=COLOURS[0])
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlabel("hour of day (UTC)")
    ax.set_ylabel("4688 events/hour")
    ax.set_title("Fleet hour-of-day profile (p50)")
    return _svg(fig, "Fleet hour-of-day profile (p50)", "4688 events per hour of the day, UTC")


def readiness(categories: Sequence[tuple[str, int]], colours: Mapping[str, str]) -> str:
    """One stacked bar of hosts by readiness category, each in the colour that means it (report.readiness)."""
    fig, ax = plt.subplots(figsize=(10, 1.1))
    left = 0
    total = sum(n for _, n in categories) or 1
    for i, (label, n) in enumerate(categories):
        colour = colours.get(label, COLOURS[i % len(COLOURS)])
        ax.barh([0], [n], left=left, color=colour, label=f"{chart_label(label, 40)} ({n})")
        left += n
    ax.set_xlim(0, total)
    ax.set_yticks([])
    ax.set_xlabel("hosts")
    # No legend: the table under the chart names each colour (and the aria-label lists the counts).
    ax.set_title("Readiness of surveyed hosts")
    return _svg(fig, "Readiness of surveyed hosts", ", ".join(f"{label}: {n}" for label, n in categories))


def local_history(hours: Sequence[float], minimum: float) -> str:
    fig, ax = plt.subplots(figsize=(10, 2.6))
    finite = [h for h in hours if math.isfinite(h) and h > 0]
    if finite:
        low, high = max(min(finite), 0.1), max(max(finite), minimum * 2)
        edges = [low * (high / low) ** (i / 20) for i in range(21)] if high > low else [low * 0.9, low * 1.1]
        ax.hist(finite, bins=edges, color=COLOURS[0])
        ax.set_xscale("log")
        # Hours people think in, instead of log-scale minor ticks that crowd each other.
        ticks = [t for t in HOUR_TICKS if edges[0] <= t <= edges[-1]]
        if len(ticks) >= 2:
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvline(minimum, color=COLOURS[2], linewidth=1.5, label=f"target {minimum:g} h")
    ax.set_xlabel("hours of Security log history after enablement (p90 load)")
    ax.set_ylabel("hosts")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Local log history after enablement")
    return _svg(fig, "Local log history after enablement",
                f"hosts by hours of Security log history at the p90 load; target {minimum:g} hours")
