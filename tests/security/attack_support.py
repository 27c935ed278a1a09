"""What the attacks in tests/security share: the attacker's bus client, hand-forged tokens,
and the victim team's people and data."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import nats
from cloudaudit.common.bus import BusNames
from cloudaudit.common.clock import utcnow
from joserfc import jwt
from joserfc.jwk import OKPKey
from sqlalchemy.engine import make_url

NO_ANSWER = {"ok": False, "error": {"code": "no_answer", "message": "no reply"}}
ATTACK_TIMEOUT_S = 3.0


class Attacker:
    """Any client of the bus: requests with hand-written JSON bodies, answers it can fake."""

    def __init__(self, nc: Any, names: BusNames) -> None:
        self.nc = nc
        self.names = names

    async def ask(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        """The service's JSON answer, or NO_ANSWER when it refused to answer a malformed one."""
        try:
            msg = await self.nc.request(
                self.names.subject(subject),
                json.dumps(body, default=str).encode(),
                timeout=ATTACK_TIMEOUT_S,
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            return NO_ANSWER
        try:
            answer = json.loads(msg.data)
        except ValueError:
            return NO_ANSWER
        return answer if isinstance(answer, dict) and "ok" in answer else NO_ANSWER

    async def answer_as(self, subject: str, reply: dict[str, Any]) -> list[Any]:
        """Answer a subject as if the attacker were the service; returns what it was asked."""
        asked: list[Any] = []

        async def respond(msg: Any) -> None:
            asked.append(json.loads(msg.data))
            await msg.respond(json.dumps(reply).encode())

        await self.nc.subscribe(self.names.subject(subject), cb=respond)
        await self.nc.flush()
        return asked


@dataclass
class Person:
    slack_user_id: str
    user_id: UUID
    team_id: UUID
    role: str
    tokens: dict[str, str]


@dataclass
class Victim:
    """Team A, with an owner and a member, an AWS account, an anomaly and a recommendation."""

    owner: Person
    member: Person
    account_id: UUID
    anomaly_id: UUID
    recommendation_id: UUID


class Database:
    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def execute(self, query: str, *args: Any) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(query, *args)
        finally:
            await conn.close()


def slack_person(slack_team: str, slack_user: str, **profile: Any) -> dict[str, Any]:
    """What the bot tells identity about a person: a full member of the workspace unless the
    profile says otherwise (users.info's flags)."""
    return {
        "slack_team_id": slack_team,
        "slack_user_id": slack_user,
        "slack_team_name": slack_team,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_stranger": False,
        "user_team_id": slack_team,
        **profile,
    }


async def resolve(attacker: Attacker, slack_team: str, slack_user: str, **profile: Any) -> Any:
    """Identity's raw answer to the bot for a Slack person."""
    return await attacker.ask(
        "identity.v1.rpc.slack_user", slack_person(slack_team, slack_user, **profile)
    )


def _person(slack_user: str, reply: dict[str, Any]) -> Person:
    assert reply["ok"], reply
    return Person(
        slack_user,
        UUID(reply["user_id"]),
        UUID(reply["team_id"]),
        reply["role"],
        reply.get("tokens", {}),
    )


async def enrol(
    attacker: Attacker, slack_team: str, slack_user: str, invited_by: Person | None = None
) -> Person:
    """A Slack person as identity answers the bot (the bot verified Slack's signature): the
    app's installer (the owner) when nobody invites them, else invited by `invited_by`."""
    if invited_by is None:
        installed = await attacker.ask(
            "identity.v1.rpc.slack_installed",
            {"slack_team_id": slack_team, "slack_team_name": slack_team,
             "installer_slack_user_id": slack_user},
        )  # fmt: skip
        assert installed["ok"], installed
    else:
        invited = await attacker.ask(
            "identity.v1.rpc.invite",
            {"actor_token": invited_by.tokens["identity"], "slack_user_id": slack_user},
        )
        assert invited["ok"], invited
    return _person(slack_user, await resolve(attacker, slack_team, slack_user))


def forged_token(claims: dict[str, Any], key: OKPKey | None = None, kid: str = "forged") -> str:
    """A token signed with a key identity never had (default), or with the given key."""
    signing = key or OKPKey.generate_key("Ed25519", parameters={"kid": kid}, private=True)
    header = {"alg": "Ed25519", "kid": signing.kid or kid, "typ": "JWT"}
    return jwt.encode(header, claims, signing, algorithms=["Ed25519"])


def identity_key() -> OKPKey:
    """Identity's real signing key (what a token stolen from a log would be signed with)."""
    jwk = json.loads(os.environ["CLOUDAUDIT_ACTOR_SIGNING_KEYS"])["keys"][-1]
    return OKPKey.import_key({k: v for k, v in jwk.items() if k != "created_at"})


def claims_for(person: Person, audience: str, **changes: Any) -> dict[str, Any]:
    now = int(utcnow().timestamp())  # the verifier judges by the same clock
    claims = {
        "iss": "cloudaudit-identity",
        "sub": str(person.user_id),
        "team": str(person.team_id),
        "role": "owner",
        "src": "slack",
        "aud": audience,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return claims


def money(value: Any) -> Decimal:
    return Decimal(str(value))
