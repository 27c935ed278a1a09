"""Proactive alerts: one handler per bus event (post, update in place, reply in thread)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from cloudaudit.bot.adapters.repository import MessageRef
from cloudaudit.bot.domain.errors import BotError
from cloudaudit.bot.service import posting
from cloudaudit.bot.service.deps import Deps
from cloudaudit.bot.views import anomalies as anomaly_views
from cloudaudit.bot.views import recommendations as rec_views
from cloudaudit.bot.views.common import section, with_status
from cloudaudit.common.events.anomaly import AnomalyDetected, AnomalyStatus, AnomalyUpdated
from cloudaudit.common.events.identity import Audience, MembersRequest
from cloudaudit.common.events.recommendation import (
    Decision,
    RecommendationCreated,
    RecommendationDecided,
    RecommendationRealized,
)

log = logging.getLogger(__name__)


class AlertNotPostedYet(Exception):
    """A follow-up event arrived before its alert was handled; redelivery will retry it."""


async def _post_alert(
    deps: Deps,
    event_id: UUID,
    team_id: UUID,
    subject_type: str,
    subject_id: str,
    text: str,
    blocks: list[dict[str, object]],
) -> bool:
    """Post a new alert once. A second alert event for the same subject refreshes the first."""
    async with deps.uow() as uow:
        existing = await uow.repo.alert_ref(subject_type, subject_id, lock=True)
        if existing is not None and existing.event_id != event_id:
            intent = None
        else:
            team = await uow.repo.team(team_id)
            intent = await posting.intend_post(
                deps, uow, team, event_id, team_id, subject_type, subject_id, "alert", text, blocks
            )
            await uow.commit()
    if intent is None:
        return await _follow_up(
            deps, event_id, subject_type, subject_id, text, [], lambda _root: blocks
        )
    if intent.duplicate:
        return False
    if intent.pending and team is not None:
        async with deps.uow() as uow:
            await posting.deliver(deps, uow, team, intent)
            await uow.commit()
    return True


async def on_anomaly_detected(event: AnomalyDetected, deps: Deps) -> bool:
    return await _post_alert(
        deps,
        event.event_id,
        event.team_id,
        "anomaly",
        str(event.anomaly_id),
        anomaly_views.alert_text(event),
        anomaly_views.anomaly_alert(event),
    )


async def on_recommendation_created(event: RecommendationCreated, deps: Deps) -> bool:
    return await _post_alert(
        deps,
        event.event_id,
        event.team_id,
        "recommendation",
        str(event.recommendation_id),
        rec_views.recommendation_text(event),
        rec_views.recommendation_alert(event),
    )


async def mention_of(deps: Deps, team_id: UUID, user_id: UUID | None) -> str | None:
    """`<@U…>` for a CloudAudit user, falling back to their name; None for the system."""
    if user_id is None:
        return None
    try:
        tokens = await deps.platform.team_tokens(team_id)
        reply = await deps.platform.members(MembersRequest(actor_token=tokens[Audience.IDENTITY]))
    except BotError:
        return "a team member"
    for member in reply.members:
        if member.user_id == user_id:
            return f"<@{member.slack_user_id}>" if member.slack_user_id else member.display_name
    return "a former member"


async def _follow_up(
    deps: Deps,
    event_id: UUID,
    subject_type: str,
    subject_id: str,
    text: str,
    blocks: list[dict[str, object]],
    new_root: Callable[[MessageRef], list[dict[str, object]] | None],
) -> bool:
    """Update the alert in place and reply in its thread, once per event. False: duplicate."""
    async with deps.uow() as uow:
        root = await uow.repo.alert_ref(subject_type, subject_id, lock=True)
        if root is None or root.status == "posting":
            # Not handled yet, or its post was cut short: its redelivery posts (or adopts) it.
            raise AlertNotPostedYet(f"no alert yet for {subject_type} {subject_id}")
        team = await uow.repo.team(root.team_id)
        if team is None:
            return False
        root_blocks = new_root(root)
        intent = await posting.intend_reply(uow, root, event_id, text, blocks, root_blocks)
        await uow.commit()
    if intent.duplicate:
        return False
    if intent.pending:
        async with deps.uow() as uow:
            await posting.deliver_reply(
                deps, uow, team, root.event_id, intent, refresh_root=root_blocks is not None
            )
            await uow.commit()
    return True


def _status(
    status_line: str | None, keep_buttons: bool
) -> Callable[[MessageRef], list[dict[str, object]] | None]:
    """The alert's blocks with a new status line (None: the alert stays as it is)."""

    def refreshed(root: MessageRef) -> list[dict[str, object]] | None:
        return with_status(root.blocks, status_line, keep_buttons) if status_line else None

    return refreshed


async def on_anomaly_updated(event: AnomalyUpdated, deps: Deps) -> bool:
    who = await mention_of(deps, event.team_id, event.by_user)
    text, blocks = anomaly_views.anomaly_thread_reply(event, who)
    return await _follow_up(
        deps,
        event.event_id,
        "anomaly",
        str(event.anomaly_id),
        text,
        blocks,
        _status(
            anomaly_views.update_status_line(event, who),
            keep_buttons=event.status is AnomalyStatus.OPEN,
        ),
    )


async def on_recommendation_decided(event: RecommendationDecided, deps: Deps) -> bool:
    who = await mention_of(deps, event.team_id, event.decided_by) or "CloudAudit"
    line = rec_views.decision_line(
        event.decision, who, event.occurred_at, event.reason, event.snoozed_until
    )
    return await _follow_up(
        deps,
        event.event_id,
        "recommendation",
        str(event.recommendation_id),
        line,
        [section(line)],
        _status(line, keep_buttons=event.decision is Decision.REOPEN),
    )


async def on_recommendation_realized(event: RecommendationRealized, deps: Deps) -> bool:
    text, blocks = rec_views.realized_reply(event)
    return await _follow_up(
        deps,
        event.event_id,
        "recommendation",
        str(event.recommendation_id),
        text,
        blocks,
        _status(None, keep_buttons=True),
    )
