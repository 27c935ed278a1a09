"""Posting exactly once: every message the bot sends on its own is keyed by the event behind it.

Two transactions around each Slack call. The first commits the intent: the ref in state `posting`
with the channel (and thread) it goes to and when the attempt began. The second locks the ref,
posts with Slack message metadata naming the event, and records the ts. A redelivered event (or
a second replica) waits on that lock and finds the ref posted. If the bot died between Slack's
answer and the second commit, the ref is still `posting`: before posting again, whoever holds
the lock next looks in the channel's history (or the thread's replies) for a message carrying
the event id and adopts its ts. A fresh intent that no other attempt touched posts without
looking, so the history is read only after a crash, a timeout or a concurrent redelivery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from cloudaudit.bot.adapters.repository import MessageRef, TeamSlack
from cloudaudit.bot.adapters.slack_api import ChannelUnavailable, HistoryUnavailable, NotInstalled
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
from cloudaudit.bot.domain.errors import BotError
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.views import team as team_views
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded

log = logging.getLogger(__name__)

# The metadata every keyed post carries (Slack message metadata, returned by
# conversations.history / conversations.replies with include_all_metadata).
METADATA_EVENT_TYPE = "cloudaudit_alert"
# Slack stamps ts with its own clock; look back this far before the intent for a skewed host.
CLOCK_SKEW_MARGIN = timedelta(minutes=5)


def post_metadata(event_id: UUID) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT_TYPE, "event_payload": {"event_id": str(event_id)}}


@dataclass(frozen=True)
class Intent:
    """A committed intent to post: the ref as this attempt left it."""

    ref: MessageRef
    fresh: bool  # this attempt moved the ref into `posting` (nobody can have posted it before)

    @property
    def event_id(self) -> UUID:
        return self.ref.event_id

    @property
    def pending(self) -> bool:
        """Slack still has to be asked (or looked at): call `deliver` after committing."""
        return self.ref.status == "posting"

    @property
    def duplicate(self) -> bool:
        return self.ref.status == "posted"

    def may_be_posted(self, current: MessageRef) -> bool:
        """Another attempt may have reached Slack: the ref was `posting` before ours, or another
        intent was committed after ours (and that attempt may have held the lock first)."""
        return not self.fresh or current.intents != self.ref.intents


async def audit(
    uow: BotUnitOfWork,
    team_id: UUID,
    user_id: UUID | None,
    what: str,
    entity_type: str,
    entity_id: str | None,
    **details: Any,
) -> None:
    """Record a change of the bot's own state (or its refusal) in the outbox, committed with
    the change."""
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=team_id,
            user_id=user_id,
            action=what,
            entity_type=entity_type,
            entity_id=entity_id,
            details={k: v for k, v in details.items() if v is not None},
            source="bot",
        ),
    )


async def tell_owner(deps: Deps, team: TeamSlack, blocks: list[dict[str, Any]], text: str) -> bool:
    """DM the team's owner (used when the alert channel can't take messages)."""
    if not team.owner_slack_user_id:
        log.warning("no owner to tell", extra={"team_id": str(team.team_id)})
        return False
    try:
        client = await deps.slack.client_for(team.slack_team_id)
        channel = await deps.slack.open_dm(client, team.owner_slack_user_id)
        await deps.slack.post(client, channel, text, blocks)
    except (BotError, aiohttp.ClientError) as exc:  # the alert itself is kept either way
        log.warning("owner DM failed", extra={"team_id": str(team.team_id), "error": str(exc)})
        return False
    return True


# -- first transaction: the intent ------------------------------------------------------------
async def intend_post(
    deps: Deps,
    uow: BotUnitOfWork,
    team: TeamSlack | None,
    event_id: UUID,
    team_id: UUID,
    subject_type: str,
    subject_id: str,
    kind: str,
    text: str,
    blocks: list[dict[str, Any]],
) -> Intent:
    """Intent to post in the team's alert channel; the caller commits it, then calls `deliver`
    if it is still pending (not posted already, nor kept undelivered for want of a team or a
    channel, which the owner is told)."""
    ref, fresh = await uow.repo.intend(
        event_id,
        team_id,
        subject_type,
        subject_id,
        kind,
        text,
        blocks,
        channel_id=team.alert_channel_id if team else None,
    )
    if ref.status == "posted":
        return Intent(ref, fresh)
    if team is None:
        await uow.repo.mark_undelivered(event_id, None, "team has not used Slack yet")
        return Intent(replace(ref, status="undelivered"), fresh)
    if ref.channel_id is None:  # an earlier attempt's channel is kept: it may hold the post
        await uow.repo.mark_undelivered(event_id, None, "no alert channel")
        await tell_owner(deps, team, team_views.no_channel_dm(ref.text), ref.text)
        return Intent(replace(ref, status="undelivered"), fresh)
    return Intent(ref, fresh)


async def intend_reply(
    uow: BotUnitOfWork,
    root: MessageRef,
    event_id: UUID,
    text: str,
    blocks: list[dict[str, Any]],
    new_root_blocks: list[dict[str, Any]] | None,
) -> Intent:
    """Intent to reply in the alert's thread (the caller holds the root's lock and commits),
    stored with the root's new content. Not pending when the reply is a duplicate, or when the
    alert itself is not delivered yet (kept; it will be posted with its latest state)."""
    posted_root = root.status == "posted" and root.channel_id and root.ts
    ref, fresh = await uow.repo.intend(
        event_id,
        root.team_id,
        root.subject_type,
        root.subject_id,
        "thread",
        text,
        blocks,
        channel_id=root.channel_id if posted_root else None,
        thread_ts=root.ts if posted_root else None,
    )
    if ref.status == "posted":
        return Intent(ref, fresh)
    if new_root_blocks is not None:
        await uow.repo.replace_content(root.event_id, root.text, new_root_blocks)
    if ref.channel_id is None or ref.thread_ts is None:
        await uow.repo.mark_undelivered(event_id, None, "alert not delivered yet")
        return Intent(replace(ref, status="undelivered"), fresh)
    return Intent(ref, fresh)


# -- second transaction: post (or adopt the earlier post) and record it -----------------------
async def _earlier_post(
    deps: Deps, client: AsyncWebClient, ref: MessageRef, channel_id: str
) -> str | None:
    """The ts of a post an earlier attempt made for this ref, if Slack has it."""
    since = ref.posting_since or utcnow() - timedelta(days=1)
    oldest = f"{(since - CLOCK_SKEW_MARGIN).timestamp():.6f}"
    try:
        ts = await deps.slack.find_by_metadata(
            client,
            channel_id,
            METADATA_EVENT_TYPE,
            "event_id",
            str(ref.event_id),
            oldest=oldest,
            thread_ts=ref.thread_ts,
        )
    except HistoryUnavailable as exc:
        log.warning(
            "cannot look for an earlier post; posting again (it may show twice)",
            extra={
                "event_id": str(ref.event_id),
                "channel_id": channel_id,
                "error": exc.error,
                "missing_scope": exc.scope,
                "fix": exc.message,
            },
        )
        return None
    if ts is not None:
        log.info(
            "adopted the post an earlier attempt made",
            extra={"event_id": str(ref.event_id), "channel_id": channel_id, "message_ts": ts},
        )
    return ts


async def deliver(deps: Deps, uow: BotUnitOfWork, team: TeamSlack, intent: Intent) -> MessageRef:
    """Post a committed intent in its channel once (second transaction; the caller commits)."""
    ref = await uow.repo.ref(intent.event_id, lock=True)
    if ref is None or ref.status != "posting" or ref.channel_id is None:
        return ref or intent.ref  # another attempt finished it
    channel_id = ref.channel_id
    try:
        client = await deps.slack.client_for(team.slack_team_id)
        ts = (
            await _earlier_post(deps, client, ref, channel_id)
            if intent.may_be_posted(ref)
            else None
        )
        if ts is None:
            posted = await deps.slack.post(
                client, channel_id, ref.text, ref.blocks, metadata=post_metadata(ref.event_id)
            )
            ts = posted.ts
    except ChannelUnavailable as exc:
        await uow.repo.mark_undelivered(ref.event_id, exc.channel_id, exc.error)
        await uow.repo.set_alert_channel(team.team_id, None)
        await tell_owner(
            deps,
            team,
            team_views.channel_lost_dm(exc.channel_id, ref.text),
            f"I can't post alerts in <#{exc.channel_id}> any more",
        )
        return ref
    except NotInstalled as exc:
        await uow.repo.mark_undelivered(ref.event_id, channel_id, exc.message)
        return ref
    await uow.repo.mark_posted(ref.event_id, channel_id, ts)
    return await uow.repo.ref(ref.event_id) or ref


async def deliver_reply(
    deps: Deps,
    uow: BotUnitOfWork,
    team: TeamSlack,
    root_event_id: UUID,
    intent: Intent,
    refresh_root: bool,
) -> None:
    """Update the alert in place and reply in its thread once (second transaction)."""
    # The root first, as every follow-up of this alert takes it: replies stay in order.
    root = await uow.repo.ref(root_event_id, lock=True)
    ref = await uow.repo.ref(intent.event_id, lock=True)
    if root is None or ref is None or ref.status != "posting":
        return
    channel_id, thread_ts = ref.channel_id, ref.thread_ts
    assert channel_id and thread_ts  # intend_reply keeps replies to an undelivered alert
    try:
        client = await deps.slack.client_for(team.slack_team_id)
        ts = (
            await _earlier_post(deps, client, ref, channel_id)
            if intent.may_be_posted(ref)
            else None
        )
        if ts is None:
            if refresh_root and root.ts:
                await deps.slack.update(client, channel_id, root.ts, root.text, root.blocks)
            posted = await deps.slack.post(
                client,
                channel_id,
                ref.text,
                ref.blocks,
                thread_ts=thread_ts,
                metadata=post_metadata(ref.event_id),
            )
            ts = posted.ts
    except ChannelUnavailable as exc:
        await uow.repo.mark_undelivered(ref.event_id, exc.channel_id, exc.error)
        return
    except NotInstalled as exc:
        await uow.repo.mark_undelivered(ref.event_id, channel_id, exc.message)
        return
    await uow.repo.mark_posted(ref.event_id, channel_id, ts, thread_ts=thread_ts)


async def deliver_kept_alerts(deps: Deps, team_id: UUID) -> int:
    """Post the alerts kept undelivered (no channel, channel lost) or cut short, once each;
    returns how many were posted (or found posted). The same two transactions as an event:
    the intents first, then each post."""
    async with deps.uow() as uow:
        team = await uow.repo.team(team_id)
        if team is None:
            return 0
        intents = [
            await intend_post(
                deps,
                uow,
                team,
                ref.event_id,
                ref.team_id,
                ref.subject_type,
                ref.subject_id,
                ref.kind,
                ref.text,
                ref.blocks,
            )
            for ref in await uow.repo.kept_alerts(team_id)
        ]
        await uow.commit()
    posted = 0
    for intent in intents:
        if not intent.pending:
            continue
        async with deps.uow() as uow:
            ref = await deliver(deps, uow, team, intent)
            await uow.commit()
        posted += ref.status == "posted"
    return posted
