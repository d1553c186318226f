"""A plain `pip install .` must work: the wheel carries every template and data file the code loads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHES = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")


@pytest.mark.slow
def test_wheel_ships_templates_rules_and_data(tmp_path: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info into the tree it builds, and two
    # runs in one checkout would otherwise share (and break) them.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, source / name)
    for name in ("src", "gpo_templates", "reports"):
        shutil.copytree(REPO / name, source / name, ignore=CACHES)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("auditplan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "auditplan/defaults.toml",
        "auditplan/py.typed",
        "auditplan/gpo_templates/Backup.xml.j2",
        "auditplan/gpo_templates/BackupInst.xml.j2",
        "auditplan/gpo_templates/gpreport.xml.j2",
        "auditplan/gpo_templates/manifest.xml.j2",
        "auditplan/gpo_templates/rollout.ps1.j2",
        "auditplan/gpo_templates/verify.ps1.j2",
        "auditplan/gpo_templates/rollback.ps1.j2",
        "auditplan/reports/report.html.j2",
        "auditplan/reports/report.css",
        "auditplan/simulator/demo_fleet.toml",
        "auditplan/simulator/data/event_templates.json",
        *(f"auditplan/emit/sigma/{p.name}" for p in (REPO / "src/auditplan/emit/sigma").glob("*.yml")),
    }
    assert expected <= names, sorted(expected - names)
    assert len([n for n in names if n.startswith("auditplan/emit/sigma/")]) == 5
    # Every module of the source tree is in the wheel (a package left out of pyproject's list would be missing).
    modules = {f"auditplan/{p.relative_to(REPO / 'src/auditplan').as_posix()}"
               for p in (REPO / "src/auditplan").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    # The wheel's version is the one `auditplan --version` prints, and it carries the licence file.
    from auditplan import __version__

    assert wheel.name.startswith(f"auditplan-{__version__}-")
    assert f"auditplan-{__version__}.dist-info/licenses/LICENSE" in names
