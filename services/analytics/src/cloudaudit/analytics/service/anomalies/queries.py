"""Reading a team's anomalies: the list the bot and the web app show."""

from __future__ import annotations

from uuid import UUID

from cloudaudit.analytics.adapters.anomaly_rows import AnomalyRow
from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.common.actors import Command, authorize
from cloudaudit.common.events.anomaly import (
    AnomaliesReply,
    AnomaliesRequest,
    AnomalyKind,
    AnomalyStatus,
    AnomalySummary,
    Severity,
)
from cloudaudit.common.events.identity import Action


def summary(row: AnomalyRow) -> AnomalySummary:
    return AnomalySummary(
        anomaly_id=row.anomaly_id,
        aws_account_id=row.aws_account_id,
        service=row.service,
        region=row.region,
        usage_date=row.usage_date,
        detected_at=row.detected_at,
        kind=AnomalyKind(row.kind),
        severity=Severity(row.severity),
        status=AnomalyStatus(row.status),
        impact=row.impact,
        impact_pct=row.deviation_pct,
    )


async def list_anomalies(cmd: Command[AnomaliesRequest], uow: AnomalyUnitOfWork) -> AnomaliesReply:
    """The actor's team's anomalies, newest first."""
    request = cmd.request
    async with uow:
        await authorize(uow, cmd.actor, Action.READ_SPEND, source="analytics")
        rows = await uow.repo.anomalies(
            cmd.actor.team_id, request.status.value if request.status else None, request.limit
        )
    return AnomaliesReply(anomalies=[summary(r) for r in rows])


async def anomaly_rows(
    team_id: UUID | None, status: str | None, limit: int, uow: AnomalyUnitOfWork
) -> list[AnomalyRow]:
    """Anomalies of one team (None: every team, for an operator), newest first."""
    async with uow:
        return await uow.repo.anomalies(team_id, status, limit)
