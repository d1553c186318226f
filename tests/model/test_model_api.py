"""model.api, the stage's front door, on a real store: plan() writes the files and saves the plan
with its projection in one store session; load_plan_projection gives that projection back, frames
and all; project(), estimate() and the library errors (never click's)."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from auditplan.model import api
from auditplan.records import (
    AuditPolicy,
    AuditSetting,
    EstimateSource,
    Host,
    HostEstimate,
    HostResult,
    HostStatus,
    Range,
    SecurityLog,
    plan_json_text,
    read_plan,
)
from auditplan.store import Store

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _result(name: str, role: str = "web", *, log: bool = True, hours: float = 48.0) -> HostResult:
    security = SecurityLog(max_size_bytes=20 * 2**20, retention="overwrite", file_size_bytes=20 * 2**20,
                           record_count=1000, oldest_record_number=1, oldest_time=NOW - timedelta(hours=hours),
                           newest_time=NOW) if log else None
    audit = AuditPolicy(process_creation=AuditSetting.NONE, cmdline_enabled=False, sce_no_apply_legacy=True)
    return HostResult(host=Host(name=name, address=name, role=role, site="lon"), status=HostStatus.OK, reason="",
                      collected_at=NOW, security_log=security, audit=audit)


def _estimate(name: str, p50: float, role: str = "web", *, on: bool = False) -> HostEstimate:
    return HostEstimate(
        host=name, role=role, site="lon", os_family="2022", events_per_day=Range(p50 / 2, p50, p50 * 2),
        source=EstimateSource.ROLE_PRIOR, peak_hour_factor=1.5, hourly_shape=(), bytes_per_event_xml=1500.0,
        bytes_per_event_xml_no_cmdline=1420.0, cmdline_length_p50=80.0, bytes_source="dev_set", already_on=on,
        cmdline_already_on=on, cmdline_supported=True,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "ap.db"
    with Store(path) as store:
        for r in (_result("web01"), _result("web02"), _result("sql01", "sql"), _result("nolog01", log=False),
                  _result("idle01", hours=0.0), _result("broken01")):
            store.save_result(r)
        store.save_estimates(api.ESTIMATE_RUN, [
            _estimate("web01", 2e5), _estimate("web02", 4e5), _estimate("sql01", 3e5, "sql"),
            _estimate("nolog01", 0.0),  # its log size is unknown: NaN local hours
            _estimate("idle01", 0.0),  # writes nothing to a log of no known rate: infinite local hours
            _estimate("broken01", math.nan),  # an unusable estimate: its load columns are NaN
        ])
    return path


def test_plan_saves_the_projection_it_used_and_gives_it_back(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "my.toml"
    config.write_text("[plan]\ndraws = 200\n", encoding="utf-8")
    out = tmp_path / "out"
    run = api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=10.0, out_dir=out, config_file=config)
    assert run.files == (out / "plan.json", out / "plan.csv")
    written = read_plan(out / "plan.json")  # what was written is what was returned
    assert written.plan_id == run.plan.plan_id and plan_json_text(written) == plan_json_text(run.plan)
    assert run.options.max_step == pytest.approx(2.5)  # [plan] default_step_fraction 0.25 of the budget
    assert run.projection.config_sources["plan.draws"] == str(config)
    assert run.projection.config_sources["plan.seed"] == "default"
    assert run.projection.config["plan"]["draws"] == 200 and run.projection.estimate_run == "latest"

    loaded = api.load_plan_projection(db, run.plan)
    assert loaded is not None
    original = run.projection
    pd.testing.assert_frame_equal(loaded.hosts, original.hosts, check_dtype=False)
    assert list(loaded.hosts.columns) == list(original.hosts.columns)
    for name in ("fleet", "by_role", "by_site"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(original, name), check_dtype=False)
    assert math.isnan(loaded.hosts.at["nolog01", "local_hours_p90"])  # type: ignore[arg-type]
    assert loaded.hosts.loc["idle01", "local_hours_p90"] == math.inf
    assert math.isnan(loaded.hosts.at["broken01", "added_gb_day_p90"])  # type: ignore[arg-type]
    assert loaded.profile == original.profile
    assert (loaded.retention_days, loaded.price_per_gb, loaded.seed, loaded.draws, loaded.warnings) == (
        original.retention_days, original.price_per_gb, original.seed, original.draws, original.warnings)
    assert (loaded.config, loaded.config_sources, loaded.estimate_run) == (
        original.config, original.config_sources, original.estimate_run)
    assert api.load_plan_projection(db, "0" * 32) is None


def test_plan_compares_with_the_previous_plan_and_names_unreadable_stored_plans(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=10.0, out_dir=out)
    assert first.recalibration is None and first.warnings == ()
    with Store(db) as store:  # someone edited a stored plan: it is left out, with a warning, not a crash
        doc = store.load_document("plan", first.plan.plan_id)
        assert doc is not None
        doc["siem"] = "edited"
        store.save_document("plan", first.plan.plan_id, doc)
    second = api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=0.5, out_dir=out)
    assert second.recalibration is not None and second.recalibration["previous_plan_id"] == first.plan.plan_id
    assert (out / "recalibration.json").is_file() and out / "recalibration.json" in second.files
    assert len(second.warnings) == 1 and "does not match its content" in second.warnings[0]
    assert f"stored plan {first.plan.plan_id}" in second.warnings[0]


def test_one_store_object_serves_a_whole_run(db: Path, tmp_path: Path) -> None:
    with Store(db) as store:
        run = api.plan(store, budget_kind=api.BUDGET_EPS, budget=50.0, max_step=50.0, out_dir=tmp_path)
        projection = api.project(store, siem="qradar")
        assert api.load_plan_projection(store, run.plan) is not None
        assert store.load_document("plan", "latest") == json.loads((tmp_path / "plan.json").read_text("utf-8"))
    assert projection.profile.name == "qradar"


def test_library_errors_not_click_errors(db: Path, tmp_path: Path) -> None:
    with pytest.raises(api.ModelError, match=r"no store here; run `auditplan survey` .* first"):
        api.project(tmp_path / "nope.db")
    empty = tmp_path / "empty.db"
    Store(empty).close()
    with pytest.raises(api.ModelError, match="no estimates saved; run `auditplan estimate"):
        api.plan(empty, budget_kind=api.BUDGET_GB_DAY, budget=1.0, out_dir=tmp_path)
    with pytest.raises(api.ConfigError, match="unknown SIEM profile 'nope'"):
        api.project(db, siem="nope")
    bad = tmp_path / "bad.toml"
    bad.write_text('[plan]\ndraws = "many"\n', encoding="utf-8")
    with pytest.raises(api.ConfigError, match=re.escape("plan.draws: expected a number from 10 to 100,000, got 'many'")):
        api.projections(db, config_file=bad)
    with pytest.raises(api.PlanError, match="quantile must be one of"):
        api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=1.0, quantile="p99", out_dir=tmp_path)
    with pytest.raises(api.ModelError, match=r"skip\.txt: cannot read"):
        api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=1.0, exclude_file=tmp_path / "skip.txt", out_dir=tmp_path)
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    with pytest.raises(api.ModelError, match="cannot write the plan"):
        api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=1.0, out_dir=blocked / "sub")


def test_estimate_saves_and_returns_the_fleet_range(tmp_path: Path) -> None:
    path = tmp_path / "ap.db"
    with Store(path) as store:
        store.save_result(_result("ws1", "workstation"))
    run = api.estimate(path)
    assert [e.host for e in run.estimates] == ["ws1"] and run.run == api.ESTIMATE_RUN
    assert run.fleet is not None and run.fleet.p10 <= run.fleet.p50 <= run.fleet.p90
    with Store(path) as store:
        assert [e.host for e in store.load_estimates(api.ESTIMATE_RUN)] == ["ws1"]
    with pytest.raises(api.ModelError, match="run `auditplan survey` or `auditplan ingest` first"):
        api.estimate(tmp_path / "missing.db")
