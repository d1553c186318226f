"""Render every asked-for format for every wave, then write them: nothing is written until all render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from auditplan.emit.errors import EmitError, cannot_write
from auditplan.emit.forwarding.filters import NoiseFilter
from auditplan.emit.forwarding.formats import (
    FORMATS,
    sentinel_files,
    splunk_files,
    wef_files,
    winlogbeat_files,
)
from auditplan.emit.forwarding.wave_set import WEC_EPS_PER_COLLECTOR, WEC_EPS_SOURCE, WaveSet
from auditplan.records import Plan
from auditplan.safe_write import UnsafePathError, write_text
from auditplan.text import number

# SIEM profiles whose priced event is the rendered message text rather than the XML.
CLASSIC_PROFILES: Final = frozenset({"splunk-classic"})


@dataclass(frozen=True)
class ForwardingWritten:
    out: Path
    files: tuple[Path, ...]
    waves: tuple[WaveSet, ...]
    filters: tuple[NoiseFilter, ...]
    filters_source: str  # where the filters came from ("none", the file, or the store's proposals)

    def sizing_lines(self) -> list[str]:
        return [sizing_line(w) for w in self.waves]


def sizing_line(w: WaveSet) -> str:
    if w.collectors is None:
        return f"wave {w.number}: the plan holds no events/s for this wave; size the WEC collectors by hand"
    return (f"wave {w.number}: waves 0..{w.number} add {number(w.cumulative_eps_peak_p90)} events/s at peak (p90, "
            f"mean p50 {number(w.cumulative_eps_mean_p50)}): {w.collectors} WEC collector(s) at "
            f"{number(WEC_EPS_PER_COLLECTOR)} events/s each")


def render(plan: Plan, waves: Sequence[WaveSet], formats: Sequence[str], filters: Sequence[NoiseFilter],
           filters_source: str) -> dict[str, str]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise EmitError(f"--format {','.join(unknown)}: expected some of {','.join(FORMATS)}")
    if not waves:
        raise EmitError(f"plan {plan.plan_id}: no wave to forward")
    files: dict[str, str] = {}
    try:
        if "wef" in formats:
            files |= wef_files(waves, filters)
        if "splunk" in formats:
            files |= splunk_files(waves, filters, render_xml=plan.siem not in CLASSIC_PROFILES)
        if "sentinel" in formats:
            files |= sentinel_files(waves, filters)
        if "winlogbeat" in formats:
            files |= winlogbeat_files(waves, filters)
    except ValueError as exc:
        raise EmitError(f"plan {plan.plan_id}: {exc}") from None
    files["README.md"] = readme(plan, waves, formats, filters, filters_source)
    return files


def readme(plan: Plan, waves: Sequence[WaveSet], formats: Sequence[str], filters: Sequence[NoiseFilter],
           filters_source: str) -> str:
    lines = [
        "# auditplan: collection of Security 4688, wave by wave",
        "",
        f"Plan {plan.plan_id} (SIEM profile {plan.siem or 'not named'}); formats: {', '.join(formats)}.",
        "Deploy a wave's collection together with its GPO, so collection widens as auditing does.",
        "",
        "## Waves",
        "",
    ]
    for w in waves:
        lines.append(f"- wave {w.number} ({w.name}): {len(w.hosts)} host(s), group {w.group}; "
                     + sizing_line(w).split(": ", 1)[1])
    lines += ["", f"WEC sizing basis: {WEC_EPS_SOURCE}. Hosts already auditing 4688 add their current rate.", "",
              "## Noise filters", ""]
    if filters:
        lines.append(f"From {filters_source}; each was checked against the enabled detection rules:")
        lines += [f"{i}. {f.label()}" for i, f in enumerate(filters, 1)]
    else:
        lines.append(f"None ({filters_source}).")
    lines += ["", "## Hosts per wave", ""]
    for w in waves:
        lines.append(f"- wave {w.number}: {', '.join(w.hosts)}")
    return "\n".join(lines) + "\n"


def write_files(out: Path, files: dict[str, str]) -> tuple[Path, ...]:
    """Write the rendered files under `out` (atomic, never through a link); OutputError naming the path."""
    written = []
    for relative, text in files.items():
        path = out / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, text, newline="\r\n" if relative.endswith((".ps1", ".txt")) else "\n")
        except UnsafePathError as exc:
            raise EmitError(str(exc)) from None
        except OSError as exc:
            raise cannot_write(path, exc) from None
        written.append(path)
    return tuple(written)
