"""The audit log over the bus: owners and admins read their team's entries (who, what, when),
page by page; members, viewers and other teams get nothing; refused attempts are entries too."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from cloudaudit.common.bus import publish_event, rpc
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import (
    RPC_AUDIT_LOG,
    RPC_AUTHORIZE,
    RPC_CHANGE_ROLE,
    RPC_SLACK_USER,
    Action,
    AuditLogReply,
    AuditLogRequest,
    AuthorizeReply,
    AuthorizeRequest,
    ChangeRoleReply,
    ChangeRoleRequest,
    Role,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.common.testing import eventually
from pydantic import ValidationError


@pytest.fixture
async def identity(start_service):
    return await start_service("identity")


async def enrol(bus, slack_team: str, slack_user: str, name: str) -> SlackUserReply:
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_SLACK_USER,
        SlackUserRequest(slack_team_id=slack_team, slack_user_id=slack_user, display_name=name),
        SlackUserReply,
    )
    assert reply.ok, reply.error
    return reply


async def audit_log(bus, team_id, requested_by, **kwargs) -> AuditLogReply:
    return await rpc(
        bus.broker,
        bus.names,
        RPC_AUDIT_LOG,
        AuditLogRequest(team_id=team_id, requested_by=requested_by, **kwargs),
        AuditLogReply,
    )


async def authorize(bus, who: SlackUserReply, action: Action, probe: bool = False):
    return await rpc(
        bus.broker,
        bus.names,
        RPC_AUTHORIZE,
        AuthorizeRequest(team_id=who.team_id, user_id=who.user_id, action=action, probe=probe),
        AuthorizeReply,
    )


async def test_owner_reads_who_did_what_and_when_newest_first_with_refusals(identity, bus):
    owner = await enrol(bus, "TA", "UOWNER", "Ana Lima")
    viewer = await enrol(bus, "TA", "UVIEWER", "Vic Viewer")
    demoted = await rpc(
        bus.broker,
        bus.names,
        RPC_CHANGE_ROLE,
        ChangeRoleRequest(
            team_id=owner.team_id,
            actor_user_id=owner.user_id,
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
    # The viewer tries to approve: refused, and the attempt is on record.
    refused = await authorize(bus, viewer, Action.APPROVE_RECOMMENDATION)
    assert not refused.allowed
    # Asking only whether to show a button is not an attempt.
    assert not (await authorize(bus, viewer, Action.MANAGE_MEMBERS, probe=True)).allowed

    async def approval_recorded():
        reply = await audit_log(bus, owner.team_id, owner.user_id)
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
        "member.joined",
        "team.created",
    ]
    approval, refusal, role_change = reply.entries[:3]
    assert approval.user_name == "Ana Lima" and approval.slack_user_id == "UOWNER"
    assert approval.entity_id == "rec-1" and approval.source == "bot"
    assert approval.occurred_at == approved_at + timedelta(seconds=5)
    assert refusal.user_id == viewer.user_id and refusal.slack_user_id == "UVIEWER"
    assert refusal.user_name == "Vic Viewer" and refusal.entity_id == "recommendation.approve"
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
        reply = await audit_log(bus, owner.team_id, owner.user_id, limit=200)
        return reply if len(reply.entries) == 7 else None  # + team created, owner joined

    await eventually(all_recorded, timeout=30)
    first = await audit_log(bus, owner.team_id, owner.user_id, limit=3)
    second = await audit_log(bus, owner.team_id, owner.user_id, limit=3, before=first.next_before)
    third = await audit_log(bus, owner.team_id, owner.user_id, limit=3, before=second.next_before)
    assert [e.entity_id for e in first.entries] == ["a-4", "a-3", "a-2"]
    assert [e.entity_id for e in second.entries][:2] == ["a-1", "a-0"]
    seen = [e.audit_id for page in (first, second, third) for e in page.entries]
    assert len(seen) == len(set(seen)) == 7 and third.next_before is None


async def test_members_viewers_and_other_teams_read_nothing(identity, bus):
    owner = await enrol(bus, "TA", "UOWNER", "Ana Lima")
    member = await enrol(bus, "TA", "UMEMBER", "Mo Member")
    stranger = await enrol(bus, "TB", "USTRANGER", "Sam Other")
    as_member = await audit_log(bus, owner.team_id, member.user_id)
    assert not as_member.ok and as_member.error.code == "forbidden" and as_member.entries == []
    assert "only owners and admins can read the audit log" in as_member.error.message
    as_stranger = await audit_log(bus, owner.team_id, stranger.user_id)
    assert not as_stranger.ok and as_stranger.entries == []
    assert "not a member" in as_stranger.error.message
    # The stranger's own team log holds nothing of team A.
    own = await audit_log(bus, stranger.team_id, stranger.user_id)
    assert own.ok and {e.user_id for e in own.entries} == {None, stranger.user_id}
    # A stranger's refused attempt on team A is not written into team A's log.
    assert not (await authorize(bus, _as(stranger, owner.team_id), Action.READ_AUDIT)).allowed
    team_a = await audit_log(bus, owner.team_id, owner.user_id)
    assert stranger.user_id not in {e.user_id for e in team_a.entries}
    assert "authorization.refused" not in {e.action for e in team_a.entries}


def test_a_page_is_at_most_200_entries():
    with pytest.raises(ValidationError):
        AuditLogRequest(team_id=uuid4(), requested_by=uuid4(), limit=201)


def _as(who: SlackUserReply, team_id) -> SlackUserReply:
    return who.model_copy(update={"team_id": team_id})
