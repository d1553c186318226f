"""One Import-GPO-ready GPO backup per wave of a plan, with rollout, verify and rollback scripts.

Layout and bytes follow ../shared/reference/gpo-backup-format.md §B (real GPMC backups in
reference/gpo-examples/). Output is deterministic: each wave's GUIDs derive from what its GPO
contains (wave, hosts, settings, names), not from the plan id, so the same waves give byte-identical
backups even when the plan's estimates moved, and a diff shows real changes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from auditplan.emit.errors import GpoOptionError
from auditplan.emit.gpo.audit_union import KIND_GPO_MANAGED, GpoUnit, UnitSummary, readme_sections, wave_units
from auditplan.emit.gpo.files import (
    PROCESS_CREATION_GUID,
    SECURITY_LOG_MAX_SIZE_KB_MAX,
    SECURITY_LOG_MAX_SIZE_KB_MIN,
    AuditRow,
    audit_csv,
    gpt_tmpl_inf,
    registry_pol,
    wave_registry_entries,
)
from auditplan.emit.gpo.outdir import (
    MARKER_TOOL,
    OutputConflict,
    check_foreign_backups,
    earlier_files,
    output_lock,
    replace_output,
)
from auditplan.records import (
    LOG_MAX_SIZE_MB_MAX,
    LOG_MAX_SIZE_MB_MIN,
    MAX_NAME,
    AuditSetting,
    Change,
    Plan,
    PlanError,
    PlannedHost,
    Wave,
)
from auditplan.text import CONTROL, quoted

_log = logging.getLogger(__name__)

# §B11: the CSE/tool GUID pairs for registry.pol, GptTmpl.inf and audit.csv, groups sorted ascending.
MACHINE_EXTENSION_GUIDS: Final = (
    "[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
    "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]"
    "[{F3CCC681-B74C-4060-9F26-CD84525DCA2A}{0F3F3735-573D-9804-99E4-AB2A69BA5FD4}]"
)
# §B3: MachineVersionNumber packs two equal 16-bit halves; 1/1 for a new GPO. Import resets it anyway.
MACHINE_VERSION: Final = 0x00010001
# Namespace for uuid5 GUIDs derived from a wave's content (fixed forever: changing it changes every GUID).
GUID_NAMESPACE: Final = uuid.UUID("6f1c3f5e-2a4b-5c8d-9e0f-a1b2c3d4e5f6")
# Bumped only when the meaning of the content digest changes (then every GUID changes once).
CONTENT_VERSION: Final = 1
# BackupTime when plan.json carries no `created_at` (`auditplan plan` writes none: plan.json depends
# only on its inputs). A fixed time keeps the backups byte-identical; Import-GPO reads BackupTime only
# to pick the newest of several backups with one display name (§B4), and every run removes its earlier
# backups from --out (emit/gpo/outdir.py), so one folder never holds two of ours.
DEFAULT_BACKUP_TIME: Final = "2000-01-01T00:00:00"

AUDIT_DIR: Final = ("DomainSysvol", "GPO", "Machine", "microsoft", "windows nt", "Audit")
SECEDIT_DIR: Final = ("DomainSysvol", "GPO", "Machine", "microsoft", "windows nt", "SecEdit")
MACHINE_DIR: Final = ("DomainSysvol", "GPO", "Machine")

# Display-name suffix of a wave's second GPO, for hosts whose audit policy a domain GPO delivers.
MANAGED_SUFFIX: Final = " - GPO-managed audit"
# PowerShell treats these as single quotes too (about_Quoting_Rules), so each must be doubled.
_PS_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")
# MS-ADA1 2.175: the displayName attribute (a GPO's name in AD) holds at most 256 Unicode characters.
MAX_GPO_DISPLAY_NAME: Final = 256
# RFC 1035 / RFC 1123 host-name rules for the AD domain's DNS name.
_DNS_LABEL: Final = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
MAX_DNS_NAME: Final = 253
# The plan's Security log size range (records/plan.py, EventLog.admx) is the GPO's, in whole MB.
assert (LOG_MAX_SIZE_MB_MIN, LOG_MAX_SIZE_MB_MAX) == (SECURITY_LOG_MAX_SIZE_KB_MIN // 1024,
                                                      SECURITY_LOG_MAX_SIZE_KB_MAX // 1024)


@dataclass(frozen=True)
class GpoOptions:
    domain: str = "example.com"
    name_prefix: str = "auditplan 4688"
    include_failure: bool = False
    preserve_local: bool = False  # the default since process_creation_only exists; kept for callers
    process_creation_only: bool = False  # one Process-Creation-only GPO per wave (switches other subcategories off)
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
    kind: str = ""  # "" the wave's GPO, "gpo-managed" the Process-Creation-only GPO of gpo-sourced hosts
    # (host, subcategories switched off) with --process-creation-only; (host, subcategories gained) by the union.
    losses: tuple[tuple[str, tuple[str, ...]], ...] = ()
    gains: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unknown_source: tuple[str, ...] = ()


# MS-GPAC 2.2.1.3.1 SettingValue of each audit setting: 1 success, 2 failure, 3 both, 4 none.
_SETTING_VALUES: Final = {AuditSetting.NONE: 4, AuditSetting.SUCCESS: 1, AuditSetting.FAILURE: 2,
                          AuditSetting.SUCCESS_AND_FAILURE: 3}


def _cleaned(value: str) -> str:
    """A name as the GPO and scripts carry it: controls, bidi and zero-width characters (text.CONTROL)
    as a space, trimmed."""
    return CONTROL.sub(" ", value).strip()


def _clean_text(value: str, where: str, error: type[ValueError] = PlanError) -> str:
    """`value` cleaned (_cleaned), non-empty and at most MAX_NAME characters, else `error` naming `where`."""
    text = _cleaned(value)
    if not text:
        raise error(f"{where}: empty")
    if len(text) > MAX_NAME:
        raise error(f"{where}: {len(text)} characters, longer than {MAX_NAME}: {quoted(text)}")
    return text


def gpo_display_name(number: int, wave_name: str, prefix: str = GpoOptions.name_prefix) -> str:
    """The display name of a wave's GPO, as `auditplan gpo --name-prefix prefix` writes it (the report
    shows it too): both names cleaned as the GPO carries them."""
    return f"{_cleaned(prefix)} - wave {number:02d} ({_cleaned(wave_name)})"


def _backup_time(value: str | None) -> str | None:
    """plan.json `created_at` (ISO 8601, checked by the plan reader) as BackupTime: UTC, seconds,
    no zone (as in §B4)."""
    if value is None:
        return None
    when = datetime.fromisoformat(value)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class _WaveContent:
    """One wave as its GPO carries it: names made safe (text.CONTROL) once, for every file."""

    wave: Wave
    name: str
    hosts: tuple[str, ...]  # the wave's hosts' names, in the plan's order


def _contents(plan: Plan) -> list[_WaveContent]:
    """Each wave with its names cleaned; PlanError when two hosts become one name (one computer
    in two waves would get both GPOs)."""
    seen: dict[str, int] = {}
    out = []
    for wave in plan.waves:
        hosts = []
        for j, h in enumerate(wave.hosts):
            name = _clean_text(h.host, f"wave {wave.number}: hosts[{j}].host")
            if name.casefold() in seen:
                raise PlanError(f"wave {wave.number}: hosts[{j}]: host {name!r} is already in wave "
                                f"{seen[name.casefold()]}; a host belongs to one wave")
            seen[name.casefold()] = wave.number
            hosts.append(name)
        out.append(_WaveContent(wave, _clean_text(wave.name, f"wave {wave.number}: name"), tuple(hosts)))
    return out


def validate_domain(domain: str) -> str:
    """The AD domain's DNS name, checked (GpoOptionError): it lands in XML, PowerShell literals and LDAP DNs."""
    labels = domain.split(".")
    if len(domain) > MAX_DNS_NAME or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise GpoOptionError(
            f"--domain {quoted(domain)}: not a DNS domain name (dot-separated labels of letters, digits "
            f"and inner hyphens, 1-63 characters each, {MAX_DNS_NAME} in all), e.g. corp.example.com"
        )
    return domain


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def wave_content_digest(wave: int, hosts: Sequence[str], rows: Sequence[AuditRow], log_kb: int | None, domain: str,
                        display_name: str, group_name: str) -> str:
    """sha256 of everything the wave's GPO and scripts act on, and nothing else (no estimates).

    The hosts' prior state (plan.json `change`, `prior_*`, which only rollback.ps1 -RevertHosts
    uses) is left out on purpose: it does not change the GPO, so recording it keeps the GUIDs."""
    content = {
        "version": CONTENT_VERSION,
        "wave": wave,
        "display_name": display_name,
        "group_name": group_name,
        "domain": domain.lower(),
        "hosts": sorted(h.casefold() for h in hosts),
        "audit_rows": [[r.guid, r.setting_value] for r in rows],
        "log_max_size_kb": log_kb,
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def derived_guid(content_digest: str, what: str) -> str:
    """A GUID from a wave's content digest: same content, same GUID; `what` tells backup from GPO."""
    return "{" + str(uuid.uuid5(GUID_NAMESPACE, f"{content_digest}/{what}")).upper() + "}"


def is_ip_address(host: str) -> bool:
    """An inventory entry that is an IP address (no computer account is named after it)."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


# auditpol /set flags per MS-GPAC SettingValue (1 success, 2 failure, 3 both, 4 none).
_AUDITPOL_FLAGS: Final = {
    1: ("enable", "disable"),
    2: ("disable", "enable"),
    3: ("enable", "enable"),
    4: ("disable", "disable"),
}


def prior_state(host: PlannedHost, name: str | None = None) -> dict[str, Any]:
    """What rollback.ps1 -RevertHosts restores on one host, from plan.json (docs/plan-json.md).

    With `prior_process_creation` (the survey's reading of Process Creation) both auditpol flags are
    set back exactly; with `prior_cmdline_registry` the ProcessCreationIncludeCmdLine_Enabled value
    is. 0 stands for "not 1": the survey does not tell an absent value from 0, so 0 is written back;
    Windows reads both as off (gpo-backup-format.md §A2). Plans without these fields fall back to what
    `change` implies: Process Creation off (Success and Failure disabled) for enable_4688 hosts, Success
    re-enabled and Failure left as it is for cmdline_only and `none`; the command line value 0 for
    enable_4688 and cmdline_only, 1 for `none`. Without either, Process Creation is not touched
    (no flags, command line -1). `local_subcategories` are re-applied exactly. `*_from` says which
    (survey, change or none) each part came from. `name`: the host's name as the GPO carries it.
    """
    flags: tuple[str, ...] = ()
    cmdline = -1
    flags_from = cmdline_from = "none"
    if host.change == Change.ENABLE_4688:
        flags, cmdline = ("/success:disable", "/failure:disable"), 0
    elif host.change == Change.CMDLINE_ONLY:
        flags, cmdline = ("/success:enable",), 0
    elif host.change == Change.NONE:
        flags, cmdline = ("/success:enable",), 1
    if host.change is not None:
        flags_from = cmdline_from = "change"
    if host.prior_process_creation is not None:
        success, failure = _AUDITPOL_FLAGS[_SETTING_VALUES[host.prior_process_creation]]
        flags, flags_from = (f"/success:{success}", f"/failure:{failure}"), "survey"
    if host.prior_cmdline_registry is not None:
        cmdline, cmdline_from = host.prior_cmdline_registry, "survey"
    subs = [
        {"guid": s.guid, "success": _AUDITPOL_FLAGS[_SETTING_VALUES[s.setting]][0],
         "failure": _AUDITPOL_FLAGS[_SETTING_VALUES[s.setting]][1]}
        for s in sorted(host.local_subcategories)
        if s.guid != PROCESS_CREATION_GUID
    ]
    return {"host": name or host.host, "process_creation": list(flags), "command_line": cmdline,
            "subcategories": subs, "change": str(host.change or "unknown"), "process_creation_from": flags_from,
            "command_line_from": cmdline_from}


def ps_literal(value: object) -> Markup:
    """A PowerShell single-quoted string literal: nothing inside is expanded or executed."""
    text = str(value)
    for quote in _PS_SINGLE_QUOTES:
        text = text.replace(quote, quote * 2)
    return Markup("'" + text + "'")  # noqa: S704 - escaped for PowerShell above; not HTML


def ps_comment(value: object) -> str:
    """Text safe inside a PowerShell <# ... #> block comment: it cannot close the block."""
    return CONTROL.sub(" ", str(value)).replace("#>", "# >").replace("<#", "< #")


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


def _units(wave: _WaveContent, options: GpoOptions) -> list[GpoUnit]:
    """The GPO(s) of a wave (emit/gpo/audit_union.py): the union GPO of hosts whose audit policy is
    local, default or unknown, and a Process-Creation-only GPO for hosts whose policy a domain GPO
    delivers; or, with process_creation_only, one Process-Creation-only GPO. A GPO with advanced
    audit policy clears the host's own policy first (gpo-backup-format.md §A3)."""
    for host, name in zip(wave.wave.hosts, wave.hosts, strict=True):
        for k, sub in enumerate(host.local_subcategories):
            _clean_text(sub.name, f"wave {wave.wave.number}: host {name!r}: local_subcategories[{k}].name")
    cleaned = [
        replace(h, local_subcategories=tuple(replace(s, name=_cleaned(s.name)) for s in h.local_subcategories))
        for h in wave.wave.hosts
    ]
    return wave_units(cleaned, wave.hosts, 3 if options.include_failure else 1,
                      process_creation_only=options.process_creation_only)


def _rel(*parts: str) -> str:
    return "/".join(parts)


def write_backups(plan: Plan, out_dir: Path, options: GpoOptions, *, force: bool = False,
                  warn: Callable[[str], None] | None = None) -> list[WaveOutput]:
    """Write backups/{GUID}/ per wave, backups/manifest.xml, wave-NN/ scripts and README.md.

    Everything is rendered before anything is written, so bad input leaves out_dir untouched. Files
    an earlier run wrote into out_dir and this run does not write again are removed (outdir.py).
    Existing files this run did not write stop it unless `force`; earlier files edited since are kept
    and reported through `warn` (default: this module's logger).
    """
    env = _environment()
    domain = validate_domain(options.domain)
    prefix = _clean_text(options.name_prefix, "--name-prefix", GpoOptionError)
    size = options.log_max_size_mb
    if size is not None and not (isinstance(size, int) and LOG_MAX_SIZE_MB_MIN <= size <= LOG_MAX_SIZE_MB_MAX):
        raise GpoOptionError(f"--log-max-size-mb {size!r}: expected a whole number of MB in "
                             f"{LOG_MAX_SIZE_MB_MIN}..{LOG_MAX_SIZE_MB_MAX} (EventLog.admx)")
    backup_time = _backup_time(plan.created_at) or DEFAULT_BACKUP_TIME
    outputs: list[WaveOutput] = []
    instances: list[str] = []
    files: dict[str, bytes] = {}
    if options.process_creation_only and options.preserve_local:
        raise GpoOptionError("--process-creation-only and --preserve-local contradict each other: the wave GPO "
                             "keeps every host's subcategories unless --process-creation-only")
    for content, unit in ((c, u) for c in _contents(plan) for u in _units(c, options)):
        wave = content.wave
        managed = unit.kind == KIND_GPO_MANAGED
        display_name = gpo_display_name(wave.number, content.name, prefix) + (MANAGED_SUFFIX if managed else "")
        if _utf16_length(display_name) > MAX_GPO_DISPLAY_NAME:
            raise PlanError(
                f"wave {wave.number}: GPO name {quoted(display_name)} has {_utf16_length(display_name)} characters; "
                f"Active Directory holds at most {MAX_GPO_DISPLAY_NAME} (displayName, MS-ADA1 2.175): "
                "shorten --name-prefix or the wave's name in the plan"
            )
        group_name = _group_name(prefix, wave.number) + ("-gpo" if managed else "")
        rows = list(unit.rows)
        members = [wave.hosts[i] for i in unit.members]
        log_kb: int | None = None
        if options.log_max_size_mb is not None:
            log_kb = options.log_max_size_mb * 1024
        elif options.use_plan_log_size and wave.recommended_log_max_size_mb:
            log_kb = wave.recommended_log_max_size_mb * 1024
        hosts = [content.hosts[i] for i in unit.members]
        digest = wave_content_digest(wave.number, hosts, rows, log_kb, domain, display_name, group_name)
        backup_guid = derived_guid(digest, "backup")
        gpo_guid = derived_guid(digest, "gpo")
        context: dict[str, Any] = {
            "gpo_guid": gpo_guid,
            "backup_guid": backup_guid,
            "domain": domain,
            "domain_guid": "{" + str(uuid.uuid5(GUID_NAMESPACE, "domain/" + domain.lower())) + "}",
            "domain_controller": domain,
            "display_name": display_name,
            "group_name": group_name,
            "backup_time": backup_time,
            "comment": f"auditplan wave {wave.number}{' (GPO-managed audit)' if managed else ''}: {len(hosts)} hosts, "
                       f"content {digest[:16]}",
            "content_id": digest[:16],
            "machine_version": MACHINE_VERSION,
            "machine_extension_guids": MACHINE_EXTENSION_GUIDS,
            "sysvol": f"\\\\{domain}\\sysvol\\{domain}\\Policies\\{gpo_guid}",
            "version": 1,
            "audit_rows": rows,
            "log_max_size_kb": log_kb,
            "wave": wave.number,
            "wave_name": content.name,
            "hosts": hosts,
            "ip_hosts": [h for h in hosts if is_ip_address(h)],
            "prior": [prior_state(h, name) for h, name in zip(members, hosts, strict=True)],
            "setting_value": 3 if options.include_failure else 1,
        }
        bdir = ("backups", backup_guid)
        files[_rel(*bdir, "Backup.xml")] = _crlf(env.get_template("Backup.xml.j2").render(context)).encode("utf-8")
        instance = env.get_template("BackupInst.xml.j2").render(context)
        files[_rel(*bdir, "bkupInfo.xml")] = (instance + "\r\n").encode("utf-8")
        files[_rel(*bdir, "gpreport.xml")] = b"\xff\xfe" + _crlf(
            env.get_template("gpreport.xml.j2").render(context)).encode("utf-16-le")
        files[_rel(*bdir, *AUDIT_DIR, "audit.csv")] = audit_csv(rows)
        files[_rel(*bdir, *MACHINE_DIR, "registry.pol")] = registry_pol(wave_registry_entries(log_kb))
        files[_rel(*bdir, *SECEDIT_DIR, "GptTmpl.inf")] = gpt_tmpl_inf()
        instances.append(instance)

        sdir = f"wave-{wave.number:02d}" + ("-gpo" if managed else "")
        for script in ("rollout.ps1", "verify.ps1", "rollback.ps1"):
            text = _crlf(env.get_template(script + ".j2").render(context))
            # UTF-8 with BOM: Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page.
            files[_rel(sdir, script)] = b"\xef\xbb\xbf" + text.encode("utf-8")
        files[_rel(sdir, "hosts.txt")] = _crlf("".join(h + "\n" for h in hosts)).encode("utf-8")
        outputs.append(
            WaveOutput(
                wave.number, display_name, group_name, backup_guid, gpo_guid, out_dir.joinpath(*bdir),
                out_dir / sdir, tuple(hosts), tuple(host for host, _names in unit.losses),
                tuple(r.guid for r in rows if r.guid != PROCESS_CREATION_GUID), unit.kind, unit.losses, unit.gains,
                unit.unknown_source,
            )
        )
    # Each instance was rendered with autoescape above, so it is already safe markup.
    safe = [Markup(i) for i in instances]  # noqa: S704
    manifest = env.get_template("manifest.xml.j2").render({"instances": safe})
    files[_rel("backups", "manifest.xml")] = manifest.encode("utf-8")
    files["README.md"] = _index(outputs, plan, domain, options.process_creation_only).encode("utf-8")

    if out_dir.is_symlink() and not out_dir.exists():
        raise OutputConflict(f"{out_dir}: a symbolic link to {os.readlink(out_dir)}, which does not exist; "
                             "create that folder, or give --out a folder path")
    out_dir.mkdir(parents=True, exist_ok=True)
    # One run at a time from reading the earlier state to writing the marker (outdir.output_lock).
    with output_lock(out_dir):
        earlier = earlier_files(out_dir)
        check_foreign_backups(out_dir, {o.backup_guid: o.display_name for o in outputs}, earlier)
        done = replace_output(out_dir, files, earlier, force=force, our_names=[o.display_name for o in outputs])
    for rel in done.kept:
        (warn or _log.warning)(
            f"{out_dir / rel}: kept, changed since {MARKER_TOOL} wrote it (this run no longer writes it); "
            "delete it by hand if it is not needed"
        )
    for rel in done.unverified:
        (warn or _log.warning)(
            f"{out_dir / rel}: kept, an earlier run's output by its name or content but with no SHA-256 recorded to "
            "show it is unchanged "
            "(this run no longer writes it); delete it by hand if it is not needed, or re-run with --force"
        )
    return outputs


def _index(outputs: Sequence[WaveOutput], plan: Plan, domain: str, process_creation_only: bool) -> str:
    # An example link target in the domain the GPOs are for: OU=Servers,DC=corp,DC=example,DC=com,
    # quoted as the scripts quote their strings (the domain is a checked DNS name; quoted all the same).
    dn = ps_literal("OU=Servers," + ",".join(f"DC={part}" for part in domain.split(".") if part))
    lines = [
        f"# GPO backups for plan {plan.plan_id}",
        "",
        f"Domain: {domain}. One GPO backup per wave under `backups/`; scripts per wave under `wave-NN/`.",
        "",
        "| wave | GPO name | backup ID | hosts | hosts that lose audit subcategories |",
        "|---|---|---|---|---|",
    ]
    for o in outputs:
        name = o.display_name.replace("|", "\\|")
        lines.append(f"| {o.wave} | {name} | {o.backup_guid} | {len(o.hosts)} | {len(o.losses)} |")
    lines += [
        "",
        "Apply a wave (RSAT on a domain-joined admin workstation); every script can be run again:",
        "",
        "```powershell",
        "cd wave-00",
        f".\\rollout.ps1 -LinkTarget {dn} -WhatIf",
        f".\\rollout.ps1 -LinkTarget {dn}",
        "# after the hosts have rebooted (group membership) and refreshed policy:",
        ".\\verify.ps1",
        "# if it must be undone (-RevertHosts also restores each host's audit settings from before the wave):",
        f".\\rollback.ps1 -LinkTarget {dn}",
        "```",
        "",
        "Backup IDs and GPO IDs derive from each wave's content (hosts, settings, names), so the same",
        "waves give the same files. BackupTime is the plan's `created_at` when it has one, else",
        f"{DEFAULT_BACKUP_TIME}: each run replaces its earlier backups here, so no two share a GPO name.",
        "",
    ]
    lines += readme_sections([UnitSummary(o.wave, o.kind, o.display_name, o.gains, o.losses, o.unknown_source,
                                          o.hosts) for o in outputs], process_creation_only)
    ip_hosts = [(o.wave, h) for o in outputs for h in o.hosts if is_ip_address(h)]
    if ip_hosts:
        lines += [
            "## Hosts given as IP addresses",
            "",
            "rollout.ps1 asks DNS for these addresses' host names (reverse lookup) to find their computer",
            "accounts, and names each one it cannot map:",
            "",
        ]
        lines += [f"- wave {w}: {h}" for w, h in ip_hosts]
        lines.append("")
    return "\n".join(lines)
