"""SCOM management pack: structure, stable IDs, and equivalence with the Sigma evaluation.

The evaluator of SCOM expression trees below is written here, independently of the Sigma path:
it reads the emitted XML and applies SCOM's operators to an event's Params.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from detection_cases import CASES
from evtx import PyEvtxParser
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from auditplan.cli import main
from auditplan.emit.detections import builtin_rules_dir, evaluate, load_rules
from auditplan.emit.detections.scom import write_management_pack
from auditplan.records import plan_id_of

# Event 4688's EventData order from gpo-backup-format.md §A5 (typed here from the reference).
EVENTDATA_ORDER = ["SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "NewProcessId",
                   "NewProcessName", "TokenElevationType", "ProcessId", "CommandLine", "TargetUserSid",
                   "TargetUserName", "TargetDomainName", "TargetLogonId", "ParentProcessName", "MandatoryLabel"]


def _evaluate_expression(expr: ET.Element, event: dict[str, object]) -> bool:
    (node,) = list(expr)
    if node.tag == "And":
        return all(_evaluate_expression(e, event) for e in node)
    if node.tag == "Or":
        return any(_evaluate_expression(e, event) for e in node)
    if node.tag == "Not":
        return not _evaluate_expression(node[0], event)
    left_query = node.find("ValueExpression/XPathQuery")
    assert left_query is not None and left_query.text
    value = _xpath(left_query.text, event)
    operator = node.findtext("Operator")
    if node.tag == "SimpleExpression":
        right = node.findall("ValueExpression")[1].findtext("Value")
        if left_query.get("Type") == "UnsignedInteger":
            a, b = int(str(value or 0)), int(str(right))
        else:
            a, b = str(value or ""), str(right)  # type: ignore[assignment]
        return {"Equal": a == b, "NotEqual": a != b}[str(operator)]
    if node.tag == "RegExExpression":
        raw = node.findtext("Pattern") or ""
        pattern = _python_pattern(raw)
        text = str(value or "")
        if operator == "MatchesRegularExpression":  # .NET Regex.IsMatch: a match anywhere
            return re.search(pattern, text) is not None
        if operator == "DoesNotMatchRegularExpression":
            return re.search(pattern, text) is None
        if operator == "ContainsSubstring":
            return raw in text
        if operator == "DoesNotContainSubstring":
            return raw not in text
    raise AssertionError(f"unexpected SCOM expression {node.tag}/{operator}")


def _python_pattern(dotnet: str) -> str:
    """A .NET pattern in Python's syntax: .NET's `\\z` (very end of the text) is Python's `\\Z`.

    Escapes are read pairwise, so an escaped backslash followed by a `z` stays a literal `\\` and `z`.
    The rest of what the export emits (inline (?ism), classes, \\uXXXX, escapes) reads the same in both.
    """
    return re.sub(r"\\(.)", lambda m: r"\Z" if m.group(1) == "z" else m.group(0), dotnet, flags=re.S)


def _xpath(query: str, event: dict[str, object]) -> object:
    if query == "EventDisplayNumber":
        return event["EventDisplayNumber"]
    m = re.fullmatch(r"Params/Param\[(\d+)\]", query)
    assert m, query
    params = event["Params"]
    assert isinstance(params, list)
    index = int(m.group(1)) - 1
    return params[index] if index < len(params) else ""


@pytest.fixture(scope="module")
def mp(tmp_path_factory: pytest.TempPathFactory) -> ET.Element:
    out = tmp_path_factory.mktemp("mp") / "mp.xml"
    messages = write_management_pack(sorted(builtin_rules_dir().glob("*.yml")), out, mp_id="Test.MP",
                                     mp_version="1.2.3.4", enabled_hosts=["dc01.corp.example", "web01"])
    assert messages == []  # the five families translate without loss
    return ET.parse(out).getroot()


def _rule_fires(rule: ET.Element, event: dict[str, object]) -> bool:
    """SCOM's pipeline for one rule: the data source's expression passes the event on, then the
    System.ExpressionFilter condition detection (issue 18's cook-down form) decides."""
    source = rule.find("DataSources/DataSource/Expression")
    assert source is not None
    if not _evaluate_expression(source, event):
        return False
    condition = rule.find("ConditionDetection")
    if condition is None:
        return True
    assert condition.get("TypeID") == "System!System.ExpressionFilter"
    expr = condition.find("Expression")
    assert expr is not None
    return _evaluate_expression(expr, event)


def _sigma_match(event_fields: dict[str, str | None]) -> dict[int, bool]:
    rules, _ = load_rules([builtin_rules_dir()])
    frame = pd.DataFrame([{"host": "h", "event_id": 4688, "new_process_name": event_fields.get("NewProcessName"),
                           "parent_process_name": event_fields.get("ParentProcessName"),
                           "subject_user_name": event_fields.get("SubjectUserName"),
                           "command_line": event_fields.get("CommandLine")}])
    return {int(r.family or 0): r.hits > 0 for r in evaluate(rules, frame, {}).results}


def _scom_match(mp: ET.Element, event_fields: dict[str, str | None]) -> dict[int, bool]:
    params = [event_fields.get(name) or "" for name in EVENTDATA_ORDER]
    event = {"EventDisplayNumber": 4688, "Params": params}
    families = {}
    for rule in mp.iter("Rule"):
        element_id = rule.get("ID", "")
        family = int(element_id.rsplit(".", 1)[-1][-1])  # ...7e0f0b4a100N: the built-in ids end in the family
        families[family] = _rule_fires(rule, event)
    return families


@pytest.mark.parametrize(("family", "image", "parent", "cmdline", "fires"), CASES)
def test_scom_rules_mean_what_the_sigma_rules_mean(mp: ET.Element, family: int, image: str, parent: str | None,
                                                  cmdline: str | None, fires: bool) -> None:
    fields = {"NewProcessName": image, "ParentProcessName": parent, "CommandLine": cmdline, "SubjectUserName": "alice"}
    sigma = _sigma_match(fields)
    scom = _scom_match(mp, fields)
    assert scom == sigma
    assert scom[family] is fires


def test_scom_equals_sigma_on_every_dev_set_4688(mp: ET.Element, evtx_dev_dir: Path) -> None:
    compared = 0
    for path in sorted(evtx_dev_dir.glob("*.evtx")):
        for record in PyEvtxParser(str(path)).records_json():
            assert record is not None  # evtx's stub types __next__ as Optional; it never yields None
            event = json.loads(record["data"])["Event"]
            eid = event["System"]["EventID"]
            eid = eid["#text"] if isinstance(eid, dict) else eid
            if int(eid) != 4688:
                continue
            data = event.get("EventData") or {}
            fields = {k: (str(v) if v is not None else None) for k, v in data.items()}
            assert _scom_match(mp, fields) == _sigma_match(fields), (path.name, fields.get("CommandLine"))
            compared += 1
    assert compared == 169


def test_structure_ids_and_display_strings(mp: ET.Element, tmp_path: Path) -> None:
    assert mp.get("SchemaVersion") == "2.0"
    refs = {r.get("Alias"): r.findtext("ID") for r in mp.iter("Reference")}
    assert refs == {"System": "System.Library", "Windows": "Microsoft.Windows.Library",
                    "Health": "System.Health.Library", "SC": "Microsoft.SystemCenter.Library"}
    assert {r.findtext("PublicKeyToken") for r in mp.iter("Reference")} == {"31bf3856ad364e35"}
    defined = {e.get("ID") for e in mp.iter() if e.get("ID") and e.tag not in ("LanguagePack",)}
    text = ET.tostring(mp, encoding="unicode")
    # Every $MPElement[Name="X"]$ resolves: to an element of this MP, or through a declared alias.
    for name in re.findall(r'\$MPElement\[Name="([^"]+)"\]', text):
        if "!" in name:
            assert name.split("!")[0] in refs, name
        else:
            assert name in defined, name
    for attr in ("Target", "TypeID", "Base", "Context", "Rule"):
        for e in mp.iter():
            value = e.get(attr)
            if value and "!" in value:
                assert value.split("!")[0] in refs
            elif value and attr in ("Target", "Context", "Rule"):
                assert value in defined, (attr, value)
    display_ids = {d.get("ElementID") for d in mp.iter("DisplayString")}
    rules = list(mp.iter("Rule"))
    assert len(rules) == 5
    for rule in rules:
        assert rule.get("Enabled") == "false" and rule.get("ID") in display_ids
        source = rule.find("DataSources/DataSource")
        assert source is not None
        assert source.get("TypeID") == "Windows!Microsoft.Windows.EventProvider"
        assert rule.findtext("DataSources/DataSource/LogName") == "Security"
        # issue 18: suppressed per host, image and command line, so another command raises its own alert
        assert [v.text for v in rule.iterfind("WriteActions/WriteAction/Suppression/SuppressionValue")] == [
            "$Data/LoggingComputer$", "$Data/Params/Param[6]$", "$Data/Params/Param[9]$"]
        assert rule.find("ConditionDetection").get("TypeID") == "System!System.ExpressionFilter"  # type: ignore[union-attr]
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", rule.get("ID", ""))
    overrides = list(mp.iter("RulePropertyOverride"))
    # .get(..., ""): every rule ID was matched against a non-empty pattern above, so "" cannot pair up
    assert sorted(o.get("Rule", "") for o in overrides) == sorted(r.get("ID", "") for r in rules)
    assert all(o.get("Property") == "Enabled" and o.findtext("Value") == "true" for o in overrides)
    patterns = [p.text for p in mp.iter("Pattern") if p.text and "([.].*)?$" in p.text]
    assert patterns == ["^[dD][cC]01([.].*)?$", "^[wW][eE][bB]01([.].*)?$"]
    # cook-down: every rule's data source is configured identically (Security, EventDisplayNumber 4688 only)
    sources = {ET.tostring(r.find("DataSources/DataSource")) for r in rules}  # type: ignore[arg-type]
    assert len(sources) == 1
    (source_xml,) = sources
    assert b"<Value Type=\"UnsignedInteger\">4688</Value>" in source_xml and b"Params/" not in source_xml


def test_byte_identical_and_hostile_hosts_escaped(tmp_path: Path) -> None:
    files = sorted(builtin_rules_dir().glob("*.yml"))
    a, b = tmp_path / "a.xml", tmp_path / "b.xml"
    hosts = ["web<&>01\"'", "x]]>y"]
    write_management_pack(files, a, mp_id="T", mp_version="1.0.0.0", enabled_hosts=hosts)
    write_management_pack(files, b, mp_id="T", mp_version="1.0.0.0", enabled_hosts=hosts)
    assert a.read_bytes() == b.read_bytes()
    root = ET.parse(a).getroot()
    patterns = [p.text or "" for p in root.iter("Pattern") if "([.].*)?$" in (p.text or "")]
    assert any(re.fullmatch(p, "web<&>01\"'.corp") for p in patterns)
    assert any(re.fullmatch(p, "X]]>Y") for p in patterns)  # ']' written as a class escape, case as classes


def test_untranslatable_fields_are_reported(tmp_path: Path) -> None:
    rule = tmp_path / "renamed.yml"
    rule.write_text("title: Renamed FTP\nid: 277a4393-446c-449a-b0ed-7fdc7795244c\n"
                    "logsource: {category: process_creation, product: windows}\n"
                    "detection:\n  sel: {OriginalFileName: ftp.exe}\n  condition: sel\n", encoding="utf-8")
    messages = write_management_pack([rule], tmp_path / "mp.xml", mp_id="T", mp_version="1.0.0.0", enabled_hosts=[])
    assert any("OriginalFileName" in m and "never match" in m for m in messages)
    root = ET.parse(tmp_path / "mp.xml").getroot()
    description = [d.findtext("Description") or "" for d in root.iter("DisplayString")
                   if d.findtext("Name") == "Renamed FTP"]
    assert any("OriginalFileName" in d for d in description)


def test_cli_scom_export(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    doc = {"schema_version": 1, "waves": [
        {"wave": 0, "name": "pilot", "hosts": [{"host": "dc01"}]},
        {"wave": 1, "name": "w1", "hosts": [{"host": "web01"}]}], "unplaced": []}
    plan.write_text(json.dumps({**doc, "plan_id": plan_id_of(doc)}), encoding="utf-8")
    out = tmp_path / "mp.xml"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--plan", str(plan),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 host(s)" in result.output
    patterns = [p.text for p in ET.parse(out).getroot().iter("Pattern") if "([.].*)?$" in (p.text or "")]
    assert patterns == ["^[dD][cC]01([.].*)?$"]  # only the pilot is rolled out by default
    bad = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--mp-version", "1.0",
                                    "--out", str(out)])
    assert bad.exit_code == 2 and "four numbers" in bad.output


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("title: cidr\nlogsource: {category: process_creation, product: windows}\n"
         "detection:\n  sel: {CommandLine|cidr: 10.0.0.0/8}\n  condition: sel\n", "SigmaCIDRExpression"),
        ("title: kw\nlogsource: {category: process_creation, product: windows}\n"
         "detection:\n  keywords: [mimikatz]\n  condition: keywords\n", "keyword"),
        ("title: ex\nlogsource: {category: process_creation, product: windows}\n"
         "detection:\n  sel: {CommandLine|exists: true}\n  condition: sel\n", "SigmaExists"),
        ("title: null\nlogsource: {category: process_creation, product: windows}\n"
         "detection:\n  sel: {CommandLine: x}\n  condition: sel\n", "not a usable Sigma rule"),
        ("title: [broken\n", "not a usable Sigma rule"),
    ],
)
def test_constructs_without_a_scom_equivalent_are_reported_not_guessed(tmp_path: Path, body: str, message: str) -> None:
    rule = tmp_path / "user.yml"
    rule.write_text(body, encoding="utf-8")
    good = sorted(builtin_rules_dir().glob("*.yml"))[:1]
    messages = write_management_pack([*good, rule], tmp_path / "mp.xml", mp_id="T", mp_version="1.0.0.0",
                                      enabled_hosts=[])
    assert any("user.yml: not exported" in m and message in m for m in messages), messages
    assert len(list(ET.parse(tmp_path / "mp.xml").getroot().iter("Rule"))) == 1  # the good rule is still there


_HEAD = "logsource: {category: process_creation, product: windows}\nlevel: medium\ndetection:\n"


def _both_paths(tmp_path: Path, detection: str, events: list[dict[str, str | None]]) -> list[tuple[bool, bool]]:
    """(Sigma says it fires, the SCOM expression says it fires) for each event, for one hand-written rule."""
    rule = tmp_path / "user.yml"
    rule.write_text(f"title: user rule\nid: 0f0e0d0c-0b0a-4009-8807-060504030201\n{_HEAD}{detection}", encoding="utf-8")
    loaded, problems = load_rules([rule])
    assert problems == [] and len(loaded) == 1
    write_management_pack([rule], tmp_path / "mp.xml", mp_id="T", mp_version="1.0.0.0", enabled_hosts=[])
    (scom_rule,) = ET.parse(tmp_path / "mp.xml").getroot().iter("Rule")
    out = []
    for fields in events:
        frame = pd.DataFrame([{"host": "h", "event_id": 4688, "new_process_name": fields.get("NewProcessName"),
                               "parent_process_name": fields.get("ParentProcessName"),
                               "subject_user_name": fields.get("SubjectUserName"),
                               "command_line": fields.get("CommandLine")}])
        sigma = evaluate(loaded, frame, {}).results[0].hits > 0
        params = [fields.get(name) or "" for name in EVENTDATA_ORDER]
        out.append((sigma, _rule_fires(scom_rule, {"EventDisplayNumber": 4688, "Params": params})))
    return out


X_EXE = {"NewProcessName": r"C:\x\x.exe", "CommandLine": "x.exe run"}
Y_EXE = {"NewProcessName": r"C:\y\y.exe", "CommandLine": "y.exe run"}


@pytest.mark.parametrize(
    ("detection", "events", "expected"),
    [
        # SigmaHQ d4ca7c59 / d2b7a134 style: a filter on a Sysmon-only field that is null. On 4688 the
        # field is always missing, i.e. null, so the filter always applies and the rule never fires.
        ("  sel: {Image|endswith: '\\x.exe'}\n  filter: {CurrentDirectory: null}\n  condition: sel and not filter\n",
         [X_EXE, Y_EXE], [False, False]),
        ("  sel: {Image|endswith: '\\x.exe'}\n  filter: {CurrentDirectory: null}\n  condition: sel and filter\n",
         [X_EXE, Y_EXE], [True, False]),
        # null on a field 4688 has: an empty command line (NULL in the store) is null.
        ("  sel: {Image|endswith: '\\x.exe', CommandLine: null}\n  condition: sel\n",
         [{"NewProcessName": r"C:\x\x.exe", "CommandLine": None}, X_EXE], [True, False]),
        # |cased stays case-sensitive.
        ("  sel: {CommandLine|contains|cased: 'Invoke-Mimikatz'}\n  condition: sel\n",
         [{"CommandLine": "powershell invoke-mimikatz"}, {"CommandLine": "powershell Invoke-Mimikatz -x"}],
         [False, True]),
        ("  sel: {CommandLine|cased: 'RUN'}\n  condition: sel\n",
         [{"CommandLine": "run"}, {"CommandLine": "RUN"}], [False, True]),
        # |re|s: '.' also matches a newline; |re|m: '^' matches after one; |re|i ignores case.
        ("  sel: {CommandLine|re|s: 'alpha.beta'}\n  condition: sel\n",
         [{"CommandLine": "alpha\nbeta"}, {"CommandLine": "alphabeta"}], [True, False]),
        ("  sel: {CommandLine|re|m: '^beta$'}\n  condition: sel\n",
         [{"CommandLine": "alpha\nbeta\ngamma"}, {"CommandLine": "alpha beta"}], [True, False]),
        ("  sel: {CommandLine|re|i: 'BETA'}\n  condition: sel\n",
         [{"CommandLine": "alpha beta"}, {"CommandLine": "alpha"}], [True, False]),
        ("  sel: {CommandLine|re: 'BETA'}\n  condition: sel\n",
         [{"CommandLine": "alpha beta"}, {"CommandLine": "alpha BETA"}], [False, True]),

        # Sigma's `*` and `?` match any character, a newline too (SQLite's LIKE % and _ do); SCOM's `.` needs (?s).
        ("  sel: {CommandLine: 'alpha*beta'}\n  condition: sel\n",
         [{"CommandLine": "alpha\nbeta"}, {"CommandLine": "alpha beta"}, {"CommandLine": "beta alpha"}],
         [True, True, False]),
        ("  sel: {CommandLine: 'a?b'}\n  condition: sel\n",
         [{"CommandLine": "a\nb"}, {"CommandLine": "ab"}], [True, False]),
        ("  sel: {CommandLine|contains: 'iex*download'}\n  condition: sel\n",
         [{"CommandLine": "iex (\n(New-Object Net.WebClient).DownloadString('x'))"}], [True]),
        # Sigma's match ends at the end of the value: a final newline is a character like any other
        # (.NET's `$` would match before it, `\z` does not).
        ("  sel: {CommandLine|endswith: '.ps1'}\n  condition: sel\n",
         [{"CommandLine": "run a.ps1\n"}, {"CommandLine": "run a.ps1"}], [False, True]),
        ("  sel: {CommandLine: 'whoami'}\n  condition: sel\n",
         [{"CommandLine": "whoami\n"}, {"CommandLine": "whoami"}, {"CommandLine": "WHOAMI"}], [False, True, True]),
        ("  sel: {CommandLine: null}\n  condition: sel\n",
         [{"CommandLine": "\n"}, {"CommandLine": None}, {"CommandLine": ""}], [False, True, True]),
        # An empty CommandLine is NULL (command-line auditing off): no string match fires on it, not even ''.
        ("  sel: {CommandLine: ''}\n  condition: sel\n",
         [{"CommandLine": None}, {"CommandLine": ""}, {"CommandLine": "x"}], [False, False, False]),
        ("  sel: {CommandLine|contains: ''}\n  condition: sel\n",
         [{"CommandLine": None}, {"CommandLine": ""}, {"CommandLine": "x"}], [False, False, True]),
        ("  sel: {CommandLine: '*'}\n  condition: sel\n",
         [{"CommandLine": ""}, {"CommandLine": "\n"}], [False, True]),
        ("  sel: {CommandLine|re: 'x*'}\n  condition: sel\n",
         [{"CommandLine": ""}, {"CommandLine": "y"}], [False, True]),
        ("  sel: {Image|endswith: '\\x.exe'}\n  filter: {CommandLine: ''}\n  condition: sel and not filter\n",
         [{"NewProcessName": r"C:\x\x.exe", "CommandLine": ""}], [True]),
        # Sigma matches strings case-insensitively, non-ASCII letters included (.NET's (?i) is Unicode).
        ("  sel: {CommandLine|contains: 'ÉTÉ'}\n  condition: sel\n",
         [{"CommandLine": "un été chaud"}, {"CommandLine": "ETE"}], [True, False]),
        ("  sel: {Image|endswith: '\\Ärger.exe'}\n  condition: sel\n",
         [{"NewProcessName": r"C:\x\ärger.exe"}, {"NewProcessName": r"C:\x\ÄRGER.EXE"},
          {"NewProcessName": r"C:\x\arger.exe"}], [True, True, False]),
        ("  sel: {CommandLine: 'Öl*über'}\n  condition: sel\n",
         [{"CommandLine": "öl\nÜBER"}, {"CommandLine": "öl uber"}], [True, False]),
        ("  sel: {CommandLine|contains|cased: 'ÉTÉ'}\n  condition: sel\n",
         [{"CommandLine": "un été"}, {"CommandLine": "un ÉTÉ"}], [False, True]),
        # Field names in another case mean the 4688 field (the windows-audit mapping included).
        ("  sel: {commandline|contains: mimikatz}\n  condition: sel\n",
         [{"CommandLine": "x MimiKatz"}, {"CommandLine": "x"}], [True, False]),
        ("  sel: {image|endswith: '\\x.exe', COMMANDLINE|contains: run}\n  other: {CommandLine|contains: x}\n"
         "  condition: sel and other\n", [X_EXE, Y_EXE], [True, False]),
    ],
    ids=["null-filter-missing-field", "null-selection-missing-field", "null-4688-field", "cased-contains",
         "cased-equals", "re-s", "re-m", "re-i", "re-case-sensitive", "star-newline", "question-newline",
         "contains-star-newline", "endswith-final-newline", "equals-final-newline", "null-final-newline",
         "equals-empty", "contains-empty", "star-alone", "re-matching-empty", "filter-equals-empty",
         "unicode-contains", "unicode-endswith", "unicode-wildcard", "unicode-cased", "lower-case-field",
         "mixed-case-fields"],
)
def test_user_rule_constructs_mean_the_same_in_scom_and_sigma(
    tmp_path: Path, detection: str, events: list[dict[str, str | None]], expected: list[bool]
) -> None:
    got = _both_paths(tmp_path, detection, events)
    assert [sigma for sigma, _ in got] == expected  # expected written by hand from the Sigma spec
    assert [scom for _, scom in got] == expected


# Letters with and without case (ASCII and not), the two wildcards and a newline: the characters where the
# SQLite and .NET readings of a Sigma string could part.
_RULE_TEXT = st.text(alphabet="aAéÉ*?\n ", max_size=4)
_EVENT_TEXT = st.one_of(st.none(), st.text(alphabet="aAéÉeE\n ", max_size=5))


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(modifier=st.sampled_from(["", "|contains", "|startswith", "|endswith", "|contains|cased", "|cased"]),
       value=_RULE_TEXT, negate=st.booleans(), command_lines=st.lists(_EVENT_TEXT, min_size=1, max_size=4))
def test_scom_and_sigma_agree_on_any_string_match(tmp_path: Path, modifier: str, value: str, negate: bool,
                                                  command_lines: list[str | None]) -> None:
    # KB 2702651 has no \z: an end-anchored value ending in '?' or a newline keeps $ alone, which also
    # accepts a final newline (test_end_anchor_before_a_final_newline_is_the_one_difference).
    end_anchored = modifier in ("", "|endswith", "|cased")
    assume(not (end_anchored and value.endswith(("?", "\n")) and not value.endswith("*")))
    condition = "not sel" if negate else "sel"
    detection = f"  sel: {{CommandLine{modifier}: {json.dumps(value)}}}\n  condition: {condition}\n"
    got = _both_paths(tmp_path, detection, [{"CommandLine": c} for c in command_lines])
    assert all(sigma == scom for sigma, scom in got), (detection, command_lines, got)


def test_end_anchor_before_a_final_newline_is_the_one_difference(tmp_path: Path) -> None:
    # 'a?' means: a, then any one character, then the end. Without \z, SCOM's $ also stops before a final
    # newline, so "ab\n" matches there and not in Sigma; documented in scom_regex.py and noted on export.
    got = _both_paths(tmp_path, "  sel: {CommandLine: 'a?'}\n  condition: sel\n",
                      [{"CommandLine": "ab"}, {"CommandLine": "a\n"}, {"CommandLine": "ab\n"}])
    assert got == [(True, True), (True, True), (False, True)]


def test_control_character_in_a_value_keeps_its_meaning(tmp_path: Path) -> None:
    got = _both_paths(tmp_path, '  sel: {CommandLine|contains: "a\\x01b"}\n  condition: sel\n',
                      [{"CommandLine": "x a\x01b y"}, {"CommandLine": "x ab y"}])
    assert got == [(True, True), (False, False)]


def test_cli_scom_title_with_a_control_character_gives_parsable_xml(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "ctl.yml").write_text('title: "evil\\x01title"\nid: 11111111-2222-4333-8444-555555555555\n'
                                   f"{_HEAD}  sel: {{CommandLine|contains: mimikatz}}\n  condition: sel\n",
                                   encoding="utf-8")
    out = tmp_path / "ctl.xml"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--rules", str(rules),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()  # raised "not well-formed (invalid token)" before the fix
    names = [d.findtext("Name") for d in root.iter("DisplayString")]
    assert "evil\ufffdtitle" in names
    assert "\x01" not in out.read_text(encoding="utf-8")


def test_cli_scom_reports_failure_when_the_xml_does_not_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditplan.emit.detections.scom as scom

    # Stand-in for a future escaping bug: the writer must read its output back and refuse to report success.
    monkeypatch.setattr(scom, "build_management_pack", lambda *a, **k: b"<ManagementPack>\x01</ManagementPack>")
    out = tmp_path / "mp.xml"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--out", str(out)])
    assert result.exit_code == 1
    assert "not well-formed" in result.output and str(out) in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_cli_scom_bad_xml_leaves_an_earlier_pack_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import auditplan.emit.detections.scom as scom

    monkeypatch.setattr(scom, "build_management_pack", lambda *a, **k: b"<ManagementPack>\x01</ManagementPack>")
    out = tmp_path / "mp.xml"
    out.write_bytes(b"<earlier/>")
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--out", str(out)])
    assert result.exit_code == 1 and "not well-formed" in result.output
    assert out.read_bytes() == b"<earlier/>"  # checked before writing: the last good pack survives


def test_cli_scom_mp_id_cannot_escape_the_out_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--mp-id",
                                       "9 lives/../../tmp/x/evil", "--out", str(folder)])
    # Refused, not rewritten into another ID (issue 20): exit 2 and nothing written anywhere.
    assert result.exit_code == 2, result.output
    assert "not a management pack ID" in result.output
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_cli_scom_exports_yaml_suffix_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yaml").write_text(f"title: My yaml rule\nid: 21111111-2222-4333-8444-555555555555\n{_HEAD}"
                                     "  sel: {CommandLine|contains: mimikatz}\n  condition: sel\n", encoding="utf-8")
    out = tmp_path / "mp.xml"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--rules", str(rules),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(ET.parse(out).getroot().iter("Rule"))) == 6


def test_lower_case_field_names_export_to_their_params(tmp_path: Path) -> None:
    rule = tmp_path / "lower.yml"
    rule.write_text(f"title: Lower\nid: 41111111-2222-4333-8444-555555555555\n{_HEAD}"
                    "  sel: {commandline|contains: mimikatz, image|endswith: '\\m.exe', parentimage: x}\n"
                    "  condition: sel\n", encoding="utf-8")
    messages = write_management_pack([rule], tmp_path / "mp.xml", mp_id="T", mp_version="1.0.0.0", enabled_hosts=[])
    assert messages == []  # no "not in event 4688" notes: every field is one of 4688's
    (scom_rule,) = ET.parse(tmp_path / "mp.xml").getroot().iter("Rule")
    queries = sorted({q.text or "" for q in scom_rule.iter("XPathQuery") if (q.text or "").startswith("Params/")})
    # CommandLine is Param 9, NewProcessName 6, ParentProcessName 14 (gpo-backup-format.md §A5)
    assert queries == ["Params/Param[14]", "Params/Param[6]", "Params/Param[9]"]
