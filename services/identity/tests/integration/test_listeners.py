"""Where a service listens: one bind host for every listener (what a probe at the pod address
needs), health and metrics on an internal port, identity's public API on a port of its own."""

from __future__ import annotations

import aiohttp
import pytest
from cloudaudit.identity.settings import IdentitySettings

BIND = "127.0.0.2"  # Linux answers the whole 127/8 on loopback: an address that is not 127.0.0.1


@pytest.fixture
async def identity(start_service, settings):
    bound = IdentitySettings(
        **{  # type: ignore[arg-type]
            "DATABASE_URL": settings.database_url.get_secret_value(),
            "NATS_URL": settings.nats_url_value(),
            "CLOUDAUDIT_BUS_PREFIX": settings.bus_prefix,
            "CLOUDAUDIT_HTTP_HOST": BIND,
        }
    )
    return await start_service("identity", bound)


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status


async def test_every_listener_binds_the_configured_host_and_nothing_else(identity):
    assert identity.http_host == BIND
    assert await _status(f"http://{BIND}:{identity.bound_port}/readyz") == 200
    assert await _status(f"http://{BIND}:{identity.bound_api_port}/api/v1/me") == 401
    for port in (identity.bound_port, identity.bound_api_port):
        with pytest.raises(aiohttp.ClientConnectionError):
            await _status(f"http://127.0.0.1:{port}/healthz")


async def test_health_and_metrics_are_apart_from_the_public_api(identity):
    health, api = identity.bound_port, identity.bound_api_port
    assert health != api
    assert await _status(f"http://{BIND}:{health}/metrics") == 200
    assert await _status(f"http://{BIND}:{health}/api/v1/me") == 404  # no API on the internal port
    assert await _status(f"http://{BIND}:{api}/healthz") == 404
    assert await _status(f"http://{BIND}:{api}/metrics") == 404  # metrics never public
