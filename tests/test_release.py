"""Release hygiene a user expects: one version everywhere, a licence that matches pyproject, a changelog."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import auditplan

REPO = Path(__file__).resolve().parents[1]


def test_version_option_prints_the_installed_package_version() -> None:
    # The console script's entry point (pyproject: auditplan = "auditplan.cli:main").
    run = subprocess.run([sys.executable, "-c", "from auditplan.cli import main; main()", "--version"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    # The installed distribution's metadata is pip's view; it must equal what the CLI says.
    assert run.stdout.strip() == f"auditplan, version {importlib.metadata.version('auditplan')}"
    assert importlib.metadata.version("auditplan") == auditplan.__version__


def test_pyproject_reads_the_one_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "auditplan.__version__"}


def test_license_file_is_the_mit_licence_pyproject_names() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    # The operative sentences of the MIT licence (https://opensource.org/license/mit), word for word.
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_changelog_has_an_unreleased_section_and_the_current_version() -> None:
    headings = [line for line in (REPO / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
                if line.startswith("## ")]
    assert headings[0] == "## Unreleased"
    assert f"## {auditplan.__version__}" in headings
