r"""A SCOM management pack (unsealed, schema 2.0) with one alert rule per Sigma detection.

Each rule reads the Security log through Windows!Microsoft.Windows.EventProvider with the same
configuration in every rule (EventDisplayNumber 4688 only), so SCOM runs one data source for all of them
(cook-down), and each rule's own test is a System.ExpressionFilter condition detection on `Params/Param[N]`
(4688 EventData order, reference gpo-backup-format.md §A5: 2 SubjectUserName, 6 NewProcessName,
9 CommandLine, 14 ParentProcessName). Patterns use only the constructs KB 2702651 documents for
expression filters (scom_regex.py): Sigma's case-insensitive strings become character classes, `|cased`
keeps the case, `|re` (with its i, m, s flags) is translated to the same constructs or refused. `field:
null` is an empty Param on a 4688 field and always true on a field 4688 lacks. The patterns mean what the
Sigma evaluation (SQLite, evaluation.py) means: wildcards cross newlines, an end anchor is the very end of
the text (a `$` and a guard against a final newline), an empty Param is NULL there.
Alerts are suppressed per host, image and command line: a burst of the same command raises one alert with a
repeat count, a different command line on the same host its own alert. Rules ship disabled; an override
enables them for a group of the computers of rolled-out waves. Each rule carries its triage runbook as
its knowledge article.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.pipelines.windows.windows import windows_audit_pipeline
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from auditplan.emit.detections import canonicalize_field_names
from auditplan.emit.detections import scom_regex as kb
from auditplan.emit.detections.runbooks import MAML_NS, maml_sections, runbook_for
from auditplan.emit.errors import ManagementPackInvalid, ScomOptionError, cannot_write, unsafe_output
from auditplan.safe_write import UnsafePathError, write_bytes
from auditplan.text import error_line, xml_chars

# Event 4688 EventData order (reference §A5); SCOM's Params/Param[N] is 1-based.
PARAM_OF_FIELD: Final = {
    "SubjectUserSid": 1, "SubjectUserName": 2, "SubjectDomainName": 3, "SubjectLogonId": 4, "NewProcessId": 5,
    "NewProcessName": 6, "TokenElevationType": 7, "ProcessId": 8, "CommandLine": 9, "TargetUserSid": 10,
    "TargetUserName": 11, "TargetDomainName": 12, "TargetLogonId": 13, "ParentProcessName": 14, "MandatoryLabel": 15,
}
PUBLIC_KEY_TOKEN: Final = "31bf3856ad364e35"  # noqa: S105 - Microsoft's strong-name key token, not a secret
# Library versions of System Center 2012 R2 and later; any later version satisfies the reference.
REFERENCES: Final = (
    ("System", "System.Library", "7.5.8501.0"),
    ("Windows", "Microsoft.Windows.Library", "7.5.8501.0"),
    ("Health", "System.Health.Library", "7.0.8433.0"),
    ("SC", "Microsoft.SystemCenter.Library", "7.0.8433.0"),
)
EVENT_PROVIDER: Final = "Windows!Microsoft.Windows.EventProvider"
EXPRESSION_FILTER: Final = "System!System.ExpressionFilter"
GENERATE_ALERT: Final = "Health!System.Health.GenerateAlert"
COMPUTER: Final = "Windows!Microsoft.Windows.Computer"
# An expression no 4688 event satisfies, for Sigma conditions on fields 4688 lacks (a NULL field never
# matches in Sigma; a `not` around it then matches every event, in both).
NEVER: Final = ("EventDisplayNumber", "Equal", "0")
# ...and one every 4688 event satisfies, for `field: null` on such a field (a missing field IS null).
ALWAYS: Final = ("EventDisplayNumber", "NotEqual", "0")
# .NET Regex inline options for Sigma's |re|i, |re|m, |re|s (same letters, same meaning).
RE_FLAG_LETTERS: Final = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
SEVERITY: Final = {"critical": "2", "high": "2", "medium": "1", "low": "0", "informational": "0"}
PRIORITY: Final = {"critical": "2", "high": "2", "medium": "1", "low": "0", "informational": "0"}
_ID_SAFE = re.compile(r"[^A-Za-z0-9_]")
# A non-empty Param: any one character, a newline too.
NON_EMPTY: Final = kb.ANY_CHAR
# What the alert's suppression compares: a repeat of the same command on the same host raises the repeat
# count; a different image or command line raises its own alert.
SUPPRESSION_VALUES: Final = ("$Data/LoggingComputer$", "$Data/Params/Param[6]$", "$Data/Params/Param[9]$")


class ScomConversionError(ValueError):
    """A Sigma construct has no SCOM expression; the message says which."""


@dataclass(frozen=True)
class ScomRule:
    rule_id: str
    title: str
    description: str
    level: str
    expression: ET.Element
    notes: tuple[str, ...]
    runbook: str = ""  # the triage runbook (markdown), the rule's knowledge article


def mp_identifier(text: str) -> str:
    """A valid SCOM element ID: letters, digits, '_' and '.', not starting with a digit."""
    parts = [p for p in (_ID_SAFE.sub("_", part) for part in text.split(".")) if p]
    ident = ".".join(parts) or "Auditplan"
    return ident if not ident[0].isdigit() else "A" + ident


def _matches_empty(value: SigmaString) -> bool:
    """Whether the pattern of `value` matches an empty Param (only `*` wildcards and empty text)."""
    return all(part == SpecialChars.WILDCARD_MULTI or part == "" for part in value.s)


def _regex_may_match_empty(pattern: str) -> bool:
    # pySigma has compiled a |re pattern with Python's re already; the guard is cheap where unsure.
    try:
        return re.search(pattern, "") is not None
    except re.error:
        return True


def _non_empty_and(param: int, expr: ET.Element) -> ET.Element:
    # Sigma never matches a NULL (empty) field, even with a pattern that matches "".
    return _group("And", [_regex(param, "MatchesRegularExpression", NON_EMPTY), expr])


def _simple(query: str, query_type: str, operator: str, value: str, value_type: str) -> ET.Element:
    expr = ET.Element("Expression")
    simple = ET.SubElement(expr, "SimpleExpression")
    left = ET.SubElement(ET.SubElement(simple, "ValueExpression"), "XPathQuery", Type=query_type)
    left.text = query
    ET.SubElement(simple, "Operator").text = operator
    right = ET.SubElement(ET.SubElement(simple, "ValueExpression"), "Value", Type=value_type)
    right.text = value
    return expr


def _regex(param: int, operator: str, pattern: str) -> ET.Element:
    expr = ET.Element("Expression")
    rx = ET.SubElement(expr, "RegExExpression")
    query = ET.SubElement(ET.SubElement(rx, "ValueExpression"), "XPathQuery", Type="String")
    query.text = f"Params/Param[{param}]"
    ET.SubElement(rx, "Operator").text = operator
    ET.SubElement(rx, "Pattern").text = pattern
    return expr


def _anchored(param: int, pattern: str, guard: str | None) -> ET.Element:
    """`pattern` matches and `guard` (`\\n$`: the Param ends in a newline), when given, does not: `$` alone
    would also accept a Param that ends in a newline, which Sigma's end anchor does not."""
    expr = _regex(param, "MatchesRegularExpression", pattern)
    if guard is None:
        return expr
    return _group("And", [expr, _regex(param, "DoesNotMatchRegularExpression", guard)])


def _never() -> ET.Element:
    query, operator, value = NEVER
    return _simple(query, "UnsignedInteger", operator, value, "UnsignedInteger")


def _always() -> ET.Element:
    query, operator, value = ALWAYS
    return _simple(query, "UnsignedInteger", operator, value, "UnsignedInteger")


def _group(kind: str, children: Sequence[ET.Element]) -> ET.Element:
    if len(children) == 1:
        return children[0]
    expr = ET.Element("Expression")
    group = ET.SubElement(expr, kind)
    group.extend(children)
    return expr


def _convert(node: object, notes: list[str]) -> ET.Element:
    if isinstance(node, ConditionAND | ConditionOR):
        kind = "And" if isinstance(node, ConditionAND) else "Or"
        return _group(kind, [_convert(arg, notes) for arg in node.args])
    if isinstance(node, ConditionNOT):
        expr = ET.Element("Expression")
        ET.SubElement(expr, "Not").append(_convert(node.args[0], notes))
        return expr
    if isinstance(node, ConditionFieldEqualsValueExpression):
        name, value = node.field, node.value
        if name == "EventID":
            if not isinstance(value, SigmaNumber):
                raise ScomConversionError(f"EventID compared with {value!r}")
            return _simple("EventDisplayNumber", "UnsignedInteger", "Equal", str(value.number), "UnsignedInteger")
        if isinstance(value, SigmaNull):
            if name not in PARAM_OF_FIELD:
                notes.append(f"field {name} is not in event 4688: `{name}: null` matches every event "
                             "(as in Sigma, where it is NULL)")
                return _always()
            # An empty Param is what SCOM sees for a field the event left empty (a NULL column in Sigma).
            return _anchored(PARAM_OF_FIELD[name], "^$", "\\n$")
        if name not in PARAM_OF_FIELD:
            notes.append(f"field {name} is not in event 4688: its conditions never match "
                         "(as in Sigma, where it is NULL)")
            return _never()
        param = PARAM_OF_FIELD[name]
        if isinstance(value, SigmaExpansion):
            return _group("Or", [_convert(ConditionFieldEqualsValueExpression(name, v), notes) for v in value.values])
        if isinstance(value, SigmaRegularExpression):
            pattern = value.regexp.original if hasattr(value.regexp, "original") else str(value.regexp)
            flags = "".join(sorted(RE_FLAG_LETTERS[f] for f in value.flags))
            full = (f"(?{flags})" if flags else "") + pattern
            try:
                translated = kb.translate(full, notes)
            except kb.RegexUnsupported as exc:
                raise ScomConversionError(f"|re pattern of {name}: {exc} has no KB 2702651 equivalent") from None
            expr = _regex(param, "MatchesRegularExpression", translated)
            return _non_empty_and(param, expr) if _regex_may_match_empty(full) else expr
        if isinstance(value, SigmaString):
            # |cased keeps Sigma's case-sensitive match; every other string match ignores case.
            cased = isinstance(value, SigmaCasedString)
            pattern, guard = kb.string_pattern(value, cased=cased, notes=notes)
            expr = _anchored(param, pattern, guard)
            return _non_empty_and(param, expr) if _matches_empty(value) else expr
        if isinstance(value, SigmaNumber):
            digits = "".join(kb.literal(c, fold=False, notes=notes) for c in str(value.number))
            return _anchored(param, f"^{digits}$", "\\n$")
        raise ScomConversionError(f"{type(value).__name__} values (field {name}) have no SCOM equivalent")
    if isinstance(node, ConditionValueExpression):
        raise ScomConversionError("keyword (field-less) searches have no SCOM Params equivalent")
    raise ScomConversionError(f"{type(node).__name__} has no SCOM equivalent")


def convert_rule(rule_file: Path) -> list[ScomRule]:
    """Sigma rule file -> SCOM rules (one per rule in the file); raises ScomConversionError."""
    from sigma.collection import SigmaCollection

    out: list[ScomRule] = []
    runbook = runbook_for(rule_file)
    for rule in SigmaCollection.from_yaml(rule_file.read_text(encoding="utf-8")).rules:
        if not isinstance(rule, SigmaRule):
            continue
        canonicalize_field_names(rule)  # before the pipeline, whose field mapping is case-sensitive
        windows_audit_pipeline().apply(rule)
        notes: list[str] = []
        trees = [c.parse() for c in rule.detection.parsed_condition]
        expression = _group("Or", [_convert(t, notes) for t in trees])
        out.append(
            ScomRule(
                rule_id=str(rule.id or rule_file.stem), title=rule.title,
                description=(rule.description or "").strip(), level=str(rule.level or "medium").lower(),
                expression=expression, notes=tuple(dict.fromkeys(notes)), runbook=runbook,
            )
        )
    return out


def _text(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    # No xml_chars here: build_management_pack passes every element through it once, at the end.
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def build_management_pack(
    rules: Sequence[ScomRule], *, mp_id: str, mp_version: str, enabled_hosts: Sequence[str], display_name: str
) -> bytes:
    """The management pack XML. Same inputs give byte-identical output."""
    mp_id = mp_identifier(mp_id)
    if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", mp_version):
        raise ScomOptionError(f"--mp-version {mp_version!r}: SCOM versions are four numbers, e.g. 1.0.0.0")
    root = ET.Element("ManagementPack", ContentReadable="true", SchemaVersion="2.0", OriginalSchemaVersion="1.1")
    root.set("xmlns:xsd", "http://www.w3.org/2001/XMLSchema")
    manifest = _text(root, "Manifest")
    identity = _text(manifest, "Identity")
    _text(identity, "ID", mp_id)
    _text(identity, "Version", mp_version)
    _text(manifest, "Name", display_name)
    references = _text(manifest, "References")
    for alias, ref_id, version in REFERENCES:
        ref = _text(references, "Reference", Alias=alias)
        _text(ref, "ID", ref_id)
        _text(ref, "Version", version)
        _text(ref, "PublicKeyToken", PUBLIC_KEY_TOKEN)

    group_id = f"{mp_id}.EnabledWaves.Group"
    discovery_id = f"{mp_id}.EnabledWaves.Group.Discovery"
    type_definitions = _text(root, "TypeDefinitions")
    entity_types = _text(type_definitions, "EntityTypes")
    class_types = _text(entity_types, "ClassTypes")
    _text(class_types, "ClassType", ID=group_id, Accessibility="Public", Abstract="false",
          Base="SC!Microsoft.SystemCenter.ComputerGroup", Hosted="false", Singleton="true", Extension="false")

    monitoring = _text(root, "Monitoring")
    discoveries = _text(monitoring, "Discoveries")
    discovery = _text(discoveries, "Discovery", ID=discovery_id, Enabled="true", Target=group_id,
                      ConfirmDelivery="false", Remotable="true", Priority="Normal")
    _text(discovery, "Category", "Discovery")
    discovery_types = _text(discovery, "DiscoveryTypes")
    _text(discovery_types, "DiscoveryRelationship", TypeID="SC!Microsoft.SystemCenter.ComputerGroupContainsComputer")
    populator = _text(discovery, "DataSource", ID="GroupPopulator", TypeID="SC!Microsoft.SystemCenter.GroupPopulator")
    _text(populator, "RuleId", "$MPElement$")
    _text(populator, "GroupInstanceId", f'$MPElement[Name="{group_id}"]$')
    membership = _text(_text(populator, "MembershipRules"), "MembershipRule")
    _text(membership, "MonitoringClass", f'$MPElement[Name="{COMPUTER}"]$')
    contains = "SC!Microsoft.SystemCenter.ComputerGroupContainsComputer"
    _text(membership, "RelationshipClass", f'$MPElement[Name="{contains}"]$')
    host_exprs: list[ET.Element] = []
    for host in sorted(set(enabled_hosts), key=str.lower):
        short = host.split(".")[0]
        expr = ET.Element("Expression")
        rx = _text(expr, "RegExExpression")
        _text(_text(rx, "ValueExpression"), "Property", f'$MPElement[Name="{COMPUTER}"]/NetworkName$')
        _text(rx, "Operator", "MatchesRegularExpression")
        # The plan may hold short names or FQDNs; NetworkName is the FQDN. Case as classes (KB 2702651).
        name_pattern = "".join(kb.literal(c, fold=True, notes=[]) for c in short)
        _text(rx, "Pattern", f"^{name_pattern}([.].*)?$")
        host_exprs.append(expr)
    if not host_exprs:
        host_exprs.append(_simple(f'$MPElement[Name="{COMPUTER}"]/NetworkName$', "String", "Equal",
                                  "auditplan-no-wave-rolled-out", "String"))
    membership_expr = _group("Or", host_exprs)
    # Membership expressions use Property, not XPathQuery.
    for query in membership_expr.iter("XPathQuery"):
        query.tag = "Property"
        query.attrib.clear()
    membership.append(membership_expr)

    rules_el = _text(monitoring, "Rules")
    overrides = _text(monitoring, "Overrides")
    strings: list[tuple[str, str, str]] = [(mp_id, display_name, "Alert rules for the targeted detections on "
                                            "Security event 4688, generated by auditplan from its Sigma rules.")]
    strings.append((group_id, f"{display_name} - computers of rolled-out waves",
                    "Computers where Process Creation auditing with command line is on; the rules are enabled here."))
    strings.append((discovery_id, f"{display_name} - group membership", "Populates the rolled-out-waves group."))
    string_resources: list[str] = []
    articles: list[tuple[str, str]] = []
    for rule in sorted(rules, key=lambda r: r.rule_id):
        element_id = f"{mp_id}.Rule.{mp_identifier(rule.rule_id.replace('-', ''))}"
        message_id = f"{element_id}.AlertMessage"
        el = _text(rules_el, "Rule", ID=element_id, Enabled="false", Target=COMPUTER, ConfirmDelivery="true",
                   Remotable="true", Priority="Normal", DiscardLevel="100")
        _text(el, "Category", "Alert")
        # The same data source configuration in every rule, so SCOM runs it once (cook-down); each rule's
        # own test is its condition detection.
        data_source = _text(_text(el, "DataSources"), "DataSource", ID="DS", TypeID=EVENT_PROVIDER)
        _text(data_source, "ComputerName", f'$Target/Property[Type="{COMPUTER}"]/NetworkName$')
        _text(data_source, "LogName", "Security")
        data_source.append(_simple("EventDisplayNumber", "UnsignedInteger", "Equal", "4688", "UnsignedInteger"))
        _text(el, "ConditionDetection", ID="Filter", TypeID=EXPRESSION_FILTER).append(rule.expression)
        alert = _text(_text(el, "WriteActions"), "WriteAction", ID="Alert", TypeID=GENERATE_ALERT)
        _text(alert, "Priority", PRIORITY.get(rule.level, "1"))
        _text(alert, "Severity", SEVERITY.get(rule.level, "1"))
        _text(alert, "AlertMessageId", f'$MPElement[Name="{message_id}"]$')
        params = _text(alert, "AlertParameters")
        for i, data in enumerate(("$Data/LoggingComputer$", "$Data/Params/Param[2]$", "$Data/Params/Param[6]$",
                                  "$Data/Params/Param[9]$", "$Data/Params/Param[14]$"), start=1):
            _text(params, f"AlertParameter{i}", data)
        suppression = _text(alert, "Suppression")
        for value in SUPPRESSION_VALUES:
            _text(suppression, "SuppressionValue", value)
        override = _text(overrides, "RulePropertyOverride", ID=f"{element_id}.EnableForWaves", Context=group_id,
                         Enforced="false", Rule=element_id, Property="Enabled")
        _text(override, "Value", "true")
        description = rule.description
        if rule.notes:
            description += "\n\nSCOM translation notes: " + " ".join(rule.notes)
        strings.append((element_id, rule.title, description))
        strings.append((message_id, rule.title, "Host: {0}\nUser: {1}\nProcess: {2}\nCommand line: {3}\n"
                        "Parent process: {4}"))
        strings.append((f"{element_id}.EnableForWaves", f"Enable {rule.title} on rolled-out waves", ""))
        string_resources.append(message_id)
        if rule.runbook:
            articles.append((element_id, rule.runbook))

    presentation = _text(root, "Presentation")
    resources = _text(presentation, "StringResources")
    for message_id in string_resources:
        _text(resources, "StringResource", ID=message_id)
    language = _text(_text(root, "LanguagePacks"), "LanguagePack", ID="ENU", IsDefault="true")
    display = _text(language, "DisplayStrings")
    for element_id, name, desc in strings:
        ds = _text(display, "DisplayString", ElementID=element_id)
        _text(ds, "Name", name)
        _text(ds, "Description", desc)
    if articles:
        # Each rule's triage runbook (runbooks.py) as its knowledge article, in MAML.
        knowledge = _text(language, "KnowledgeArticles")
        for element_id, runbook in articles:
            article = _text(knowledge, "KnowledgeArticle", ElementID=element_id, Visible="true")
            _text(article, "MamlContent").extend(maml_sections(runbook))
    for element in root.iter():  # the one place forbidden characters are replaced, for every element
        if element.text:
            element.text = xml_chars(element.text)
        for key, value in element.attrib.items():
            element.set(key, xml_chars(value))
    ET.register_namespace("maml", MAML_NS)
    ET.indent(root, space="  ")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body + b"\n"


def write_management_pack(rule_files: Sequence[Path], out: Path, *, mp_id: str, mp_version: str,
                          enabled_hosts: Sequence[str]) -> list[str]:
    """Write the MP; return one line per rule that could not be expressed, or needed a note.
    OutputError naming `out` when it cannot be written."""
    rules: list[ScomRule] = []
    messages: list[str] = []
    for file in rule_files:
        try:
            converted = convert_rule(file)
        except ScomConversionError as exc:
            messages.append(f"{file.name}: not exported: {exc}")
            continue
        except (SigmaError, yaml.YAMLError, OSError, UnicodeDecodeError, ValueError) as exc:
            first_line = error_line(exc)
            messages.append(f"{file.name}: not exported: not a usable Sigma rule: {first_line}")
            continue
        for rule in converted:
            messages += [f"{file.name}: {note}" for note in rule.notes]
        rules += converted
    data = build_management_pack(rules, mp_id=mp_id, mp_version=mp_version, enabled_hosts=enabled_hosts,
                                 display_name="auditplan Process Creation Detections")
    try:
        ET.fromstring(data)  # noqa: S314 - our own output, parsed before writing to prove it is well-formed
    except ET.ParseError as exc:
        raise ManagementPackInvalid(f"{out}: the generated management pack is not well-formed XML ({exc}); "
                                    "nothing was written") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(out, data)  # beside, then renamed over: never through a planted link
    except UnsafePathError as exc:
        raise unsafe_output(out, exc) from None
    except OSError as exc:
        raise cannot_write(out, exc) from None
    return messages
