"""Account takeover and enumeration through the web sign-up, replayed over real HTTP.

Identity runs in-process on the session's real PostgreSQL and NATS, with its embedded SMTP
sink: every mail below went over real SMTP, and the tests read it from the sink's folder as
the address's owner would read their inbox. The attacker knows only the HTTP API and the bus.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import nats
import pytest_asyncio
from attack_support import Attacker, Database, resolve
from cloudaudit.common.bus import BusNames
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.testing import Mailbox
from cloudaudit.identity.settings import IdentitySettings

PASSWORD = "c0rrect-horse-battery"
ATTACKER_PASSWORD = "attacker-passphrase-1"
NEW_PASSWORD = "brand-new-passphrase-9"
SIGNED_UP_AT = datetime(2027, 3, 10, 9, 30, tzinfo=UTC)  # a fixed moment: never today's date


@dataclass
class Web:
    http: aiohttp.ClientSession
    mailbox: Mailbox

    async def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"/api/v1/{path}", json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    async def status_of(self, token: str) -> int:
        async with self.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status

    async def sign_up_and_verify(self, email: str, password: str = PASSWORD) -> None:
        assert (await self.post("signup", {"email": email, "password": password}))[0] == 202
        mail = await self.mailbox.wait_for(email)
        assert (await self.post("verify", {"token": Mailbox.token_in(mail)}))[0] == 200

    async def log_in(self, email: str, password: str = PASSWORD) -> str:
        status, body = await self.post("login", {"email": email, "password": password})
        assert status == 200, body
        return str(body["token"])


@pytest_asyncio.fixture(loop_scope="session")
async def web(start_service, settings, tmp_path) -> AsyncIterator[Web]:
    identity = IdentitySettings(  # type: ignore[call-arg]
        DATABASE_URL=settings.database_url.get_secret_value(),
        NATS_URL=settings.nats_url_value(),
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
        CLOUDAUDIT_STATE_DIR=str(tmp_path),  # the embedded SMTP sink keeps mail here
    )
    runtime = await start_service("identity", identity)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{runtime.bound_api_port}") as http:
        yield Web(http, Mailbox(tmp_path))


@pytest_asyncio.fixture(loop_scope="session")
async def slack_edge(web, settings, infrastructure) -> AsyncIterator[Attacker]:
    """The bot's view of the bus: how a person becomes known from Slack."""
    nc = await nats.connect(infrastructure.nats_url)
    yield Attacker(nc, BusNames(settings.bus_prefix))
    await nc.close()


async def slack_only_owner(slack_edge: Attacker, email: str) -> dict[str, Any]:
    """The owner of a Slack workspace's team (its installer), known only from Slack: their
    profile email, which Slack says they confirmed."""
    installed = await slack_edge.ask(
        "identity.v1.rpc.slack_installed",
        {"slack_team_id": "T-VICTIM", "slack_team_name": "Victim",
         "installer_slack_user_id": "U-CFO", "installer_email": email},
    )  # fmt: skip
    assert installed["ok"], installed
    reply = await resolve(
        slack_edge, "T-VICTIM", "U-CFO", email=email, email_confirmed=True,
        display_name="The CFO",
    )  # fmt: skip
    assert reply["ok"] and reply["role"] == "owner", reply
    return reply


async def everything_in_identity(db: Database) -> str:
    """Every row of every table of identity's schema, as text."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity'"
    )
    rows = [await db.fetch(f'SELECT * FROM identity."{t["table_name"]}"') for t in tables]
    return repr(rows)


async def test_sign_up_cannot_claim_a_user_known_only_from_slack(web, slack_edge, db: Database):
    owner = await slack_only_owner(slack_edge, "cfo@victim.test")

    status, _ = await web.post(
        "signup", {"email": "CFO@victim.test", "password": ATTACKER_PASSWORD}
    )
    status_reset, _ = await web.post("password/reset", {"email": "cfo@victim.test"})

    assert (status, status_reset) == (202, 202)
    # The Slack person keeps no password and no web address; the sign-up is another person,
    # inactive until someone opens the link mailed to the address, and a member of nothing.
    users = {
        str(u["user_id"]): (u["email"], u["password_hash"] is not None)
        for u in await db.fetch("SELECT user_id, email, password_hash FROM identity.users")
    }
    assert users.pop(owner["user_id"]) == (None, False)
    assert list(users.values()) == [("cfo@victim.test", True)]
    members = await db.fetch("SELECT user_id FROM identity.team_members")
    assert [str(m["user_id"]) for m in members] == [owner["user_id"]]
    status, body = await web.post(
        "login", {"email": "cfo@victim.test", "password": ATTACKER_PASSWORD}
    )
    assert status == 403 and body["error"]["code"] == "email_not_verified"
    # Worst case: the link is opened (the address's owner clicks a link they never asked
    # for). The account still has none of the Slack person's teams: nothing links by email.
    link = await web.mailbox.wait_for("cfo@victim.test")
    assert (await web.post("verify", {"token": Mailbox.token_in(link)}))[0] == 200
    token = await web.log_in("cfo@victim.test", ATTACKER_PASSWORD)
    async with web.http.get("/api/v1/me/teams", headers={"Authorization": f"Bearer {token}"}) as r:
        assert (await r.json())["teams"] == []
    again = await resolve(slack_edge, "T-VICTIM", "U-CFO", email="cfo@victim.test")
    assert again["user_id"] == owner["user_id"]  # the Slack identity is still the CFO's own


async def test_slack_after_sign_up_is_not_linked_to_the_earlier_account(
    web, slack_edge, db: Database
):
    """The old takeover: sign up first with cfo@victim; when the victim typed /cloudaudit, the
    Slack profile's email joined their Slack identity to the attacker's account."""
    await web.sign_up_and_verify("cfo@victim.test", ATTACKER_PASSWORD)  # verified, even
    attacker_id = (await db.fetch("SELECT user_id FROM identity.users"))[0]["user_id"]

    victim = await slack_only_owner(slack_edge, "cfo@victim.test")

    assert victim["user_id"] != str(attacker_id)
    links = await db.fetch("SELECT user_id FROM identity.slack_users")
    assert [str(r["user_id"]) for r in links] == [victim["user_id"]]
    token = await web.log_in("cfo@victim.test", ATTACKER_PASSWORD)
    async with web.http.get("/api/v1/me/teams", headers={"Authorization": f"Bearer {token}"}) as r:
        assert (await r.json())["teams"] == []
    members = await web.http.get(
        f"/api/v1/teams/{victim['team_id']}/members", headers={"Authorization": f"Bearer {token}"}
    )
    assert members.status == 404


async def test_an_unverified_account_cannot_log_in(web):
    assert (await web.post("signup", {"email": "bo@acme.test", "password": PASSWORD}))[0] == 202

    status, body = await web.post("login", {"email": "bo@acme.test", "password": PASSWORD})
    wrong = await web.post("login", {"email": "bo@acme.test", "password": "not-the-password"})
    unknown = await web.post("login", {"email": "nobody@acme.test", "password": PASSWORD})

    assert status == 403 and body["error"]["code"] == "email_not_verified"
    assert "/api/v1/verify/resend" in body["error"]["message"]
    assert wrong == unknown  # without the password, an unverified account looks like none


async def test_a_verification_link_works_once_expires_and_is_kept_only_as_a_hash(web, db: Database):
    with frozen_at(SIGNED_UP_AT):
        await web.post("signup", {"email": "ana@acme.test", "password": PASSWORD})
        await web.post("signup", {"email": "bo@acme.test", "password": PASSWORD})
        ana = Mailbox.token_in(await web.mailbox.wait_for("ana@acme.test"))
        bo = Mailbox.token_in(await web.mailbox.wait_for("bo@acme.test"))

        stored = await db.fetch("SELECT token_digest, expires_at FROM identity.email_tokens")
        assert {r["token_digest"] for r in stored} == {
            hashlib.sha256(t.encode()).hexdigest() for t in (ana, bo)
        }
        for row in stored:  # 24 hours from sign-up (the clock ticks on from SIGNED_UP_AT)
            assert (
                timedelta(0)
                <= row["expires_at"] - (SIGNED_UP_AT + timedelta(hours=24))
                < (timedelta(minutes=1))
            )
        dump = await everything_in_identity(db)
        assert ana not in dump and bo not in dump

        assert (await web.post("verify", {"token": ana}))[0] == 200
        again = await web.post("verify", {"token": ana})
        assert again[0] == 400 and again[1]["error"]["code"] == "invalid_token"
        assert await web.log_in("ana@acme.test")

    with frozen_at(SIGNED_UP_AT + timedelta(hours=24, minutes=1)):
        late = await web.post("verify", {"token": bo})
        assert late[0] == 400 and "expired" in late[1]["error"]["message"]
        assert (await web.post("login", {"email": "bo@acme.test", "password": PASSWORD}))[0] == 403
        assert (await web.post("verify/resend", {"email": "bo@acme.test"}))[0] == 202
        fresh = Mailbox.token_in(await web.mailbox.wait_for("bo@acme.test", count=2))
        assert (await web.post("verify", {"token": fresh}))[0] == 200
        assert await web.log_in("bo@acme.test")


async def test_a_password_reset_ends_every_session(web, db: Database):
    await web.sign_up_and_verify("ana@acme.test")
    laptop, phone = await web.log_in("ana@acme.test"), await web.log_in("ana@acme.test")

    assert (await web.post("password/reset", {"email": "ana@acme.test"}))[0] == 202
    token = Mailbox.token_in(await web.mailbox.wait_for("ana@acme.test", count=2))
    status, body = await web.post(
        "password/reset/confirm", {"token": token, "new_password": NEW_PASSWORD}
    )

    assert status == 200 and body["sessions_ended"] == 2
    assert [await web.status_of(t) for t in (laptop, phone)] == [401, 401]
    assert (await web.post("login", {"email": "ana@acme.test", "password": PASSWORD}))[0] == 401
    assert await web.log_in("ana@acme.test", NEW_PASSWORD)
    reused = await web.post("password/reset/confirm", {"token": token, "new_password": PASSWORD})
    assert reused[0] == 400
    told = await web.mailbox.wait_for("ana@acme.test", count=3)
    assert told.subject == "Your CloudAudit password was changed"
    digests = await db.fetch("SELECT token_digest FROM identity.email_tokens")
    assert token not in str(digests)


async def test_a_password_change_needs_the_old_one_and_ends_the_other_sessions(web):
    await web.sign_up_and_verify("ana@acme.test")
    here, elsewhere = await web.log_in("ana@acme.test"), await web.log_in("ana@acme.test")

    wrong = await web.post(
        "password/change", {"old_password": "guessed-wrong-1", "new_password": NEW_PASSWORD}, here
    )
    status, body = await web.post(
        "password/change", {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, here
    )

    assert wrong[0] == 401 and "current password" in wrong[1]["error"]["message"]
    assert status == 200 and body["sessions_ended"] == 1
    assert [await web.status_of(here), await web.status_of(elsewhere)] == [200, 401]
    assert await web.log_in("ana@acme.test", NEW_PASSWORD)


async def test_log_out_everywhere_ends_every_session(web):
    await web.sign_up_and_verify("ana@acme.test")
    await web.sign_up_and_verify("bo@acme.test")
    sessions = [await web.log_in("ana@acme.test") for _ in range(3)]
    bo = await web.log_in("bo@acme.test")

    status, body = await web.post("logout/all", {}, sessions[0])

    assert status == 200 and body["sessions_ended"] == 3
    assert [await web.status_of(t) for t in sessions] == [401, 401, 401]
    assert await web.status_of(bo) == 200  # someone else's session is not touched


async def test_a_link_of_one_kind_does_not_work_for_the_other(web):
    await web.post("signup", {"email": "ana@acme.test", "password": PASSWORD})
    verification = Mailbox.token_in(await web.mailbox.wait_for("ana@acme.test"))
    as_reset = await web.post(
        "password/reset/confirm", {"token": verification, "new_password": NEW_PASSWORD}
    )
    assert as_reset[0] == 400  # a verification link sets no password
    assert (await web.post("verify", {"token": verification}))[0] == 200

    await web.post("password/reset", {"email": "ana@acme.test"})
    reset = Mailbox.token_in(await web.mailbox.wait_for("ana@acme.test", count=2))
    assert (await web.post("verify", {"token": reset}))[0] == 400  # a reset link proves nothing
    assert (
        await web.post("password/reset/confirm", {"token": reset, "new_password": NEW_PASSWORD})
    )[0] == 200
