"""Proactive alerts from bus events: formatting, buttons with permissions, modals, threads,
exactly-once posting, 429s, and the bot losing its channel."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from bot_support import (
    ADMIN,
    ALERTS,
    MEMBER,
    OWNER,
    VIEWER,
    anomaly_detected,
    audits,
    channel_message,
    consumed,
    recommendation_created,
    reply_to,
    visible,
)

from cloudaudit.bot.driver import find_element
from cloudaudit.common.bus import publish_event
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events import anomaly, recommendation
from cloudaudit.common.events.anomaly import AnomalyStatus, AnomalyUpdated, Feedback
from cloudaudit.common.events.identity import Role
from cloudaudit.common.events.recommendation import (
    Decision,
    RecommendationDecided,
    RecommendationRealized,
    RecommendationStatus,
)
from cloudaudit.common.testing import eventually

DETECTED = "anomaly.v1.detected.123456789012"
UPDATED = "anomaly.v1.updated.123456789012"
CREATED = "recommendation.v1.created.123456789012"


async def _ready(bot) -> None:
    await bot.team()
    await bot.set_alert_channel(ALERTS)


async def _alert(bot, event, subject=DETECTED, contains="Cost anomaly"):
    await publish_event(bot.bus.broker, bot.bus.names, subject, event)
    return await channel_message(bot.slack, ALERTS, contains)


def _has_buttons(message) -> bool:
    return any(b.get("type") == "actions" for b in message.blocks)


async def test_anomaly_alert_shows_what_how_much_why_and_feedback_buttons(bot):
    await _ready(bot)
    message = await _alert(bot, anomaly_detected(bot.team_id))
    text = visible(message)
    assert "Cost anomaly: AmazonEC2 in us-east-1" in text
    assert "`123456789012`" in text and "Tue Nov 24" in text
    assert "*$1,112.40* spent, $300.00 expected" in text
    assert "$812.40 (+271%)" in text and "High" in text
    # Root cause lines with their dollar contribution, biggest first.
    assert "usage_type: BoxUsage:p3.2xlarge" in text and "$760.00" in text
    assert text.index("BoxUsage:p3.2xlarge") < text.index("i-0abc123def")
    for label in ("Useful", "Not useful", "Expected spend"):
        find_element(message.blocks, label)
    _, console = find_element(message.blocks, "Open in AWS")
    assert console["url"].startswith("https://") and "AmazonEC2" in console["url"]
    assert message.text.startswith("High cost anomaly: AmazonEC2 in us-east-1")


async def test_a_redelivered_anomaly_event_posts_once(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    await _alert(bot, event)
    # The same event again under another message id (a replay past JetStream's dedupe window).
    js = bot.bus.nc.jetstream()
    await js.publish(
        bot.bus.names.subject(DETECTED),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": "replayed-copy"},
    )
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-detected", 2)
    alerts = [m for m in bot.slack.channel_messages(ALERTS) if "Cost anomaly" in visible(m)]
    assert len(alerts) == 1


async def test_useful_feedback_is_sent_recorded_and_shown_in_place(bot, analytics):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    message = await _alert(bot, event)
    await bot.driver.press(message, "Useful", user=MEMBER)
    await reply_to(bot.slack, MEMBER, "recorded this anomaly as *useful*")
    request = analytics.requests[anomaly.RPC_ANOMALY_FEEDBACK][-1]
    assert (request.anomaly_id, request.feedback) == (event.anomaly_id, Feedback.USEFUL)
    assert analytics.actors[anomaly.RPC_ANOMALY_FEEDBACK][-1].user_id == bot.users[MEMBER].user_id
    # shown in place from the event analytics publishes after the change, once
    await eventually(lambda: _value("marked useful by <@UMEMBER>" in visible(message)))
    assert _has_buttons(message)  # still open: others may weigh in
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-updated", 1)
    assert message.edits == 1
    # analytics audits feedback; the bot records only what it changed itself (the channel)
    assert {r.action for r in await audits(bot.bus)} == {"alerts.channel_set"}


async def _value(value):
    return value


async def test_expected_spend_closes_the_alert(bot, analytics):
    await _ready(bot)
    message = await _alert(bot, anomaly_detected(bot.team_id))
    await bot.driver.press(message, "Expected spend", user=ADMIN)
    await eventually(lambda: _value("Expected spend · marked expected spend" in visible(message)))
    assert not _has_buttons(message)


async def test_a_viewer_cannot_give_feedback(bot, analytics):
    await _ready(bot)
    message = await _alert(bot, anomaly_detected(bot.team_id))
    await bot.driver.press(message, "Not useful", user=VIEWER)
    refusal = await reply_to(bot.slack, VIEWER, "Sorry")
    assert "only owners and admins and members can give anomaly feedback" in visible(refusal)
    # analytics refused it (it owns anomalies) from the viewer's signed token
    assert [a.user_id for a in analytics.actors[anomaly.RPC_ANOMALY_FEEDBACK]] == [
        bot.users[VIEWER].user_id
    ]
    assert message.edits == 0


async def test_later_anomaly_events_reply_in_the_thread_and_update_the_alert(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    message = await _alert(bot, event)
    resolved = AnomalyUpdated(
        team_id=bot.team_id,
        anomaly_id=event.anomaly_id,
        aws_account_id=event.aws_account_id,
        status=AnomalyStatus.RESOLVED,
        impact=Decimal("1204.90"),
    )
    await publish_event(bot.bus.broker, bot.bus.names, UPDATED, resolved)
    (reply,) = await eventually(lambda: _value(bot.slack.thread(ALERTS, message.ts)))
    assert "Resolved: spend is back to normal. Total impact $1,204.90." in visible(reply)
    assert ":white_check_mark: Resolved" in visible(message) and message.edits == 1
    assert not _has_buttons(message)
    # The same update again is not a second thread reply.
    js = bot.bus.nc.jetstream()
    await js.publish(
        bot.bus.names.subject(UPDATED),
        resolved.model_dump_json().encode(),
        headers={"Nats-Msg-Id": "replayed-update"},
    )
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-updated", 2)
    assert len(bot.slack.thread(ALERTS, message.ts)) == 1


async def test_feedback_event_names_who_gave_it(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    message = await _alert(bot, event)
    update = AnomalyUpdated(
        team_id=bot.team_id,
        anomaly_id=event.anomaly_id,
        aws_account_id=event.aws_account_id,
        status=AnomalyStatus.OPEN,
        impact=Decimal("812.40"),
        feedback=Feedback.NOT_USEFUL,
        by_user=bot.users[MEMBER].user_id,
        note="a load test",
    )
    await publish_event(bot.bus.broker, bot.bus.names, UPDATED, update)
    (reply,) = await eventually(lambda: _value(bot.slack.thread(ALERTS, message.ts)))
    assert "<@UMEMBER> marked this not useful." in visible(reply) and "a load test" in visible(
        reply
    )


async def test_recommendation_alert_shows_savings_confidence_and_decision_buttons(bot):
    await _ready(bot)
    message = await _alert(bot, recommendation_created(bot.team_id), CREATED, "Save $140.16/month")
    text = visible(message)
    assert "CPU stayed under 2% for 14 days" in text and "92%" in text
    assert "Stop the instance" in text and "language model" in text
    for label in ("Approve", "Dismiss", "Snooze 7d", "Snooze 30d", "Snooze 90d"):
        find_element(message.blocks, label)


async def test_a_viewer_pressing_approve_is_refused_and_nothing_changes(bot, analytics):
    await _ready(bot)
    message = await _alert(bot, recommendation_created(bot.team_id), CREATED, "Save $140.16")
    before = json.dumps(message.blocks)
    response = await bot.driver.press(message, "Approve", user=VIEWER)
    assert response.status == 200
    refusal = await reply_to(bot.slack, VIEWER, "Sorry")
    assert refusal.ephemeral_for == VIEWER
    assert "only owners and admins can approve recommendations; you are a viewer" in visible(
        refusal
    )
    assert [a.role for a in analytics.actors[recommendation.RPC_DECIDE]] == [Role.VIEWER]
    assert json.dumps(message.blocks) == before and message.edits == 0


async def test_an_admin_approves_and_the_post_shows_who_and_when(bot, analytics):
    await _ready(bot)
    event = recommendation_created(bot.team_id)
    message = await _alert(bot, event, CREATED, "Save $140.16")
    await bot.driver.press(message, "Approve", user=ADMIN)
    await eventually(lambda: _value("Approved by <@UADMIN>" in visible(message)))
    assert not _has_buttons(message)
    decided = analytics.requests[recommendation.RPC_DECIDE][-1]
    assert (decided.recommendation_id, decided.decision) == (
        event.recommendation_id,
        Decision.APPROVE,
    )
    assert analytics.actors[recommendation.RPC_DECIDE][-1].user_id == bot.users[ADMIN].user_id
    # rendered once, from the decided event; audited by analytics, not by the bot
    await consumed(bot.bus, "RECOMMENDATION", "bot-recommendation-decided", 1)
    assert message.edits == 1
    assert {r.action for r in await audits(bot.bus)} == {"alerts.channel_set"}


async def test_dismiss_asks_why_in_a_modal(bot, analytics):
    await _ready(bot)
    event = recommendation_created(bot.team_id)
    message = await _alert(bot, event, CREATED, "Save $140.16")
    await bot.driver.press(message, "Dismiss", user=OWNER)
    view = await eventually(lambda: _value(bot.slack.views[-1] if bot.slack.views else None))
    assert view.view["callback_id"] == "rec_dismiss_modal"
    empty = await bot.driver.submit(view, {"reason": None}, user=OWNER)
    assert empty.json()["response_action"] == "errors"
    assert analytics.requests[recommendation.RPC_DECIDE] == []
    done = await bot.driver.submit(view, {"reason": "runs the month-end batch"}, user=OWNER)
    assert done.status == 200 and done.text == ""
    await eventually(lambda: _value("Dismissed by <@UOWNER>" in visible(message)))
    assert "runs the month-end batch" in visible(message)
    decided = analytics.requests[recommendation.RPC_DECIDE][-1]
    assert decided.decision is Decision.DISMISS and decided.reason == "runs the month-end batch"


async def test_a_member_snoozes_for_30_days(bot, analytics):
    await _ready(bot)
    message = await _alert(bot, recommendation_created(bot.team_id), CREATED, "Save $140.16")
    await bot.driver.press(message, "Snooze 30d", user=MEMBER)
    await eventually(lambda: _value("Snoozed by <@UMEMBER>" in visible(message)))
    assert "until Dec 01, 2026" in visible(message)
    decided = analytics.requests[recommendation.RPC_DECIDE][-1]
    assert (decided.decision, decided.snooze_days) == (Decision.SNOOZE, 30)


async def test_decided_and_realized_events_reply_in_the_thread(bot):
    await _ready(bot)
    event = recommendation_created(bot.team_id)
    message = await _alert(bot, event, CREATED, "Save $140.16")
    await publish_event(
        bot.bus.broker,
        bot.bus.names,
        "recommendation.v1.decided",
        RecommendationDecided(
            team_id=bot.team_id,
            recommendation_id=event.recommendation_id,
            aws_account_id=event.aws_account_id,
            status=RecommendationStatus.APPROVED,
            decision=Decision.APPROVE,
            decided_by=bot.users[OWNER].user_id,
        ),
    )
    await publish_event(
        bot.bus.broker,
        bot.bus.names,
        "recommendation.v1.realized.123456789012",
        RecommendationRealized(
            team_id=bot.team_id,
            recommendation_id=event.recommendation_id,
            aws_account_id=event.aws_account_id,
            realized_monthly_savings=Decimal("131.40"),
        ),
    )
    replies = await eventually(
        lambda: _value(
            bot.slack.thread(ALERTS, message.ts)
            if len(bot.slack.thread(ALERTS, message.ts)) == 2
            else None
        )
    )
    text = " ".join(visible(r) for r in replies)
    assert "Approved by <@UOWNER>" in text
    assert "Realised savings: $131.40 per month" in text
    assert "Approved by <@UOWNER>" in visible(message) and not _has_buttons(message)


async def test_removed_from_the_channel_the_owner_is_told_and_the_alert_kept(bot):
    await _ready(bot)
    bot.slack.remove_bot_from(ALERTS)
    event = anomaly_detected(bot.team_id)
    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)
    dm = await reply_to(bot.slack, OWNER, "can't post CloudAudit alerts in <#CALERTS>")
    assert "AmazonEC2 in us-east-1" in visible(dm)
    async with bot.deps.uow() as uow:
        ref = await uow.repo.alert_ref("anomaly", str(event.anomaly_id))
        team = await uow.repo.team(bot.team_id)
    assert ref.status == "undelivered" and team.alert_channel_id is None
    # A new alert channel receives the kept alert.
    await bot.driver.command("alerts here", user=OWNER, channel="CNEWALERTS")
    confirmation = await channel_message(bot.slack, "CNEWALERTS", "now go to")
    assert "I also posted 1 alert" in visible(confirmation)
    await channel_message(bot.slack, "CNEWALERTS", "Cost anomaly: AmazonEC2")


async def test_an_alert_with_no_channel_yet_is_kept_and_the_owner_asked(bot):
    await bot.team()
    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, anomaly_detected(bot.team_id))
    dm = await reply_to(bot.slack, OWNER, "no alert channel")
    assert "/cloudaudit alerts here" in visible(dm)


async def test_slack_rate_limit_is_waited_out_and_the_alert_posted_once(bot):
    await _ready(bot)
    bot.slack.script("chat.postMessage", retry_after=1)
    await _alert(bot, anomaly_detected(bot.team_id))
    posts = bot.slack.calls_to("chat.postMessage")
    assert len(posts) == 2  # the 429, then the retry
    alerts = [m for m in bot.slack.channel_messages(ALERTS) if "Cost anomaly" in visible(m)]
    assert len(alerts) == 1


async def test_bot_removed_event_tells_the_owner_once_despite_slack_retries(bot):
    await _ready(bot)
    event = {"type": "channel_left", "channel": ALERTS, "actor_id": ADMIN}
    first = await bot.driver.event(event, event_id="Ev0LEFT1")
    retry = await bot.driver.event(event, event_id="Ev0LEFT1", retry_num=1)
    assert first.status == retry.status == 200
    await reply_to(bot.slack, OWNER, "I can't post CloudAudit alerts in <#CALERTS>")
    # The retry is acknowledged and dropped: exactly one DM.
    dms = [m for m in bot.slack.channel_messages("D" + OWNER) if "removed" in visible(m)]
    assert len(dms) == 1
    async with bot.deps.uow() as uow:
        assert (await uow.repo.team(bot.team_id)).alert_channel_id is None
        # Receipts outlive Slack's retry window by a day, then housekeeping drops them.
        assert await uow.repo.forget_receipts(utcnow() - timedelta(days=1)) == 0
        assert await uow.repo.forget_receipts(utcnow() + timedelta(minutes=1)) >= 1
        await uow.commit()
