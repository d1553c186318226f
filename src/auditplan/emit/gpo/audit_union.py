"""What each wave's GPO(s) carry in audit.csv, so that no host's effective audit policy is lowered.

A GPO with advanced audit policy clears the computer's audit policy before applying the result, and
GPOs merge per subcategory (docs/audit-policy-source.md, Microsoft's "Advanced security auditing
FAQ"). So, per wave:
- hosts whose policy is `local`, `default` or unknown share one GPO whose audit.csv carries every
  subcategory on for any of them, at the union of their flags, plus Process Creation: each of them
  keeps every subcategory it had on, at least at its flags (some gain; they are named);
- hosts whose policy comes from a domain GPO (`gpo`) get a second GPO with Process Creation only: the
  other subcategories stay as their GPO sets them.
Process Creation itself is the wave's setting united with the flags each host already had, so a host
auditing Success and Failure is not brought down to Success.

With `process_creation_only` every wave keeps the one Process-Creation-only GPO it had before this
module existed, and each `local`/`default`/unknown host's other subcategories are listed as switched off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditplan.emit.gpo.files import PROCESS_CREATION_GUID, PROCESS_CREATION_NAME, AuditRow
from auditplan.records import AuditSetting, PlannedHost

SOURCE_GPO = "gpo"
KIND_UNION = ""  # the wave's main GPO (the only one when no host is gpo-managed)
KIND_GPO_MANAGED = "gpo-managed"

# MS-GPAC 2.2.1.3.1 bits: 1 success, 2 failure (3 both); 4 = No Auditing carries no bit.
_BITS = {AuditSetting.NONE: 0, AuditSetting.SUCCESS: 1, AuditSetting.FAILURE: 2, AuditSetting.SUCCESS_AND_FAILURE: 3}
_NAMES = {1: "Success", 2: "Failure", 3: "Success and Failure"}


@dataclass(frozen=True)
class GpoUnit:
    """One GPO of a wave: its hosts (indices into the wave's hosts), its audit.csv rows, and per host
    what it changes besides Process Creation."""

    kind: str  # KIND_UNION or KIND_GPO_MANAGED
    members: tuple[int, ...]
    rows: tuple[AuditRow, ...]
    # (host, ("Logon (Failure added)", ...)): subcategories the union turns on or raises on a host.
    gains: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (host, (names...)): subcategories the GPO switches off (only with process_creation_only).
    losses: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unknown_source: tuple[str, ...] = ()  # hosts whose source the survey could not tell


def _label(name: str, guid: str) -> str:
    return name.strip() or guid


def wave_units(hosts: Sequence[PlannedHost], names: Sequence[str], setting_value: int, *,
               process_creation_only: bool, label: str = "") -> list[GpoUnit]:
    """The GPO(s) of one wave. `names` are the hosts' names as the GPO carries them, `setting_value`
    Process Creation's (1, or 3 with --include-failure). `label` prefixes errors."""
    on = [
        {s.guid.lower(): (s, _BITS[s.setting]) for s in h.local_subcategories
         if s.guid.lower() != PROCESS_CREATION_GUID and _BITS[s.setting]}
        for h in hosts
    ]
    if process_creation_only:
        losses = tuple(
            (names[i], tuple(sorted(_label(s.name, g) for g, (s, _b) in on[i].items())))
            for i, h in enumerate(hosts) if h.audit_policy_source != SOURCE_GPO and on[i]
        )
        row = AuditRow(PROCESS_CREATION_NAME, PROCESS_CREATION_GUID, setting_value)
        return [GpoUnit(KIND_UNION, tuple(range(len(hosts))), (row,), losses=losses)]
    groups = {
        KIND_UNION: [i for i, h in enumerate(hosts) if h.audit_policy_source != SOURCE_GPO],
        KIND_GPO_MANAGED: [i for i, h in enumerate(hosts) if h.audit_policy_source == SOURCE_GPO],
    }
    units = []
    for kind, members in groups.items():
        if not members:
            continue
        pc = setting_value
        for i in members:
            prior = hosts[i].prior_process_creation
            pc |= _BITS[prior] if prior is not None else 0
        rows = [AuditRow(PROCESS_CREATION_NAME, PROCESS_CREATION_GUID, pc)]
        gains: list[tuple[str, tuple[str, ...]]] = []
        if kind == KIND_UNION:
            union: dict[str, tuple[str, int]] = {}
            for i in members:
                for guid, (sub, bits) in on[i].items():
                    name, old = union.get(guid, (_label(sub.name, guid), 0))
                    union[guid] = (name, old | bits)
            rows += [AuditRow(union[g][0], g, union[g][1]) for g in sorted(union)]
            for i in members:
                gained = []
                for guid in sorted(union):
                    name, bits = union[guid]
                    have = on[i][guid][1] if guid in on[i] else 0
                    if bits & ~have:
                        gained.append(f"{name} ({_NAMES[bits & ~have]} added)")
                if gained:
                    gains.append((names[i], tuple(gained)))
        unknown = tuple(names[i] for i in members if hosts[i].audit_policy_source is None)
        units.append(GpoUnit(kind, tuple(members), tuple(rows), gains=tuple(gains), unknown_source=unknown))
    return units


@dataclass(frozen=True)
class UnitSummary:
    """What gpo/README.md and the command say about one written GPO (emit/gpo/backups.py WaveOutput)."""

    wave: int
    kind: str
    display_name: str
    gains: tuple[tuple[str, tuple[str, ...]], ...]
    losses: tuple[tuple[str, tuple[str, ...]], ...]
    unknown_source: tuple[str, ...]
    hosts: tuple[str, ...]


def readme_sections(units: Sequence[UnitSummary], process_creation_only: bool) -> list[str]:
    """The gpo/README.md sections about audit policy: what each GPO keeps, raises or switches off."""
    def md(text: str) -> str:
        return text.replace("|", "\\|")

    lines: list[str] = []
    managed = [u for u in units if u.kind == KIND_GPO_MANAGED]
    if managed:
        lines += [
            "## Hosts whose audit policy already comes from a domain GPO",
            "",
            "Their wave GPO (`... (GPO-managed audit)`) carries Process Creation only: GPOs merge per",
            "subcategory, so their other audit settings stay as their GPO sets them. Where you can, add",
            "Process Creation (and the command-line policy) to the GPO that already delivers their audit",
            "policy instead, and skip this GPO: one place keeps the whole audit policy.",
            "",
        ]
        lines += [f"- wave {u.wave}: " + md(", ".join(u.hosts)) for u in managed]
        lines.append("")
    gains = [(u, host, names) for u in units for host, names in u.gains]
    if gains:
        lines += [
            "## Subcategories the union adds",
            "",
            "A GPO with advanced audit policy clears a host's own audit policy, so each wave GPO carries",
            "every subcategory any of its hosts had on, at the union of their flags. These hosts gain",
            "auditing they did not have (more Security events; the projection does not count them: no",
            "public source gives events/day per subcategory). Move a host to its own wave if that is",
            "too much for it.",
            "",
        ]
        lines += [f"- wave {u.wave}: {md(host)}: " + md(", ".join(names)) for u, host, names in gains]
        lines.append("")
    unknown = [(u, host) for u in units for host in u.unknown_source]
    if unknown:
        lines += [
            "## Hosts whose audit policy source is unknown",
            "",
            "The survey could not tell where their audit policy comes from (an older store, or the files",
            "were not readable). They are treated as set locally: the GPO carries their subcategories.",
            "",
        ]
        by_wave: dict[int, list[str]] = {}
        for u, host in unknown:
            by_wave.setdefault(u.wave, []).append(host)
        lines += [f"- wave {wave} (source unknown): " + md(", ".join(hosts)) for wave, hosts in by_wave.items()]
        lines.append("")
    losses = [(u, host, names) for u in units for host, names in u.losses]
    if losses and process_creation_only:
        lines += [
            "## Audit settings these GPOs switch off (--process-creation-only)",
            "",
            "A GPO with advanced audit policy clears the host's own audit policy before applying its",
            "own (Microsoft, Advanced security auditing FAQ). Run `auditplan gpo` without",
            "--process-creation-only to carry them into the wave's GPO.",
            "",
        ]
        lines += [f"- wave {u.wave}: {md(host)}: " + md(", ".join(names)) for u, host, names in losses]
        lines.append("")
    return lines
