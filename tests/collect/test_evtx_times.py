"""EVTX time sanity (issue 20 item 2): one damaged record dated far from the rest is set aside and
counted instead of stretching the window (which made a host's rate 0/day); a window that the kept
records do not support gives no measured rate, and the host is estimated from its role, never zero.

The files are real captures (tests/data, MIT) with TimeCreated rewritten in a copy (evtx_patch.py,
located with python-evtx); evtx-rs reads them, as `auditplan ingest` does."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import evtx
from evtx_patch import with_times

from auditplan.collect.api import ingest
from auditplan.collect.evtx.timeline import check_times
from auditplan.config import load_config
from auditplan.model.estimate import estimate_hosts
from auditplan.records import EstimateSource
from auditplan.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURE = DATA / "mdec__ID4688-Clear_event_log_attempt_native.evtx"  # 28 x 4688 within one hour of 2020-07-09


def _times(path: Path) -> list[str]:
    out = []
    for record in evtx.PyEvtxParser(str(path)).records():
        assert record is not None  # evtx's stub types the iterator as Optional
        xml = record["data"]
        i = xml.find('SystemTime="')
        out.append(xml[i + 12:i + 31])
    return out


def _ingested(path: Path, db: Path) -> tuple[object, object]:
    ingest([path], db, host_name="fs02", role="file_server")
    with Store(db) as store:
        (result,) = store.load_results()
    (estimate,) = estimate_hosts([result], load_config())
    return result, estimate


def test_a_far_future_record_is_set_aside_not_a_window_of_years(tmp_path: Path) -> None:
    damaged = with_times(CAPTURE, tmp_path / "future.evtx", {20: datetime(2029, 3, 1, tzinfo=UTC)})
    assert max(_times(damaged)).startswith("2029-03-01")  # the independent parser sees the damage
    result, estimate = _ingested(damaged, tmp_path / "a.db")
    volume = result.volume  # type: ignore[attr-defined]
    assert volume is not None
    assert volume.window_end - volume.window_start <= timedelta(hours=2)  # not 2020..2029
    assert sum(volume.hourly_4688) == 27  # the 28 events less the one set aside
    assert any("1 record(s) with an implausible time set aside (2029-03-01T00:00Z)" in w
               for w in result.warnings)  # type: ignore[attr-defined]
    assert estimate.source is EstimateSource.MEASURED_4688  # type: ignore[attr-defined]
    assert estimate.events_per_day.p50 > 27  # type: ignore[attr-defined]  # 27 in an hour is not ~0/day


def test_a_record_years_before_the_rest_is_set_aside(tmp_path: Path) -> None:
    damaged = with_times(CAPTURE, tmp_path / "past.evtx", {3: datetime(2015, 1, 1, 12, tzinfo=UTC)})
    result, _ = _ingested(damaged, tmp_path / "a.db")
    volume = result.volume  # type: ignore[attr-defined]
    assert volume is not None and volume.window_start >= datetime(2020, 7, 9, tzinfo=UTC)
    assert sum(volume.hourly_4688) == 27


def test_a_window_the_records_do_not_support_is_no_measurement(tmp_path: Path) -> None:
    # Half the log 90 days later: two real groups (too many records to be damage), with 90 days of
    # nothing between them. The rate over the window would be diluted by hours nobody logged.
    later = {i: datetime(2020, 10, 7, 19, 7, 0, tzinfo=UTC) + timedelta(seconds=i) for i in range(14, 28)}
    damaged = with_times(CAPTURE, tmp_path / "gap.evtx", later)
    result, estimate = _ingested(damaged, tmp_path / "a.db")
    assert result.volume is None  # type: ignore[attr-defined]
    assert any("no measured rate from this file; the host is estimated from its role" in w
               for w in result.warnings)  # type: ignore[attr-defined]
    assert estimate.source in (EstimateSource.ROLE_PRIOR, EstimateSource.ROLE_PEERS)  # type: ignore[attr-defined]
    assert estimate.events_per_day.p50 > 0  # type: ignore[attr-defined]  # flagged, never costed at zero


def test_check_times_rules() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    bulk = Counter({f"2026-11-{d:02d}T{h:02d}": 50 for d in range(1, 8) for h in range(24)})
    assert check_times(bulk, now).set_aside == 0 and check_times(bulk, now).unsupported is None
    odd = bulk + Counter({"2026-12-05T00": 1, "2005-06-01T00": 2, "2026-01-01T00": 3})
    timeline = check_times(odd, now)
    # after the ingest time (+1 day), before EVTX existed, and a small group ten months off
    assert timeline.set_aside == 6 and set(timeline.set_aside_hours) == {"2026-12-05T00", "2005-06-01T00",
                                                                           "2026-01-01T00"}
    assert timeline.first_hour == datetime(2026, 11, 1, tzinfo=UTC)
    # A second group with more than 1 % of the records is not damage: kept, and then the gap between
    # the two makes the window unsupported.
    two = bulk + Counter({"2026-03-01T00": 500})
    timeline = check_times(two, now)
    assert timeline.set_aside == 0 and timeline.unsupported is not None
