"""Recommendation lifecycle over real NATS + PostgreSQL with the real identity service:
who may decide what, the audit trail, verification after approval, and idempotency."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from cloudaudit.common.bus import publish_event, rpc
from cloudaudit.common.db import asyncpg_url
from cloudaudit.common.events.account import ACCOUNT_SYNCED, AccountSynced
from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded, CostDriver, CostLine
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.events.recommendation import (
    RPC_DECIDE,
    RPC_RECOMMENDATIONS,
    RPC_REFRESH,
    DecideReply,
    DecideRequest,
    Decision,
    RecommendationRealized,
    RecommendationsReply,
    RecommendationsRequest,
    RecommendationStatus,
    RefreshReply,
    RefreshRequest,
)
from cloudaudit.common.testing import eventually, sign_actor_token
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.fixture
async def db(database_url):
    engine = create_async_engine(asyncpg_url(database_url))
    yield engine
    await engine.dispose()


async def refresh(bus, team_id) -> RefreshReply:
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_REFRESH,
        RefreshRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.OWNER, Audience.ANALYTICS)
        ),
        RefreshReply,
        timeout=60,
    )
    assert reply.ok, reply.error
    return reply


async def recs(bus, team_id, status=None) -> dict:
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_RECOMMENDATIONS,
        RecommendationsRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.VIEWER, Audience.ANALYTICS),
            status=status,
        ),
        RecommendationsReply,
    )
    return {r.rec_type: r for r in reply.recommendations}


async def decide(bus, team, rec_id, user, decision, role=None, **extra) -> DecideReply:
    """`user`'s decision with a token identity would sign for them (the team's owner-or-member
    fixtures: role member unless said otherwise)."""
    token = sign_actor_token(team, user, role or Role.MEMBER, Audience.ANALYTICS)
    return await rpc(
        bus.broker,
        bus.names,
        RPC_DECIDE,
        DecideRequest(actor_token=token, recommendation_id=rec_id, decision=decision, **extra),
        DecideReply,
    )


async def stream(bus, subject):
    return [m for m in await bus.stream_messages("RECOMMENDATION") if m.subject.endswith(subject)]


@pytest.fixture
async def stack(aws, team_with_account, start):
    await start("identity")
    team = await team_with_account()
    await start("ingest")
    await start("analytics")
    return team


async def test_members_snooze_owners_approve_and_dismiss_and_every_decision_is_audited(
    fixed_today, aws, stack, bus, db
):
    team = stack
    aws.volume(40, "gp2")
    aws.elastic_ip()
    await refresh(bus, team.team_id)
    found = await recs(bus, team.team_id)
    volume, address = found["unattached_ebs"], found["idle_eip"]

    refused = await decide(
        bus, team.team_id, volume.recommendation_id, team.member, Decision.APPROVE
    )
    snoozed = await decide(
        bus, team.team_id, volume.recommendation_id, team.member, Decision.SNOOZE, snooze_days=30
    )
    approved = await decide(
        bus,
        team.team_id,
        volume.recommendation_id,
        team.owner,
        Decision.APPROVE,
        reason="old build cache",
        role=Role.OWNER,
    )
    again = await decide(
        bus, team.team_id, volume.recommendation_id, team.owner, Decision.APPROVE, role=Role.OWNER
    )
    dismissed = await decide(
        bus,
        team.team_id,
        address.recommendation_id,
        team.owner,
        Decision.DISMISS,
        reason="kept for the DNS cut-over",
        role=Role.OWNER,
    )
    too_late = await decide(
        bus, team.team_id, address.recommendation_id, team.owner, Decision.APPROVE, role=Role.OWNER
    )
    stranger = await decide(
        bus, uuid4(), volume.recommendation_id, team.owner, Decision.DISMISS, role=Role.OWNER
    )

    assert not refused.ok and refused.error.code == "forbidden"
    assert (
        refused.error.message
        == "only owners and admins can approve recommendations; you are a member"
    )
    assert snoozed.ok and snoozed.status is RecommendationStatus.SNOOZED
    assert snoozed.snoozed_until == fixed_today + timedelta(days=30)
    assert approved.ok and approved.status is RecommendationStatus.APPROVED
    assert again.ok and again.status is RecommendationStatus.APPROVED
    assert dismissed.ok and dismissed.status is RecommendationStatus.DISMISSED
    assert not too_late.ok and too_late.error.code == "invalid_transition"
    assert not stranger.ok and stranger.error.code == "not_found"
    decided = await stream(bus, "recommendation.v1.decided")
    assert [m.data for m in decided] and len(decided) == 3  # the repeated approval changed nothing

    async def audit_rows():
        async with db.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT action, user_id, entity_id, details FROM identity.audit_logs "
                        "WHERE team_id = :t AND entity_type = 'recommendation' ORDER BY occurred_at"
                    ),
                    {"t": team.team_id},
                )
            ).all()

    rows = await eventually(lambda: _when(audit_rows, lambda r: len(r) >= 4))
    assert [(r.action, r.user_id) for r in rows] == [
        # analytics refused the member's approval from the token's role, and audited it once
        ("authorization.refused", team.member),
        ("recommendation.snoozed", team.member),
        ("recommendation.approved", team.owner),
        ("recommendation.dismissed", team.owner),
    ]
    assert rows[0].details["reason"].startswith("only owners and admins can approve")
    assert rows[2].details["reason"] == "old build cache"
    assert rows[2].details["estimated_monthly_savings"] == "4.00"  # 40 GiB x $0.10
    async with db.connect() as conn:
        status = (
            await conn.execute(
                text("SELECT status FROM analytics.recommendations WHERE recommendation_id = :r"),
                {"r": volume.recommendation_id},
            )
        ).scalar_one()
    assert status == 1  # the seed's integer for approved


async def test_an_approved_recommendation_is_marked_implemented_when_its_resource_goes(
    aws, stack, bus, db
):
    team = stack
    volume_id = aws.volume(40, "gp2")
    address_id = aws.elastic_ip()
    await refresh(bus, team.team_id)
    found = await recs(bus, team.team_id)
    approved = await decide(
        bus,
        team.team_id,
        found["unattached_ebs"].recommendation_id,
        team.owner,
        Decision.APPROVE,
        role=Role.OWNER,
    )
    assert approved.ok

    aws.ec2.delete_volume(VolumeId=volume_id)  # the team did it
    instance = aws.instance("t3.micro")
    aws.ec2.associate_address(AllocationId=address_id, InstanceId=instance)  # now in use
    result = await refresh(bus, team.team_id)

    assert (result.implemented, result.expired) == (1, 1)
    after = await recs(bus, team.team_id)
    assert after["unattached_ebs"].status is RecommendationStatus.IMPLEMENTED
    assert after["idle_eip"].status is RecommendationStatus.EXPIRED
    [realized] = await stream(bus, f"recommendation.v1.realized.{aws.account_id}")
    payload = realized.data.decode()
    assert '"realized_monthly_savings":"4.00"' in payload.replace(" ", "")
    assert '"evidence":"resource_deleted"' in payload.replace(" ", "")
    async with db.connect() as conn:
        realized_db = (
            await conn.execute(
                text(
                    "SELECT realized_monthly_savings FROM analytics.recommendations "
                    "WHERE recommendation_id = :r"
                ),
                {"r": found["unattached_ebs"].recommendation_id},
            )
        ).scalar_one()
    assert realized_db == Decimal("4.00")
    again = await refresh(bus, team.team_id)
    assert (again.created, again.implemented) == (0, 0)  # nothing re-created, nothing re-realised


async def test_a_redelivered_sync_event_refreshes_once_without_duplicates(aws, stack, bus, db):
    team = stack
    aws.volume(40, "gp2")
    aws.elastic_ip()
    event = AccountSynced(
        team_id=team.team_id,
        account_id=team.account_id,
        aws_account_id=aws.account_id,
        source="cost_explorer",
        days=1,
        rows=1,
    )

    await publish_event(bus.broker, bus.names, ACCOUNT_SYNCED, event)
    js = bus.nc.jetstream()  # the same event again, past JetStream's duplicate window
    await js.publish(
        bus.names.subject(ACCOUNT_SYNCED),
        event.model_dump_json().encode(),
        stream=bus.names.stream("ACCOUNT"),
        headers={"Nats-Msg-Id": "redelivery"},
    )

    async def drained():
        info = await js.consumer_info(bus.names.stream("ACCOUNT"), "analytics-recommendations-sync")
        return (
            info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq == 2
        )

    await eventually(drained, timeout=60)
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT type, resource_id FROM analytics.recommendations WHERE team_id = :t"),
                {"t": team.team_id},
            )
        ).all()
    assert sorted(r.type for r in rows) == ["idle_eip", "unattached_ebs"]
    assert len(await stream(bus, f"recommendation.v1.created.{aws.account_id}")) == 2


async def test_a_cost_drop_in_the_cost_report_realises_an_approved_recommendation(
    fixed_today, aws, stack, bus, db
):
    team = stack
    instance = aws.instance("t3.micro")
    volume_id = aws.volume(100, "gp2", attach_to=instance)
    await refresh(bus, team.team_id)
    rec = (await recs(bus, team.team_id))["gp2_to_gp3"]
    assert rec.estimated_monthly_savings == Decimal("2.00")  # 100 GiB x (0.10 - 0.08)
    approved = await decide(
        bus, team.team_id, rec.recommendation_id, team.owner, Decision.APPROVE, role=Role.OWNER
    )
    assert approved.ok

    def cost_day(day, daily_cost):
        return CostDayRecorded(
            team_id=team.team_id,
            account_id=team.account_id,
            aws_account_id=aws.account_id,
            usage_date=day,
            total_unblended_cost=daily_cost,
            lines=[
                CostLine(
                    summary_id=uuid4(),
                    service="Amazon Elastic Block Store",
                    region="us-east-1",
                    unblended_cost=daily_cost,
                    top_resources=[CostDriver(name=volume_id, cost=daily_cost)],
                )
            ],
        )

    today = fixed_today  # the approval and the cost days are on the clock's day
    same_day = cost_day(today, Decimal("0.263"))  # still holds hours before the approval
    converted = cost_day(today + timedelta(days=1), Decimal("0.263"))  # gp3: 8.00 / (730 / 24)
    for event in (same_day, converted, converted):
        await publish_event(
            bus.broker, bus.names, COST_DAY_RECORDED.format(aws_account_id=aws.account_id), event
        )

    js = bus.nc.jetstream()

    async def drained():
        info = await js.consumer_info(bus.names.stream("COST"), "analytics-recommendations-cost")
        return (
            info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq == 2
        )

    await eventually(drained, timeout=30)  # the repeated day is dropped by JetStream or ignored
    [message] = await stream(bus, f"recommendation.v1.realized.{aws.account_id}")
    event = RecommendationRealized.model_validate_json(message.data)
    # 10.00 a month before; 0.263 a day is 7.9996 a month after.
    assert event.realized_monthly_savings == Decimal("2.00") and event.evidence == "cost_dropped"
    after = await recs(bus, team.team_id)
    assert after["gp2_to_gp3"].status is RecommendationStatus.IMPLEMENTED


async def test_without_a_key_status_notes_that_texts_come_from_templates(
    start, llm_env, monkeypatch
):
    with_key = await start("analytics")
    monkeypatch.delenv("OPENAI_API_KEY")
    without_key = await start("analytics")

    assert not [n for n in (await with_key.health()).notes if "OPENAI_API_KEY" in n]
    assert [n for n in (await without_key.health()).notes if "OPENAI_API_KEY" in n]


async def _when(fetch, predicate):
    rows = await fetch()
    return rows if predicate(rows) else None


async def test_the_verification_loop_finds_an_approved_recommendation_carried_out(
    aws, team_with_account, start, bus, monkeypatch
):
    """Without any refresh asked for: the periodic check alone sees the volume gone."""
    monkeypatch.setenv("RECOMMENDATIONS_VERIFY_INTERVAL_S", "1")
    await start("identity")
    team = await team_with_account()
    await start("ingest")
    volume_id = aws.volume(40, "gp2")
    await start("analytics")
    await refresh(bus, team.team_id)
    found = await recs(bus, team.team_id)
    rec_id = found["unattached_ebs"].recommendation_id
    approved = await decide(bus, team.team_id, rec_id, team.owner, Decision.APPROVE, Role.OWNER)
    assert approved.ok

    aws.ec2.delete_volume(VolumeId=volume_id)

    async def implemented():
        current = await recs(bus, team.team_id)
        status = current["unattached_ebs"].status
        return status if status is RecommendationStatus.IMPLEMENTED else None

    assert await eventually(implemented, timeout=30) is RecommendationStatus.IMPLEMENTED
