"""The bus refuses what a service's NATS user may not do: permissions generated from the catalogue.

A nats-server runs from the config `bus_permissions` renders for a test prefix; the attacker is a
raw nats-py client holding one service's credentials (or none)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
from collections.abc import Iterator

import nats
import pytest
from cloudaudit.common import bus_permissions
from cloudaudit.common.bus import STREAMS, BusNames
from cloudaudit.common.embedded import EmbeddedNats, _wait_for_port, free_port
from cloudaudit.common.events.identity import RPC_SLACK_USER
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError

NAMES = BusNames("busauth")
USERS = ("identity", "ingest", "analytics", "bot", bus_permissions.OPERATOR)
PERMISSION_VIOLATION = "permissions violation"


class Server:
    def __init__(self, port: int, passwords: dict[str, str]) -> None:
        self.url = f"nats://127.0.0.1:{port}"
        self.passwords = passwords

    async def connect(self, user: str | None, password: str | None = None) -> nats.NATS:
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc).lower())

        kwargs: dict[str, object] = {}
        if user:
            kwargs = {"user": user, "password": password or self.passwords[user]}
        client = await nats.connect(
            self.url, allow_reconnect=False, max_reconnect_attempts=0, error_cb=on_error, **kwargs
        )
        client.permission_errors = errors  # type: ignore[attr-defined]
        return client


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("nats-auth")
    passwords = {user: secrets.token_urlsafe(24) for user in USERS}
    config = root / "nats.conf"
    config.write_text(bus_permissions.render_authorization(passwords, NAMES))
    port = free_port()
    log = root / "server.log"
    process = subprocess.Popen(
        [
            EmbeddedNats.binary(),
            "-c",
            str(config),
            "-js",
            "-sd",
            str(root / "js"),
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    try:
        _wait_for_port(port, process, log, "nats-server")
        yield Server(port, passwords)
    finally:
        process.terminate()
        process.wait(10)


async def _permission_error(client: nats.NATS) -> bool:
    await client.flush()
    for _ in range(50):
        if any(PERMISSION_VIOLATION in e for e in client.permission_errors):  # type: ignore[attr-defined]
            return True
        await asyncio.sleep(0.02)
    return False


async def _request_until_answered(client: nats.NATS, subject: str) -> nats.aio.msg.Msg:
    """A request that is allowed; on a loaded machine the responder's interest can reach the
    server's routing a moment after its flush, so "no responders" is retried, for 5 s at most."""
    for _ in range(25):
        with contextlib.suppress(NoRespondersError):
            return await client.request(subject, b"{}", timeout=2)
        await asyncio.sleep(0.2)
    return await client.request(subject, b"{}", timeout=2)


async def test_unauthenticated_client_is_refused(server: Server) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await server.connect(None)


async def test_wrong_password_is_refused(server: Server) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await server.connect("ingest", "not-" + server.passwords["ingest"])


async def test_only_the_bot_may_ask_identity_for_a_slack_user(server: Server) -> None:
    identity = await server.connect("identity")
    bot = await server.connect("bot")
    ingest = await server.connect("ingest")
    try:

        async def answer(msg) -> None:  # type: ignore[no-untyped-def]
            await msg.respond(b'{"ok": true}')

        await identity.subscribe(NAMES.subject(RPC_SLACK_USER), cb=answer)
        await identity.flush()
        assert not identity.permission_errors  # type: ignore[attr-defined]
        reply = await _request_until_answered(bot, NAMES.subject(RPC_SLACK_USER))
        assert reply.data == b'{"ok": true}'  # the responder may answer (allow_responses)

        with pytest.raises((NoRespondersError, NatsTimeout)):
            await ingest.request(NAMES.subject(RPC_SLACK_USER), b"{}", timeout=1)
        assert await _permission_error(ingest)
    finally:
        for client in (identity, bot, ingest):
            await client.close()


async def test_a_service_cannot_listen_on_another_services_rpc(server: Server) -> None:
    ingest = await server.connect("ingest")
    try:
        await ingest.subscribe(NAMES.subject(RPC_SLACK_USER))
        assert await _permission_error(ingest)
    finally:
        await ingest.close()


async def test_a_service_cannot_publish_another_services_events(server: Server) -> None:
    ingest = await server.connect("ingest")
    try:
        await ingest.publish(NAMES.subject("identity.v1.member.changed"), b"{}")
        assert await _permission_error(ingest)
    finally:
        await ingest.close()


async def test_only_the_operator_creates_and_deletes_streams(server: Server) -> None:
    operator = await server.connect(bus_permissions.OPERATOR)
    analytics = await server.connect("analytics")
    try:
        stream = NAMES.stream("COST")
        await operator.jetstream().add_stream(
            name=stream, subjects=[NAMES.subject(s) for s in STREAMS["COST"]]
        )
        js = analytics.jetstream(timeout=1)
        with pytest.raises((NatsTimeout, APIError)):
            await js.add_stream(name=NAMES.stream("AUDIT"), subjects=[NAMES.subject("audit.v1.>")])
        with pytest.raises((NatsTimeout, APIError)):
            await js.delete_stream(stream)
        assert await _permission_error(analytics)
        info = await operator.jetstream().stream_info(stream)
        assert info.config.name == stream  # still there
    finally:
        await operator.close()
        await analytics.close()


def test_rendered_config_names_every_user_once() -> None:
    text = bus_permissions.render_authorization({u: "pw" for u in USERS}, NAMES)
    for user in USERS:
        assert text.count(f'"user": "{user}"') == 1


async def test_services_do_their_own_work_under_their_permissions(server: Server) -> None:
    operator = await server.connect(bus_permissions.OPERATOR)
    ingest = await server.connect("ingest")
    analytics = await server.connect("analytics")
    try:
        for name in ("COST", "ACCOUNT"):
            # The COST stream may exist already: created by an earlier test of this module.
            with contextlib.suppress(APIError):
                await operator.jetstream().add_stream(
                    name=NAMES.stream(name), subjects=[NAMES.subject(s) for s in STREAMS[name]]
                )
        ack = await ingest.jetstream().publish(NAMES.subject("cost.v1.daily.123456789012"), b"{}")
        assert ack.stream == NAMES.stream("COST")
        consumer = await analytics.jetstream().pull_subscribe(
            NAMES.subject("cost.v1.daily.*"), durable="analytics-cost", stream=NAMES.stream("COST")
        )
        [message] = await consumer.fetch(1, timeout=5)
        assert message.subject == NAMES.subject("cost.v1.daily.123456789012")
        await message.ack_sync()
        assert not analytics.permission_errors  # type: ignore[attr-defined]
    finally:
        for client in (operator, ingest, analytics):
            await client.close()
