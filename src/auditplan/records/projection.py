"""A projection as it is stored: the settings it was made with and its rows, in plain JSON values.

`auditplan plan` saves the projection it planned with beside the plan (Store.save_document, kind
"projection", key = its projection_id, the digest of the stored document, which plan.json names),
so `auditplan report` shows the numbers the plan was made from, with the configuration that
produced them, even after the same plan is made again with another config or price. The model's
Projection (model/project.py, pandas frames) converts to and from this record; here everything is
the standard library only.

Group rows (fleet, by role, by site) are plain dicts; the per-host values are kept by column
(one list per column, one host per index): at 100,000 hosts a dict per host is 222 MB of JSON
and 10 s to write, columns of the values a projection cannot recompute 34 MB and 1.5 s
(bench/plan.py). Values are str / int / float / bool / None; floats may be NaN or infinite in
memory (a host's local log hours are infinite when it writes nothing), and to_document writes
those as {"$float": "nan" | "inf" | "-inf"} because the store keeps strict JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from auditplan.records.plan import DIGEST_HEX

PROJECTION_DOCUMENT_VERSION: Final = 1
_FLOAT_MARK: Final = "$float"
_NON_FINITE: Final = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

Row = Mapping[str, Any]


class ProjectionRecordError(ValueError):
    """A stored projection document that cannot be read; the message says where and what."""


@dataclass(frozen=True)
class ProjectionRecord:
    """One projection with everything it was made from."""

    plan_id: str | None  # the plan made from it; None when it was not made for a plan
    siem: str  # the SIEM profile's name
    siem_settings: Mapping[str, Any]  # the profile's settings as used (numbers, licence, sources)
    retention_days: float
    price_per_gb: float | None  # None: unknown
    currency: str
    seed: int
    draws: int
    min_local_hours: float
    estimate_run: str  # the estimate run (store label) it projected
    hosts: Mapping[str, Sequence[Any]]  # column -> one value per host (every column as long)
    fleet: Row  # the fleet totals
    by_role: tuple[Row, ...]
    by_site: tuple[Row, ...]
    warnings: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)  # the effective config values used
    # Leaf key of `config` ("priors.roles.default.median_per_day") -> "default" or the --config file.
    config_sources: Mapping[str, str] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        """Strict JSON (no NaN) for Store.save_document."""
        return {
            "version": PROJECTION_DOCUMENT_VERSION,
            "plan_id": self.plan_id,
            "siem": self.siem,
            "siem_settings": _encode(self.siem_settings),
            "retention_days": _encode(self.retention_days),
            "price_per_gb": _encode(self.price_per_gb),
            "currency": self.currency,
            "seed": self.seed,
            "draws": self.draws,
            "min_local_hours": _encode(self.min_local_hours),
            "estimate_run": self.estimate_run,
            "hosts": {column: _encode(values) for column, values in self.hosts.items()},
            "fleet": _encode(self.fleet),
            "by_role": [_encode(r) for r in self.by_role],
            "by_site": [_encode(r) for r in self.by_site],
            "warnings": list(self.warnings),
            "config": _encode(self.config),
            "config_sources": dict(self.config_sources),
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], where: str = "projection") -> ProjectionRecord:
        """The record to_document wrote; ProjectionRecordError naming `where` and the key."""
        if not isinstance(doc, Mapping):
            raise ProjectionRecordError(f"{where}: expected an object")
        if doc.get("version") != PROJECTION_DOCUMENT_VERSION:
            raise ProjectionRecordError(f"{where}: version {doc.get('version')!r} is not "
                                        f"{PROJECTION_DOCUMENT_VERSION}")
        plan_id = doc.get("plan_id")
        if plan_id is not None and not isinstance(plan_id, str):
            raise ProjectionRecordError(f"{where}: plan_id: expected a string or null")
        sources = _table(doc.get("config_sources", {}), f"{where}: config_sources")
        if not all(isinstance(v, str) for v in sources.values()):
            raise ProjectionRecordError(f"{where}: config_sources: expected a table of strings")
        price = _decode(doc.get("price_per_gb"))
        return cls(
            plan_id=plan_id,
            siem=_str(doc.get("siem"), f"{where}: siem"),
            siem_settings=_table(_decode(doc.get("siem_settings", {})), f"{where}: siem_settings"),
            retention_days=_float(_decode(doc.get("retention_days")), f"{where}: retention_days"),
            price_per_gb=None if price is None else _float(price, f"{where}: price_per_gb"),
            currency=_str(doc.get("currency"), f"{where}: currency"),
            seed=_int(doc.get("seed"), f"{where}: seed"),
            draws=_int(doc.get("draws"), f"{where}: draws"),
            min_local_hours=_float(_decode(doc.get("min_local_hours")), f"{where}: min_local_hours"),
            estimate_run=_str(doc.get("estimate_run", ""), f"{where}: estimate_run"),
            hosts=_columns(doc.get("hosts"), f"{where}: hosts"),
            fleet=_table(_decode(doc.get("fleet")), f"{where}: fleet"),
            by_role=_rows(doc.get("by_role"), f"{where}: by_role"),
            by_site=_rows(doc.get("by_site"), f"{where}: by_site"),
            warnings=tuple(_str(w, f"{where}: warnings") for w in _list(doc.get("warnings", []), f"{where}: warnings")),
            config=_table(_decode(doc.get("config", {})), f"{where}: config"),
            config_sources=sources,
        )


    def host_rows(self) -> list[dict[str, Any]]:
        """The per-host values as one dict per host."""
        columns = list(self.hosts)
        return [dict(zip(columns, values, strict=True)) for values in zip(*self.hosts.values(), strict=True)]


def document_text(document: Mapping[str, Any]) -> str:
    """A stored document's JSON text exactly as Store.save_document writes it (strict, keys sorted)."""
    return json.dumps(document, ensure_ascii=False, allow_nan=False, sort_keys=True)


def projection_id_of(document: Mapping[str, Any] | str) -> str:
    """The projection_id of a stored projection document (ProjectionRecord.to_document), or of its
    document_text: sha256 (first 32 hex) of that text (UTF-8), so the store's payload can be checked
    against plan.json directly. It covers the plan_id, the config, the price and every row: two plans,
    or one plan made twice with other settings, name different projections."""
    text = document if isinstance(document, str) else document_text(document)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_HEX]


def _encode(value: Any) -> Any:
    """`value` as strict JSON: non-finite floats marked, tuples as lists, mappings as dicts."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {_FLOAT_MARK: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, Mapping):
        if len(value) == 1 and _FLOAT_MARK in value and value[_FLOAT_MARK] in _NON_FINITE:
            return _NON_FINITE[value[_FLOAT_MARK]]
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ProjectionRecordError(f"{where}: expected an object")
    return dict(value)


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise ProjectionRecordError(f"{where}: expected a list")
    return value


def _columns(value: Any, where: str) -> dict[str, list[Any]]:
    table = _table(value, where)
    columns = {str(k): list(_list(_decode(v), f"{where}.{k}")) for k, v in table.items()}
    if len({len(v) for v in columns.values()}) > 1:
        raise ProjectionRecordError(f"{where}: columns of different lengths")
    return columns


def _rows(value: Any, where: str) -> tuple[Row, ...]:
    return tuple(_table(_decode(r), f"{where}[{i}]") for i, r in enumerate(_list(value, where)))


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ProjectionRecordError(f"{where}: expected a string")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProjectionRecordError(f"{where}: expected a whole number")
    return value


def _float(value: Any, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ProjectionRecordError(f"{where}: expected a number")
    return float(value)
