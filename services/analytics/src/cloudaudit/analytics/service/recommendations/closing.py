"""Closing a recommendation the facts settled (implemented, expired), and its audit entry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.adapters.recommendation_rows import RecommendationRow
from cloudaudit.analytics.domain.recommendations.lifecycle import RecommendationState, Reconciled
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.recommendation import (
    RECOMMENDATION_REALIZED,
    RecommendationRealized,
)
from cloudaudit.common.money import to_cents

SOURCE = "analytics"


async def implement(
    uow: RecommendationUnitOfWork, row: RecommendationRow, outcome: Reconciled, now: datetime
) -> None:
    realized = outcome.realized_monthly_savings or Decimal(0)
    await uow.repo.change(
        row.recommendation_id,
        status=int(RecommendationState.IMPLEMENTED),
        realized_monthly_savings=realized,
        closed_at=now,
        updated_at=now,
    )
    await uow.emit(
        RECOMMENDATION_REALIZED.format(aws_account_id=row.aws_account_id),
        RecommendationRealized(
            team_id=row.team_id,
            recommendation_id=row.recommendation_id,
            aws_account_id=row.aws_account_id,
            realized_monthly_savings=realized,
            resource_id=row.resource_id,
            rec_type=row.type,
            estimated_monthly_savings=to_cents(row.estimated_monthly_savings),
            evidence=outcome.evidence,
        ),
    )
    await audit(
        uow,
        row,
        None,
        "recommendation.implemented",
        {"realized_monthly_savings": str(realized), "evidence": outcome.evidence},
    )


async def expire(uow: RecommendationUnitOfWork, row: RecommendationRow, now: datetime) -> None:
    await uow.repo.change(
        row.recommendation_id,
        status=int(RecommendationState.EXPIRED),
        closed_at=now,
        updated_at=now,
    )
    await audit(
        uow,
        row,
        None,
        "recommendation.expired",
        {"from": RecommendationState(row.status).status.value},
    )


async def audit(
    uow: RecommendationUnitOfWork,
    row: RecommendationRow,
    user_id: UUID | None,
    action: str,
    details: dict[str, Any],
) -> None:
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=row.team_id,
            user_id=user_id,
            action=action,
            entity_type="recommendation",
            entity_id=str(row.recommendation_id),
            details={
                "type": row.type,
                "resource_id": row.resource_id,
                "aws_account_id": row.aws_account_id,
                **details,
            },
            source=SOURCE,
        ),
    )
