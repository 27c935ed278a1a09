"""Posting exactly once: every message the bot sends on its own is keyed by the event behind it.

The ref row is inserted and locked in the same transaction that posts to Slack and records the
result, so a redelivered event (or a second replica) finds it and posts nothing. A crash between
Slack's answer and the commit is the only window where a post can repeat.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import aiohttp

from cloudaudit.bot.adapters.repository import MessageRef, TeamSlack
from cloudaudit.bot.adapters.slack_api import ChannelUnavailable, NotInstalled
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
from cloudaudit.bot.domain.errors import BotError
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.slack.messages import team as team_views
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded

log = logging.getLogger(__name__)


async def audit(
    uow: BotUnitOfWork,
    team_id: UUID,
    user_id: UUID | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    **details: Any,
) -> None:
    """Record a decision in the outbox, committed with whatever the bot changed for it."""
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=team_id,
            user_id=user_id,
            action=action,
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


async def deliver_alert(
    deps: Deps, uow: BotUnitOfWork, team: TeamSlack | None, ref: MessageRef
) -> MessageRef:
    """Post a claimed alert to the team's channel, or keep it and tell the owner why not."""
    if team is None:
        await uow.repo.mark_undelivered(ref.event_id, None, "team has not used Slack yet")
        return ref
    if not team.alert_channel_id:
        await uow.repo.mark_undelivered(ref.event_id, None, "no alert channel")
        await tell_owner(deps, team, team_views.no_channel_dm(ref.text), ref.text)
        return ref
    try:
        client = await deps.slack.client_for(team.slack_team_id)
        posted = await deps.slack.post(client, team.alert_channel_id, ref.text, ref.blocks)
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
        await uow.repo.mark_undelivered(ref.event_id, team.alert_channel_id, exc.message)
        return ref
    await uow.repo.mark_posted(ref.event_id, posted.channel_id, posted.ts)
    return await uow.repo.ref(ref.event_id) or ref


async def reply_in_thread(
    deps: Deps,
    uow: BotUnitOfWork,
    team: TeamSlack,
    root: MessageRef,
    event_id: UUID,
    text: str,
    blocks: list[dict[str, Any]],
    new_root_blocks: list[dict[str, Any]] | None,
) -> bool:
    """Update the alert in place and add a thread reply, once per event. False: duplicate."""
    ref = await uow.repo.claim(
        event_id, root.team_id, root.subject_type, root.subject_id, "thread", text, blocks
    )
    if ref.status == "posted":
        return False
    if new_root_blocks is not None:
        await uow.repo.replace_content(root.event_id, root.text, new_root_blocks)
    if root.status != "posted" or not root.channel_id or not root.ts:
        # The alert itself is kept undelivered; it will be posted with its latest state.
        await uow.repo.mark_undelivered(event_id, None, "alert not delivered yet")
        return True
    client = await deps.slack.client_for(team.slack_team_id)
    try:
        if new_root_blocks is not None:
            await deps.slack.update(client, root.channel_id, root.ts, root.text, new_root_blocks)
        posted = await deps.slack.post(client, root.channel_id, text, blocks, thread_ts=root.ts)
    except ChannelUnavailable as exc:
        await uow.repo.mark_undelivered(event_id, exc.channel_id, exc.error)
        return True
    await uow.repo.mark_posted(event_id, posted.channel_id, posted.ts, thread_ts=root.ts)
    return True
