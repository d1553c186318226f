"""Hypothesis fuzzing of the files users hand auditplan: hosts files, plan.json, fleet TOML and the
headers of an EVTX file. Whatever the bytes, the command ends with one of its documented exit codes,
its errors are one line each, and no traceback reaches the user. Kept small (a few dozen examples
each) so that the suite stays fast; the corpus in tests/data/hostile holds the cases found so far."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner, Result
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditplan.cli import main
from auditplan.cli.simulate import load_profiles, serve_fleet
from auditplan.simulator.fleet import SECTION_SCHEMAS

CAPTURE = Path(__file__).resolve().parent / "data" / "mdec__ID4688-Clear_event_log_attempt_native.evtx"
EVTX_HEADER = 4096
CHUNK_HEADER = 512
FUZZ = settings(max_examples=40)


def _clean(result: Result, codes: tuple[int, ...]) -> None:
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code in codes, output
    assert "Traceback" not in output, output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)


@FUZZ
@given(st.binary(max_size=600) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_survey_reads_any_hosts_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hosts = Path(tmp) / "hosts.csv"
        hosts.write_bytes(data)
        result = CliRunner().invoke(main, ["survey", str(hosts), "--db", str(Path(tmp) / "a.db"), "--no-progress",
                                           "--credentials", str(Path(tmp) / "none.json")])
    _clean(result, (2,))  # nothing is contacted: no credentials file (exit 2) after the hosts are read


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
_PLAN_KEYS = st.sampled_from(["schema_version", "plan_id", "waves", "budget", "unplaced", "pilot", "siem",
                              "warnings", "created_at", "projection_id"])
_PLANS = st.fixed_dictionaries({"schema_version": st.just(1) | _JSON, "waves": _JSON}) | st.dictionaries(
    _PLAN_KEYS, _JSON, max_size=6)


@FUZZ
@given(_PLANS)
def test_gpo_reads_any_plan_json(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plan = Path(tmp) / "plan.json"
        plan.write_text(json.dumps(doc), encoding="utf-8")  # NaN/Infinity written as JSON's extension
        result = CliRunner().invoke(main, ["gpo", "--plan", str(plan), "--out", str(Path(tmp) / "gpo")])
    _clean(result, (0, 2))


def _toml_value(depth: int = 0) -> st.SearchStrategy[str]:
    scalar = st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats(allow_nan=True).map(lambda f: {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(f), repr(f))),
        st.booleans().map(lambda b: "true" if b else "false"),
        st.text(max_size=12).map(json.dumps),
    )
    return scalar if depth > 1 else scalar | st.lists(_toml_value(depth + 1), max_size=3).map(
        lambda xs: "[" + ", ".join(xs) + "]")


_KEYS = ["name", "count", "address", "port", "role", "site", "seed", "admin"]
_SECTIONS = sorted(SECTION_SCHEMAS)
# Values a fleet file would plausibly hold, typed per host key, beside the arbitrary ones: without
# them nearly every generated fleet is refused by the loader, and the serving half would rarely run.
_HOST_VALUES = {
    "name": st.just('"srv01"'),
    "count": st.integers(min_value=-1, max_value=3).map(str),
    "address": st.sampled_from(["127.0.0.50", "127.0.3.7", "10.0.0.1", "127.0.0.300", "::1", ""]).map(json.dumps),
    "port": st.integers(min_value=-1, max_value=70_000).map(str),
    "role": st.text(st.characters(exclude_categories=["Cs"]), max_size=12).map(json.dumps),
    "site": st.text(st.characters(exclude_categories=["Cs"]), max_size=12).map(json.dumps),
    "seed": st.integers(min_value=-1, max_value=2**64).map(str),
    "admin": st.booleans().map(lambda b: "true" if b else "false"),
}
_SECTION_VALUES = st.one_of(
    st.booleans().map(lambda b: "true" if b else "false"),
    st.integers(min_value=0, max_value=100_000).map(str),
    st.floats(min_value=0, max_value=1e6).map(repr),
    _toml_value(),
)
# Three plausible values to one arbitrary one (st.one_of picks a branch uniformly).
_HOST_ENTRY = st.sampled_from(_KEYS).flatmap(
    lambda k: st.tuples(st.just(k), st.one_of(_HOST_VALUES[k], _HOST_VALUES[k], _HOST_VALUES[k], _toml_value())))


@settings(max_examples=100)
@given(st.lists(_HOST_ENTRY, max_size=4),
       st.lists(st.tuples(st.sampled_from(_SECTIONS), st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", max_size=24),
                          _SECTION_VALUES), max_size=3))
# Fleets that load, with a fixed address and port among them, always run (random draws rarely load).
# A section key is picked by the length of its text: "late" -> faults.latency_ms, "proce" ->
# rates.process_starts_per_day, "build___" -> os.build.
@example([("address", '"127.0.3.7"'), ("port", "0"), ("admin", "false")], [("faults", "late", "250.0")])
@example([("port", "65535"), ("role", '"dc"'), ("seed", "7")], [("rates", "proce", "0.0")])
@example([("address", '"127.0.3.8"'), ("site", '"lon"')], [("os", "build___", "17763")])
def test_simulate_serves_any_fleet_toml_it_loads(host: list[tuple[str, str]], sections: list[tuple[str, str, str]]) -> None:
    lines = ["[[hosts]]", 'name = "srv01"'] + [f"{k} = {v}" for k, v in dict(host).items() if k != "name"]
    for section, key, value in sections:
        known = sorted(SECTION_SCHEMAS[section])
        lines.append(f"{section}.{known[len(key) % len(known)] if key else 'x'} = {value}")
    with tempfile.TemporaryDirectory() as tmp:
        fleet = Path(tmp) / "fleet.toml"
        fleet.write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            profiles = load_profiles(fleet)
        except click.UsageError:
            # What `simulate` makes of a fleet that does not load: exit 2 and a one-line error naming it.
            result = CliRunner().invoke(main, ["simulate", "--fleet", str(fleet), "--transport", "basic", "--http",
                                               "--work-dir", tmp])
            _clean(result, (2,))
            # One line per problem (FleetError), each naming the file.
            lines = result.output.splitlines()
            errors = lines[next(i for i, line in enumerate(lines) if line.startswith("Error:")):]
            assert errors and all(str(fleet) in line for line in errors if line.strip()), result.output
            return
        for profile in profiles:  # in range: no port the OS refuses, no nan/inf
            assert 0 <= profile.port <= 65535
            assert math.isfinite(profile.rates.process_starts_per_day)
        # A fleet that loads serves: `simulate` starts it on loopback (the same code path, waiting for
        # nothing instead of Ctrl-C) and stops it, without a crash. Only the system may still refuse a
        # fixed port another process holds: a one-line UsageError naming the fleet, never a traceback.
        try:
            serve_fleet(profiles, Path(tmp), source=str(fleet), auth="basic", http=True,
                        hosts_out=Path(tmp) / "hosts.csv", credentials_out=Path(tmp) / "creds.json", until=lambda: None)
        except click.UsageError as exc:
            assert any(p.port for p in profiles) and "cannot listen on" in str(exc), str(exc)
            assert "\n" not in str(exc) and str(fleet) in str(exc)
            return
        assert (Path(tmp) / "hosts.csv").read_text(encoding="utf-8").startswith("host,address,port,role,site")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, EVTX_HEADER + CHUNK_HEADER - 1), st.integers(0, 255)), min_size=1,
                max_size=8))
def test_ingest_survives_damaged_evtx_headers(changes: list[tuple[int, int]]) -> None:
    data = bytearray(CAPTURE.read_bytes())
    for offset, value in changes:
        data[offset] = value
    with tempfile.TemporaryDirectory() as tmp:
        damaged = Path(tmp) / "damaged.evtx"
        damaged.write_bytes(bytes(data))
        result = CliRunner().invoke(main, ["ingest", str(damaged), "--db", str(Path(tmp) / "a.db")])
    _clean(result, (0, 1))  # ingest: 1 = the file could not be read (named on its own line)
