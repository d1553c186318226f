"""records.ProjectionRecord: a projection as the store keeps it (strict JSON, non-finite floats kept)."""

from __future__ import annotations

import json
import math

import pytest

from auditplan.records import ProjectionRecord, ProjectionRecordError


def _record() -> ProjectionRecord:
    return ProjectionRecord(
        plan_id="a" * 32, siem="splunk-xml", siem_settings={"size_factor": 1.0, "sources": {"size_factor": "doc"}},
        retention_days=90.0, price_per_gb=None, currency="USD", seed=4688, draws=1000, min_local_hours=168.0,
        estimate_run="latest",
        hosts={"host": ["web01", "web02"], "role": [None, "web"], "local_hours_p90": [math.inf, 2.0],
               "p50": [math.nan, 1.5], "ok": [True, False], "n": [3, 4]},
        fleet={"added_gb_day_p90": 0.5, "hosts": 1}, by_role=({"role": "(none)", "added_gb_day_p90": 0.5},),
        by_site=(), warnings=("one",), config={"plan": {"draws": 1000}, "local_log": {"x": -math.inf}},
        config_sources={"plan.draws": "default", "local_log.x": "/tmp/my.toml"},
    )


def test_round_trip_through_strict_json_keeps_nan_and_infinity() -> None:
    record = _record()
    text = json.dumps(record.to_document(), allow_nan=False)  # what Store.save_document does
    back = ProjectionRecord.from_document(json.loads(text))
    host, other = back.host_rows()
    assert host["local_hours_p90"] == math.inf and math.isnan(host["p50"])
    assert (host["host"], host["role"], host["ok"], host["n"]) == ("web01", None, True, 3)
    assert other == {"host": "web02", "role": "web", "local_hours_p90": 2.0, "p50": 1.5, "ok": False, "n": 4}
    assert back.config == {"plan": {"draws": 1000}, "local_log": {"x": -math.inf}}
    assert back.config_sources == record.config_sources
    assert (back.plan_id, back.siem, back.price_per_gb, back.seed, back.draws, back.estimate_run) == (
        "a" * 32, "splunk-xml", None, 4688, 1000, "latest")
    assert back.fleet == record.fleet and back.by_role == record.by_role and back.warnings == ("one",)
    assert back.siem_settings == record.siem_settings


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 2}, "store: projection x: version 2 is not 1"),
    ({"hosts": []}, "hosts: expected an object"),
    ({"hosts": {"host": ["a"], "p50": []}}, "hosts: columns of different lengths"),
    ({"seed": "1"}, "seed: expected a whole number"),
    ({"config_sources": {"a": 1}}, "config_sources: expected a table of strings"),
])
def test_bad_documents_are_named(change: dict[str, object], message: str) -> None:
    doc = {**_record().to_document(), **change}
    with pytest.raises(ProjectionRecordError, match=message):
        ProjectionRecord.from_document(doc, "store: projection x")
