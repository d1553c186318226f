"""The report's assumptions table shows the configuration the projection used, each value with where
it came from (issue 13): read from the page headless Chromium renders, as a reader sees it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import report_fixtures as rf  # tests/emit/, on sys.path under pytest's default import mode
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.config import documented_basis
from auditplan.store import Store

ROWS = """[...document.querySelectorAll('#t-assumptions tbody tr, #t-assumptions > tr')]
  .map(tr => [...tr.cells].map(c => c.textContent.trim()))"""
NOTE = "(document.getElementById('projection-note') || {}).textContent || ''"
MEDIAN = "priors.roles.default.median_per_day"


def _require_chromium() -> None:
    if rf.chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: tests/setup.sh installs it; the report must be rendered in CI")
        pytest.skip("chromium is not installed (tests/setup.sh installs Debian's chromium)")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "auditplan.db"
    with Store(db) as opened:
        opened.save_estimates("latest", rf.fleet()[0])
    return db


def _report(db: Path, out: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def _rows(html: str, work: Path) -> dict[str, list[str]]:
    rows: list[list[str]] = rf.read_in_chromium(html, ROWS, work)
    assert rows and all(len(r) == 4 for r in rows), rows[:3]
    return {r[0]: r[1:] for r in rows}


def test_a_config_file_value_is_shown_with_the_file_as_its_source(store: Path, tmp_path: Path) -> None:
    _require_chromium()
    config = tmp_path / "site-priors.toml"
    config.write_text("[priors.roles.default]\nmedian_per_day = 12345.0\n", encoding="utf-8")
    html = _report(store, tmp_path / "r.html", "--config", str(config), "--price-per-gb", "4.3")
    rows = _rows(html, tmp_path / "chromium")
    value, set_by, basis = rows[MEDIAN]
    assert "12345" in value and set_by == str(config)
    # The shipped default and its documented basis stay beside it, so the reader sees what was replaced.
    assert basis.startswith("default 2000.0: ") and documented_basis()[MEDIAN] in basis
    # An option, and a value nobody changed.
    assert rows["siem.splunk-xml.price_per_gb"][:2] == ["4.3", "option --price-per-gb"]
    assert rows["plan.draws"] == ["1000", "default", documented_basis()["plan.draws"]]
    # Every number of the defaults is listed, in the file's order.
    assert [n for n in rows if n in documented_basis()] == list(documented_basis())


def test_without_a_config_file_every_value_is_the_default(store: Path, tmp_path: Path) -> None:
    _require_chromium()
    html = _report(store, tmp_path / "r.html")
    page: dict[str, Any] = rf.read_in_chromium(html, f"({{rows: {ROWS}, note: {NOTE}}})", tmp_path / "chromium")
    rows = {r[0]: r[1:] for r in page["rows"]}
    assert rows[MEDIAN] == ["2000.0", "default", documented_basis()[MEDIAN]]
    assert {set_by for _, set_by, _ in rows.values()} == {"default"}
    assert page["note"] == ("Projection computed for this report: estimates latest, SIEM profile splunk-xml "
                            "(no plan given).")
