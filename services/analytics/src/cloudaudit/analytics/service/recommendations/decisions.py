"""Decisions on a recommendation: approve, dismiss, snooze or reopen; authorised, recorded,
audited."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.adapters.recommendation_rows import RecommendationRow
from cloudaudit.analytics.domain.recommendations import lifecycle
from cloudaudit.analytics.domain.recommendations.lifecycle import (
    DECISION_ACTIONS,
    RecommendationState,
    Transition,
)
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.analytics.service.recommendations.closing import SOURCE, audit
from cloudaudit.common.actors import Command, authorize, require_owner_team
from cloudaudit.common.events.recommendation import (
    RECOMMENDATION_DECIDED,
    DecideReply,
    DecideRequest,
    RecommendationDecided,
)
from cloudaudit.common.money import to_cents


async def decide(cmd: Command[DecideRequest], deps: AnalyticsDeps) -> DecideReply:
    """Approve, dismiss, snooze or reopen: authorised from the actor's token (the role identity
    signed), recorded and audited once, in one transaction."""
    request, actor = cmd.request, cmd.actor
    async with deps.recommendation_uow() as uow:
        row = await uow.repo.get(request.recommendation_id, for_update=True)
        require_owner_team(actor, row and row.team_id, "recommendation", request.recommendation_id)
        assert row is not None
        await authorize(
            uow,
            actor,
            DECISION_ACTIONS[request.decision],
            source=SOURCE,
            entity_type="recommendation",
            entity_id=str(row.recommendation_id),
        )
        current = RecommendationState(row.status)
        move = lifecycle.decide(
            current, request.decision, deps.now().date(), request.snooze_days, row.snoozed_until
        )
        if not move.changed:
            return DecideReply(status=current.status, snoozed_until=row.snoozed_until)
        await _write_decision(uow, cmd, row, current, move, deps.now())
        await uow.commit()
    return DecideReply(status=move.to.status, snoozed_until=move.snoozed_until)


async def _write_decision(
    uow: RecommendationUnitOfWork,
    cmd: Command[DecideRequest],
    row: RecommendationRow,
    current: RecommendationState,
    move: Transition,
    now: datetime,
) -> None:
    request, user_id = cmd.request, cmd.actor.user_id
    await uow.repo.change(
        row.recommendation_id,
        status=int(move.to),
        snoozed_until=move.snoozed_until,
        decided_by=user_id,
        decided_at=now,
        updated_at=now,
    )
    await uow.repo.add_decision(
        decision_id=uuid4(),
        recommendation_id=row.recommendation_id,
        team_id=row.team_id,
        decision=request.decision.value,
        from_status=int(current),
        to_status=int(move.to),
        user_id=user_id,
        reason=request.reason,
        snoozed_until=move.snoozed_until,
        decided_at=now,
    )
    await uow.emit(RECOMMENDATION_DECIDED, _decided(cmd, row, move))
    await audit(
        uow,
        row,
        user_id,
        f"recommendation.{move.to.status.value}",
        {
            "from": current.status.value,
            "reason": request.reason,
            "snoozed_until": move.snoozed_until.isoformat() if move.snoozed_until else None,
            "estimated_monthly_savings": str(to_cents(row.estimated_monthly_savings)),
        },
    )


def _decided(
    cmd: Command[DecideRequest], row: RecommendationRow, move: Transition
) -> RecommendationDecided:
    request = cmd.request
    assert cmd.actor.user_id is not None, "a decision is a person's"
    return RecommendationDecided(
        team_id=row.team_id,
        recommendation_id=row.recommendation_id,
        aws_account_id=row.aws_account_id,
        status=move.to.status,
        decision=request.decision,
        decided_by=cmd.actor.user_id,
        reason=request.reason,
        snoozed_until=move.snoozed_until,
    )
