"""collect.api.survey from Python, no click: the real simulator on loopback, the real pywinrm stack.

The expected statuses are the simulator's faults (reject_credentials -> auth_failed) and the
profiles' settings; the password sources are those connection.py documents, in its order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from integration_fleet import PASSWORD, USERNAME, inventory_host, profile, serving, settings_for

from auditplan.collect import api
from auditplan.records import AuditSetting, HostStatus
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.interface import FaultSpec
from auditplan.simulator.profile import AuditProfile
from auditplan.store import Store


def test_survey_saves_every_host_and_returns_them_in_inventory_order(tmp_path: Path) -> None:
    on = profile("web01", audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True))
    bad = profile("badcreds", FaultSpec(reject_credentials=True))
    db = tmp_path / "out" / "a.db"
    started: list[tuple[int, int]] = []
    with serving([on, bad]) as server:
        hosts = [inventory_host(server, "web01"), inventory_host(server, "badcreds")]
        results = api.survey(hosts, db, settings_for("basic", None), concurrency=2,
                             on_start=lambda to_run, skipped: started.append((to_run, skipped)))
        assert started == [(2, 0)]
        assert [r.host.name for r in results.results] == ["web01", "badcreds"]  # inventory order
        assert [r.status for r in results.results] == [HostStatus.OK, HostStatus.AUTH_FAILED]
        web01 = results.results[0]
        assert web01.audit is not None and web01.audit.process_creation is AuditSetting.SUCCESS
        assert results.counts == {"auth_failed": 1, "ok": 1} and not results.all_ok
        assert results.stopped is None  # one failure is below the guard's limit
        with Store(db) as store:
            assert store.finished_hosts() == {"badcreds": HostStatus.AUTH_FAILED, "web01": HostStatus.OK}

        # A re-run resumes: the ok host is not contacted; the auth_failed one is tried again without
        # --refresh (the password may have been fixed), and being the only host left it is the canary.
        server.reset_stats()
        again = api.survey(hosts, db, settings_for("basic", None))
        assert again.outcome.skipped == ["web01"] and again.outcome.retried_auth_failed == ["badcreds"]
        assert [r.host.name for r in again.outcome.results] == ["badcreds"]
        assert again.stopped is not None and "badcreds" in again.stopped
        assert [(r.host.name, r.status) for r in again.results] == [(r.host.name, r.status) for r in results.results]
        assert server.stats("web01").requests == 0 and server.stats("badcreds").requests > 0


def test_connection_options_take_the_password_from_the_caller_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(api.PASSWORD_ENV_DEFAULT, raising=False)
    asked: list[str] = []

    def ask(username: str) -> api.Secret:
        asked.append(username)
        return api.Secret(PASSWORD)

    options = api.ConnectionOptions(username=USERNAME, transport=api.AuthTransport.BASIC, https=False,
                                    allow_basic_over_http=True, timeout=8.0)
    with serving([profile("web01")]) as server:
        hosts = [inventory_host(server, "web01")]
        results = api.survey(hosts, tmp_path / "a.db", options, ask_password=ask)
        assert asked == [USERNAME]
        assert results.all_ok
        # An environment variable comes before asking.
        monkeypatch.setenv("AP_TEST_PW", PASSWORD)
        asked.clear()
        env = api.survey(hosts, tmp_path / "b.db", api.ConnectionOptions(
            username=USERNAME, password_env="AP_TEST_PW", transport=api.AuthTransport.BASIC, https=False,
            allow_basic_over_http=True, timeout=8.0), ask_password=ask)
        assert asked == [] and env.all_ok


def test_unusable_inputs_raise_library_errors_before_any_host_or_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(api.PASSWORD_ENV_DEFAULT, raising=False)
    db = tmp_path / "a.db"
    with serving([profile("web01")]) as server:
        hosts = [inventory_host(server, "web01")]
        with pytest.raises(api.CredentialsError, match="--username is required"):
            api.survey(hosts, db, api.ConnectionOptions())
        with pytest.raises(api.CredentialsError, match="no terminal to ask on"):
            api.survey(hosts, db, api.ConnectionOptions(username=USERNAME), ask_password=None)
        with pytest.raises(api.CollectError, match="no hosts"):
            api.survey([], db, settings_for("basic", None))
        with pytest.raises(api.SettingsError, match="clear text"):
            api.survey(hosts, db, settings_for("basic", None, allow_basic_over_http=False))
        assert server.stats("web01").requests == 0
    assert not db.exists()


def test_unverified_certificates_are_counted_only_without_a_named_ca(tmp_path: Path, tls: TlsMaterial) -> None:
    with serving([profile("web01")], auth="ntlm", tls=tls) as server:
        hosts = [inventory_host(server, "web01")]
        unnamed = api.survey(hosts, tmp_path / "a.db", settings_for("ntlm", tls, ca_bundle=None), refresh=True)
        assert unnamed.results[0].status is HostStatus.TLS_ERROR
        assert unnamed.unverified_certificates == 1
        named = api.survey(hosts, tmp_path / "b.db", settings_for("ntlm", tls))
        assert named.results[0].status is HostStatus.OK and named.unverified_certificates == 0
