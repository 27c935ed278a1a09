"""The embedded NATS's users: one per service of the bus catalogue plus the operator, files
private to the product's user, passwords that never reach a log."""

from __future__ import annotations

import stat

from cloudaudit.common import bus_credentials, bus_permissions
from cloudaudit.common.bus_credentials import BusCredentials, with_user
from cloudaudit.common.logging import redact


def test_every_service_of_the_catalogue_has_a_user():
    assert set(bus_credentials.SERVICES) == set(bus_permissions.CATALOGUE)
    assert bus_credentials.OPERATOR == bus_permissions.OPERATOR


def test_credentials_are_made_once_private_and_unloggable(tmp_path):
    credentials = BusCredentials(tmp_path)
    first = credentials.ensure()
    assert credentials.ensure() == first  # generated once
    assert stat.S_IMODE(credentials.directory.stat().st_mode) == 0o700
    for user, password in first.items():
        path = credentials.directory / f"{user}.password"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(password) >= 40
        assert password not in redact(f"connected as {user} with {password}")


def test_a_url_carries_the_user_for_every_server_of_a_cluster():
    url = with_user("nats://a:4222,nats://old:pw@b:4222", "ingest", "p/w")
    assert url == "nats://ingest:p%2Fw@a:4222,nats://ingest:p%2Fw@b:4222"
