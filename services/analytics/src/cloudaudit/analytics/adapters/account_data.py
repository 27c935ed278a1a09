"""Everything analytics keeps about one AWS account, removed when the team deletes its data:
learnt series and detector state, cost days, anomalies with their feedback, planned spend for
that account alone, and recommendations with their decisions (cached LLM texts are keyed by
content, not by account, and stay)."""

from __future__ import annotations

from uuid import UUID

from cloudaudit.analytics.adapters.anomaly_orm import (
    anomaly_feedback,
    cost_anomalies,
    cost_days,
    detector_checkpoints,
    detector_states,
    series_days,
    spend_expectations,
)
from cloudaudit.analytics.adapters.recommendation_orm import (
    recommendation_decisions,
    recommendations,
)
from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

# Children before parents (feedback and decisions point at anomalies and recommendations).
_BY_ACCOUNT: tuple[Table, ...] = (
    cost_anomalies,
    detector_states,
    detector_checkpoints,
    series_days,
    cost_days,
    spend_expectations,
    recommendations,
)


async def forget_account(session: AsyncSession, team_id: UUID, account_id: UUID) -> dict[str, int]:
    """Delete the account's rows of the team; returns how many went, by table."""
    anomalies = select(cost_anomalies.c.anomaly_id).where(
        cost_anomalies.c.team_id == team_id, cost_anomalies.c.account_id == account_id
    )
    recs = select(recommendations.c.recommendation_id).where(
        recommendations.c.team_id == team_id, recommendations.c.account_id == account_id
    )
    counts = {
        "anomaly_feedback": await _rows(
            session, delete(anomaly_feedback).where(anomaly_feedback.c.anomaly_id.in_(anomalies))
        ),
        "recommendation_decisions": await _rows(
            session,
            delete(recommendation_decisions).where(
                recommendation_decisions.c.recommendation_id.in_(recs)
            ),
        ),
    }
    for table in _BY_ACCOUNT:
        counts[table.name] = await _rows(
            session,
            delete(table).where(table.c.team_id == team_id, table.c.account_id == account_id),
        )
    return counts


async def _rows(session: AsyncSession, statement: object) -> int:
    result = await session.execute(statement)  # type: ignore[call-overload]
    return int(result.rowcount)
