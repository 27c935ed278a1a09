"""Identity over the real bus: who joins, actor tokens, members, roles, audit, isolation."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.bus import publish_event, rpc
from cloudaudit.common.db import asyncpg_url
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import (
    RPC_CHANGE_ROLE,
    RPC_MEMBERS,
    Action,
    Audience,
    ChangeRoleReply,
    ChangeRoleRequest,
    MembersReply,
    MembersRequest,
    Role,
)
from cloudaudit.common.testing import eventually
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.fixture
async def identity(start_service):
    return await start_service("identity")


@pytest.fixture
async def db(database_url):
    engine = create_async_engine(asyncpg_url(database_url))
    yield engine
    await engine.dispose()


def workspace(bus, slack_team: str) -> SlackWorkspace:
    return SlackWorkspace(bus_ask(bus.broker, bus.names), slack_team, "Acme")


async def team(bus, slack_team: str, owner: str, *members: str):
    """The installer owns the team; the others were invited as members."""
    people = workspace(bus, slack_team)
    first = await people.install(owner, display_name="Ana Lima")
    return first, [await people.add(first, member) for member in members]


async def test_the_installer_owns_the_team_and_invited_people_join_as_invited(identity, bus):
    people = workspace(bus, "T1")
    first = await people.install("U1", email="ana@acme.test")
    await people.invite(first, "U2", Role.VIEWER)
    second = await people.person("U2", email="bo@acme.test")
    again = await people.person("U1")
    stranger = await people.resolve("U3")
    assert first.role is Role.OWNER and not again.enrolled
    assert second.role is Role.VIEWER and second.team_id == first.team_id and second.enrolled
    assert again.user_id == first.user_id and again.role is Role.OWNER
    assert not stranger.ok and stranger.error.code == "not_invited"
    assert "invite" in stranger.error.message


async def test_simultaneous_first_users_of_a_workspace_make_nobody_owner(identity, bus, db):
    people = workspace(bus, "T9")
    replies = await asyncio.gather(*(people.resolve(f"U{i}") for i in range(6)))
    assert {(r.ok, r.error.code if r.error else None) for r in replies} == {
        (False, "team_unclaimed")
    }
    assert all("cloudaudit teams claim-code" in r.error.message for r in replies)
    async with db.connect() as conn:
        teams = (await conn.execute(text("SELECT count(*) FROM identity.teams"))).scalar_one()
    assert teams == 0


async def test_slack_user_comes_with_one_token_per_service_naming_team_user_and_role(
    identity, bus, settings
):
    owner, [member] = await team(bus, "T1", "U1", "U2")
    assert set(owner.tokens) == {
        Audience.IDENTITY,
        Audience.INGEST,
        Audience.ANALYTICS,
        Audience.BOT,
    }
    verified = ActorVerifier.for_service(settings, Audience.ANALYTICS).verify(
        member.tokens[Audience.ANALYTICS].get_secret_value()
    )
    assert (verified.team_id, verified.user_id, verified.role) == (
        member.team_id,
        member.user_id,
        Role.MEMBER,
    )
    assert verified.refusal(Action.APPROVE_RECOMMENDATION) == (
        "only owners and admins can approve recommendations; you are a member"
    )
    assert "**" in repr(owner) and owner.tokens[Audience.BOT].get_secret_value() not in repr(owner)


async def test_team_a_cannot_see_or_act_in_team_b(identity, bus, actor_token):
    a, _ = await team(bus, "TA", "UA")
    b, _ = await team(bus, "TB", "UB")
    # a's own token names a's team: b's members are out of reach whatever the body says
    members = await rpc(
        bus.broker,
        bus.names,
        RPC_MEMBERS,
        MembersRequest(actor_token=a.tokens[Audience.IDENTITY]),
        MembersReply,
    )
    assert {m.user_id for m in members.members} == {a.user_id}
    # a token claiming b's team for a person who is not in it: not found, nothing leaks
    forged_team = actor_token(b.team_id, a.user_id, Role.OWNER, Audience.IDENTITY)
    members = await rpc(
        bus.broker, bus.names, RPC_MEMBERS, MembersRequest(actor_token=forged_team), MembersReply
    )
    assert not members.ok and members.error.code == "not_found" and members.members == []
    change = await rpc(
        bus.broker,
        bus.names,
        RPC_CHANGE_ROLE,
        ChangeRoleRequest(
            actor_token=a.tokens[Audience.IDENTITY], target_user_id=b.user_id, role=Role.VIEWER
        ),
        ChangeRoleReply,
    )
    assert not change.ok and change.error.code == "not_found"


async def test_owner_promotes_and_last_owner_is_kept(identity, bus, db):
    owner, [member] = await team(bus, "T1", "U1", "U2")
    promote = await rpc(
        bus.broker,
        bus.names,
        RPC_CHANGE_ROLE,
        ChangeRoleRequest(
            actor_token=owner.tokens[Audience.IDENTITY],
            target_user_id=member.user_id,
            role=Role.ADMIN,
        ),
        ChangeRoleReply,
    )
    assert promote.ok and promote.role is Role.ADMIN
    demote_self = await rpc(
        bus.broker,
        bus.names,
        RPC_CHANGE_ROLE,
        ChangeRoleRequest(
            actor_token=owner.tokens[Audience.IDENTITY],
            target_user_id=owner.user_id,
            role=Role.MEMBER,
        ),
        ChangeRoleReply,
    )
    assert not demote_self.ok and demote_self.error.code == "last_owner"
    admin_on_owner = await rpc(
        bus.broker,
        bus.names,
        RPC_CHANGE_ROLE,
        ChangeRoleRequest(
            actor_token=member.tokens[Audience.IDENTITY],  # issued when a member, now admin
            target_user_id=owner.user_id,
            role=Role.VIEWER,
        ),
        ChangeRoleReply,
    )
    assert not admin_on_owner.ok and admin_on_owner.error.code == "forbidden"
    members = await rpc(
        bus.broker,
        bus.names,
        RPC_MEMBERS,
        MembersRequest(actor_token=member.tokens[Audience.IDENTITY]),
        MembersReply,
    )
    assert {(m.user_id, m.role) for m in members.members} == {
        (owner.user_id, Role.OWNER),
        (member.user_id, Role.ADMIN),
    }
    async with db.connect() as conn:
        actions = (
            (
                await conn.execute(
                    text(
                        "SELECT action FROM identity.audit_logs WHERE team_id = :t ORDER BY occurred_at"
                    ),
                    {"t": owner.team_id},
                )
            )
            .scalars()
            .all()
        )
    assert actions == [
        "team.created",
        "team.owner_named",
        "member.invited",
        "member.joined",
        "member.role_changed",
    ]


async def test_audit_events_are_appended_exactly_once(identity, bus, db):
    team_id = uuid4()
    event = AuditRecorded(
        team_id=team_id,
        action="recommendation.approved",
        entity_type="recommendation",
        entity_id="r-1",
        details={"savings": "12.50"},
        source="analytics",
    )
    await publish_event(bus.broker, bus.names, AUDIT_RECORDED, event)
    # The same event delivered again, bypassing JetStream's dedupe (a different message id):
    js = bus.nc.jetstream()
    await js.publish(
        bus.names.subject(AUDIT_RECORDED),
        event.model_dump_json().encode(),
        stream=bus.names.stream("AUDIT"),
        headers={"Nats-Msg-Id": "another-id"},
    )
    second = AuditRecorded(
        team_id=team_id,
        action="recommendation.dismissed",
        entity_type="recommendation",
        entity_id="r-2",
        source="analytics",
    )
    await publish_event(bus.broker, bus.names, AUDIT_RECORDED, second)

    async def rows():
        async with db.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT audit_id, action, details FROM identity.audit_logs WHERE team_id = :t"
                    ),
                    {"t": team_id},
                )
            ).all()

    found = await eventually(lambda: _when(rows, lambda r: len(r) >= 2))

    async def consumer_drained():
        info = await js.consumer_info(bus.names.stream("AUDIT"), "identity-audit-log")
        return (
            info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq == 3
        )

    await eventually(consumer_drained)
    assert sorted(r.action for r in await rows()) == [
        "recommendation.approved",
        "recommendation.dismissed",
    ]
    assert {r.audit_id for r in found} == {event.event_id, second.event_id}


async def _when(fetch, predicate):
    value = await fetch()
    return value if predicate(value) else None


async def test_audit_log_rejects_update_and_delete(identity, bus, db):
    owner, _ = await team(bus, "T1", "U1")
    for statement in (
        "UPDATE identity.audit_logs SET action = 'x'",
        "DELETE FROM identity.audit_logs",
        "TRUNCATE identity.audit_logs",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin() as conn:
                await conn.execute(text(statement))
    async with db.connect() as conn:
        count = (
            await conn.execute(
                text("SELECT count(*) FROM identity.audit_logs WHERE team_id=:t"),
                {"t": owner.team_id},
            )
        ).scalar_one()
    assert count == 2
