"""The tree keeps the shape DESIGN.md gives it: small modules, records on the ground floor."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "auditplan"
MAX_LINES = 600


def test_no_module_over_600_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in sorted(SRC.rglob("*.py"))
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these along their seams: {long}"


def test_no_grab_bag_module_names() -> None:
    grab_bags = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if p.stem in {"utils", "helpers", "misc"})
    assert grab_bags == []


def test_records_import_only_the_standard_library() -> None:
    # import-linter checks "nothing else of auditplan"; records are also plain data: the standard library only (no pandas).
    allowed_roots = set(sys.stdlib_module_names) | {"auditplan"}
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / "records").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            for root in roots - allowed_roots:
                found.setdefault(path.name, set()).add(root)
    assert found == {}
