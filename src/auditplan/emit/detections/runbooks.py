"""One-page triage runbooks: what a detection means, first checks, how to tune.

The five built-in families have hand-written runbooks (emit/sigma/runbooks/<rule file>.md); a user rule
gets one written from its own description and false positives. They are shipped next to the exported
Sigma rules (<rule file>.runbook.md) and inside the SCOM pack as each rule's knowledge article (MAML).
The markdown is a small subset: `# ` title, `## ` sections, paragraphs, `1. ` and `- ` lists.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MAML_NS: Final = "http://schemas.microsoft.com/maml/2004/10"
RUNBOOK_SUFFIX: Final = ".runbook.md"


@dataclass(frozen=True)
class RuleFacts:
    """What a generated runbook is written from (a user rule's own words)."""

    title: str
    rule_id: str
    level: str | None
    description: str
    falsepositives: tuple[str, ...]
    fields: tuple[str, ...]


def shipped_runbook(rule_file: Path) -> str | None:
    """The hand-written runbook of a built-in rule file, if there is one."""
    path = rule_file.parent / "runbooks" / f"{rule_file.stem}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def generated_runbook(facts: RuleFacts) -> str:
    """A runbook for a rule auditplan does not ship: its description, the events to read, its false
    positives as the tuning list."""
    fields = ", ".join(facts.fields) or "the event's fields"
    tune = [f"- Known false positive: {fp}" for fp in facts.falsepositives] or [
        "- After the pilot, list the benign hits and filter each on its exact image or parent image path."]
    return "\n".join([
        f"# Triage runbook: {facts.title}",
        "",
        "## What it means",
        facts.description or f"The rule {facts.title} ({facts.rule_id}) matched a process creation event.",
        "",
        "## First checks",
        f"1. Read the fields the rule matched on: {fields}.",
        "2. Look at the parent process and the account: do they explain the process start?",
        "3. Search the same host for what the process started next, and the fleet for the same command line.",
        "4. If nothing explains it, isolate the host and hand it to incident response with the event.",
        "",
        "## How to tune",
        *tune,
        "- Filter on exact image paths (Image, ParentImage), never on a substring of the command line alone.",
        "",
    ])


def runbook_name(rule_file: Path) -> str:
    return f"{rule_file.stem}{RUNBOOK_SUFFIX}"


_LIST_ITEM = re.compile(r"^(?:(\d+)\.|-)\s+(.*)$")


def maml_sections(markdown: str) -> list[ET.Element]:
    """The runbook as MAML sections (a SCOM knowledge article's MamlContent): one section per `## `
    heading, paragraphs and ordered / bulleted lists. The `# ` title is left out (the rule's name shows)."""
    sections: list[ET.Element] = []
    section: ET.Element | None = None
    current_list: ET.Element | None = None
    paragraph: list[str] = []

    def flush() -> None:
        nonlocal paragraph
        if paragraph and section is not None:
            ET.SubElement(section, f"{{{MAML_NS}}}para").text = " ".join(paragraph)
        paragraph = []

    for raw in markdown.splitlines():
        line = raw.strip()
        if line.startswith("## "):
            flush()
            section = ET.Element(f"{{{MAML_NS}}}section")
            ET.SubElement(section, f"{{{MAML_NS}}}title").text = line[3:].strip()
            sections.append(section)
            current_list = None
            continue
        if section is None or line.startswith("# "):
            continue
        item = _LIST_ITEM.match(line)
        if item:
            flush()
            ordered = item.group(1) is not None
            if current_list is None or (current_list.get("class") == "ordered") != ordered:
                current_list = ET.SubElement(section, f"{{{MAML_NS}}}list",
                                             {"class": "ordered" if ordered else "unordered"})
            entry = ET.SubElement(current_list, f"{{{MAML_NS}}}listItem")
            ET.SubElement(entry, f"{{{MAML_NS}}}para").text = item.group(2)
        elif not line:
            flush()
            current_list = None
        else:
            current_list = None
            paragraph.append(line)
    flush()
    return sections


def _fields(detection: object) -> tuple[str, ...]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key != "condition":
                    name = key.split("|", 1)[0]
                    if name and name[0].isupper() and isinstance(value, str | int | list):
                        found.append(name)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(detection)
    return tuple(dict.fromkeys(found))


def runbook_for(rule_file: Path) -> str:
    """The runbook of a rule file: the shipped one, else one written from the rule's first document.
    Raises OSError / yaml.YAMLError / UnicodeDecodeError as reading the rule does."""
    shipped = shipped_runbook(rule_file)
    if shipped is not None:
        return shipped
    import yaml

    docs = [d for d in yaml.safe_load_all(rule_file.read_text(encoding="utf-8")) if isinstance(d, dict)]
    doc = docs[0] if docs else {}
    fps = doc.get("falsepositives") or []
    facts = RuleFacts(
        title=str(doc.get("title") or rule_file.stem), rule_id=str(doc.get("id") or rule_file.stem),
        level=str(doc["level"]) if doc.get("level") else None,
        description=" ".join(str(doc.get("description") or "").split()),
        falsepositives=tuple(str(fp) for fp in fps) if isinstance(fps, list) else (str(fps),),
        fields=_fields(doc.get("detection")),
    )
    return generated_runbook(facts)
