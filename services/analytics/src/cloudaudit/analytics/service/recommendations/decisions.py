"""Decisions on a recommendation: approve, dismiss, snooze or reopen; authorised, recorded,
audited."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.adapters.recommendation_rows import RecommendationRow
from cloudaudit.analytics.domain.recommendations import lifecycle
from cloudaudit.analytics.domain.recommendations.lifecycle import (
    DECISION_ACTIONS,
    RecommendationState,
    Transition,
    TransitionNotAllowed,
)
from cloudaudit.analytics.service.recommendations.closing import audit
from cloudaudit.analytics.service.recommendations.deps import RecommendationDeps
from cloudaudit.common.bus import BusUnavailable
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.identity import AuthorizeRequest
from cloudaudit.common.events.recommendation import (
    RECOMMENDATION_DECIDED,
    DecideReply,
    DecideRequest,
    RecommendationDecided,
)
from cloudaudit.common.money import to_cents


async def decide(request: DecideRequest, deps: RecommendationDeps) -> DecideReply:
    """Approve, dismiss, snooze or reopen: authorised by identity, recorded, audited."""
    async with deps.uow() as uow:
        row = await uow.repo.get(request.recommendation_id)
    if row is None or row.team_id != request.team_id:
        return DecideReply.failure("not_found", "no such recommendation in this team")  # type: ignore[return-value]
    today = utcnow().date()
    try:  # a decision that cannot apply is refused before asking identity
        lifecycle.decide(
            RecommendationState(row.status),
            request.decision,
            today,
            request.snooze_days,
            row.snoozed_until,
        )
        auth = await deps.authorize(
            AuthorizeRequest(
                team_id=request.team_id,
                user_id=request.user_id,
                action=DECISION_ACTIONS[request.decision],
            )
        )
    except TransitionNotAllowed as exc:
        return DecideReply.failure(exc.code, exc.message)  # type: ignore[return-value]
    except BusUnavailable as exc:
        return DecideReply.failure("identity_unavailable", str(exc))  # type: ignore[return-value]
    if not auth.allowed:
        return DecideReply.failure("forbidden", auth.reason or "not allowed")  # type: ignore[return-value]
    return await _record_decision(request, deps, today)


async def _record_decision(
    request: DecideRequest, deps: RecommendationDeps, today: date
) -> DecideReply:
    async with deps.uow() as uow:
        row = await uow.repo.get(request.recommendation_id, for_update=True)
        assert row is not None
        current = RecommendationState(row.status)
        try:  # the status may have moved since it was read
            move = lifecycle.decide(
                current, request.decision, today, request.snooze_days, row.snoozed_until
            )
        except TransitionNotAllowed as exc:
            return DecideReply.failure(exc.code, exc.message)  # type: ignore[return-value]
        if not move.changed:
            return DecideReply(status=current.status, snoozed_until=row.snoozed_until)
        await _write_decision(uow, request, row, current, move)
        await uow.commit()
    return DecideReply(status=move.to.status, snoozed_until=move.snoozed_until)


async def _write_decision(
    uow: RecommendationUnitOfWork,
    request: DecideRequest,
    row: RecommendationRow,
    current: RecommendationState,
    move: Transition,
) -> None:
    now = utcnow()
    await uow.repo.change(
        row.recommendation_id,
        status=int(move.to),
        snoozed_until=move.snoozed_until,
        decided_by=request.user_id,
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
        user_id=request.user_id,
        reason=request.reason,
        snoozed_until=move.snoozed_until,
        decided_at=now,
    )
    await uow.emit(RECOMMENDATION_DECIDED, _decided(request, row, move))
    await audit(
        uow,
        row,
        request.user_id,
        f"recommendation.{move.to.status.value}",
        {
            "from": current.status.value,
            "reason": request.reason,
            "snoozed_until": move.snoozed_until.isoformat() if move.snoozed_until else None,
            "estimated_monthly_savings": str(to_cents(row.estimated_monthly_savings)),
        },
    )


def _decided(
    request: DecideRequest, row: RecommendationRow, move: Transition
) -> RecommendationDecided:
    return RecommendationDecided(
        team_id=row.team_id,
        recommendation_id=row.recommendation_id,
        aws_account_id=row.aws_account_id,
        status=move.to.status,
        decision=request.decision,
        decided_by=request.user_id,
        reason=request.reason,
        snoozed_until=move.snoozed_until,
    )
