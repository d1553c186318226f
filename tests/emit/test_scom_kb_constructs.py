"""Every pattern the SCOM pack emits uses only the constructs KB 2702651 documents for expression filters,
each rule carries its triage runbook as a knowledge article, and alerts are keyed by command line (issue 18).

The allowed constructs are typed here from the KB's table (learn.microsoft.com, "Regular expression support
in System Center Operations Manager", expression filters): . [ ] [^ ] ^ $ | ( ) ? * + {n} {n,} {n,m} \\n \\t,
and literal characters; plus the backslash escapes .NET needs for a literal backslash and for the three
characters a class cannot hold unescaped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.emit.detections import builtin_rules_dir
from auditplan.emit.detections.scom import write_management_pack

MAML = "{http://schemas.microsoft.com/maml/2004/10}"
HEAD = "logsource: {category: process_creation, product: windows}\nlevel: medium\ndetection:\n"
# User rules with the constructs a pack must translate: wildcards, |re with flags and classes, cased,
# numbers, null, non-ASCII letters, a control character, metacharacters meant literally.
USER_RULES = [
    "  sel: {CommandLine|re|i: '^(net|net1)\\s+user\\s+\\w+\\s+/add$'}\n  condition: sel\n",
    "  sel: {CommandLine|re|s: 'a.b[0-9]{2,4}c+d?\\d\\S'}\n  condition: sel\n",
    "  sel: {CommandLine|re|m: '^x$'}\n  condition: sel\n",
    "  sel: {CommandLine|contains|all: ['a.b', '(x)', '[y]', '{z}', 'c$d', 'e^f', 'g|h', 'i+j', 'k\\\\l']}\n"
    "  condition: sel\n",
    "  sel: {Image|endswith: '\\Ärger.exe', CommandLine|cased: 'RUN*x?y'}\n  condition: sel\n",
    "  sel: {CommandLine: null, ProcessId: 4}\n  condition: sel\n",
    '  sel: {CommandLine|contains: "a\\x01b\\tc"}\n  condition: sel\n',
]

_CLASS_MEMBER = r"(?:\\[\\\]\^\-\[nt]|[^\\\]\n\r])"
_TOKEN = re.compile(
    r"\[\^?" + _CLASS_MEMBER + r"+\]"  # [ ] and [^ ]: members literal, ranges, the class escapes
    r"|\\[\\nt]"  # \\ (a backslash), \n, \t
    r"|\{\d+(?:,\d*)?\}"  # {n} {n,} {n,m}
    r"|[.^$|()?*+]"  # the KB's single-character constructs
    r"|[^\\\[\]{}.^$|()?*+\r]"  # any other character, literally (no escapes, no (?flags))
)


def kb_problems(pattern: str) -> list[str]:
    """What in `pattern` is not one of the KB's constructs (empty: nothing)."""
    problems: list[str] = []
    i = 0
    while i < len(pattern):
        m = _TOKEN.match(pattern, i)
        if not m:
            problems.append(f"{pattern[i:i + 12]!r} at {i}")
            i += 1
            continue
        if m.group() == "(" and pattern.startswith("(?", i):
            problems.append(f"inline option {pattern[i:i + 6]!r}")
        i = m.end()
    return problems


def test_the_checker_refuses_what_the_issue_names() -> None:
    for bad in ("(?i)abc", "(?is)a.b", "abc\\z", "\\u2013", "\\s+", "\\d", "a\\.b", "(?=x)", "\\bword"):
        assert kb_problems(bad), bad
    for good in ("^[rR][eE][gG][.]exe$", "(.|\\n)*", "[\\-/–]w", "\\\\Users\\\\", "x{2,4}", "[^ \\t\\n]+", "[\\]]"):
        assert kb_problems(good) == [], good


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> ET.Element:
    folder = tmp_path_factory.mktemp("kb")
    files = sorted(builtin_rules_dir().glob("*.yml"))
    for i, body in enumerate(USER_RULES):
        rule = folder / f"user{i}.yml"
        rule.write_text(f"title: user {i}\nid: 0f0e0d0c-0b0a-4009-8807-06050403020{i}\n{HEAD}{body}", encoding="utf-8")
        files.append(rule)
    out = folder / "mp.xml"
    write_management_pack(files, out, mp_id="KB.Test", mp_version="1.0.0.0",
                          enabled_hosts=["dc01.corp.example", "WEB.02", "x]y^z"])
    return ET.parse(out).getroot()


def test_every_emitted_pattern_uses_only_kb_constructs(pack: ET.Element) -> None:
    patterns = [p.text or "" for p in pack.iter("Pattern")]
    assert len(patterns) > 40
    for pattern in patterns:
        assert kb_problems(pattern) == [], pattern
        re.compile(pattern)  # and it is a regular expression (.NET and Python read these constructs alike)
    assert len(list(pack.iter("Rule"))) == 5 + len(USER_RULES)  # every user rule translated, none refused


def test_each_rule_has_its_runbook_as_knowledge_article(pack: ET.Element) -> None:
    articles = {a.get("ElementID"): a for a in pack.iter("KnowledgeArticle")}
    rules = [r.get("ID") for r in pack.iter("Rule")]
    assert set(articles) == set(rules)
    for element_id, article in articles.items():
        titles = [t.text for t in article.iter(f"{MAML}title")]
        assert titles == ["What it means", "First checks", "How to tune"], element_id
        assert list(article.iter(f"{MAML}listItem")), element_id
    hidden = next(a for i, a in articles.items() if i and i.endswith("7e0f0b4a1003"))
    text = " ".join(p.text or "" for p in hidden.iter(f"{MAML}para"))
    assert "EncodedCommand" in text  # the hand-written runbook of family 3, not a generated one


def _suppression_key(rule: ET.Element, event: dict[str, str]) -> tuple[str, ...]:
    """What SCOM compares to suppress an alert: each SuppressionValue with $Data/...$ filled from the event."""
    values = [v.text or "" for v in rule.iterfind("WriteActions/WriteAction/Suppression/SuppressionValue")]
    params = {"$Data/LoggingComputer$": event["computer"], "$Data/Params/Param[6]$": event["image"],
              "$Data/Params/Param[9]$": event["command_line"]}
    return tuple(params[v] for v in values)


def test_a_different_command_line_on_the_same_host_raises_its_own_alert(pack: ET.Element) -> None:
    rule = next(iter(pack.iter("Rule")))
    ps = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
    first = {"computer": "web01", "image": ps, "command_line": "powershell -w hidden -c stage1"}
    repeat = dict(first)
    other = {**first, "command_line": "powershell -w hidden -enc SQBFAFgA"}
    assert _suppression_key(rule, first) == _suppression_key(rule, repeat)  # a repeat counts up
    assert _suppression_key(rule, first) != _suppression_key(rule, other)  # another attack: its own alert


def test_sigma_export_ships_a_runbook_beside_each_rule(tmp_path: Path) -> None:
    rules = tmp_path / "mine"
    rules.mkdir()
    (rules / "mine.yml").write_text(f"title: Mine\nid: 31111111-2222-4333-8444-555555555555\n{HEAD}"
                                    "  sel: {CommandLine|contains: zzmine}\n  condition: sel\n"
                                    "falsepositives:\n  - The zz backup job\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["detections", "export", "--rules", str(rules), "--out", str(out)])
    assert result.exit_code == 0, result.output
    books = sorted(p.name for p in out.glob("*.runbook.md"))
    assert books == sorted([f"{p.stem}.runbook.md" for p in builtin_rules_dir().glob("*.yml")] + ["mine.runbook.md"])
    mine = (out / "mine.runbook.md").read_text(encoding="utf-8")
    assert "# Triage runbook: Mine" in mine and "The zz backup job" in mine and "CommandLine" in mine
    for book in out.glob("family*.runbook.md"):
        text = book.read_text(encoding="utf-8")
        assert [line for line in text.splitlines() if line.startswith("## ")] == [
            "## What it means", "## First checks", "## How to tune"]
        assert len(text.split()) < 600  # one page
