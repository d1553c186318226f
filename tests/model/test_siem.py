"""SIEM profiles from the defaults TOML: units, byte model, overrides and errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from auditplan.config import ConfigError, load_config, load_defaults
from auditplan.model.project import project
from auditplan.model.siem import GB_BINARY, GB_DECIMAL, load_siem_profiles, pick_profile
from auditplan.records import EstimateSource, HostEstimate, Range

EXPECTED = {"splunk-classic", "splunk-xml", "sentinel", "wef", "elastic", "qradar", "arcsight", "scom"}


def test_every_profile_of_the_brief_is_shipped_with_sources() -> None:
    profiles = load_siem_profiles(load_defaults())
    assert set(profiles) == EXPECTED
    for profile in profiles.values():
        # Every number names a source (or says "assumption"): the TOML's [siem.NAME.sources].
        for key in ("size_factor", "cmdline_factor", "add_bytes", "gb_bytes", "storage_factor", "eps_capacity"):
            assert profile.sources.get(key), f"{profile.name}.{key} has no source"


def test_gb_units_follow_the_vendors() -> None:
    profiles = load_siem_profiles(load_defaults())
    # evtx-data.md §3.4: Azure Monitor bills GB = 10^9 bytes.
    assert profiles["sentinel"].gb_bytes == GB_DECIMAL == 1_000_000_000
    # Splunk's licence usage reports divide bytes by 1024^3.
    assert profiles["splunk-xml"].gb_bytes == profiles["splunk-classic"].gb_bytes == GB_BINARY == 1_073_741_824
    # evtx-data.md §3.1: plan 3,000 events/s per WEC server.
    assert profiles["wef"].eps_capacity == 3000.0
    assert profiles["qradar"].licence == "eps" and profiles["qradar"].eps_basis == "peak"


def test_byte_model_by_hand() -> None:
    profiles = load_siem_profiles(load_defaults())
    xml, xml_no = 1500.0, 1420.0  # 80 bytes of CommandLine
    # XmlWinEventLog: the XML itself.
    assert profiles["splunk-xml"].event_bytes(xml, xml_no) == pytest.approx(1500.0)
    # Classic: header + message = the XML + 692 B (tools/siem_event_sizes.py), the command line once.
    assert profiles["splunk-classic"].event_bytes(xml, xml_no) == pytest.approx(692 + 1420 + 0.96 * 80)
    # WEF RenderedText: the XML + RenderingInfo (1,838 B), the command line in the data and the message.
    assert profiles["wef"].event_bytes(xml, xml_no) == pytest.approx(1838 + 1420 + 2 * 80)
    # Winlogbeat: the document (1,687 B more than the XML), the command line twice, JSON-escaped.
    assert profiles["elastic"].event_bytes(xml, xml_no) == pytest.approx(1687 + 1420 + 2.02 * 80)
    # ACS: a flat 0.4 KB row plus the command line string.
    assert profiles["scom"].event_bytes(xml, xml_no) == pytest.approx(409.6 + 80)
    assert profiles["splunk-xml"].cmdline_bytes(xml, xml_no) == pytest.approx(80)
    assert profiles["sentinel"].cmdline_bytes(xml, xml_no) == pytest.approx(2 * 80)
    # A command line larger than the whole event is nonsense input: no negative bytes.
    assert profiles["splunk-xml"].cmdline_bytes(1000.0, 1200.0) == 0.0


def test_scom_reproduces_the_published_acs_example() -> None:
    """evtx-data.md §3.5: 20 DCs x 900,000 events/day x 0.4 KB = 6.87 GB/day."""
    scom = load_siem_profiles(load_defaults())["scom"]
    dcs = [
        HostEstimate(
            host=f"dc{i:02d}", role="domain_controller", site="hq", os_family="2022",
            events_per_day=Range(900_000, 900_000, 900_000), source=EstimateSource.MEASURED_4688,
            peak_hour_factor=1.0, hourly_shape=(), bytes_per_event_xml=1300.0,
            bytes_per_event_xml_no_cmdline=1300.0, cmdline_length_p50=None, bytes_source="dev_set",
            already_on=False, cmdline_already_on=False, cmdline_supported=True,
        )
        for i in range(20)
    ]
    p = project(dcs, scom, retention_days=1, price_per_gb=None, currency=None, seed=1, draws=50)
    assert round(float(p.fleet.iloc[0]["gb_day_p50"]), 2) == 6.87


def test_user_file_overrides_one_key(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text('[siem.sentinel]\nprice_per_gb = 4.3\ncurrency = "EUR"\n', encoding="utf-8")
    profile = load_siem_profiles(load_config(user))["sentinel"]
    assert profile.price_per_gb == 4.3 and profile.currency == "EUR"
    assert profile.gb_bytes == GB_DECIMAL  # untouched keys keep their defaults


def test_a_new_profile_from_the_user_file(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text(
        "[siem.mysiem]\n"
        'description = "in-house"\nsize_factor = 1.2\ncmdline_factor = 1.0\nadd_bytes = 100\n'
        "gb_bytes = 1000000000\nstorage_factor = 1.0\n"
        'licence = "gb_day"\neps_basis = "mean"\neps_capacity = 0\nprice_per_gb = 1\ncurrency = "GBP"\n',
        encoding="utf-8",
    )
    profiles = load_siem_profiles(load_config(user))
    assert profiles["mysiem"].event_bytes(1000.0, 1000.0) == pytest.approx(1300.0)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("size_factor", '"big"', "siem.splunk-xml.size_factor: expected a number"),
        ("size_factor", "-1.0", "siem.splunk-xml.size_factor: must be a finite number >= 0"),
        ("gb_bytes", "1024", "siem.splunk-xml.gb_bytes: expected 1073741824"),
        ("licence", '"per-seat"', "siem.splunk-xml.licence: 'per-seat' is not one of"),
        ("eps_basis", "true", "siem.splunk-xml.eps_basis: expected a string"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, key: str, value: str, message: str) -> None:
    user = tmp_path / "bad.toml"
    user.write_text(f"[siem.splunk-xml]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_siem_profiles(load_config(user))


def test_missing_key_is_named() -> None:
    config: dict[str, Any] = {"siem": {"half": {"description": "x", "size_factor": 1.0}}}
    with pytest.raises(ConfigError, match=r"siem\.half\.cmdline_factor: missing"):
        load_siem_profiles(config)


def test_unknown_profile_lists_the_known_ones() -> None:
    profiles = load_siem_profiles(load_defaults())
    with pytest.raises(ConfigError, match="unknown SIEM profile 'splunkk'; known: arcsight, elastic"):
        pick_profile(profiles, "splunkk")
