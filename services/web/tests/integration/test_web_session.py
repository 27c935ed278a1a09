"""identity.v1.rpc.web_session over the real bus: a session yields tokens only for its own teams."""

from __future__ import annotations

import uuid

import aiohttp
from pydantic import SecretStr

from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.bus import BusNames, make_broker, rpc
from cloudaudit.common.events.identity import (
    RPC_WEB_SESSION,
    Audience,
    Role,
    WebSessionReply,
    WebSessionRequest,
)
from cloudaudit.common.testing import Mailbox

PASSWORD = "c0rrect-horse-battery"


async def test_a_session_gets_tokens_for_its_team_and_not_found_for_another(
    start_service, settings, tmp_path
):
    from cloudaudit.identity.settings import IdentitySettings

    runtime = await start_service(
        "identity",
        IdentitySettings(  # type: ignore[call-arg]
            DATABASE_URL=settings.database_url.get_secret_value(),
            NATS_URL=settings.nats_url_value(),
            CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
            CLOUDAUDIT_STATE_DIR=str(tmp_path),
        ),
    )
    mailbox = Mailbox(tmp_path)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{runtime.bound_api_port}") as http:

        async def post(path: str, body: dict, token: str | None = None) -> dict:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.post(f"/api/v1/{path}", json=body, headers=headers) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json()

        await post("signup", {"email": "web-owner@example.test", "password": PASSWORD})
        await post(
            "verify", {"token": Mailbox.token_in(await mailbox.wait_for("web-owner@example.test"))}
        )
        session = (await post("login", {"email": "web-owner@example.test", "password": PASSWORD}))[
            "token"
        ]
        team = uuid.UUID((await post("teams", {"name": "Acme"}, session))["team_id"])

    names = BusNames(settings.bus_prefix)
    broker = make_broker(settings.nats_url_value(), names, "test", settings.max_deliveries)
    await broker.connect()
    try:
        mine = await rpc(broker, names, RPC_WEB_SESSION,
                         WebSessionRequest(session_token=SecretStr(session)), WebSessionReply)  # fmt: skip
        other = await rpc(broker, names, RPC_WEB_SESSION,
                          WebSessionRequest(session_token=SecretStr(session), team_id=uuid.uuid4()),
                          WebSessionReply)  # fmt: skip
        forged = await rpc(broker, names, RPC_WEB_SESSION,
                           WebSessionRequest(session_token=SecretStr("not-a-session")), WebSessionReply)  # fmt: skip
    finally:
        await broker.stop()

    assert mine.ok and mine.team_id == team and mine.role is Role.OWNER
    vouched = ActorVerifier.for_service(settings, Audience.INGEST).verify(
        mine.tokens[Audience.INGEST].get_secret_value()
    )
    assert vouched.team_id == team and vouched.role is Role.OWNER
    assert not other.ok and other.error is not None and other.error.code == "not_found"
    assert not other.tokens
    assert not forged.ok and not forged.tokens
