"""collect.api is a Python front door: no click, library errors, and ingest() on real EVTX files.

(api.survey against the simulator is in tests/integration/test_api_survey.py.) Expected figures are
those of tests/data/SOURCES.md and reference/evtx-dev/facts.csv, as in test_evtx.py: the mdec files
are fs02.offsec.lan (28 and 2 4688s), the DFIRArtifactMuseum log WIN-FUDU2CKJOE8 (583 events, 34
boot-time 4688s, auditing off).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditplan.collect import api
from auditplan.store import Store, StoreError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CLEAR_LOG = DATA_DIR / "mdec__ID4688-Clear_event_log_attempt_native.evtx"
AUDIT_POLICY_CLEAR = DATA_DIR / "mdec__ID4688-Audit_policy_clear_attempt.evtx"
AUDIT_OFF = DATA_DIR / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"


def test_the_front_door_needs_no_click() -> None:
    # A fresh interpreter: this test process has imported the CLI already.
    probe = (
        "import sys\n"
        "from auditplan.collect import api\n"
        "print(','.join(m for m in ('click', 'rich', 'auditplan.cli', 'auditplan.simulator') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_ingest_stores_each_host_once_and_reports_every_file(tmp_path: Path) -> None:
    db = tmp_path / "new" / "store.db"  # the folder is created too
    seen: list[str] = []
    results = api.ingest([CLEAR_LOG, AUDIT_POLICY_CLEAR, AUDIT_OFF], db, role="file",
                         on_file=lambda summary: seen.append(Path(summary.file).name))
    assert seen == [CLEAR_LOG.name, AUDIT_POLICY_CLEAR.name, AUDIT_OFF.name]  # as each file is read
    assert [s.events_4688 for s in results.files] == [28, 2, 34]
    assert results.failed == 0
    assert {(h.name, h.files, h.error) for h in results.hosts} == {
        ("fs02.offsec.lan", 2, None), ("WIN-FUDU2CKJOE8", 1, None)}
    with Store(db) as store:
        stored = {r.host.name: r for r in store.load_results()}
    assert set(stored) == {"fs02.offsec.lan", "WIN-FUDU2CKJOE8"}
    merged = stored["fs02.offsec.lan"]
    assert merged.source == "evtx" and merged.host.role == "file"
    assert merged.volume is not None and merged.volume.hourly_4688 == (28, 2)
    off = stored["WIN-FUDU2CKJOE8"]
    assert off.volume is not None and off.volume.boot_only


def test_ingest_reports_a_bad_file_and_keeps_the_good_ones(tmp_path: Path) -> None:
    text = tmp_path / "notes.evtx"
    text.write_text("not an event log\n", encoding="utf-8")
    results = api.ingest([text, CLEAR_LOG], tmp_path / "s.db", host_name="srv01")
    bad, good = results.files
    assert bad.error is not None and "not an EVTX" in bad.error
    assert good.error is None and good.host == "srv01"
    assert results.failed == 1
    assert [(h.name, h.files) for h in results.hosts] == [("srv01", 1)]


def test_ingest_into_a_store_that_cannot_be_opened_raises_the_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(StoreError, match="cannot open the store"):
        api.ingest([CLEAR_LOG], blocker / "s.db")  # its folder would be a file


def test_read_evtx_does_not_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where the default store (auditplan-out/auditplan.db) would appear
    outcome = api.read_evtx(AUDIT_OFF, sample_size=5)
    assert outcome.summary.events_total == 583 and outcome.result is not None
    assert len(outcome.result.events) == 5
    assert list(tmp_path.iterdir()) == []


def test_probe_options_out_of_range_are_library_errors() -> None:
    with pytest.raises(api.ProbeOptionsError, match="window_hours"):
        api.ProbeOptions(window_hours=0)
    assert issubclass(api.ProbeOptionsError, ValueError) and issubclass(api.ProbeOptionsError, api.CollectError)


def test_credentials_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text('{"username": "u", "transport": "telnet"}', encoding="utf-8")
    with pytest.raises(api.CredentialsError, match=r"creds\.json: transport 'telnet'"):
        api.read_credentials_file(path)
    path.write_text('{"username": "u", "password": "Pw-x9Qv", "ca_bundle": "ca.pem"}', encoding="utf-8")
    path.chmod(0o644)
    creds = api.read_credentials_file(path)
    assert creds.ca_bundle == tmp_path / "ca.pem"  # relative to the file
    assert creds.password == api.Secret("Pw-x9Qv") and "Pw-x9Qv" not in repr(creds)
    assert creds.warnings == (f"{path} holds a password and is readable by other users; chmod 600 it",)
    path.chmod(0o600)
    assert api.read_credentials_file(path).warnings == ()


def test_ingest_whose_every_file_fails_creates_no_store(tmp_path: Path) -> None:
    # An empty store left behind would become the default store the later commands pick.
    db = tmp_path / "out" / "auditplan.db"
    results = api.ingest([tmp_path / "missing.evtx"], db)
    assert results.failed == 1 and results.hosts == ()
    assert not db.exists()
    assert not db.parent.exists()


def test_ingest_into_an_existing_store_keeps_its_hosts(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    api.ingest([CLEAR_LOG], db, host_name="srv01")
    api.ingest([tmp_path / "missing.evtx"], db)  # a failing run leaves the store as it was
    results = api.ingest([AUDIT_OFF], db, host_name="srv02")
    assert [h.name for h in results.hosts] == ["srv02"]
    with Store(db) as store:
        assert sorted(r.host.name for r in store.load_results()) == ["srv01", "srv02"]
