"""JSON-ready encoding of the frozen record dataclasses, driven by their type hints.

Round trip is exact: `decode(T, encode(x)) == x` for the records in records/survey.py and
records/estimate.py (nested dataclasses, StrEnums, tz-aware datetimes as ISO 8601 text,
tuples, optionals). Keys missing from old JSON take the field's default, so a field added
to a contract later still loads stores written before it; unknown keys are ignored.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


class CodecError(ValueError):
    """Stored JSON does not fit the record type."""


# Exact types that encode as themselves (a StrEnum is a str subclass, so exact types only).
_PLAIN = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type, None for any other type (read once per type: the
    survey saves every host's tree of records, and dataclasses.fields() per node was its cost)."""
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    return None


def encode(value: Any) -> Any:
    """A dataclass tree as plain JSON-ready values (dict, list, str, int, float, bool, None)."""
    cls = value.__class__
    if cls in _PLAIN:
        return value
    names = _field_names(cls)
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, data: Any) -> Any:
    """The inverse of encode for a value of type `tp`."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None:
            if type(None) in args:
                return None
            raise CodecError(f"null for {tp}")
        for arg in args:
            if arg is type(None):
                continue
            try:
                return decode(arg, data)
            except (CodecError, ValueError, TypeError):
                continue
        raise CodecError(f"{data!r} fits none of {tp}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise CodecError(f"expected a list for {tp}, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], item) for item in data)
        return tuple(decode(arg, item) for arg, item in zip(args, data, strict=True))
    if origin is dict or tp is dict:
        if not isinstance(data, dict):
            raise CodecError(f"expected an object for {tp}")
        return dict(data)
    if tp is Any:
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise CodecError(f"expected an object for {tp.__name__}")
        hints = _hints(tp)
        kwargs = {
            f.name: decode(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is datetime:
        if not isinstance(data, str):
            raise CodecError(f"expected ISO 8601 text, got {data!r}")
        return datetime.fromisoformat(data)
    if tp is bool:
        if not isinstance(data, bool):
            raise CodecError(f"expected a boolean, got {data!r}")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise CodecError(f"expected an integer, got {data!r}")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise CodecError(f"expected a number, got {data!r}")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise CodecError(f"expected text, got {data!r}")
        return data
    raise CodecError(f"cannot decode type {tp!r}")


def decode_as(cls: type[T], data: Any) -> T:
    result: T = decode(cls, data)
    return result
