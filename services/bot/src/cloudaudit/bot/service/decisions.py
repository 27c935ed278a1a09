"""Decisions taken with buttons: anomaly feedback, approve/dismiss/snooze a recommendation.

Each one asks analytics to apply it, then updates the alert in place (who and when) and records
the audit event in the same transaction.
"""

from __future__ import annotations

import contextlib
from uuid import UUID

from cloudaudit.bot.adapters.slack_api import ChannelUnavailable
from cloudaudit.bot.domain.errors import ServiceRefused
from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.service.posting import audit
from cloudaudit.bot.slack.messages import anomalies as anomaly_views
from cloudaudit.bot.slack.messages import recommendations as rec_views
from cloudaudit.bot.slack.messages.common import notice, with_status
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import AnomalyFeedbackRequest, AnomalyStatus, Feedback
from cloudaudit.common.events.recommendation import DecideRequest, Decision

DECISION_ACTIONS = {
    Decision.APPROVE: "recommendation.approved",
    Decision.DISMISS: "recommendation.dismissed",
    Decision.SNOOZE: "recommendation.snoozed",
    Decision.REOPEN: "recommendation.reopened",
}


async def _update_alert(
    deps: Deps,
    subject_type: str,
    subject_id: str,
    status_line: str,
    keep_buttons: bool,
    team_id: UUID,
    user_id: UUID,
    action: str,
    **details: object,
) -> None:
    async with deps.uow() as uow:
        root = await uow.repo.alert_ref(subject_type, subject_id, lock=True)
        if root is not None:
            blocks = with_status(root.blocks, status_line, keep_buttons)
            await uow.repo.replace_content(root.event_id, root.text, blocks)
            team = await uow.repo.team(root.team_id)
            if team and root.status == "posted" and root.channel_id and root.ts:
                client = await deps.slack.client_for(team.slack_team_id)
                # The decision stands even if the channel is gone; the stored alert shows it.
                with contextlib.suppress(ChannelUnavailable):
                    await deps.slack.update(client, root.channel_id, root.ts, root.text, blocks)
        await audit(uow, team_id, user_id, action, subject_type, subject_id, **details)
        await uow.commit()


async def _audit_refusal(
    deps: Deps, actor: Actor, action: str, subject_type: str, subject_id: str, exc: ServiceRefused
) -> None:
    """A refused attempt is audited too (who tried what, and why it was refused)."""
    async with deps.uow() as uow:
        await audit(
            uow,
            actor.team_id,
            actor.user_id,
            f"{action}.refused",
            subject_type,
            subject_id,
            code=exc.code,
            reason=str(exc),
        )
        await uow.commit()


async def anomaly_feedback(
    actor: Actor, deps: Deps, anomaly_id: UUID, feedback: Feedback
) -> Answer:
    try:
        reply = await deps.platform.anomaly_feedback(
            AnomalyFeedbackRequest(
                team_id=actor.team_id,
                anomaly_id=anomaly_id,
                user_id=actor.user_id,
                feedback=feedback,
            )
        )
    except ServiceRefused as exc:
        await _audit_refusal(deps, actor, "anomaly.feedback", "anomaly", str(anomaly_id), exc)
        raise
    status = reply.status or AnomalyStatus.OPEN
    line = (
        f"{anomaly_views.STATUS_WORDS.get(status, status.value)} · marked "
        f"{anomaly_views.FEEDBACK_WORDS[feedback]} by {actor.mention}"
    )
    await _update_alert(
        deps,
        "anomaly",
        str(anomaly_id),
        line,
        status is AnomalyStatus.OPEN,
        actor.team_id,
        actor.user_id,
        "anomaly.feedback",
        feedback=feedback.value,
        status=status.value,
    )
    return Answer(
        text="Thanks, noted",
        blocks=notice(
            f"Thanks, I recorded this anomaly as *{anomaly_views.FEEDBACK_WORDS[feedback]}*; "
            "it tunes future alerts.",
            icon=":white_check_mark:",
        ),
    )


async def decide(
    actor: Actor,
    deps: Deps,
    recommendation_id: UUID,
    decision: Decision,
    reason: str | None = None,
    snooze_days: int | None = None,
) -> Answer:
    try:
        reply = await deps.platform.decide(
            DecideRequest(
                team_id=actor.team_id,
                recommendation_id=recommendation_id,
                user_id=actor.user_id,
                decision=decision,
                reason=reason,
                snooze_days=snooze_days,
            )
        )
    except ServiceRefused as exc:
        await _audit_refusal(
            deps, actor, DECISION_ACTIONS[decision], "recommendation", str(recommendation_id), exc
        )
        raise
    line = rec_views.decision_line(decision, actor.mention, utcnow(), reason, reply.snoozed_until)
    await _update_alert(
        deps,
        "recommendation",
        str(recommendation_id),
        line,
        decision is Decision.REOPEN,
        actor.team_id,
        actor.user_id,
        DECISION_ACTIONS[decision],
        reason=reason,
        snooze_days=snooze_days,
        status=reply.status.value if reply.status else None,
    )
    return Answer(text=line, blocks=notice(line, icon=""))
