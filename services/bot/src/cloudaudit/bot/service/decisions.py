"""Decisions taken with buttons: anomaly feedback, approve/dismiss/snooze a recommendation.

Analytics owns both: it authorizes from the person's actor token, applies the decision and
audits it (or the refusal) once, in its own transaction. The bot records nothing; the alert in
the channel is updated from the event that follows (`anomaly.v1.updated`,
`recommendation.v1.decided`), so a press is rendered once, whoever's replica handles it.
"""

from __future__ import annotations

from uuid import UUID

from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.views import anomalies as anomaly_views
from cloudaudit.bot.views import recommendations as rec_views
from cloudaudit.bot.views.common import notice
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import AnomalyFeedbackRequest, Feedback
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.events.recommendation import DecideRequest, Decision


async def anomaly_feedback(
    actor: Actor, deps: Deps, anomaly_id: UUID, feedback: Feedback
) -> Answer:
    await deps.platform.anomaly_feedback(
        AnomalyFeedbackRequest(
            actor_token=actor.token(Audience.ANALYTICS), anomaly_id=anomaly_id, feedback=feedback
        )
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
    reply = await deps.platform.decide(
        DecideRequest(
            actor_token=actor.token(Audience.ANALYTICS),
            recommendation_id=recommendation_id,
            decision=decision,
            reason=reason,
            snooze_days=snooze_days,
        )
    )
    line = rec_views.decision_line(decision, actor.mention, utcnow(), reason, reply.snoozed_until)
    return Answer(text=line, blocks=notice(line, icon=""))
