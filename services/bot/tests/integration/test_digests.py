"""Digests at the team's hour in its time zone: content, and once per period."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from bot_support import ALERTS, AWS_ACCOUNT, OWNER, channel_message, visible

from cloudaudit.bot.domain.digest import zone
from cloudaudit.bot.service.digests import send_due_digests
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events import anomaly, cost, recommendation


def _two_days(request: cost.SpendRequest) -> cost.SpendReply:
    before, yesterday = request.start, request.start + timedelta(days=1)

    def group(key: str, first: str, second: str) -> cost.SpendGroup:
        points = [
            cost.SpendPoint(period=before, amount=Decimal(first)),
            cost.SpendPoint(period=yesterday, amount=Decimal(second)),
        ]
        return cost.SpendGroup(key=key, total=Decimal(first) + Decimal(second), points=points)

    groups = [
        group("AmazonEC2", "120.00", "200.00"),
        group("AmazonRDS", "40.00", "38.00"),
        group("AWSLambda", "0.00", "5.00"),
    ]
    return cost.SpendReply(total=sum((g.total for g in groups), Decimal(0)), groups=groups)


def _rec(title: str, savings: str) -> recommendation.RecommendationSummary:
    return recommendation.RecommendationSummary(
        recommendation_id=uuid4(),
        aws_account_id=AWS_ACCOUNT,
        resource_id="r",
        rec_type="t",
        title=title,
        description="d",
        estimated_monthly_savings=Decimal(savings),
        confidence=Decimal("0.8"),
        status=recommendation.RecommendationStatus.OPEN,
        created_at=utcnow(),
    )


# The digest hour is the owner's (Berlin) hour now and 'yesterday' is Berlin's: across a month
# end, a leap day and the EU clock change the digest must still post once, for the right days.
@pytest.mark.calendar_edges
async def test_daily_digest_has_yesterday_movers_open_anomalies_and_best_recs_once(
    fixed_today, bot, ingest, analytics
):
    await bot.team()
    await bot.set_alert_channel(ALERTS)
    await ingest.answer(cost.RPC_SPEND, cost.SpendRequest, _two_days)
    await analytics.answer(
        anomaly.RPC_ANOMALIES,
        anomaly.AnomaliesRequest,
        anomaly.AnomaliesReply(
            anomalies=[
                anomaly.AnomalySummary(
                    anomaly_id=uuid4(),
                    aws_account_id=AWS_ACCOUNT,
                    service="AmazonEC2",
                    region="eu-west-1",
                    usage_date=utcnow().date(),
                    detected_at=utcnow(),
                    kind=anomaly.AnomalyKind.LEVEL_SHIFT,
                    severity=anomaly.Severity.MEDIUM,
                    status=anomaly.AnomalyStatus.OPEN,
                    impact=Decimal("80.00"),
                    impact_pct=Decimal("66"),
                )
            ]
        ),
    )
    await analytics.answer(
        recommendation.RPC_RECOMMENDATIONS,
        recommendation.RecommendationsRequest,
        recommendation.RecommendationsReply(
            recommendations=[
                _rec("Move gp2 volumes to gp3", "12.00"),
                _rec("Stop idle instance", "140.16"),
                _rec("Delete old snapshots", "31.50"),
                _rec("Release idle Elastic IP", "3.60"),
            ]
        ),
    )
    berlin_hour = utcnow().astimezone(zone("Europe/Berlin")).hour  # the owner's time zone
    await bot.driver.command(f"alerts digest daily at {berlin_hour}", user=OWNER)

    digest = await channel_message(bot.slack, ALERTS, "Daily spend digest")
    text = visible(digest)
    assert "*$243.00* spent (+$83.00 vs the previous day)" in text
    assert "*AmazonEC2* $200.00, +$80.00 (+67%)" in text
    assert "*AWSLambda* $5.00, +$5.00 (new)" in text
    assert "Open anomalies (1)" in text and "AmazonEC2 in eu-west-1" in text
    assert (
        text.index("Stop idle instance")
        < text.index("Delete old snapshots")
        < text.index("Move gp2 volumes to gp3")
    )
    assert "Release idle Elastic IP" not in text  # top three only
    assert "all open: $187.26/month" in text
    today = utcnow().astimezone(zone("Europe/Berlin")).date()
    request = ingest.requests[cost.RPC_SPEND][-1]
    assert (request.start, request.end) == (today - timedelta(days=2), today)

    # Later rounds the same day post nothing more.
    assert await send_due_digests(bot.deps, utcnow()) == 0
    digests = [m for m in bot.slack.channel_messages(ALERTS) if "spend digest:" in visible(m)]
    assert len(digests) == 1
