"""Issue 6, "Done means": a moto account with an idle instance, an unattached gp2 volume, an old
snapshot and an unassociated Elastic IP -> refresh -> the right recommendations with exact
monthly savings and number-checked LLM text; approving one is authorised, audited and later
verified."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from cloudaudit.analytics.domain.recommendations.text import unsupported_numbers
from cloudaudit.common.bus import rpc
from cloudaudit.common.db import asyncpg_url
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


async def test_seeded_account_yields_grounded_recommendations_and_an_approval_is_verified(
    aws, llm_env, team_with_account, start, bus, database_url
):
    idle = aws.instance("m5.large")
    aws.metrics(idle, cpu_percent=[0.5, 1.0, 0.8, 1.2], network_bytes_per_hour=2000)
    volume = aws.volume(100, "gp2", days_old=60)
    snapshot = aws.snapshot(volume, days_old=120)
    address = aws.elastic_ip()
    await start("identity")
    team = await team_with_account()
    await start("ingest")
    await start("analytics")

    refreshed = await rpc(
        bus.broker,
        bus.names,
        RPC_REFRESH,
        RefreshRequest(
            actor_token=sign_actor_token(team.team_id, uuid4(), Role.OWNER, Audience.ANALYTICS)
        ),
        RefreshReply,
        timeout=60,
    )

    assert refreshed.ok and refreshed.created == 4 and refreshed.llm_texts == 4
    listing = await rpc(
        bus.broker,
        bus.names,
        RPC_RECOMMENDATIONS,
        RecommendationsRequest(
            actor_token=sign_actor_token(team.team_id, uuid4(), Role.VIEWER, Audience.ANALYTICS)
        ),
        RecommendationsReply,
    )
    found = {(r.rec_type, r.resource_id): r for r in listing.recommendations}
    assert {k: r.estimated_monthly_savings for k, r in found.items()} == {
        ("idle_ec2", idle): Decimal("70.08"),  # m5.large 0.096 $/h x 730 h
        ("unattached_ebs", volume): Decimal("10.00"),  # 100 GiB gp2 x 0.10 $/GB-month
        ("old_snapshot", snapshot): Decimal("5.00"),  # 100 GiB x 0.05 $/GB-month, 120 days old
        ("idle_eip", address): Decimal("3.65"),  # 0.005 $/h x 730 h
    }
    assert [r.rec_type for r in listing.recommendations] == [
        "idle_ec2",
        "unattached_ebs",
        "old_snapshot",
        "idle_eip",
    ]  # largest savings first
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.connect() as conn:
        sheets = dict(
            (
                await conn.execute(
                    text("SELECT recommendation_id, fact_sheet FROM analytics.recommendations")
                )
            ).all()
        )
    for rec in listing.recommendations:
        assert rec.text_source == "llm"
        assert (
            unsupported_numbers(f"{rec.title}\n{rec.description}", sheets[rec.recommendation_id])
            == []
        )
        assert f"${rec.estimated_monthly_savings}" in rec.title

    async with engine.connect() as conn:  # the model and its token usage are recorded
        usage = (
            await conn.execute(
                text(
                    "SELECT model, source, prompt_tokens, completion_tokens "
                    "FROM analytics.recommendation_texts"
                )
            )
        ).all()
    assert sorted(tuple(u) for u in usage) == [("fake-writer-1", "llm", 200, 60)] * 4
    unchanged = await rpc(
        bus.broker,
        bus.names,
        RPC_REFRESH,
        RefreshRequest(
            actor_token=sign_actor_token(team.team_id, uuid4(), Role.OWNER, Audience.ANALYTICS)
        ),
        RefreshReply,
        timeout=60,
    )
    assert (unchanged.created, unchanged.cached_texts, unchanged.llm_texts) == (0, 4, 0)
    assert len(llm_env.requests) == 4  # unchanged fact sheets never reach the LLM again

    idle_rec = found[("idle_ec2", idle)]
    denied = await rpc(
        bus.broker,
        bus.names,
        RPC_DECIDE,
        DecideRequest(
            actor_token=sign_actor_token(
                team.team_id, team.member, Role.MEMBER, Audience.ANALYTICS
            ),
            recommendation_id=idle_rec.recommendation_id,
            decision=Decision.APPROVE,
        ),
        DecideReply,
    )
    approved = await rpc(
        bus.broker,
        bus.names,
        RPC_DECIDE,
        DecideRequest(
            actor_token=sign_actor_token(team.team_id, team.owner, Role.OWNER, Audience.ANALYTICS),
            recommendation_id=idle_rec.recommendation_id,
            decision=Decision.APPROVE,
            reason="nobody uses the old staging box",
        ),
        DecideReply,
    )
    assert not denied.ok and denied.error.code == "forbidden"
    assert approved.ok and approved.status is RecommendationStatus.APPROVED

    async def audited():
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT user_id FROM identity.audit_logs WHERE action = 'recommendation.approved' "
                        "AND entity_id = :e"
                    ),
                    {"e": str(idle_rec.recommendation_id)},
                )
            ).scalar()

    assert await eventually(audited) == team.owner

    aws.ec2.stop_instances(InstanceIds=[idle])  # the team acts on it in AWS
    verified = await rpc(
        bus.broker,
        bus.names,
        RPC_REFRESH,
        RefreshRequest(
            actor_token=sign_actor_token(team.team_id, uuid4(), Role.OWNER, Audience.ANALYTICS)
        ),
        RefreshReply,
        timeout=60,
    )

    assert verified.ok and verified.implemented == 1
    messages = await bus.stream_messages("RECOMMENDATION")
    [realized] = [
        RecommendationRealized.model_validate_json(m.data)
        for m in messages
        if ".realized." in m.subject
    ]
    assert realized.recommendation_id == idle_rec.recommendation_id
    assert realized.realized_monthly_savings == Decimal("70.08")
    assert realized.evidence == "configuration_changed"
    await engine.dispose()
