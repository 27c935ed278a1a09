"""Costs jump, analytics (the real service) detects it, the bot alerts the channel, a member
says it was useful, analytics records it and the alert's thread says so."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from bot_support import ALERTS, AWS_ACCOUNT, MEMBER, channel_message, visible

from cloudaudit.common.bus import publish_event
from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded, CostDriver, CostLine
from cloudaudit.common.testing import eventually

EC2_LINE = uuid4()


def _cost_day(
    team_id: UUID, account_id: UUID, day: date, extra: Decimal = Decimal(0), backfill: bool = True
) -> CostDayRecorded:
    normal = (Decimal(150) if day.weekday() >= 5 else Decimal(200)) + (day.toordinal() * 7) % 11 - 5
    usage = [CostDriver(name="USE1-BoxUsage:m5.large", cost=normal)]
    if extra:
        usage.append(CostDriver(name="USE1-BoxUsage:p4d.24xlarge", cost=extra))
    line = CostLine(
        summary_id=EC2_LINE,
        service="AmazonEC2",
        region="us-east-1",
        unblended_cost=normal + extra,
        top_usage_types=usage,
    )
    return CostDayRecorded(
        team_id=team_id,
        account_id=account_id,
        aws_account_id=AWS_ACCOUNT,
        usage_date=day,
        total_unblended_cost=normal + extra,
        lines=[line],
        backfill=backfill,
    )


async def test_a_cost_spike_reaches_the_channel_and_feedback_reaches_analytics(
    fixed_today, bot, start_service
):
    await start_service("analytics")
    await bot.team()
    await bot.set_alert_channel(ALERTS)
    subject = COST_DAY_RECORDED.format(aws_account_id=AWS_ACCOUNT)
    account_id, today = uuid4(), fixed_today  # the quiet weeks end on the clock's today
    for offset in range(35, 0, -1):  # five quiet weeks, imported
        await publish_event(
            bot.bus.broker,
            bot.bus.names,
            subject,
            _cost_day(bot.team_id, account_id, today - timedelta(offset)),
        )
    await publish_event(
        bot.bus.broker,
        bot.bus.names,
        subject,
        _cost_day(bot.team_id, account_id, today, extra=Decimal(700), backfill=False),
    )

    alert = await eventually(
        lambda: channel_message(bot.slack, ALERTS, "Cost anomaly: AmazonEC2 in us-east-1"),
        timeout=30,
    )
    text = visible(alert)
    assert "usage_type: USE1-BoxUsage:p4d.24xlarge" in text and "$700.00" in text

    await bot.driver.press(alert, "Useful", user=MEMBER)
    reply = await eventually(lambda: _thread(bot, alert), timeout=15)
    assert "<@UMEMBER> marked this useful." in visible(reply)
    assert "marked useful by <@UMEMBER>" in visible(alert)


async def _thread(bot, alert):
    replies = bot.slack.thread(ALERTS, alert.ts)
    return replies[0] if replies else None
