"""Reading a team's recommendations: the list the bot, the web app and the CLI show."""

from __future__ import annotations

from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.adapters.recommendation_rows import RecommendationRow
from cloudaudit.analytics.domain.recommendations.lifecycle import RecommendationState
from cloudaudit.common.actors import Command, authorize
from cloudaudit.common.events.identity import Action
from cloudaudit.common.events.recommendation import (
    RecommendationsReply,
    RecommendationsRequest,
    RecommendationSummary,
)
from cloudaudit.common.money import to_cents


async def list_recommendations(
    cmd: Command[RecommendationsRequest], uow: RecommendationUnitOfWork
) -> RecommendationsReply:
    """The actor's team's recommendations, largest savings first."""
    request = cmd.request
    status = RecommendationState.of(request.status) if request.status is not None else None
    async with uow:
        await authorize(uow, cmd.actor, Action.READ_SPEND, source="analytics")
        rows = await uow.repo.listing(cmd.actor.team_id, status, request.limit)
    return RecommendationsReply(recommendations=[summary(r) for r in rows])


def summary(row: RecommendationRow) -> RecommendationSummary:
    return RecommendationSummary(
        recommendation_id=row.recommendation_id,
        aws_account_id=row.aws_account_id,
        resource_id=row.resource_id,
        rec_type=row.type,
        title=row.title,
        description=row.description,
        estimated_monthly_savings=to_cents(row.estimated_monthly_savings),
        confidence=row.confidence_score,
        status=RecommendationState(row.status).status,
        created_at=row.created_at,
        resource_type=row.resource_type,
        action=row.action,
        region=row.region,
        text_source=row.text_source,
        snoozed_until=row.snoozed_until,
        updated_at=row.updated_at,
    )
