"""config.Config: the defaults with the user's --config merged over them, each value with its
source, from ONE read of the user's file (it used to be read twice: values, then sources)."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditplan.config import SOURCE_DEFAULT, Config, ConfigError, leaves, load_config, load_defaults
from auditplan.records import input_limits


def test_values_and_sources_come_from_one_read_of_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "my.toml"
    user.write_text('[plan]\ndraws = 200\n[siem.splunk-xml]\nprice_per_gb = 2.5\n', encoding="utf-8")
    reads: list[Path] = []
    read_bytes = input_limits.read_bytes_limited

    def counted(path: Path, max_bytes: int, *, what: str = "file") -> bytes:
        reads.append(path)
        return read_bytes(path, max_bytes, what=what)

    # Every user file is read through the one bounded reader (records/input_limits.py).
    monkeypatch.setattr(input_limits, "read_bytes_limited", counted)
    config = Config.load(user)
    assert reads.count(user) == 1
    assert config.values["plan"]["draws"] == 200 and config.values["siem"]["splunk-xml"]["price_per_gb"] == 2.5
    assert config.sources["plan.draws"] == config.sources["siem.splunk-xml.price_per_gb"] == str(user)
    assert config.sources["plan.seed"] == SOURCE_DEFAULT
    assert set(config.sources) == set(leaves(config.values))  # every value has a source
    assert config.monte_carlo() == (200, 4688)


def test_without_a_file_every_value_is_a_default() -> None:
    config = Config.load(None)
    assert config.values == load_defaults() == load_config(None)
    assert set(config.sources.values()) == {SOURCE_DEFAULT}


@pytest.mark.parametrize(("text", "message"), [
    ("[plan]\ndraws = 5\n", "plan.draws: expected a number from 10 to 100,000, got 5"),
    ("[plan]\nseed = true\n", "plan.seed: expected a number from 0 to 9,223,372,036,854,775,808, got True"),
])
def test_plan_numbers_are_checked(tmp_path: Path, text: str, message: str) -> None:
    user = tmp_path / "bad.toml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        Config.load(user).monte_carlo()


def test_a_bad_file_is_one_error_naming_it(tmp_path: Path) -> None:
    user = tmp_path / "bad.toml"
    user.write_bytes(b"[plan\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: "):
        Config.load(user)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        Config.load(tmp_path / "missing.toml")
