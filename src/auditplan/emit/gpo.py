"""One Import-GPO-ready GPO backup per wave of a plan, with rollout, verify and rollback scripts.

Layout and bytes follow ../shared/reference/gpo-backup-format.md §B (real GPMC backups in
reference/gpo-examples/). Output is deterministic: GUIDs and times derive from the plan, so the
same plan gives byte-identical files and a diff shows real changes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from auditplan.emit.gpo_files import (
    PROCESS_CREATION_GUID,
    PROCESS_CREATION_NAME,
    AuditRow,
    audit_csv,
    gpt_tmpl_inf,
    registry_pol,
    wave_registry_entries,
)

# §B11: the CSE/tool GUID pairs for registry.pol, GptTmpl.inf and audit.csv, groups sorted ascending.
MACHINE_EXTENSION_GUIDS: Final = (
    "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
    "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]"
    "[{F3CCC681-B74C-4060-9F26-CD84525DCA2A}{0F3F3735-573D-9804-99E4-AB2A69BA5FD4}]"
)
# §B3: MachineVersionNumber packs two equal 16-bit halves; 1/1 for a new GPO. Import resets it anyway.
MACHINE_VERSION: Final = 0x00010001
# Namespace for uuid5 GUIDs derived from the plan (fixed forever: changing it changes every GUID).
GUID_NAMESPACE: Final = uuid.UUID("6f1c3f5e-2a4b-5c8d-9e0f-a1b2c3d4e5f6")
# Deterministic stand-in for BackupTime when the plan carries none (Import-GPO only uses it to pick
# the newest of several backups with the same name, which never happens within one output folder).
DEFAULT_BACKUP_TIME: Final = "2000-01-01T00:00:00"

AUDIT_DIR: Final = ("DomainSysvol", "GPO", "Machine", "microsoft", "windows nt", "Audit")
SECEDIT_DIR: Final = ("DomainSysvol", "GPO", "Machine", "microsoft", "windows nt", "SecEdit")
MACHINE_DIR: Final = ("DomainSysvol", "GPO", "Machine")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# PowerShell treats these as single quotes too (about_Quoting_Rules), so each must be doubled.
_PS_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")
MAX_NAME = 200


class PlanError(ValueError):
    """plan.json is missing, malformed or not a version this code reads; the message says where."""


@dataclass(frozen=True)
class WaveHost:
    host: str
    local_subcategories: tuple[tuple[str, str, int], ...] = ()  # (guid, name, setting value)


@dataclass(frozen=True)
class Wave:
    number: int
    name: str
    hosts: tuple[WaveHost, ...]
    recommended_log_max_size_kb: int | None = None


@dataclass(frozen=True)
class PlanDoc:
    plan_id: str
    waves: tuple[Wave, ...]
    created_at: str | None = None


@dataclass(frozen=True)
class GpoOptions:
    domain: str = "example.com"
    name_prefix: str = "auditplan 4688"
    include_failure: bool = False
    preserve_local: bool = False
    log_max_size_mb: int | None = None  # overrides the plan's per-host recommendation
    use_plan_log_size: bool = False


@dataclass(frozen=True)
class WaveOutput:
    wave: int
    display_name: str
    group_name: str
    backup_guid: str
    gpo_guid: str
    backup_dir: Path
    script_dir: Path
    hosts: tuple[str, ...]
    hosts_losing_local_settings: tuple[str, ...] = ()
    preserved_subcategories: tuple[str, ...] = ()


_SETTING_VALUES: Final = {"none": 4, "success": 1, "failure": 2, "success_and_failure": 3}


def _clean_text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise PlanError(f"{where}: expected a string, got {type(value).__name__}")
    text = _CONTROL.sub(" ", value).strip()
    if not text:
        raise PlanError(f"{where}: empty")
    if len(text) > MAX_NAME:
        raise PlanError(f"{where}: longer than {MAX_NAME} characters")
    return text


def read_plan(path: Path) -> PlanDoc:
    """Read plan.json (docs/plan-json.md, schema version 1) with errors that name the file and key."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    return parse_plan(raw, str(path))


def parse_plan(raw: object, where: str = "plan.json") -> PlanDoc:
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: expected a JSON object")
    if raw.get("schema_version") != 1:
        raise PlanError(f"{where}: schema_version {raw.get('schema_version')!r} is not 1")
    plan_id = _clean_text(raw.get("plan_id"), f"{where}: plan_id")
    waves_raw = raw.get("waves")
    if not isinstance(waves_raw, list):
        raise PlanError(f"{where}: waves: expected a list")
    waves: list[Wave] = []
    seen: set[int] = set()
    for i, w in enumerate(waves_raw):
        at = f"{where}: waves[{i}]"
        if not isinstance(w, Mapping):
            raise PlanError(f"{at}: expected an object")
        number = w.get("wave")
        if not isinstance(number, int) or isinstance(number, bool) or number < 0 or number in seen:
            raise PlanError(f"{at}.wave: expected a unique whole number >= 0, got {number!r}")
        seen.add(number)
        name = _clean_text(w.get("name") or ("pilot" if number == 0 else f"wave {number}"), f"{at}.name")
        hosts_raw = w.get("hosts")
        if not isinstance(hosts_raw, list):
            raise PlanError(f"{at}.hosts: expected a list")
        hosts: list[WaveHost] = []
        sizes: list[int] = []
        for j, h in enumerate(hosts_raw):
            hat = f"{at}.hosts[{j}]"
            if not isinstance(h, Mapping):
                raise PlanError(f"{hat}: expected an object")
            local: list[tuple[str, str, int]] = []
            for k, sub in enumerate(h.get("local_subcategories") or []):
                sat = f"{hat}.local_subcategories[{k}]"
                if not isinstance(sub, Mapping):
                    raise PlanError(f"{sat}: expected an object")
                guid = str(sub.get("guid", "")).lower()
                if not re.fullmatch(r"\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}", guid):
                    raise PlanError(f"{sat}.guid: not a {{GUID}}: {guid!r}")
                setting = sub.get("setting")
                if setting not in _SETTING_VALUES:
                    raise PlanError(f"{sat}.setting: expected one of {sorted(_SETTING_VALUES)}")
                sub_name = _clean_text(sub.get("name") or guid, f"{sat}.name")
                local.append((guid, sub_name, _SETTING_VALUES[str(setting)]))
            size_mb = h.get("recommended_log_max_size_mb")
            if isinstance(size_mb, int | float) and not isinstance(size_mb, bool) and size_mb > 0:
                sizes.append(int(size_mb) * 1024)
            hosts.append(WaveHost(_clean_text(h.get("host"), f"{hat}.host"), tuple(local)))
        waves.append(Wave(number, name, tuple(hosts), max(sizes) if sizes else None))
    created = raw.get("created_at")
    return PlanDoc(plan_id, tuple(sorted(waves, key=lambda w: w.number)), created if isinstance(created, str) else None)


def derived_guid(plan_id: str, wave: int, what: str) -> str:
    return "{" + str(uuid.uuid5(GUID_NAMESPACE, f"{plan_id}/{wave}/{what}")).upper() + "}"


def ps_literal(value: object) -> Markup:
    """A PowerShell single-quoted string literal: nothing inside is expanded or executed."""
    text = str(value)
    for quote in _PS_SINGLE_QUOTES:
        text = text.replace(quote, quote * 2)
    return Markup("'" + text + "'")  # noqa: S704 - escaped for PowerShell above; not HTML


def ps_comment(value: object) -> str:
    """Text safe inside a PowerShell <# ... #> block comment: it cannot close the block."""
    return _CONTROL.sub(" ", str(value)).replace("#>", "# >").replace("<#", "< #")


def cdata(value: object) -> Markup:
    # "]]>" cannot appear inside CDATA: split it across two sections.
    return Markup("<![CDATA[" + str(value).replace("]]>", "]]]]><![CDATA[>") + "]]>")  # noqa: S704


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditplan.gpo_templates", "."),
        autoescape=jinja2.select_autoescape(enabled_extensions=("xml", "xml.j2"), default_for_string=False),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cdata"] = cdata
    env.filters["ps"] = ps_literal
    env.filters["pscomment"] = ps_comment
    return env


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _group_name(prefix: str, wave: int) -> str:
    # sAMAccountName-safe: letters, digits, '-', '_' and at most 64 characters.
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", prefix).strip("-") or "auditplan"
    return f"{base[:50]}-wave-{wave:02d}"


def _audit_rows(wave: Wave, options: GpoOptions) -> tuple[list[AuditRow], list[str], list[str]]:
    """Rows of the wave's audit.csv, hosts that would lose local subcategories, and carried GUIDs.

    A GPO with advanced audit policy clears the local subcategory settings before applying its own
    (reference §A3). With preserve_local, each subcategory set locally on any of the wave's hosts
    is carried at the union of the hosts' settings, so no host loses auditing (some may gain).
    """
    rows = [AuditRow(PROCESS_CREATION_NAME, PROCESS_CREATION_GUID, 3 if options.include_failure else 1)]
    losing: list[str] = []
    union: dict[str, tuple[str, int]] = {}
    for host in wave.hosts:
        carried = [s for s in host.local_subcategories if s[0] != PROCESS_CREATION_GUID and s[2] != 4]
        if carried:
            losing.append(host.host)
        for guid, name, value in carried:
            old = union.get(guid, (name, 0))
            union[guid] = (old[0], old[1] | value)
    if options.preserve_local:
        rows += [AuditRow(union[g][0], g, union[g][1]) for g in sorted(union)]
        return rows, [], sorted(union)
    return rows, losing, []


def write_backups(plan: PlanDoc, out_dir: Path, options: GpoOptions) -> list[WaveOutput]:
    """Write backups/{GUID}/ per wave, backups/manifest.xml, wave-NN/ scripts and README.md."""
    env = _environment()
    domain = _clean_text(options.domain, "--domain")
    prefix = _clean_text(options.name_prefix, "--name-prefix")
    backup_time = plan.created_at or DEFAULT_BACKUP_TIME
    backups_root = out_dir / "backups"
    backups_root.mkdir(parents=True, exist_ok=True)
    outputs: list[WaveOutput] = []
    instances: list[str] = []
    for wave in plan.waves:
        display_name = f"{prefix} - wave {wave.number:02d} ({wave.name})"
        group_name = _group_name(prefix, wave.number)
        backup_guid = derived_guid(plan.plan_id, wave.number, "backup")
        gpo_guid = derived_guid(plan.plan_id, wave.number, "gpo")
        rows, losing, preserved = _audit_rows(wave, options)
        log_kb: int | None = None
        if options.log_max_size_mb is not None:
            log_kb = options.log_max_size_mb * 1024
        elif options.use_plan_log_size and wave.recommended_log_max_size_kb:
            log_kb = wave.recommended_log_max_size_kb
        context: dict[str, Any] = {
            "gpo_guid": gpo_guid,
            "backup_guid": backup_guid,
            "domain": domain,
            "domain_guid": "{" + str(uuid.uuid5(GUID_NAMESPACE, "domain/" + domain.lower())) + "}",
            "domain_controller": domain,
            "display_name": display_name,
            "group_name": group_name,
            "backup_time": backup_time,
            "comment": f"auditplan plan {plan.plan_id} wave {wave.number}",
            "machine_version": MACHINE_VERSION,
            "machine_extension_guids": MACHINE_EXTENSION_GUIDS,
            "sysvol": f"\\\\{domain}\\sysvol\\{domain}\\Policies\\{gpo_guid}",
            "version": 1,
            "audit_rows": rows,
            "log_max_size_kb": log_kb,
            "wave": wave.number,
            "wave_name": wave.name,
            "plan_id": plan.plan_id,
            "hosts": [h.host for h in wave.hosts],
            "setting_value": 3 if options.include_failure else 1,
        }
        bdir = backups_root / backup_guid
        files: dict[tuple[str, ...], bytes] = {
            ("Backup.xml",): _crlf(env.get_template("Backup.xml.j2").render(context)).encode("utf-8"),
            ("bkupInfo.xml",): (env.get_template("BackupInst.xml.j2").render(context) + "\r\n").encode("utf-8"),
            ("gpreport.xml",): b"\xff\xfe"
            + _crlf(env.get_template("gpreport.xml.j2").render(context)).encode("utf-16-le"),
            (*AUDIT_DIR, "audit.csv"): audit_csv(rows),
            (*MACHINE_DIR, "registry.pol"): registry_pol(wave_registry_entries(log_kb)),
            (*SECEDIT_DIR, "GptTmpl.inf"): gpt_tmpl_inf(),
        }
        for parts, data in files.items():
            target = bdir.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        instances.append(env.get_template("BackupInst.xml.j2").render(context))

        sdir = out_dir / f"wave-{wave.number:02d}"
        sdir.mkdir(parents=True, exist_ok=True)
        for script in ("rollout.ps1", "verify.ps1", "rollback.ps1"):
            text = _crlf(env.get_template(script + ".j2").render(context))
            # UTF-8 with BOM: Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page.
            (sdir / script).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
        (sdir / "hosts.txt").write_bytes(_crlf("".join(h.host + "\n" for h in wave.hosts)).encode("utf-8"))
        outputs.append(
            WaveOutput(
                wave.number, display_name, group_name, backup_guid, gpo_guid, bdir, sdir,
                tuple(h.host for h in wave.hosts), tuple(losing), tuple(preserved),
            )
        )
    # Each instance was rendered with autoescape above, so it is already safe markup.
    safe = [Markup(i) for i in instances]  # noqa: S704
    manifest = env.get_template("manifest.xml.j2").render({"instances": safe})
    (backups_root / "manifest.xml").write_bytes(manifest.encode("utf-8"))
    (out_dir / "README.md").write_text(_index(outputs, plan, domain), encoding="utf-8", newline="\n")
    return outputs


def _index(outputs: Sequence[WaveOutput], plan: PlanDoc, domain: str) -> str:
    # An example link target in the domain the GPOs are for: OU=Servers,DC=corp,DC=example,DC=com.
    dn = "OU=Servers," + ",".join(f"DC={part}" for part in domain.split(".") if part)
    lines = [
        f"# GPO backups for plan {plan.plan_id}",
        "",
        f"Domain: {domain}. One GPO backup per wave under `backups/`; scripts per wave under `wave-NN/`.",
        "",
        "| wave | GPO name | backup ID | hosts | hosts whose local audit settings the GPO replaces |",
        "|---|---|---|---|---|",
    ]
    for o in outputs:
        name = o.display_name.replace("|", "\\|")
        lines.append(f"| {o.wave} | {name} | {o.backup_guid} | {len(o.hosts)} | {len(o.hosts_losing_local_settings)} |")
    lines += [
        "",
        "Apply a wave (RSAT on a domain-joined admin workstation):",
        "",
        "```powershell",
        "cd wave-00",
        f".\\rollout.ps1 -LinkTarget '{dn}' -WhatIf",
        f".\\rollout.ps1 -LinkTarget '{dn}'",
        "# after the hosts have rebooted (group membership) and refreshed policy:",
        ".\\verify.ps1",
        "# if it must be undone:",
        f".\\rollback.ps1 -LinkTarget '{dn}'",
        "```",
        "",
    ]
    losing = [o for o in outputs if o.hosts_losing_local_settings]
    if losing:
        lines += [
            "## Local audit settings these GPOs would wipe",
            "",
            "A GPO carrying advanced audit policy clears subcategories set locally (auditpol) before",
            "applying its own. Re-run `auditplan gpo --preserve-local` to carry them into audit.csv.",
            "",
        ]
        for o in losing:
            lines.append(f"- wave {o.wave}: " + ", ".join(o.hosts_losing_local_settings))
        lines.append("")
    return "\n".join(lines)
