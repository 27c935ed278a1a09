"""Every rule on moto-made resources with CloudWatch metrics put there, through ingest's inventory
and analytics' refresh over real NATS + PostgreSQL; savings against hand-computed figures."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

from cloudaudit.common.bus import rpc
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.events.recommendation import (
    RPC_RECOMMENDATIONS,
    RPC_REFRESH,
    RecommendationsReply,
    RecommendationsRequest,
    RefreshReply,
    RefreshRequest,
)
from cloudaudit.common.testing import sign_actor_token

D = Decimal


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


async def listed(bus, team_id, status="open"):
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_RECOMMENDATIONS,
        RecommendationsRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.VIEWER, Audience.ANALYTICS),
            status=status,
            limit=200,
        ),
        RecommendationsReply,
    )
    assert reply.ok, reply.error
    return reply.recommendations


async def test_each_rule_finds_its_resource_with_hand_computed_monthly_savings(
    aws, static_account, start, bus
):
    team, account = uuid4(), uuid4()
    static_account(team, account)
    idle = aws.instance("m5.large")
    aws.metrics(idle, cpu_percent=[1.0, 2.0, 1.5, 3.0], network_bytes_per_hour=1000)
    oversized = aws.instance("m5.2xlarge")
    aws.metrics(oversized, cpu_percent=[15.0, 20.0, 25.0, 18.0], network_bytes_per_hour=50e6)
    old_gen = aws.instance("m4.large")
    aws.metrics(old_gen, cpu_percent=[55.0, 60.0, 65.0, 70.0], network_bytes_per_hour=50e6)
    attached_gp2 = aws.volume(100, "gp2", attach_to=old_gen)
    unattached = aws.volume(100, "gp2", days_old=20)
    snapshot_source = aws.volume(50, "gp3", attach_to=oversized)
    old_snapshot = aws.snapshot(snapshot_source, days_old=120)
    aws.snapshot(snapshot_source, days_old=30)  # recent: kept
    idle_ip = aws.elastic_ip()
    aws.elastic_ip(associate_with=old_gen)  # in use: kept
    stopped = aws.instance("t3.medium")
    aws.volume(20, "gp3", attach_to=stopped)
    aws.stop(stopped, days_ago=45)
    await start("ingest")
    await start("analytics")

    result = await refresh(bus, team)

    recs = {(r.rec_type, r.resource_id): r for r in await listed(bus, team)}
    savings = {key: r.estimated_monthly_savings for key, r in recs.items()}
    assert savings == {
        ("idle_ec2", idle): D("70.08"),  # 0.096 $/h x 730 h
        ("overprovisioned_ec2", oversized): D("140.16"),  # (0.384 - 0.192) x 730
        ("previous_generation", old_gen): D("2.92"),  # (0.10 - 0.096) x 730, m4 -> m6i
        ("gp2_to_gp3", attached_gp2): D("2.00"),  # 100 GiB x (0.10 - 0.08)
        ("unattached_ebs", unattached): D("10.00"),  # 100 GiB x 0.10
        ("old_snapshot", old_snapshot): D("2.50"),  # 50 GiB x 0.05
        ("idle_eip", idle_ip): D("3.65"),  # 0.005 $/h x 730
        ("stopped_instance_ebs", stopped): D("2.24"),  # (8 + 20) GiB gp3 x 0.08
        # steady m5.2xlarge + m4.large = 0.484 $/h uncovered, 27 % off: 0.484 x 0.27 x 730
        ("savings_plan", f"compute-savings-plan/{aws.account_id}"): D("95.40"),
    }
    confidence = {key[0]: r.confidence for key, r in recs.items()}
    assert confidence == {
        "idle_ec2": D("0.76"),  # 14 full days; p95 3 % of a 5 % bar: 0.6 + 0.4 x 0.4
        "overprovisioned_ec2": D("0.65"),  # p95 25 % of a 40 % bar: 0.5 + 0.4 x 0.375
        "previous_generation": D("0.80"),
        "gp2_to_gp3": D("0.85"),
        "unattached_ebs": D("0.90"),
        "old_snapshot": D("0.70"),
        "idle_eip": D("0.95"),
        "stopped_instance_ebs": D("0.80"),
        "savings_plan": D("0.60"),
    }
    assert result.created == 9 and result.open_total == 9
    assert result.open_monthly_savings == sum(savings.values())
    assert result.template_texts == 9 and result.llm_texts == 0  # no key: templates
    assert all(r.text_source == "template" and r.title and r.description for r in recs.values())
    assert "m5.xlarge" in recs[("overprovisioned_ec2", oversized)].action
    assert "m6i.large" in recs[("previous_generation", old_gen)].action
    plan = recs[("savings_plan", f"compute-savings-plan/{aws.account_id}")]
    assert "$0.353 per hour" in plan.action and "73%" in plan.description  # break-even stated

    again = await refresh(bus, team)  # same facts: refreshed in place, never re-created

    assert (again.created, again.refreshed, again.open_total) == (0, 9, 9)
    assert len(await listed(bus, team, status=None)) == 9
