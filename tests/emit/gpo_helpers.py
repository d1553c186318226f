"""Helpers for the GPO tests: plans built by hand and a tree-sitter-powershell reading of the scripts.

Scripts are read with the independent PowerShell grammar, never by matching our own template text:
values are taken from the parsed literals (hash tables, arrays, single-quoted strings).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

from auditplan.emit.gpo.backups import GpoOptions, WaveOutput, write_backups
from auditplan.records import parse_plan, plan_id_of


def stamped(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the plan_id its content gives (plan.json readers check it), for plans built or
    edited by hand in a test."""
    return {**doc, "plan_id": plan_id_of(doc)}


def plan_doc(*waves: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """plan.json (schema 1) with one wave per list of host objects, numbered from 0, and its plan_id."""
    return stamped({
        "schema_version": 1,
        "waves": [{"wave": i, "name": "pilot" if i == 0 else f"wave {i}", "hosts": hosts}
                  for i, hosts in enumerate(waves)],
        "unplaced": [],
        **extra,
    })


def write(out: Path, plan: dict[str, Any], **options: Any) -> list[WaveOutput]:
    """The GPO output of `plan`, a plan.json document the test may have edited (its id is renewed)."""
    return write_backups(parse_plan(stamped(plan)), out, GpoOptions(**options))


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def parse_script(path: Path) -> Node:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return Parser(Language(tree_sitter_powershell.language())).parse(raw[3:]).root_node


def text(node: Node) -> str:
    assert node.text is not None  # parsed from bytes, so every node has its text
    return node.text.decode()


def walk(node: Node) -> list[Node]:
    nodes = [node]
    for child in node.children:
        nodes += walk(child)
    return nodes


def syntax_errors(node: Node) -> list[str]:
    return [text(n)[:80] for n in walk(node) if n.type == "ERROR" or n.is_missing]


def ps_string(literal: str) -> str:
    """The value of a PowerShell single-quoted literal (about_Quoting_Rules: '' is one quote)."""
    assert literal[0] == "'" and literal[-1] == "'", literal
    body = literal[1:-1]
    for quote in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        body = body.replace(quote * 2, quote)
    return body


def commands(root: Node) -> list[tuple[str, list[str], Node]]:
    """(command name, parameter names without '-', node) of every command in the script."""
    found = []
    for n in walk(root):
        if n.type != "command":
            continue
        name = next((c for c in n.children if c.type == "command_name"), None)
        if name is None:
            continue
        elements = next((c for c in n.children if c.type == "command_elements"), None)
        params = [text(c)[1:] for c in elements.children if c.type == "command_parameter"] if elements else []
        found.append((text(name), params, n))
    return found


def _value(node: Node) -> Any:
    """A literal's value: hash tables, @() arrays, single-quoted strings and integers."""
    if node.type == "hash_literal_expression":
        out: dict[str, Any] = {}
        body = next((c for c in node.children if c.type == "hash_literal_body"), None)
        for entry in body.children if body else []:
            if entry.type != "hash_entry":
                continue
            key = text(next(c for c in entry.children if c.type == "key_expression"))
            out[key] = _value(entry.children[2])
        return out
    if node.type == "verbatim_string_characters":
        return ps_string(text(node))
    if node.type == "decimal_integer_literal":
        return int(text(node))
    if node.type == "array_expression":
        items: list[Any] = []
        for n in walk(node)[1:]:
            if n.type in ("hash_literal_expression", "verbatim_string_characters", "decimal_integer_literal") and \
                    _nearest_container(n) == node:
                items.append(_value(n))
        return items
    if node.type == "unary_expression" and text(node).startswith("-"):
        return -int(text(node)[1:].strip())
    if node.child_count == 1 or node.type in ("pipeline", "pipeline_chain"):
        return _value(node.children[0])
    raise AssertionError(f"not a literal: {node.type} {text(node)[:60]}")


def _nearest_container(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in ("array_expression", "hash_literal_expression"):
        parent = parent.parent
    return parent


def assigned_literal(root: Node, variable: str) -> Any:
    """The literal value assigned to `$variable` at the top of the script."""
    for n in walk(root):
        if n.type == "assignment_expression" and text(n.children[0]).strip().lower() == f"${variable}".lower():
            return _value(n.children[2])
    raise AssertionError(f"${variable} is not assigned")


def arguments(command: Node) -> tuple[dict[str, str | None], list[str]]:
    """A command's named parameters (name without '-' -> the argument's text, None for a switch) and
    its other arguments (positional values and @splats), as written."""
    elements = next((c for c in command.children if c.type == "command_elements"), None)
    named: dict[str, str | None] = {}
    other: list[str] = []
    pending: str | None = None
    for c in elements.children if elements else []:
        if c.type == "command_argument_sep":
            continue
        if c.type == "command_parameter":
            if pending is not None:
                named[pending] = None
            pending = text(c)[1:].rstrip(":")
        elif pending is not None:
            named[pending] = text(c)
            pending = None
        else:
            other.append(text(c))
    if pending is not None:
        named[pending] = None
    return named, other


def hash_keys(root: Node, variable: str) -> set[str]:
    """Keys a script gives the hash table in `$variable`: its literal's keys and `$variable['Key'] = ...`."""
    keys: set[str] = set()
    target = f"${variable}".lower()
    for n in walk(root):
        if n.type != "assignment_expression":
            continue
        left = text(n.children[0]).strip()
        if left.lower() == target:
            keys |= {text(k) for k in walk(n.children[2]) if k.type == "key_expression"}
        elif left.lower().startswith(target + "['") and left.endswith("']"):
            keys.add(left[len(target) + 2:-2])
    return keys
