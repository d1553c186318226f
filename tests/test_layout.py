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


FRONT_DOORS = {"auditplan.collect.api", "auditplan.model.api", "auditplan.emit.api"}
STAGES = ("auditplan.collect", "auditplan.model", "auditplan.emit")


def _auditplan_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("auditplan")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("auditplan"):
            module = node.module or ""
            # `from auditplan.model import api` names the front door as an attribute of the stage.
            found |= {f"{module}.{alias.name}" if module in STAGES else module for alias in node.names}
    return found


def test_bench_scripts_call_front_doors_only() -> None:
    bench = Path(__file__).resolve().parents[1] / "bench"
    wrong = {
        path.name: sorted(m for m in _auditplan_imports(path)
                          if m.startswith("auditplan.cli") or (m.startswith(STAGES) and m not in FRONT_DOORS))
        for path in sorted(bench.glob("*.py"))
    }
    assert {name: mods for name, mods in wrong.items() if mods} == {}
