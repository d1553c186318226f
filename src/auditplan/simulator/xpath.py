"""The XPath 1.0 subset that Windows Event Log filters accept, evaluated on simulated events.

The subset is MS-EVEN6 §2.2.15 (filter XPath): child and attribute axes only; node tests `*`,
a name, `text()`; `or`, `and`, `=`, `!=`, `<`, `<=`, `>`, `>=`, parentheses, literals, numbers,
function calls `position()` and the extensions `band(a, b)` and `timediff(t[, t2])` (§2.2.15.2,
milliseconds). Absolute paths, `//`, `|`, arithmetic and every other function are refused:
wevtutil answers them with exit 15001 (windows-tool-outputs.md §3.4; the exact code Windows uses
for each kind of unsupported operator is UNVERIFIED: 15001 is used for all).

A query selects events: its top level is one step, `*` or `Event`, with predicates. The parser
is xpath_parse.py; this module holds the time sets, the event nodes and the evaluation.

Evaluation is symbolic in the event's time: a predicate evaluated on an event's static fields
yields the set of `TimeCreated/@SystemTime` values (100-ns ticks) for which it holds, so an
hour of events is filtered by template once, then by time with a bisect. Fields that vary per
event other than the time (EventRecordID) make the evaluator ask for the concrete event.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime

from auditplan.simulator.xpath_parse import BinOp, Func, Lit, Num, Path, parse_query
from auditplan.simulator.xpath_parse import XPathError as XPathError  # what EventFilter raises

TICKS_PER_SECOND = 10_000_000
TICKS_PER_MS = 10_000
TICK_MIN = -(1 << 62)
TICK_MAX = 1 << 62

# ------------------------------------------------------------------ time sets


Interval = tuple[int, int]  # half-open [lo, hi) in ticks


@dataclass(frozen=True)
class TimeSet:
    """A union of disjoint half-open tick intervals, sorted."""

    intervals: tuple[Interval, ...]
    _los: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_los", tuple(lo for lo, _ in self.intervals))

    def __bool__(self) -> bool:
        return bool(self.intervals)

    def contains(self, t: int) -> bool:
        i = bisect_right(self._los, t) - 1
        return i >= 0 and t < self.intervals[i][1]

    def union(self, other: TimeSet) -> TimeSet:
        merged: list[list[int]] = []
        for lo, hi in sorted(self.intervals + other.intervals):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        return TimeSet(tuple((a, b) for a, b in merged))

    def intersect(self, other: TimeSet) -> TimeSet:
        out: list[Interval] = []
        for alo, ahi in self.intervals:
            for blo, bhi in other.intervals:
                lo, hi = max(alo, blo), min(ahi, bhi)
                if lo < hi:
                    out.append((lo, hi))
        return TimeSet(tuple(sorted(out)))

    def complement(self) -> TimeSet:
        out: list[Interval] = []
        cur = TICK_MIN
        for lo, hi in self.intervals:
            if lo > cur:
                out.append((cur, lo))
            cur = max(cur, hi)
        if cur < TICK_MAX:
            out.append((cur, TICK_MAX))
        return TimeSet(tuple(out))

    @property
    def is_all(self) -> bool:
        return self.intervals == ((TICK_MIN, TICK_MAX),)


ALL = TimeSet(((TICK_MIN, TICK_MAX),))
EMPTY = TimeSet(())


def _interval(op: str, v: float) -> TimeSet:
    """Ticks t (integers) with `t op v`."""
    if math.isnan(v):
        return EMPTY
    if op == "<":
        return TimeSet(((TICK_MIN, math.ceil(v)),))
    if op == "<=":
        return TimeSet(((TICK_MIN, math.floor(v) + 1),))
    if op == ">":
        return TimeSet(((math.floor(v) + 1, TICK_MAX),))
    if op == ">=":
        return TimeSet(((math.ceil(v), TICK_MAX),))
    point = TimeSet(((int(v), int(v) + 1),)) if v == int(v) else EMPTY
    return point if op == "=" else point.complement()


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


def parse_system_time(text: str) -> int | None:
    """'2026-11-28T07:00:00.1234567Z' (fraction optional, Z optional: UTC) -> ticks since 1970."""
    m = re.fullmatch(r"\s*(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z?\s*", text)
    if not m:
        return None
    try:
        y, mo, d, hh, mi, ss = (int(m.group(i)) for i in range(1, 7))
        dt = datetime(y, mo, d, hh, mi, ss, tzinfo=UTC)
    except ValueError:
        return None
    frac = (m.group(7) or "").ljust(7, "0")[:7]
    return int(dt.timestamp()) * TICKS_PER_SECOND + int(frac)


def format_system_time(ticks: int) -> str:
    """Ticks since 1970 -> SystemTime as wevtutil prints it: 7 fractional digits and Z (§4.1)."""
    seconds, frac = divmod(ticks, TICKS_PER_SECOND)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:07d}Z"


# ------------------------------------------------------------------ event nodes


class Dyn:
    """A per-event value in a template: the event time, or its record number."""

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "time" | "rid" | "utc"


DYN_TIME = Dyn("time")
DYN_RID = Dyn("rid")
DYN_UTC = Dyn("utc")  # Sysmon's UtcTime Data: the event time as 'YYYY-MM-DD HH:MM:SS.mmm'
DYN_COMPUTER = Dyn("computer")  # the log's host: templates are shared between hosts


@dataclass
class EvNode:
    name: str
    attrs: dict[str, str | Dyn] = field(default_factory=dict)
    text: str | Dyn = ""
    children: list[EvNode] = field(default_factory=list)

    def child(self, name: str) -> list[EvNode]:
        return [c for c in self.children if name in ("*", c.name)]


class NeedsEvent(Exception):
    """The value depends on a per-event field other than the time."""


# ------------------------------------------------------------------ evaluation

Item = EvNode | str | Dyn
NodeSet = list[tuple[Item, TimeSet]]  # each item exists for the times in its condition


@dataclass(frozen=True)
class TimeLinear:
    """timediff(...) as a function of the event time: (a * t + b) ticks."""

    a: int
    b: float


@dataclass
class _Ctx:
    now: int
    computer: str
    t: int | None
    rid: int | None
    position: int = 1


Value = NodeSet | str | float | bool | TimeSet | TimeLinear


def _resolve(item: Item, ctx: _Ctx) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, EvNode):
        if item.children:
            return "".join(_resolve(c, ctx) for c in item.children)
        return _resolve(item.text, ctx)
    if item.kind == "computer":
        return ctx.computer
    if item.kind == "rid":
        if ctx.rid is None:
            raise NeedsEvent
        return str(ctx.rid)
    if ctx.t is None:
        raise NeedsEvent
    if item.kind == "utc":
        s = format_system_time(ctx.t)
        return s[:10] + " " + s[11:23]
    return format_system_time(ctx.t)


def _number(s: str) -> float:
    s = s.strip()
    try:
        return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
    except ValueError:
        return math.nan


def _as_set(v: Value) -> TimeSet:
    if isinstance(v, TimeSet):
        return v
    if isinstance(v, list):
        out = EMPTY
        for _, cond in v:
            out = out.union(cond)
            if out.is_all:
                break
        return out
    if isinstance(v, TimeLinear):
        return ALL
    if isinstance(v, float):
        return ALL if v and not math.isnan(v) else EMPTY
    return ALL if v else EMPTY


def _eval(expr: object, node: EvNode, ctx: _Ctx) -> Value:
    if isinstance(expr, Lit):
        return expr.value
    if isinstance(expr, Num):
        return expr.value
    if isinstance(expr, Path):
        return _eval_path(expr, node, ctx)
    if isinstance(expr, Func):
        return _eval_func(expr, node, ctx)
    assert isinstance(expr, BinOp)
    if expr.op in ("and", "or"):
        left = _as_set(_eval(expr.left, node, ctx))
        if expr.op == "and" and not left:
            return EMPTY
        if expr.op == "or" and left.is_all:
            return ALL
        right = _as_set(_eval(expr.right, node, ctx))
        return left.intersect(right) if expr.op == "and" else left.union(right)
    return _compare(expr.op, _eval(expr.left, node, ctx), _eval(expr.right, node, ctx), ctx)


def _eval_path(path: Path, node: EvNode, ctx: _Ctx) -> NodeSet:
    current: NodeSet = [(node, ALL)]
    for step in path.steps:
        nxt: NodeSet = []
        for item, cond in current:
            if not isinstance(item, EvNode):
                continue
            if step.axis == "attribute":
                nxt += [(v, cond) for k, v in item.attrs.items() if step.name in ("*", k)]
            elif step.axis == "text":
                if not item.children:
                    nxt.append((item.text, cond))
            else:
                matched = item.child(step.name)
                for pos, child in enumerate(matched, start=1):
                    c = cond
                    for pred in step.predicates:
                        sub = _Ctx(ctx.now, ctx.computer, ctx.t, ctx.rid, pos)
                        v = _eval(pred, child, sub)
                        c = c.intersect(ALL if v == pos else EMPTY) if isinstance(v, float) else c.intersect(
                            _as_set(v))
                        if not c:
                            break
                    if c:
                        nxt.append((child, c))
        current = nxt
    return current


def _time_arg(v: Value, ctx: _Ctx) -> TimeLinear | None:
    """A timediff() argument as a*t + b ticks; None when it names no time."""
    if isinstance(v, str):
        ticks = parse_system_time(v)
        return None if ticks is None else TimeLinear(0, ticks)
    if isinstance(v, list) and v:
        item = v[0][0]
        if item is DYN_TIME:
            return TimeLinear(1, 0) if ctx.t is None else TimeLinear(0, ctx.t)
        ticks = parse_system_time(_resolve(item, ctx))
        return None if ticks is None else TimeLinear(0, ticks)
    return None


def _eval_func(f: Func, node: EvNode, ctx: _Ctx) -> Value:
    if f.name == "position":
        return float(ctx.position)
    args = [_eval(a, node, ctx) for a in f.args]
    if f.name == "band":
        nums = []
        for a in args:
            s = _resolve(a[0][0], ctx) if isinstance(a, list) and a else (a if isinstance(a, str) else "")
            n = _number(s) if isinstance(a, (list, str)) else (a if isinstance(a, float) else math.nan)
            nums.append(n)
        if any(math.isnan(n) for n in nums):
            return False
        return (int(nums[0]) & int(nums[1])) != 0
    # timediff(t) = now - t; timediff(t1, t2) = t2 - t1 (MS-EVEN6 §2.2.15.2), in ms.
    first = _time_arg(args[0], ctx)
    second = _time_arg(args[1], ctx) if len(args) == 2 else TimeLinear(0, ctx.now)
    if first is None or second is None:
        return math.nan
    return TimeLinear(second.a - first.a, second.b - first.b)


def _cmp_scalar(op: str, a: float | str, b: float | str) -> bool:
    if op in ("=", "!="):
        eq = a == b
        return eq if op == "=" else not eq
    x = a if isinstance(a, float) else _number(a)
    y = b if isinstance(b, float) else _number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _compare(op: str, left: Value, right: Value, ctx: _Ctx) -> Value:
    if isinstance(right, TimeLinear) or (isinstance(right, list) and not isinstance(left, (list, TimeLinear))):
        left, right, op = right, left, _FLIP[op]
    if isinstance(left, TimeLinear):
        if isinstance(right, (bool, TimeSet)) or not isinstance(right, (float, str, list)):
            return False
        c = right if isinstance(right, float) else _number(
            _resolve(right[0][0], ctx) if isinstance(right, list) and right else str(right))
        target = c * TICKS_PER_MS - left.b
        if left.a == 0:
            return _cmp_scalar(op, -target, 0.0) if not math.isnan(c) else False
        if left.a < 0:
            return _interval(_FLIP[op], -target)
        return _interval(op, target)
    if isinstance(left, list):
        out = EMPTY
        if isinstance(right, list):
            for a, ca in left:
                for b, cb in right:
                    if _cmp_items(op, _resolve(a, ctx), _resolve(b, ctx)):
                        out = out.union(ca.intersect(cb))
            return out
        if isinstance(right, (bool, TimeSet)):
            mine = _as_set(left)
            other = _as_set(right)
            same = mine.intersect(other).union(mine.complement().intersect(other.complement()))
            return same if op == "=" else same.complement() if op == "!=" else EMPTY
        if not isinstance(right, (float, str)):
            return EMPTY
        for item, cond in left:
            if item is DYN_TIME and isinstance(right, str) and (v := parse_system_time(right)) is not None:
                hit = _interval(op, float(v))
            else:
                hit = ALL if _cmp_items(op, _resolve(item, ctx), right) else EMPTY
            out = out.union(cond.intersect(hit))
        return out
    if isinstance(left, (TimeSet, bool)) or isinstance(right, (TimeSet, bool, TimeLinear)):
        set_l, set_r = _as_set(left), _as_set(right)
        same = set_l.intersect(set_r).union(set_l.complement().intersect(set_r.complement()))
        return same if op == "=" else same.complement() if op == "!=" else EMPTY
    assert isinstance(left, (float, str)) and isinstance(right, (float, str))
    if op in ("=", "!=") and (isinstance(left, float) or isinstance(right, float)):
        left = left if isinstance(left, float) else _number(left)
        right = right if isinstance(right, float) else _number(right)
    return _cmp_scalar(op, left, right)


def _cmp_items(op: str, s: str, other: float | str) -> bool:
    if isinstance(other, float):
        return _cmp_scalar(op, _number(s), other)
    ts, to = parse_system_time(s), parse_system_time(other)
    if ts is not None and to is not None and op not in ("=", "!="):
        return _cmp_scalar(op, float(ts), float(to))
    return _cmp_scalar(op, s, other)


# ------------------------------------------------------------------ public API


class EventFilter:
    """A compiled wevtutil `/q:` query. Raises XPathError on what Windows would refuse."""

    def __init__(self, query: str, now_ticks: int, computer: str = "") -> None:
        self.query = query
        self.now = now_ticks
        self.computer = computer
        self._step = parse_query(query)

    def _root_value(self, root: EvNode, ctx: _Ctx) -> TimeSet:
        if self._step.name not in ("*", root.name):
            return EMPTY
        cond = ALL
        for pred in self._step.predicates:
            v = _eval(pred, root, ctx)
            cond = cond.intersect((ALL if v == 1.0 else EMPTY) if isinstance(v, float) else _as_set(v))
            if not cond:
                break
        return cond

    def time_condition(self, root: EvNode) -> TimeSet | None:
        """Event times for which an event with these static fields matches; None: ask per event."""
        try:
            return self._root_value(root, _Ctx(self.now, self.computer, None, None))
        except NeedsEvent:
            return None

    def matches(self, root: EvNode, t: int, rid: int) -> bool:
        return self._root_value(root, _Ctx(self.now, self.computer, t, rid)).contains(t)

