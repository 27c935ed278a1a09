"""Feedback on an anomaly: changes its series' model at once, in the anomaly's transaction."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from cloudaudit.analytics.adapters.anomaly_rows import AnomalyRow
from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.domain.series_replay import with_feedback
from cloudaudit.common.actors import Command, authorize, require_owner_team
from cloudaudit.common.events.anomaly import (
    ANOMALY_UPDATED,
    AnomalyFeedbackReply,
    AnomalyFeedbackRequest,
    AnomalyStatus,
    AnomalyUpdated,
    Feedback,
)
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import Action

SOURCE = "analytics"

FEEDBACK_STATUS = {
    Feedback.EXPECTED: AnomalyStatus.EXPECTED,
    Feedback.NOT_USEFUL: AnomalyStatus.DISMISSED,
}


async def give_feedback(
    cmd: Command[AnomalyFeedbackRequest], uow: AnomalyUnitOfWork
) -> AnomalyFeedbackReply:
    """'Expected' absorbs the series' current level now; 'not useful' raises its bar; 'useful'
    undoes one raise. The model changes in the same transaction as the anomaly, and is audited."""
    request, actor = cmd.request, cmd.actor
    async with uow:
        anomaly = await uow.repo.anomaly(actor.team_id, request.anomaly_id)
        require_owner_team(actor, anomaly and anomaly.team_id, "anomaly", request.anomaly_id)
        assert anomaly is not None
        await authorize(
            uow,
            actor,
            Action.ANOMALY_FEEDBACK,
            source=SOURCE,
            entity_type="anomaly",
            entity_id=str(request.anomaly_id),
        )
        await uow.repo.lock_account(anomaly.team_id, anomaly.account_id)
        await _teach_series(uow, anomaly.series_key, request.feedback)
        status = FEEDBACK_STATUS.get(request.feedback, AnomalyStatus(anomaly.status))
        await uow.repo.update_anomaly(
            request.anomaly_id, status=status.value, feedback=request.feedback.value
        )
        await uow.repo.add_feedback(
            feedback_id=uuid4(),
            anomaly_id=request.anomaly_id,
            team_id=actor.team_id,
            user_id=actor.user_id,
            feedback=request.feedback.value,
            note=request.note,
        )
        await _emit_feedback(uow, cmd, anomaly, status)
        await uow.commit()
    return AnomalyFeedbackReply(status=status)


async def _teach_series(uow: AnomalyUnitOfWork, series_key: str, feedback: Feedback) -> None:
    row = await uow.repo.state(series_key)
    if row is None:
        return
    if row.last_usage_date is not None:  # a replay applies it at the same point
        await uow.repo.add_series_feedback(
            row.series_key, row.team_id, row.account_id, row.last_usage_date, feedback.value
        )
    await uow.repo.save_state(
        replace(row, state=with_feedback(row.state, feedback)), row.model_version
    )


async def _emit_feedback(
    uow: AnomalyUnitOfWork,
    cmd: Command[AnomalyFeedbackRequest],
    anomaly: AnomalyRow,
    status: AnomalyStatus,
) -> None:
    request, actor = cmd.request, cmd.actor
    await uow.emit(
        ANOMALY_UPDATED.format(aws_account_id=anomaly.aws_account_id),
        AnomalyUpdated(
            team_id=actor.team_id,
            anomaly_id=request.anomaly_id,
            aws_account_id=anomaly.aws_account_id,
            status=status,
            impact=anomaly.impact,
            feedback=request.feedback,
            by_user=actor.user_id,
            note=request.note,
        ),
    )
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=actor.team_id,
            user_id=actor.user_id,
            action="anomaly.feedback",
            entity_type="anomaly",
            entity_id=str(request.anomaly_id),
            source=actor.audit_source(SOURCE),
            details={
                "feedback": request.feedback.value,
                "status": status.value,
                "service": anomaly.service,
                "note": request.note,
            },
        ),
    )
