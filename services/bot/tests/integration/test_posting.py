"""Posting exactly once across a crash: the bot stopped between Slack's answer and its commit
adopts the post it made (found by the event id in the message metadata) instead of posting
again, for alerts, thread replies, digests and kept alerts; an intent Slack never saw is posted
once; without the history scope it says which scope is missing and posts. And the local Slack
answers conversations.history / replies like Slack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from decimal import Decimal
from typing import Any

import pytest
from bot_support import ALERTS, anomaly_detected, channel_message, consumed, visible
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from cloudaudit.bot.adapters.slack_api import SlackUnavailable
from cloudaudit.bot.domain.digest import period_for
from cloudaudit.bot.localslack import DEFAULT_TEAM, DEFAULT_TOKEN
from cloudaudit.bot.service import alerts, posting
from cloudaudit.bot.service.digests import digest_event_id, send_digest
from cloudaudit.bot.service.posting import METADATA_EVENT_TYPE
from cloudaudit.common.bus import publish_event
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import AnomalyStatus, AnomalyUpdated
from cloudaudit.common.testing import eventually

DETECTED = "anomaly.v1.detected.123456789012"
UPDATED = "anomaly.v1.updated.123456789012"


async def _ready(bot) -> None:
    await bot.team()
    await bot.set_alert_channel(ALERTS)


async def _ref(bot, event_id) -> Any:
    async with bot.deps.uow() as uow:
        return await uow.repo.ref(event_id)


def _alerts(bot) -> list[Any]:
    return [m for m in bot.slack.channel_messages(ALERTS) if "Cost anomaly" in visible(m)]


async def _killed_after_slack_answered(bot, handler) -> None:
    """Run a handler until Slack has taken its post, then stop it before it hears back: its
    second transaction never commits, exactly as when the process is killed there."""
    held = bot.slack.hold("chat.postMessage")
    attempt = asyncio.create_task(handler)
    await asyncio.wait_for(held.reached.wait(), 15)
    attempt.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await attempt
    held.release()


async def test_an_alert_posted_before_a_crash_is_adopted_on_redelivery_not_posted_again(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    await _killed_after_slack_answered(bot, alerts.on_anomaly_detected(event, bot.deps))

    # What the crash left: the message in the channel, the intent committed without its ts.
    (posted,) = _alerts(bot)
    assert posted.metadata == {
        "event_type": METADATA_EVENT_TYPE,
        "event_payload": {"event_id": str(event.event_id)},
    }
    ref = await _ref(bot, event.event_id)
    assert (ref.status, ref.channel_id, ref.ts, ref.intents) == ("posting", ALERTS, None, 1)

    # JetStream delivers the event again (over real NATS, to the running bot).
    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-detected", 1)

    assert _alerts(bot) == [posted]
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    (history,) = bot.slack.calls_to("conversations.history")
    assert history.args["channel"] == ALERTS and history.args["include_all_metadata"] in ("1", 1)
    ref = await _ref(bot, event.event_id)
    assert (ref.status, ref.ts, ref.intents) == ("posted", posted.ts, 2)


async def test_an_intent_slack_never_received_is_posted_once_on_redelivery(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    bot.slack.script("chat.postMessage", error="internal_error", status=500)
    with pytest.raises(SlackUnavailable):
        await alerts.on_anomaly_detected(event, bot.deps)
    assert _alerts(bot) == []
    assert (await _ref(bot, event.event_id)).status == "posting"

    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-detected", 1)

    (posted,) = _alerts(bot)
    assert posted.metadata["event_payload"] == {"event_id": str(event.event_id)}
    # it looked first (the intent was not its own) and found nothing
    assert len(bot.slack.calls_to("conversations.history")) == 1
    ref = await _ref(bot, event.event_id)
    assert (ref.status, ref.ts) == ("posted", posted.ts)


async def test_a_first_delivery_posts_without_reading_the_history(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)
    posted = await channel_message(bot.slack, ALERTS, "Cost anomaly")
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-detected", 1)
    assert bot.slack.calls_to("conversations.history") == []
    assert posted.metadata["event_payload"]["event_id"] == str(event.event_id)
    assert (await _ref(bot, event.event_id)).ts == posted.ts


async def test_a_thread_reply_posted_before_a_crash_is_adopted_from_the_thread(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)
    alert = await channel_message(bot.slack, ALERTS, "Cost anomaly")
    resolved = AnomalyUpdated(
        team_id=bot.team_id,
        anomaly_id=event.anomaly_id,
        aws_account_id=event.aws_account_id,
        status=AnomalyStatus.RESOLVED,
        impact=Decimal("1204.90"),
    )
    await _killed_after_slack_answered(bot, alerts.on_anomaly_updated(resolved, bot.deps))
    (reply,) = bot.slack.thread(ALERTS, alert.ts)
    assert (await _ref(bot, resolved.event_id)).status == "posting"

    await publish_event(bot.bus.broker, bot.bus.names, UPDATED, resolved)
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-updated", 1)

    assert bot.slack.thread(ALERTS, alert.ts) == [reply]
    (look,) = bot.slack.calls_to("conversations.replies")
    assert look.args["ts"] == alert.ts
    ref = await _ref(bot, resolved.event_id)
    assert (ref.status, ref.ts, ref.thread_ts) == ("posted", reply.ts, alert.ts)
    assert ":white_check_mark: Resolved" in visible(alert)


async def test_an_update_arriving_while_the_alert_is_cut_short_replies_once_it_is_adopted(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    await _killed_after_slack_answered(bot, alerts.on_anomaly_detected(event, bot.deps))
    (alert,) = _alerts(bot)
    resolved = AnomalyUpdated(
        team_id=bot.team_id,
        anomaly_id=event.anomaly_id,
        aws_account_id=event.aws_account_id,
        status=AnomalyStatus.RESOLVED,
        impact=Decimal("1204.90"),
    )
    # The update comes first: it is retried until the alert's redelivery adopted the post.
    await publish_event(bot.bus.broker, bot.bus.names, UPDATED, resolved)
    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)

    async def replied() -> list[Any]:
        return bot.slack.thread(ALERTS, alert.ts)

    (reply,) = await eventually(replied, timeout=30)
    assert "Resolved: spend is back to normal" in visible(reply)
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-updated", 1)
    assert _alerts(bot) == [alert] and ":white_check_mark: Resolved" in visible(alert)
    assert (await _ref(bot, resolved.event_id)).ts == reply.ts


async def test_kept_alerts_posted_when_a_channel_is_set_are_posted_once_across_a_crash(bot):
    await bot.team()  # no alert channel yet: alerts are kept
    events = [anomaly_detected(bot.team_id) for _ in range(2)]
    for event in events:
        await alerts.on_anomaly_detected(event, bot.deps)
        assert (await _ref(bot, event.event_id)).status == "undelivered"
    async with bot.deps.uow() as uow:
        await uow.repo.set_alert_channel(bot.team_id, ALERTS)
        await uow.commit()

    await _killed_after_slack_answered(bot, posting.deliver_kept_alerts(bot.deps, bot.team_id))
    (first,) = _alerts(bot)
    assert [(await _ref(bot, e.event_id)).status for e in events] == ["posting", "posting"]

    # the next `alerts here` takes both again: adopts the one Slack has, posts the other
    assert await posting.deliver_kept_alerts(bot.deps, bot.team_id) == 2
    posted = _alerts(bot)
    assert len(posted) == 2 and posted[0] is first
    assert len(bot.slack.calls_to("conversations.history")) == 2
    refs = [await _ref(bot, e.event_id) for e in events]
    assert {r.status for r in refs} == {"posted"}
    assert sorted(r.ts for r in refs) == sorted(m.ts for m in posted)
    assert await posting.deliver_kept_alerts(bot.deps, bot.team_id) == 0


async def test_two_replicas_handling_the_same_event_at_once_post_it_once(bot):
    await _ready(bot)
    event = anomaly_detected(bot.team_id)
    await asyncio.gather(
        alerts.on_anomaly_detected(event, bot.deps), alerts.on_anomaly_detected(event, bot.deps)
    )
    (posted,) = _alerts(bot)
    assert len(bot.slack.calls_to("chat.postMessage")) == 1
    ref = await _ref(bot, event.event_id)
    assert (ref.status, ref.ts) == ("posted", posted.ts)


async def test_a_digest_posted_before_a_crash_is_adopted_by_the_next_round(bot, ingest, analytics):
    await _ready(bot)
    async with bot.deps.uow() as uow:
        team = await uow.repo.team(bot.team_id)
    period = period_for("daily", utcnow().date())
    await _killed_after_slack_answered(bot, send_digest(bot.deps, team, period))
    (digest,) = _digests(bot)

    assert await send_digest(bot.deps, team, period) is True
    assert _digests(bot) == [digest]
    assert len(bot.slack.calls_to("conversations.history")) == 1
    async with bot.deps.uow() as uow:
        ref = await uow.repo.ref(digest_event_id(team, period))
        assert (await uow.repo.team(bot.team_id)).last_digest_key == period.key
    assert (ref.status, ref.ts) == ("posted", digest.ts)
    assert await send_digest(bot.deps, team, period) is False


def _digests(bot) -> list[Any]:
    return [m for m in bot.slack.channel_messages(ALERTS) if "spend digest:" in visible(m)]


async def test_without_the_history_scope_it_names_the_scope_and_posts(bot, caplog):
    caplog.set_level(logging.INFO, logger="cloudaudit")
    await _ready(bot)
    bot.slack.workspaces[DEFAULT_TEAM].scopes.discard("channels:history")
    event = anomaly_detected(bot.team_id)
    bot.slack.script("chat.postMessage", error="internal_error", status=500)
    with pytest.raises(SlackUnavailable):
        await alerts.on_anomaly_detected(event, bot.deps)

    await publish_event(bot.bus.broker, bot.bus.names, DETECTED, event)
    await consumed(bot.bus, "ANOMALY", "bot-anomaly-detected", 1)

    assert len(_alerts(bot)) == 1
    (refused,) = bot.slack.calls_to("conversations.history")
    warnings = [r for r in caplog.records if getattr(r, "missing_scope", None)]
    assert [w.missing_scope for w in warnings] == ["channels:history"]
    assert "add the channels:history scope" in warnings[0].fix
    assert (await _ref(bot, event.event_id)).status == "posted"
    assert refused.method == "conversations.history"


async def test_local_slack_history_pages_newest_first_with_metadata_on_request(local_slack):
    client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=local_slack.api_url)
    sent = []
    for n in range(5):
        response = await client.chat_postMessage(
            channel="CHIST",
            text=f"message {n}",
            metadata={"event_type": "probe", "event_payload": {"n": n}},
        )
        sent.append(response["ts"])
    assert sent == sorted(sent, key=float) and len(set(sent)) == 5
    reply = await client.chat_postMessage(channel="CHIST", text="in thread", thread_ts=sent[0])

    bare = await client.conversations_history(channel="CHIST", oldest=sent[0])
    assert [m["ts"] for m in bare["messages"]] == sent[:0:-1]  # newer than oldest, newest first
    assert all("metadata" not in m for m in bare["messages"])

    seen, cursor = [], None
    while True:
        page = await client.conversations_history(
            channel="CHIST", include_all_metadata=True, limit=2, cursor=cursor
        )
        seen += [m["metadata"]["event_payload"]["n"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            assert page["has_more"] is False
            break
    assert seen == [4, 3, 2, 1, 0]

    thread = await client.conversations_replies(
        channel="CHIST", ts=sent[0], include_all_metadata=True
    )
    assert [m["ts"] for m in thread["messages"]] == [sent[0], reply["ts"]]
    assert thread["messages"][0]["metadata"]["event_type"] == "probe"

    with pytest.raises(SlackApiError) as malformed:
        await client.chat_postMessage(channel="CHIST", text="x", metadata={"n": 1})
    assert malformed.value.response["error"] == "invalid_metadata_format"
    local_slack.workspaces[DEFAULT_TEAM].scopes.discard("groups:history")
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_history(channel="GPRIVATE")
    assert refused.value.response["error"] == "missing_scope"
    assert refused.value.response["needed"] == "groups:history"
