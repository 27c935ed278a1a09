"""The bot against the real ingest and analytics services (no stand-ins): what a new team sees
before any cost data, and team settings that analytics stores and reads back."""

from __future__ import annotations

from decimal import Decimal

from bot_support import (
    ADMIN,
    ALERTS,
    OWNER,
    VIEWER,
    blocks_text,
    channel_message,
    reply_to,
    visible,
)

from cloudaudit.common.bus import rpc
from cloudaudit.common.events.anomaly import (
    RPC_TEAM_SETTINGS,
    TeamSettingsReply,
    TeamSettingsRequest,
)
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.testing import eventually


async def test_a_new_team_asks_every_question_of_the_real_services(bot, start_service, monkeypatch):
    # Ingest names its own AWS principal in the trust policy people create.
    monkeypatch.setenv("INGEST_PRINCIPAL_ARN", "arn:aws:iam::999999999999:role/CloudAudit")
    await start_service("ingest")
    await start_service("analytics")
    await bot.team()

    await bot.driver.command("accounts", user=VIEWER)
    await reply_to(bot.slack, VIEWER, "No AWS accounts connected yet")

    await bot.driver.command("spend 30d by service", user=VIEWER, channel=ALERTS)
    empty = await channel_message(bot.slack, ALERTS, "Spend by service, last 30 days: $0.00")
    assert "No spend recorded for this period yet" in visible(empty)
    assert bot.slack.calls_to("files.getUploadURLExternal") == []  # nothing to chart

    await bot.driver.command("anomalies all", user=VIEWER)
    await reply_to(bot.slack, VIEWER, "No anomalies")
    await bot.driver.command("recs", user=VIEWER)
    await reply_to(bot.slack, VIEWER, "No open recommendations")

    await bot.driver.command("connect", user=ADMIN)
    view = await eventually(lambda: _first(bot.slack.views))
    shown = blocks_text(view.view["blocks"])
    assert "Your ExternalId" in shown and "arn:aws:iam::999999999999:role/CloudAudit" in shown


async def test_thresholds_changed_from_slack_are_kept_by_analytics(bot, start_service):
    await start_service("analytics")
    await bot.team()
    await bot.driver.command("settings", user=OWNER)
    shown = await reply_to(bot.slack, OWNER, "Anomaly alert thresholds")
    await bot.driver.press(shown, "Change thresholds", user=OWNER)
    view = await eventually(lambda: _first(bot.slack.views))
    await bot.driver.submit(view, {"min_impact": "75", "min_impact_pct": "30"}, user=OWNER)
    await reply_to(bot.slack, OWNER, "*$75.00* a day and *30%*")
    stored = await rpc(
        bot.bus.broker,
        bot.bus.names,
        RPC_TEAM_SETTINGS,
        TeamSettingsRequest(actor_token=bot.users[OWNER].tokens[Audience.ANALYTICS]),
        TeamSettingsReply,
    )
    assert (stored.min_impact, stored.min_impact_pct) == (Decimal("75"), Decimal("30"))


async def _first(items):
    return items[-1] if items else None
