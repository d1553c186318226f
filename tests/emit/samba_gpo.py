"""Samba's parsers on a written GPO backup (tests/emit/samba_oracle.py under Debian's python3)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SYSTEM_PYTHON = Path("/usr/bin/python3")
ORACLE = Path(__file__).with_name("samba_oracle.py")
AUDIT_REL = ("DomainSysvol", "GPO", "Machine", "microsoft", "windows nt", "Audit", "audit.csv")
INF_REL = ("DomainSysvol", "GPO", "Machine", "microsoft", "windows nt", "SecEdit", "GptTmpl.inf")
POL_REL = ("DomainSysvol", "GPO", "Machine", "registry.pol")


def samba_parse(backup_dir: Path) -> dict[str, object]:
    """What Samba's gp_csv / gp_inf / preg parsers read from the backup's payload files."""
    if not SYSTEM_PYTHON.exists() or subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import samba.gp_parse.gp_csv"], capture_output=True
    ).returncode:
        if os.environ.get("CI"):
            pytest.fail("python3-samba is not installed: tests/setup.sh installs it; the GPO oracle must run in CI")
        pytest.skip("Debian's python3-samba is not installed (tests/setup.sh installs it when run as root)")
    out = subprocess.run(
        [str(SYSTEM_PYTHON), str(ORACLE), str(backup_dir.joinpath(*POL_REL)),
         str(backup_dir.joinpath(*AUDIT_REL)), str(backup_dir.joinpath(*INF_REL))],
        capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def audit_settings(backup_dir: Path) -> dict[str, int]:
    """GUID (lower case) -> Setting Value of every audit.csv line, as Samba's parser reads them."""
    lines = samba_parse(backup_dir)["audit_lines"]
    assert isinstance(lines, list)
    return {str(line["Subcategory GUID"]).lower(): int(line["Setting Value"]) for line in lines}
