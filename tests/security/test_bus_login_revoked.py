"""A service whose bus login is revoked while it runs (credentials withdrawn, or a rotation it
could not follow) does not live on as a process that answers its probes and does nothing.

NATS tells a connected client its login is no longer valid with an authorization violation,
after which nats-py closes the connection for good, without reconnecting. The service then
stops with a failure that names the fix, so its supervisor starts it again with the
credentials on disk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cloudaudit.common.embedded import EmbeddedNats, free_port, port_open
from cloudaudit.common.infra import Endpoints
from cloudaudit.common.runtime import build_runtime
from cloudaudit.common.service import discover_services
from cloudaudit.common.settings import CommonSettings

WAIT_S = 15.0
PASSWORD = "ingest-password-under-test"


def _config(password: str) -> str:
    return json.dumps({"authorization": {"users": [{"user": "ingest", "password": password}]}})


@pytest.fixture
def revocable_bus(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    """A nats-server admitting one login, whose users file the test rewrites."""
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(_config(PASSWORD))
    server = subprocess.Popen(
        [EmbeddedNats.binary(), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port), "-js",
         "-sd", str(tmp_path / "js"), "-l", str(tmp_path / "nats.log")]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_S
        while not port_open(port):
            assert server.poll() is None and time.monotonic() < deadline, "nats-server down"
            time.sleep(0.05)
        yield port, conf, server
    finally:
        server.terminate()
        server.wait(WAIT_S)


async def test_a_revoked_login_stops_the_service_with_the_fix_named(
    revocable_bus: tuple[int, Path, subprocess.Popen[bytes]],
    settings: CommonSettings,
    endpoints: Endpoints,
):
    port, conf, server = revocable_bus
    url = f"nats://ingest:{PASSWORD}@127.0.0.1:{port}"
    service_endpoints = Endpoints(
        database_url=endpoints.database_url,
        nats_url=url,
        database_roles=endpoints.database_roles,
    )
    runtime = build_runtime(
        discover_services()["ingest"], settings, service_endpoints, http_port=0, api_port=0
    )
    serving = asyncio.create_task(runtime.serve_forever())
    while runtime.bound_port is None:
        assert not serving.done(), serving
        await asyncio.sleep(0.05)
    healthz = f"http://127.0.0.1:{runtime.bound_port}/healthz"
    async with aiohttp.ClientSession() as http, http.get(healthz) as alive:
        assert alive.status == 200

    conf.write_text(_config("a-new-password-the-service-was-never-given"))
    server.send_signal(signal.SIGHUP)  # the server re-reads its users: the login is gone

    served = await asyncio.wait_for(serving, WAIT_S)
    assert served is False
    assert runtime.failure is not None
    assert "closed for good" in runtime.failure and "cloudaudit creds status" in runtime.failure
    assert PASSWORD not in runtime.failure


async def test_a_service_that_is_told_to_stop_reports_no_failure(
    settings: CommonSettings, endpoints: Endpoints
):
    runtime = build_runtime(
        discover_services()["ingest"], settings, endpoints, http_port=0, api_port=0
    )
    serving = asyncio.create_task(runtime.serve_forever())
    while runtime.bound_port is None:
        assert not serving.done(), serving
        await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)  # what the orchestrator sends
    assert await asyncio.wait_for(serving, WAIT_S) is True
    assert runtime.failure is None
