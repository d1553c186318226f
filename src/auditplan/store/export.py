"""CSV and JSON export of the store's frames (hosts_frame, events_frame, or any flat frame).

Cells hold host-supplied text (command lines, computer names, reasons), so CSV output
neutralises spreadsheet formulas with text.csv_cell: a text cell starting with a formula trigger
(full-width forms included) gets a leading apostrophe (OWASP "CSV Injection"). JSON is strict (no
NaN): missing values are null and datetimes are ISO 8601 UTC with a trailing "Z".
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas costs ~0.6 s to import: deferred until a frame is written
    import pandas as pd

from auditplan.safe_write import UnsafePathError, write_text
from auditplan.store.rows import utc
from auditplan.text import csv_cell


class ExportError(Exception):
    """An export could not be written; the message names the file."""


def _iso_utc(moment: datetime) -> str:
    return utc(moment).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """A frame cell as a JSON value: None for every kind of missing, ISO text for times."""
    import pandas as pd  # already loaded: the cell came from a frame

    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return _iso_utc(value.to_pydatetime())
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def _cell(value: Any) -> str:
    plain = _plain(value)
    if plain is None:
        return ""
    if isinstance(plain, bool):
        return "true" if plain else "false"
    if isinstance(plain, list):
        plain = ";".join("" if item is None else str(item) for item in plain)
    if isinstance(plain, dict):  # audit_subcategories: "{guid}=setting;..."
        plain = ";".join(f"{key}={item}" for key, item in plain.items())
    if isinstance(plain, int | float):
        return repr(plain) if isinstance(plain, float) else str(plain)
    return csv_cell(str(plain))


def frame_to_csv(frame: pd.DataFrame) -> str:
    """The frame as CSV text (header row, CRLF line ends, RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(str(column)) for column in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame as a list of JSON-ready dicts, one per row."""
    columns = [str(column) for column in frame.columns]
    return [
        dict(zip(columns, (_plain(value) for value in row), strict=True))
        for row in frame.itertuples(index=False, name=None)
    ]


def frame_to_json(frame: pd.DataFrame, *, ascii_only: bool = False) -> str:
    """The frame as a strict JSON array of objects. `ascii_only` escapes every non-ASCII character
    (\\uXXXX): for a terminal, where a C1 control or a bidi override in host text would act."""
    return json.dumps(frame_records(frame), ensure_ascii=ascii_only, allow_nan=False, indent=2) + "\n"


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as CSV or JSON, chosen by the suffix of `path` (.csv or .json)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = frame_to_csv(frame)
    elif suffix == ".json":
        text = frame_to_json(frame)
    else:
        raise ExportError(f"{path}: unknown export format {suffix or '(no suffix)'}; use .csv or .json")
    try:
        write_text(path, text)  # the CSV's CRLF exactly as written; never through a planted link
    except UnsafePathError as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"{path}: cannot write: {exc.strerror or exc}") from None
