"""The deployment files' NATS config is generated from the bus catalogue, is current, and is
what a real nats-server runs: the service users it declares get exactly their permissions,
with passwords the server takes from its environment, and everyone else is refused.

The services' manifests each use their own credentials (their own secret in Kubernetes, their
own variables in compose), never a shared URL."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from pathlib import Path

import nats
import pytest
import yaml
from cloudaudit.common.bus import BusNames, ensure_streams, make_broker
from cloudaudit.common.bus_connect import connect_nats
from cloudaudit.common.bus_credentials import BUS_USERS, SERVICES, with_user
from cloudaudit.common.bus_tls import BusAccess, ClientTls
from cloudaudit.common.deploy_config import (
    TlsFiles,
    password_variable,
    render_server_config,
    server_config,
    stale_files,
)
from cloudaudit.common.embedded import EmbeddedNats, free_port, port_open
from cloudaudit.common.events.anomaly import ANOMALY_DETECTED
from cloudaudit.common.events.cost import COST_DAY_RECORDED
from nats.errors import NoServersError

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def test_the_committed_files_are_what_the_catalogue_generates():
    stale = stale_files(ROOT)
    assert not stale, f"out of date: {stale}; run `cloudaudit deploy render` and commit"


def test_no_password_is_written_in_the_generated_files():
    for path in (ROOT / "deploy" / "compose" / "nats-server.conf", K8S / "nats-config.yaml"):
        text = path.read_text()
        for user in BUS_USERS:
            assert f"password: ${password_variable(user).name}" in text
        assert '"password"' not in text


@pytest.fixture
def server(tmp_path):
    """nats-server from the wheel, started from the generated config with TLS from a
    development CA (the files compose mounts), its passwords in its environment."""
    from cloudaudit.common.dev_ca import DevCA

    ca = DevCA(tmp_path / "tls")
    ca.ensure()
    leaf = ca.issue("server", ["127.0.0.1", "localhost"])
    tls = TlsFiles(str(leaf.cert_file), str(leaf.key_file), str(ca.ca_file))
    passwords = {user: secrets.token_hex(16) for user in BUS_USERS}
    port = free_port()
    config = server_config(tls=tls, store_dir=str(tmp_path / "js"))
    config["port"], config["http"] = port, free_port()
    path = tmp_path / "nats.conf"
    path.write_text(render_server_config(config))
    env = {**os.environ, **{password_variable(u).name: p for u, p in passwords.items()}}
    proc = subprocess.Popen(
        [EmbeddedNats.binary(), "-c", str(path), "-a", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            if port_open(port) or proc.poll() is not None:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        access = BusAccess(tls=ClientTls(ca_file=ca.ca_file))
        yield f"tls://127.0.0.1:{port}", passwords, access
    finally:
        proc.terminate()
        proc.wait(10)


async def test_the_generated_config_admits_each_user_with_its_permissions_only(server):
    url, passwords, access = server
    names = BusNames("")
    operator = make_broker(
        with_user(url, "operator", passwords["operator"]), names, "operator", 3, access=access
    )
    await operator.connect()
    await ensure_streams(operator, names)  # the operator creates streams
    await operator.stop()

    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    ingest = await connect_nats(
        with_user(url, "ingest", passwords["ingest"]),
        access,
        allow_reconnect=False,
        error_cb=on_error,
    )
    try:
        ack = await ingest.jetstream().publish(
            COST_DAY_RECORDED.format(aws_account_id="123456789012"), b"{}"
        )
        assert ack.seq >= 1  # its own event: stored
        await ingest.publish(ANOMALY_DETECTED.format(aws_account_id="123456789012"), b"{}")
        await ingest.flush()
        await asyncio.sleep(0.2)
        assert any("permissions violation" in e for e in errors), errors
    finally:
        await ingest.close()

    for refused in (url, with_user(url, "bot", passwords["ingest"])):  # no user; a wrong one
        with pytest.raises((NoServersError, nats.errors.Error, OSError)):
            await connect_nats(
                refused, access, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
            )
    plaintext = url.replace("tls://", "nats://")  # the server speaks TLS only
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(
            with_user(plaintext, "ingest", passwords["ingest"]),
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=2,
        )


def _documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_connects_with_its_own_secret(service):
    deployment = next(d for d in _documents(f"{service}.yaml") if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    refs = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
    assert f"cloudaudit-{service}" in refs
    secret = next(
        d
        for d in _documents("secret.example.yaml")
        if d["metadata"]["name"] == f"cloudaudit-{service}"
    )
    assert secret["stringData"]["DATABASE_URL"].startswith(f"postgresql://cloudaudit_{service}:")
    assert "sslmode=verify-full" in secret["stringData"]["DATABASE_URL"]
    assert all(
        server.startswith(f"tls://{service}:")
        for server in secret["stringData"]["NATS_URL"].split(",")
    )


def test_no_shared_bus_or_database_url_is_left_in_the_config_map():
    (config,) = _documents("config.yaml")
    assert "NATS_URL" not in config["data"] and "DATABASE_URL" not in config["data"]


def test_compose_gives_each_service_its_own_user_and_role_and_publishes_no_bus_port():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert "ports" not in services["nats"]
    for service in SERVICES:
        env = services[service]["environment"]
        assert env["NATS_URL"].startswith(f"tls://{service}:")
        assert env["DATABASE_URL"].startswith(f"postgresql://cloudaudit_{service}:")
