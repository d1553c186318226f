"""The GPO names `auditplan gpo` wrote for a plan's waves, read back from its backups/manifest.xml."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from auditplan.emit.errors import ReportError
from auditplan.emit.gpo.outdir import MANIFEST_NS
from auditplan.records import Plan

MANIFEST = ("backups", "manifest.xml")  # where `auditplan gpo --out DIR` lists its backups
MAX_MANIFEST_BYTES = 16 * 2**20
# bkupInfo/manifest Comment as emit/gpo/backups.py writes it ("auditplan wave N: ..."), and as
# earlier releases wrote it ("auditplan plan <id> wave N").
_COMMENT_WAVE = re.compile(r"auditplan\b.*?\bwave (\d+)\b", re.S)


def _hosts_txt(path: Path) -> list[str] | None:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None


def read_gpo_names(gpo_dir: Path, plan: Plan) -> dict[int, str]:
    """Wave -> GPO display name, as `auditplan gpo --out gpo_dir` wrote them for this plan.

    Each backup in backups/manifest.xml names its wave in its Comment ("auditplan ... wave N");
    its name is taken only when wave-NN/hosts.txt beside it lists exactly the plan's hosts of
    that wave, so the output of another plan, or an edited one, shows no names.
    ValueError when the manifest is unreadable."""
    path = gpo_dir.joinpath(*MANIFEST)
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"{path}: larger than {MAX_MANIFEST_BYTES // 2**20} MB")
        root = ET.fromstring(path.read_bytes())  # noqa: S314 - expat expands no external entities
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not a GPO backup manifest: {exc}") from None
    written: dict[int, list[str]] = {}
    for inst in root.iter(f"{{{MANIFEST_NS}}}BackupInst"):
        comment = inst.findtext(f"{{{MANIFEST_NS}}}Comment") or ""
        name = (inst.findtext(f"{{{MANIFEST_NS}}}GPODisplayName") or "").strip()
        found = _COMMENT_WAVE.match(comment.strip())
        if found and name:
            written.setdefault(int(found.group(1)), []).append(name)
    names: dict[int, str] = {}
    for wave in plan.waves:
        if wave.number not in written:
            continue
        # A wave may have a second GPO for its hosts whose audit policy a domain GPO delivers (wave-NN-gpo/).
        listed = [host for folder in (f"wave-{wave.number:02d}", f"wave-{wave.number:02d}-gpo")
                  for host in (_hosts_txt(gpo_dir / folder / "hosts.txt") or [])]
        if listed and sorted(listed) == sorted(h.host for h in wave.hosts):
            names[wave.number] = "; ".join(sorted(written[wave.number]))
    return names


def plan_gpo_names(plan: Plan, plan_path: Path, gpo_dir: Path | None) -> tuple[dict[int, str], list[str]]:
    """The GPO names `auditplan gpo` wrote for this plan, and warnings: from `gpo_dir`, else from a
    gpo/ folder beside plan.json (where `auditplan demo` and the default --out folders put it).

    An unreadable manifest in `gpo_dir` is a ReportError; one found beside the plan only warns."""
    folder = gpo_dir if gpo_dir is not None else plan_path.parent / "gpo"
    if gpo_dir is None and not folder.joinpath(*MANIFEST).is_file():
        return {}, []
    try:
        names = read_gpo_names(folder, plan)
    except ValueError as exc:
        if gpo_dir is not None:
            raise ReportError(f"--gpo-dir: {exc}") from None
        return {}, [f"{exc}; showing default GPO names"]
    if gpo_dir is not None and not names:
        return names, [f"{folder.joinpath(*MANIFEST)} has no backup of plan {plan.plan_id}; "
                       "showing default GPO names"]
    return names, []
