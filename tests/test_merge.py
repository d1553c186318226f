"""`auditplan merge`: the union of per-site stores, newest result per host, refusals leave OUT alone."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.records import Host, HostResult, HostStatus
from auditplan.store import Store
from auditplan.store.merge import MERGE_KIND, MergeError, merge_stores
from test_store import estimate, failed_result, full_result


def _site(path: Path, results: list[HostResult], *, estimates: tuple[str, ...] = (), doc: dict[str, object] | None = None) -> Path:
    with Store(path) as store:
        for result in results:
            store.save_result(result)
        if estimates:
            store.save_estimates("latest", [estimate(h, 1000.0) for h in estimates])
        if doc is not None:
            store.save_document("plan", str(doc["plan_id"]), doc)
    return path


def _later(result: HostResult, minutes: int) -> HostResult:
    return replace(result, collected_at=result.collected_at + timedelta(minutes=minutes))


def test_union_newest_wins_events_travel_and_ties_go_to_the_first_store(tmp_path: Path) -> None:
    old_web = failed_result("web01", HostStatus.TIMEOUT, "timed out")
    new_web = _later(replace(full_result("WEB01", events=2), collected_at=old_web.collected_at), 30)
    tie_a = failed_result("app01", HostStatus.AUTH_FAILED, "denied at lon")
    tie_b = replace(tie_a, reason="denied at fra")
    lon = _site(tmp_path / "lon.db", [old_web, full_result("dc01", events=3), tie_a], estimates=("dc01",),
                doc={"plan_id": "p-lon", "waves": 1})
    fra = _site(tmp_path / "fra.db", [new_web, tie_b, full_result("ws01", events=1, source="evtx")],
                estimates=("ws01",), doc={"plan_id": "p-fra", "waves": 2})
    out = tmp_path / "fleet.db"

    summary = merge_stores(out, [lon, fra])

    with Store(out) as merged:
        results = {r.host.name.casefold(): r for r in merged.load_results()}
        assert set(results) == {"web01", "dc01", "app01", "ws01"}
        assert results["web01"].status is HostStatus.OK and len(results["web01"].events) == 2  # the newer one
        assert results["dc01"] == full_result("dc01", events=3)  # exact round trip through the merge
        assert results["ws01"].source == "evtx"
        assert results["app01"].reason == "denied at lon"  # tie: the store listed first
        assert merged.list_estimate_runs() == ["latest@fra.db", "latest@lon.db"]
        assert merged.load_estimates("latest") == []  # no store's estimates pass for the union's
        plans = {d: merged.load_document("plan", d) for d in merged.list_documents("plan")}
        assert {d: (p or {}).get("waves") for d, p in plans.items()} == {"p-lon": 1, "p-fra": 2}
        (key,) = merged.list_documents(MERGE_KIND)
        record = merged.load_document(MERGE_KIND, key)
    assert record is not None
    assert record["host_origin"]["WEB01|winrm"] == "fra.db" and record["host_origin"]["dc01|winrm"] == "lon.db"
    assert record["ties"] == [{"host": "app01", "source": "winrm", "kept": "lon.db", "dropped": "fra.db"}]
    assert summary.results == 4 and summary.superseded == 2 and summary.per_origin == {"lon.db": 2, "fra.db": 2}
    assert os.stat(out).st_mode & 0o777 == 0o600


def _refused(tmp_path: Path, out: Path, inputs: list[Path], needle: str) -> None:
    before = out.read_bytes() if out.exists() else None
    result = CliRunner().invoke(main, ["merge", str(out), *map(str, inputs)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and needle in result.output
    assert (out.read_bytes() if out.exists() else None) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".auditplan-merge-")]  # no leftovers


def test_refusals_leave_the_output_untouched(tmp_path: Path) -> None:
    good = _site(tmp_path / "good.db", [full_result("dc01")])
    out = tmp_path / "out.db"
    newer = _site(tmp_path / "newer.db", [full_result("dc02")])
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    _refused(tmp_path, out, [good, newer], "newer.db: store schema version 99 is newer")
    assert not out.exists()

    corrupt = tmp_path / "corrupt.db"
    data = bytearray(good.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page of garbage after a valid header
    corrupt.write_bytes(bytes(data))
    _refused(tmp_path, out, [good, corrupt], "corrupt.db")
    text = tmp_path / "notes.db"
    text.write_text("hello\n")
    _refused(tmp_path, out, [good, text], "notes.db")

    merge_stores(out, [good])
    _refused(tmp_path, out, [good, out], "the output is also an input")
    _refused(tmp_path, tmp_path / "other.db", [good, good], "given twice")
    link = tmp_path / "link.db"
    link.symlink_to(tmp_path / "victim.db")
    _refused(tmp_path, link, [good], "symbolic link")
    assert not (tmp_path / "victim.db").exists()


def test_merge_reads_a_store_being_written_without_changing_it(tmp_path: Path) -> None:
    site = _site(tmp_path / "site.db", [full_result("dc01")])
    writer = Store(site)  # a site collector still holding its store open
    try:
        writer.save_result(failed_result("late01", HostStatus.TIMEOUT, "t"))
        before = site.read_bytes()
        merge_stores(tmp_path / "out.db", [site])
        assert site.read_bytes() == before
    finally:
        writer.close()
    with Store(tmp_path / "out.db") as merged:
        assert {r.host.name for r in merged.load_results()} == {"dc01", "late01"}


def test_cli_prints_ties_and_counts(tmp_path: Path) -> None:
    a = failed_result("h1", HostStatus.TIMEOUT, "a")
    lon = _site(tmp_path / "lon.db", [a])
    fra = _site(tmp_path / "fra.db", [replace(a, host=Host(name="H1", address="h1"))])
    result = CliRunner().invoke(main, ["merge", str(tmp_path / "out.db"), str(lon), str(fra)])
    assert result.exit_code == 0, result.output
    assert "tie: h1 (winrm)" in result.output and "kept lon.db" in result.output
    assert "1 host result(s) from 2 store(s) (lon.db: 1, fra.db: 0)" in result.output


def test_missing_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match=r"nope\.db: no such store file"):
        merge_stores(tmp_path / "out.db", [tmp_path / "nope.db"])
