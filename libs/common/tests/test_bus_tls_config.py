"""TLS settings and server config blocks, and the rotation's bookkeeping, without a server:
errors name the variable to fix, a config admits exactly the logins it should."""

from __future__ import annotations

import json
import ssl
import stat
from datetime import UTC, datetime, timedelta

import pytest
from cloudaudit.common.bus_credentials import BUS_USERS, BusCredentials
from cloudaudit.common.bus_rotation import settle
from cloudaudit.common.bus_tls import (
    BusTlsError,
    ClientTls,
    ServerTls,
    client_context,
    cluster_block,
    context_for,
)
from cloudaudit.common.dev_ca import DevCA
from cloudaudit.common.infra import Endpoints
from cloudaudit.common.settings import CommonSettings, SettingsError, load_settings


@pytest.fixture
def ca(tmp_path):
    ca = DevCA(tmp_path / "tls")
    ca.ensure()
    return ca


def test_the_client_context_verifies_the_server_and_its_name(ca):
    context = client_context(ClientTls(ca.ca_file))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_a_missing_ca_file_is_named(tmp_path):
    with pytest.raises(BusTlsError, match=r"NATS_CA_FILE=.*missing\.pem: no such file"):
        client_context(ClientTls(tmp_path / "missing.pem"))


def test_a_ca_file_that_is_no_certificate_is_named(tmp_path):
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate")
    with pytest.raises(BusTlsError, match=r"NATS_CA_FILE=.* holds no PEM certificate"):
        client_context(ClientTls(junk))


def test_a_client_certificate_that_does_not_match_its_key_is_named(ca):
    one = ca.issue("one", ["127.0.0.1"])
    two = ca.issue("two", ["127.0.0.1"])
    with pytest.raises(BusTlsError, match=r"NATS_CERT_FILE=.*NATS_KEY_FILE=.*matching"):
        client_context(ClientTls(ca.ca_file, one.cert_file, two.key_file))


def test_tls_is_used_when_asked_for_by_the_url_or_a_ca_file(ca):
    assert context_for("nats://127.0.0.1:4222", ClientTls()) is None
    assert context_for("tls://127.0.0.1:4222", ClientTls()) is not None  # system trust store
    assert context_for("nats://127.0.0.1:4222", ClientTls(ca.ca_file)) is not None


def test_settings_want_a_client_certificate_and_its_key_together(monkeypatch, tmp_path):
    monkeypatch.setenv("NATS_CERT_FILE", str(tmp_path / "client.pem"))
    monkeypatch.delenv("NATS_KEY_FILE", raising=False)
    with pytest.raises(SettingsError, match="NATS_CERT_FILE and NATS_KEY_FILE go together"):
        load_settings(CommonSettings)


def test_an_empty_tls_variable_is_unset(monkeypatch):
    monkeypatch.setenv("NATS_CA_FILE", "")
    assert load_settings(CommonSettings).nats_ca_file is None


def test_a_child_gets_the_ca_and_an_explicitly_empty_client_certificate(tmp_path):
    endpoints = Endpoints("postgresql://x@h/db", "tls://a:4222", nats_ca_file=tmp_path / "ca.pem")
    env = endpoints.for_service("ingest").service_env("ingest")
    assert env["NATS_CA_FILE"] == str(tmp_path / "ca.pem")
    assert env["NATS_CERT_FILE"] == "" and env["NATS_KEY_FILE"] == ""


def test_a_cluster_block_routes_with_credentials_and_mutual_tls(ca):
    node = ca.issue("node-1", ["10.99.0.1"])
    tls = ServerTls(node.cert_file, node.key_file, ca.ca_file)
    block = cluster_block(
        ["nats-route://10.99.0.2:6222", "10.99.0.3:6222"],
        "s3cr/t",
        tls,
        listen="10.99.0.1:6222",
    )
    assert block["routes"] == [
        "nats-route://route:s3cr%2Ft@10.99.0.2:6222",
        "nats-route://route:s3cr%2Ft@10.99.0.3:6222",
    ]
    assert block["authorization"]["user"] == "route"
    assert block["tls"]["verify"] is True  # routes verify each other both ways
    assert block["listen"] == "10.99.0.1:6222"
    with pytest.raises(ValueError, match="host:6222"):
        cluster_block(["nats-route://10.99.0.2"], "pw", tls)


# -- rotation bookkeeping ----------------------------------------------------------------------
def _logins(config):
    return {entry["user"]: entry for entry in config["authorization"]["users"]}


def test_a_rotation_admits_old_and_new_logins_with_the_same_permissions(tmp_path):
    credentials = BusCredentials(tmp_path)
    before = credentials.ensure()
    deadline = datetime(2030, 1, 1, tzinfo=UTC)
    rotation = credentials.begin_rotation(deadline)
    assert rotation.incoming["ingest"] == "ingest~2"
    assert credentials.current_login("ingest") == "ingest"  # not handed out before the reload
    logins = _logins(credentials.server_config("p"))
    assert {"ingest", "ingest~2", "operator", "operator~2"} <= set(logins)
    assert logins["ingest"]["permissions"] == logins["ingest~2"]["permissions"]
    assert logins["ingest"]["password"] == before["ingest"]
    assert logins["ingest~2"]["password"] != before["ingest"]
    credentials.adopt_incoming()
    assert credentials.login("ingest")[0] == "ingest~2"
    assert credentials.ensure()["ingest"] == logins["ingest~2"]["password"]
    for path in credentials.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 or path.name == "bus-prefix"


def test_finishing_drops_exactly_the_old_logins(tmp_path):
    credentials = BusCredentials(tmp_path)
    credentials.ensure()
    credentials.begin_rotation(datetime(2030, 1, 1, tzinfo=UTC))
    credentials.adopt_incoming()
    dropped = credentials.end_rotation()
    assert set(dropped) == set(BUS_USERS)
    credentials.remove_logins(dropped)
    assert set(_logins(credentials.server_config("p"))) == {f"{u}~2" for u in BUS_USERS}
    assert not (credentials.directory / "ingest.password").exists()
    assert credentials.present()
    credentials.begin_rotation(datetime(2030, 1, 1, tzinfo=UTC))  # the next one is ~3
    assert credentials.rotation().incoming["bot"] == "bot~3"


def test_a_second_rotation_waits_for_the_first_to_finish(tmp_path):
    from cloudaudit.common.bus_credentials import CredentialsError

    credentials = BusCredentials(tmp_path)
    credentials.begin_rotation(datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(CredentialsError, match="--finish"):
        credentials.begin_rotation(datetime(2030, 1, 1, tzinfo=UTC))


def test_a_start_after_the_deadline_finishes_the_rotation(tmp_path):
    credentials = BusCredentials(tmp_path)
    credentials.ensure()
    deadline = datetime(2030, 1, 1, tzinfo=UTC)
    credentials.begin_rotation(deadline)
    assert settle(credentials, now=deadline - timedelta(seconds=1)) == ()
    assert credentials.login("bot")[0] == "bot~2"  # a rotation left mid-way is completed
    assert set(settle(credentials, now=deadline)) == set(BUS_USERS)
    assert credentials.rotation() is None
    config = json.dumps(credentials.server_config("p"))
    assert '"bot"' not in config and '"bot~2"' in config
