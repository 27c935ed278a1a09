"""The audit log over the bus: owners and admins read their team's entries (who, what, when),
page by page; members, viewers and other teams get nothing; refused attempts are entries too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cloudaudit.common.bus import publish_event, rpc
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import (
    RPC_AUDIT_LOG,
    RPC_CHANGE_ROLE,
    Audience,
    AuditLogReply,
    AuditLogRequest,
    ChangeRoleReply,
    ChangeRoleRequest,
    Role,
    SlackUserReply,
)
from cloudaudit.common.testing import eventually
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask
from pydantic import ValidationError


@pytest.fixture
async def identity(start_service):
    return await start_service("identity")


async def enrol(bus, slack_team: str, slack_user: str, name: str, by=None) -> SlackUserReply:
    """The installer of the workspace (owner), or a member invited `by` the owner."""
    people = SlackWorkspace(bus_ask(bus.broker, bus.names), slack_team)
    if by is None:
        return await people.install(slack_user, display_name=name)
    return await people.add(by, slack_user, display_name=name)


async def audit_log(bus, who: SlackUserReply, token=None, **kwargs) -> AuditLogReply:
    return await rpc(
        bus.broker,
        bus.names,
        RPC_AUDIT_LOG,
        AuditLogRequest(actor_token=token or who.tokens[Audience.IDENTITY], **kwargs),
        AuditLogReply,
    )


async def test_owner_reads_who_did_what_and_when_newest_first_with_refusals(identity, bus):
    owner = await enrol(bus, "TA", "UOWNER", "Ana Lima")
    viewer = await enrol(bus, "TA", "UVIEWER", "Vic Viewer", by=owner)
    demoted = await rpc(
        bus.broker,
        bus.names,
        RPC_CHANGE_ROLE,
        ChangeRoleRequest(
            actor_token=owner.tokens[Audience.IDENTITY],
            target_user_id=viewer.user_id,
            role=Role.VIEWER,
        ),
        ChangeRoleReply,
    )
    assert demoted.ok
    approved_at = utcnow()
    await publish_event(
        bus.broker,
        bus.names,
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=owner.team_id,
            user_id=owner.user_id,
            action="recommendation.approved",
            entity_type="recommendation",
            entity_id="rec-1",
            occurred_at=approved_at + timedelta(seconds=5),
            source="bot",
        ),
    )
    # The viewer tries to read the log: refused, and the attempt is on record. Identity judges
    # by the role now (viewer), not the one the token was issued with (member).
    refused = await audit_log(bus, viewer)
    assert not refused.ok and refused.error.code == "forbidden" and refused.entries == []

    async def approval_recorded():
        reply = await audit_log(bus, owner)
        return (
            reply
            if reply.entries and reply.entries[0].action == "recommendation.approved"
            else None
        )

    reply = await eventually(approval_recorded, timeout=30)
    assert reply.ok and reply.next_before is None
    actions = [e.action for e in reply.entries]
    assert actions == [
        "recommendation.approved",
        "authorization.refused",
        "member.role_changed",
        "member.joined",
        "member.invited",
        "team.owner_named",
        "team.created",
    ]
    approval, refusal, role_change = reply.entries[:3]
    assert approval.user_name == "Ana Lima" and approval.slack_user_id == "UOWNER"
    assert approval.entity_id == "rec-1" and approval.source == "bot"
    assert approval.occurred_at == approved_at + timedelta(seconds=5)
    assert refusal.user_id == viewer.user_id and refusal.slack_user_id == "UVIEWER"
    assert refusal.user_name == "Vic Viewer" and refusal.entity_id == "audit.read"
    assert refusal.details["role"] == "viewer" and "you are a viewer" in refusal.details["reason"]
    assert role_change.details == {"from": "member", "to": "viewer"}
    assert all(e.occurred_at.tzinfo is not None for e in reply.entries)


async def test_pages_follow_each_other_without_overlap(identity, bus):
    owner = await enrol(bus, "TP", "U1", "Ana Lima")
    start = utcnow() + timedelta(minutes=1)
    for i in range(5):
        await publish_event(
            bus.broker,
            bus.names,
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=owner.team_id,
                user_id=owner.user_id,
                action="anomaly.feedback",
                entity_type="anomaly",
                entity_id=f"a-{i}",
                occurred_at=start + timedelta(seconds=i),
            ),
        )

    async def all_recorded():
        reply = await audit_log(bus, owner, limit=200)
        return reply if len(reply.entries) == 7 else None  # + team created, owner named

    await eventually(all_recorded, timeout=30)
    first = await audit_log(bus, owner, limit=3)
    second = await audit_log(bus, owner, limit=3, before=first.next_before)
    third = await audit_log(bus, owner, limit=3, before=second.next_before)
    assert [e.entity_id for e in first.entries] == ["a-4", "a-3", "a-2"]
    assert [e.entity_id for e in second.entries][:2] == ["a-1", "a-0"]
    seen = [e.audit_id for page in (first, second, third) for e in page.entries]
    assert len(seen) == len(set(seen)) == 7 and third.next_before is None


async def test_members_viewers_and_other_teams_read_nothing(identity, bus, actor_token):
    owner = await enrol(bus, "TA", "UOWNER", "Ana Lima")
    member = await enrol(bus, "TA", "UMEMBER", "Mo Member", by=owner)
    stranger = await enrol(bus, "TB", "USTRANGER", "Sam Other")
    as_member = await audit_log(bus, member)
    assert not as_member.ok and as_member.error.code == "forbidden" and as_member.entries == []
    assert "only owners and admins can read the audit log" in as_member.error.message
    # A token naming team A for a person who is not in it (signed as identity would: the worst
    # case of a leaked key aside) gets "not found", nothing about team A.
    as_stranger = await audit_log(
        bus, stranger, actor_token(owner.team_id, stranger.user_id, Role.OWNER, Audience.IDENTITY)
    )
    assert not as_stranger.ok and as_stranger.entries == []
    assert as_stranger.error.code == "not_found"
    # The stranger's own team log holds nothing of team A.
    own = await audit_log(bus, stranger)
    assert own.ok and {e.user_id for e in own.entries} == {None, stranger.user_id}
    # A stranger's refused attempt on team A is not written into team A's log.
    team_a = await audit_log(bus, owner)
    assert stranger.user_id not in {e.user_id for e in team_a.entries}
    refusals = [e for e in team_a.entries if e.action == "authorization.refused"]
    assert [e.user_id for e in refusals] == [member.user_id]  # the member's, once


def test_a_page_is_at_most_200_entries():
    with pytest.raises(ValidationError):
        AuditLogRequest(limit=201)
