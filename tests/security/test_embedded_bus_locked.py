"""The bus the product starts by default (`cloudaudit up`, `make demo`) admits only its users:
the embedded NATS is started from the generated config, each service gets credentials of its
own in the state directory, and the operator alone creates streams.

The attacker is a raw nats-py client on the same machine, with no credentials or with one
service's."""

from __future__ import annotations

import asyncio
import stat

import nats
import pytest
from cloudaudit.common.bus import STREAMS, BusNames, create_streams
from cloudaudit.common.embedded import free_port
from cloudaudit.common.events.anomaly import ANOMALY_DETECTED
from cloudaudit.common.infra import resolve_endpoints, stop_embedded
from cloudaudit.common.settings import CommonSettings
from nats.errors import NoServersError

PREFIX = "locked"


@pytest.fixture
def bus(tmp_path, monkeypatch):
    for name in ("NATS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = CommonSettings(  # type: ignore[call-arg]
        CLOUDAUDIT_STATE_DIR=str(tmp_path),
        CLOUDAUDIT_EMBEDDED_NATS_PORT=free_port(),
        CLOUDAUDIT_BUS_PREFIX=PREFIX,
        DATABASE_URL="postgresql://unused@127.0.0.1:1/x",  # only the bus is started here
    )
    endpoints, started = resolve_endpoints(settings)
    yield settings, endpoints
    stop_embedded(settings, started)


async def _errors_of(url: str) -> tuple[nats.NATS, list[str]]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    client = await nats.connect(url, allow_reconnect=False, error_cb=on_error)
    return client, errors


async def test_a_client_without_credentials_is_refused(bus):
    settings, endpoints = bus
    assert endpoints.locked and "operator:" in endpoints.nats_url
    plain = f"nats://127.0.0.1:{settings.embedded_nats_port}"
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(
            plain, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )


def test_each_service_has_private_credentials_of_its_own(bus):
    settings, endpoints = bus
    urls = {service: endpoints.nats_url_for(service) for service in endpoints.bus_users}
    assert set(urls) == {"identity", "ingest", "analytics", "bot", "web"}
    assert len(set(urls.values())) == 5  # five different users, five different passwords
    credentials = settings.state_dir / "nats" / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o700
    for path in credentials.glob("*.password"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = settings.state_dir / "nats" / "nats-server.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


async def test_a_service_user_cannot_publish_outside_its_allow_list(bus):
    _, endpoints = bus
    await create_streams(endpoints, BusNames(PREFIX))  # as the operator: allowed
    client, errors = await _errors_of(endpoints.nats_url_for("ingest"))
    try:
        forged = f"{PREFIX}.{ANOMALY_DETECTED.format(aws_account_id='123456789012')}"
        await client.publish(forged, b"{}")  # ingest never publishes anomalies
        await client.flush()
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.05)
        assert any("permissions violation" in e for e in errors), errors
    finally:
        await client.close()


async def test_only_the_operator_creates_streams(bus):
    _, endpoints = bus
    with pytest.raises(Exception):  # noqa: B017 - refused (a permission error or no answer)
        await asyncio.wait_for(
            create_streams(endpoints.for_service("analytics"), BusNames(PREFIX)), timeout=8
        )
    await create_streams(endpoints, BusNames(PREFIX))
    client = await nats.connect(endpoints.nats_url, allow_reconnect=False)
    try:
        names = await client.jetstream().streams_info()
        assert {s.config.name for s in names} >= {BusNames(PREFIX).stream(s) for s in STREAMS}
    finally:
        await client.close()
