"""CSV/JSON export: formula neutralisation, strict JSON, ISO 8601 UTC times."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from auditplan.records import Host, HostResult, HostStatus, SampledEvent
from auditplan.store import Store
from auditplan.store.export import ExportError, frame_records, frame_to_csv, frame_to_json, write_frame
from auditplan.text import csv_cell as neutralise_cell


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1+1", "'\uff1d1+1"),  # full-width equals sign
        ("cmd.exe /c =x", "cmd.exe /c =x"),  # only a leading trigger matters
        (" =1", " =1"),
        ("", ""),
        ("dc01", "dc01"),
    ],
)
def test_neutralise_cell(cell: str, expected: str) -> None:
    assert neutralise_cell(cell) == expected


def _sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": ["dc01", "=evil()"],
            "count": pd.array([-5, None], dtype="Int64"),
            "rate": [1.5, float("nan")],
            "flag": pd.array([True, None], dtype="boolean"),
            "when": pd.to_datetime(
                # pandas-stubs' list overload omits None, which pandas itself turns into NaT
                [datetime(2026, 11, 28, 8, 0, tzinfo=timezone(timedelta(hours=2))), None],  # type: ignore[arg-type]
                utc=True,
            ),
            "cmd": ['powershell -enc "AAA",x', "@calc\r\nline2"],
        }
    )


def test_csv_text(tmp_path: Path) -> None:
    text = frame_to_csv(_sample_frame())
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["host", "count", "rate", "flag", "when", "cmd"]
    assert rows[1] == ["dc01", "-5", "1.5", "true", "2026-11-28T06:00:00Z", 'powershell -enc "AAA",x']
    assert rows[2] == ["'=evil()", "", "", "", "", "'@calc\r\nline2"]
    assert text.startswith("host,count,rate,flag,when,cmd\r\n")


def test_csv_header_is_neutralised_too() -> None:
    text = frame_to_csv(pd.DataFrame({"=x": [1]}))
    assert text.splitlines()[0] == "'=x"


def test_json_is_strict_with_utc_times() -> None:
    text = frame_to_json(_sample_frame())
    records = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert records == [
        {
            "host": "dc01",
            "count": -5,
            "rate": 1.5,
            "flag": True,
            "when": "2026-11-28T06:00:00Z",
            "cmd": 'powershell -enc "AAA",x',
        },
        {"host": "=evil()", "count": None, "rate": None, "flag": None, "when": None, "cmd": "@calc\r\nline2"},
    ]
    # JSON keeps the text as it is: neutralising is a spreadsheet concern only
    assert datetime.fromisoformat(records[0]["when"]) == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def test_write_frame_by_suffix(tmp_path: Path) -> None:
    frame = _sample_frame()
    write_frame(frame, tmp_path / "hosts.csv")
    write_frame(frame, tmp_path / "hosts.json")
    assert (tmp_path / "hosts.csv").read_bytes() == frame_to_csv(frame).encode("utf-8")
    assert json.loads((tmp_path / "hosts.json").read_text("utf-8")) == frame_records(frame)
    with pytest.raises(ExportError, match=r"hosts\.xlsx: unknown export format"):
        write_frame(frame, tmp_path / "hosts.xlsx")
    with pytest.raises(ExportError, match="cannot write"):
        write_frame(frame, tmp_path / "missing" / "hosts.csv")


def test_store_frames_export(tmp_path: Path) -> None:
    # A command line a host could plant to attack whoever opens the export in a spreadsheet.
    hostile = "=cmd|' /C calc'!A0"
    result = HostResult(
        host=Host(name="web01", address="web01", role="+iis"),
        status=HostStatus.OK,
        reason="",
        collected_at=datetime(2026, 11, 28, 7, 0, 1, tzinfo=UTC),
        computer_name="@WEB01",
        events=(
            SampledEvent(
                time=datetime(2026, 11, 28, 6, 59, tzinfo=UTC),
                event_id=4688,
                version=2,
                new_process_name="C:\\Windows\\System32\\cmd.exe",
                parent_process_name=None,
                subject_user_name="svc",
                command_line=hostile,
                size_bytes=1400,
            ),
        ),
    )
    with Store(tmp_path / "s.db") as store:
        store.save_result(result)
        hosts, events = store.hosts_frame(), store.events_frame()
    host_rows = list(csv.DictReader(io.StringIO(frame_to_csv(hosts), newline="")))
    assert host_rows[0]["computer_name"] == "'@WEB01"
    assert host_rows[0]["role"] == "'+iis"
    assert host_rows[0]["collected_at"] == "2026-11-28T07:00:01Z"
    assert host_rows[0]["sampled_4688_per_day"] == ""
    event_rows = list(csv.DictReader(io.StringIO(frame_to_csv(events), newline="")))
    assert event_rows[0]["command_line"] == "'" + hostile
    assert event_rows[0]["time"] == "2026-11-28T06:59:00Z"
    event_json = json.loads(frame_to_json(events))
    assert event_json[0]["command_line"] == hostile
    assert event_json[0]["parent_process_name"] is None
    assert event_json[0]["size_bytes"] == 1400
