"""Who is who, who owns, who may join: each attack replayed against the real identity service.

The attacker sends hand-written JSON on the bus as the bot would (the bot is the Slack edge:
what it says about a person is what Slack's signature and users.info told it), and uses the
web API over real HTTP. The operator's commands run as the operator types them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import nats
import pytest_asyncio
from attack_support import Attacker, Database, enrol, resolve, slack_person
from cloudaudit.common.bus import BusNames
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import Mailbox
from cloudaudit.identity.settings import IdentitySettings
from test_signup_takeover import PASSWORD, Web
from typer.testing import CliRunner

ACME = "T-ACME"
LINKED_AT = datetime(2027, 3, 10, 9, 30, tzinfo=UTC)


async def _identity(start_service, settings, state_dir, **overrides: Any) -> Any:
    values = {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "NATS_URL": settings.nats_url,
        "CLOUDAUDIT_BUS_PREFIX": settings.bus_prefix,
        "CLOUDAUDIT_STATE_DIR": str(state_dir),
        **overrides,
    }
    return await start_service("identity", IdentitySettings(**values))  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="session")
async def web(start_service, settings, tmp_path) -> AsyncIterator[Web]:
    runtime = await _identity(start_service, settings, tmp_path)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{runtime.bound_api_port}") as http:
        yield Web(http, Mailbox(tmp_path))


@pytest_asyncio.fixture(loop_scope="session")
async def bot(web, settings, infrastructure) -> AsyncIterator[Attacker]:
    """What the Slack edge sends identity (any client of the bus could try the same)."""
    nc = await nats.connect(infrastructure.nats_url)
    yield Attacker(nc, BusNames(settings.bus_prefix))
    await nc.close()


async def operator(database_url: str, *args: str) -> str:
    """A `cloudaudit` command as the operator types it (its own event loop: in a thread)."""
    from cloudaudit.common.cli import _register_service_commands, app

    if not any(getattr(c, "name", None) == "teams" for c in app.registered_groups):
        _register_service_commands()

    def run() -> str:
        result = CliRunner().invoke(app, list(args), env={"DATABASE_URL": database_url})
        assert result.exit_code == 0, result.output
        return result.output

    return await asyncio.to_thread(run)


async def claim_code(database_url: str) -> str:
    printed = await operator(database_url, "teams", "claim-code")
    return next(line for line in printed.splitlines() if "/cloudaudit claim " in line).split()[-1]


def refused(reply: dict[str, Any], code: str) -> bool:
    return not reply["ok"] and reply["error"]["code"] == code and not reply.get("tokens")


async def owners(db: Database) -> list[str]:
    rows = await db.fetch(
        "SELECT s.slack_user_id FROM identity.team_members m JOIN identity.slack_users s "
        "ON s.user_id = m.user_id WHERE m.role = 'owner' ORDER BY 1"
    )
    return [r["slack_user_id"] for r in rows]


# -- ownership ---------------------------------------------------------------------------------
async def test_two_first_users_at_once_own_nothing_until_the_operator_s_claim(
    bot, db: Database, database_url
):
    racing = await asyncio.gather(*(resolve(bot, ACME, f"U-RACER{i}") for i in range(2)))
    assert all(refused(r, "team_unclaimed") for r in racing)
    assert "cloudaudit teams claim-code" in racing[0]["error"]["message"]
    assert await db.fetch("SELECT 1 FROM identity.teams") == []

    code = await claim_code(database_url)
    claims = await asyncio.gather(
        *(
            bot.ask("identity.v1.rpc.claim", {**slack_person(ACME, f"U-RACER{i}"), "code": code})
            for i in range(2)
        )
    )
    winners = [i for i, c in enumerate(claims) if c["ok"]]
    assert len(winners) == 1 and refused(claims[1 - winners[0]], "invalid_code")
    assert await owners(db) == [f"U-RACER{winners[0]}"]
    loser = await resolve(bot, ACME, f"U-RACER{1 - winners[0]}")
    assert refused(loser, "not_invited")


async def test_the_oauth_installer_owns_the_team_whoever_typed_first(bot, db: Database):
    assert refused(await resolve(bot, ACME, "U-EARLY"), "team_unclaimed")
    installed = await bot.ask(
        "identity.v1.rpc.slack_installed",
        {"slack_team_id": ACME, "installer_slack_user_id": "U-INSTALLER"},
    )
    assert installed["ok"] and installed["became_owner"]
    assert refused(await resolve(bot, ACME, "U-EARLY"), "not_invited")
    reinstall = await bot.ask(
        "identity.v1.rpc.slack_installed",
        {"slack_team_id": ACME, "installer_slack_user_id": "U-EARLY"},
    )
    assert reinstall["ok"] and not reinstall["became_owner"]
    assert await owners(db) == ["U-INSTALLER"]
    assert (await resolve(bot, ACME, "U-INSTALLER"))["role"] == "owner"


async def test_a_claim_code_is_useless_once_the_team_has_an_owner(bot, database_url, db):
    await enrol(bot, ACME, "U-OWNER")
    code = await claim_code(database_url)
    grab = await bot.ask("identity.v1.rpc.claim", {**slack_person(ACME, "U-GRAB"), "code": code})
    assert refused(grab, "conflict") and await owners(db) == ["U-OWNER"]


# -- who may join -----------------------------------------------------------------------------
async def test_guests_and_external_users_are_refused_even_when_invited(bot, database_url):
    owner = await enrol(bot, ACME, "U-OWNER")
    for slack_user in ("U-GUEST", "U-SINGLE", "U-CONNECT", "U-STRANGE"):
        invited = await bot.ask(
            "identity.v1.rpc.invite",
            {"actor_token": owner.tokens["identity"], "slack_user_id": slack_user, "role": "admin"},
        )
        assert invited["ok"], invited
    guest = await resolve(bot, ACME, "U-GUEST", is_restricted=True)
    single = await resolve(bot, ACME, "U-SINGLE", is_restricted=True, is_ultra_restricted=True)
    connect = await resolve(bot, ACME, "U-CONNECT", user_team_id="T-THEIRORG")
    strange = await resolve(bot, ACME, "U-STRANGE", is_stranger=True)
    assert all(refused(r, "not_admitted") for r in (guest, single, connect, strange))
    assert "guests" in guest["error"]["message"] and "Slack Connect" in connect["error"]["message"]

    await operator(database_url, "teams", "policy", "--team", ACME, "--guests", "viewer")
    reader = await resolve(bot, ACME, "U-GUEST", is_restricted=True)
    assert reader["ok"] and reader["role"] == "viewer"  # invited as admin: a guest only reads
    assert refused(await resolve(bot, ACME, "U-CONNECT", user_team_id="T-THEIRORG"), "not_admitted")


async def test_a_person_whose_account_type_is_unknown_is_refused(bot, db: Database):
    await enrol(bot, ACME, "U-OWNER")
    for missing in ("is_restricted", "is_ultra_restricted", "is_stranger", "user_team_id"):
        person = slack_person(ACME, "U-OWNER")
        del person[missing]
        assert refused(await bot.ask("identity.v1.rpc.slack_user", person), "slack_profile_missing")


async def test_a_removed_person_cannot_re_enrol_with_another_slack_account(
    bot, database_url, db: Database
):
    await enrol(bot, ACME, "U-OWNER")
    await operator(database_url, "teams", "policy", "--team", ACME, "--join", "workspace")
    profile = {"email": "mal@acme.test", "email_confirmed": True}
    joined = await resolve(bot, ACME, "U-MAL", **profile)
    assert joined["ok"] and joined["role"] == "viewer"

    await operator(database_url, "teams", "remove-member", "--team", ACME, joined["user_id"])

    assert "removed" in (await resolve(bot, ACME, "U-MAL", **profile))["error"]["message"]
    second = await resolve(bot, ACME, "U-MAL2", **profile)
    unconfirmed = await resolve(bot, ACME, "U-MAL3", email="MAL@acme.test")
    assert refused(second, "not_invited") and refused(unconfirmed, "not_invited")
    members = await db.fetch("SELECT count(*) AS n FROM identity.team_members")
    assert members[0]["n"] == 1  # the owner alone
    await operator(database_url, "teams", "invite", "--team", ACME, "--slack", "U-MAL")
    assert (await resolve(bot, ACME, "U-MAL", **profile))["ok"]  # invited again: back


# -- enumeration ------------------------------------------------------------------------------
async def test_another_team_s_members_and_audit_look_exactly_like_no_team(web, bot, actor_token):
    victim = await enrol(bot, ACME, "U-OWNER")
    await web.sign_up_and_verify("eve@evil.test")
    token = await web.log_in("eve@evil.test")
    headers = {"Authorization": f"Bearer {token}"}
    answers = []
    for team in (victim.team_id, uuid.uuid4(), "not-a-uuid"):
        for what in ("members", "audit", "invitations"):
            async with web.http.get(f"/api/v1/teams/{team}/{what}", headers=headers) as resp:
                answers.append((resp.status, await resp.json()))
    assert {status for status, _ in answers} == {404}
    assert len({str(body) for _, body in answers}) == 1
    # on the bus: a token for the victim's team naming someone not in it (a removed member's
    # token still has minutes to live) gets what a token for no team at all gets
    outsider = uuid.uuid4()
    replies = []
    for team in (victim.team_id, uuid.uuid4()):
        signed = actor_token(team, outsider, Role.OWNER, Audience.IDENTITY).get_secret_value()
        for rpc in ("members", "audit_log", "invite"):
            body: dict[str, Any] = {"actor_token": signed}
            if rpc == "invite":
                body["slack_user_id"] = "U-EVE"
            replies.append(await bot.ask(f"identity.v1.rpc.{rpc}", body))
    assert {r["error"]["code"] for r in replies} == {"not_found"}
    assert len({r["error"]["message"] for r in replies}) == 1


# -- the client address ------------------------------------------------------------------------
async def _guess(api: str, forwarded: str) -> int:
    async with (
        aiohttp.ClientSession(api) as http,
        http.post(
            "/api/v1/login",
            json={"email": "ana@acme.test", "password": "wrong-guess-123"},
            headers={"X-Forwarded-For": forwarded},
        ) as resp,
    ):
        return resp.status


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    start_service, settings, tmp_path, db: Database
):
    runtime = await _identity(
        start_service, settings, tmp_path,
        IDENTITY_TRUSTED_PROXY_HEADER="X-Forwarded-For", IDENTITY_TRUSTED_PROXIES="10.0.0.0/8",
    )  # fmt: skip
    api = f"http://127.0.0.1:{runtime.bound_api_port}"
    for n in range(3):
        assert await _guess(api, f"198.51.100.{n}") == 401
    clients = await db.fetch("SELECT DISTINCT client FROM identity.login_failures")
    assert [c["client"] for c in clients] == ["127.0.0.1"]


async def test_a_trusted_proxy_names_the_client(start_service, settings, tmp_path, db: Database):
    runtime = await _identity(
        start_service, settings, tmp_path,
        IDENTITY_TRUSTED_PROXY_HEADER="X-Forwarded-For", IDENTITY_TRUSTED_PROXIES="127.0.0.1/32",
    )  # fmt: skip
    api = f"http://127.0.0.1:{runtime.bound_api_port}"
    # the client's own forged entry is left of the one the proxy appended
    assert await _guess(api, "6.6.6.6, 198.51.100.7") == 401
    clients = await db.fetch("SELECT client FROM identity.login_failures")
    assert [c["client"] for c in clients] == ["198.51.100.7"]


# -- payloads without a workspace --------------------------------------------------------------
async def test_a_payload_without_a_slack_team_is_refused_not_tenant_none(bot, db: Database):
    """Identity's side (the bot refuses such a payload before asking: services/bot tests)."""
    asks = []
    for team in ("None", "", None, "E0ORGWIDE"):
        person = {**slack_person("T-PLACEHOLDER", "U-SOMEONE"), "slack_team_id": team}
        install = {"slack_team_id": team, "installer_slack_user_id": "U-SOMEONE"}
        asks += [
            bot.ask("identity.v1.rpc.slack_user", person),
            bot.ask("identity.v1.rpc.slack_installed", install),
        ]
    replies = await asyncio.gather(*asks)  # malformed: no answer at all, in parallel
    assert not any(reply["ok"] for reply in replies)
    assert await db.fetch("SELECT 1 FROM identity.slack_workspaces") == []
    assert await db.fetch("SELECT 1 FROM identity.teams") == []


# -- linking by proof --------------------------------------------------------------------------
async def test_a_slack_code_entered_by_the_signed_in_web_user_links_them_once(
    web, bot, db: Database
):
    owner = await enrol(bot, ACME, "U-ANA")
    with frozen_at(LINKED_AT):
        await web.sign_up_and_verify("ana@acme.test")
        session = await web.log_in("ana@acme.test")
        shown = await bot.ask("identity.v1.rpc.link_code", slack_person(ACME, "U-ANA"))
        code = shown["code"]
        stored = await db.fetch("SELECT code_digest, expires_at FROM identity.one_time_codes")
        assert code not in str(stored) and len(stored[0]["code_digest"]) == 64
        assert stored[0]["expires_at"] - LINKED_AT <= timedelta(minutes=10, seconds=5)

        status, body = await web.post("link/slack", {"code": code}, session)
        assert status == 200 and body["slack_user_id"] == "U-ANA"
        again = await web.post("link/slack", {"code": code}, session)
        assert again[0] == 400 and again[1]["error"]["code"] == "invalid_code"

    me = await web.post("login", {"email": "ana@acme.test", "password": PASSWORD})
    async with web.http.get(
        "/api/v1/me/teams", headers={"Authorization": f"Bearer {me[1]['token']}"}
    ) as resp:
        teams = (await resp.json())["teams"]
    assert [(t["team_id"], t["role"]) for t in teams] == [(str(owner.team_id), "owner")]
    now = await resolve(bot, ACME, "U-ANA")
    assert now["user_id"] == me[1]["user_id"]  # one person from now on
    actions = await db.fetch(
        "SELECT action FROM identity.audit_logs WHERE action LIKE 'identity.%'"
    )
    assert [a["action"] for a in actions] == ["identity.linked"]


async def test_a_link_code_expires_and_cannot_be_guessed(web, bot, db: Database):
    await enrol(bot, ACME, "U-ANA")
    with frozen_at(LINKED_AT):
        await web.sign_up_and_verify("eve@evil.test")
        session = await web.log_in("eve@evil.test")
        code = (await bot.ask("identity.v1.rpc.link_code", slack_person(ACME, "U-ANA")))["code"]
    with frozen_at(LINKED_AT + timedelta(minutes=11)):
        late = await web.post("link/slack", {"code": code}, session)
        assert late[0] == 400
        fresh = (await bot.ask("identity.v1.rpc.link_code", slack_person(ACME, "U-ANA")))["code"]
        for n in range(4):  # with the late one: five wrong codes this hour
            assert (await web.post("link/slack", {"code": f"AAAA-BBBB-{n:04d}"}, session))[0] == 400
        stopped = await web.post("link/slack", {"code": fresh}, session)
        assert stopped[0] == 429
    links = await db.fetch("SELECT user_id FROM identity.slack_users WHERE slack_user_id='U-ANA'")
    users = await db.fetch("SELECT user_id FROM identity.users WHERE email = 'eve@evil.test'")
    assert links[0]["user_id"] != users[0]["user_id"]


async def test_a_web_code_typed_in_slack_links_that_slack_person(web, bot, db: Database):
    owner = await enrol(bot, ACME, "U-ANA")
    await web.sign_up_and_verify("ana@acme.test")
    session = await web.log_in("ana@acme.test")
    status, shown = await web.post("link/slack/code", {}, session)
    assert status == 201 and "/cloudaudit link" in shown["message"]
    wrong_person = await bot.ask(
        "identity.v1.rpc.link_slack", {**slack_person(ACME, "U-ANA"), "code": "ZZZZ-ZZZZ-ZZZZ"}
    )
    assert refused(wrong_person, "invalid_code")
    linked = await bot.ask(
        "identity.v1.rpc.link_slack", {**slack_person(ACME, "U-ANA"), "code": shown["code"]}
    )
    assert linked["ok"]
    assert (await resolve(bot, ACME, "U-ANA"))["user_id"] == linked["user_id"]
    assert (await resolve(bot, ACME, "U-ANA"))["role"] == "owner"
    remaining = await db.fetch(
        "SELECT user_id FROM identity.users WHERE user_id = $1", owner.user_id
    )
    assert remaining == []  # the Slack-only user was merged into the web one
