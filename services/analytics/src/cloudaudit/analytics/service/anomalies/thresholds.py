"""A team's anomaly thresholds: read, changed (audited), and what a cost day is judged with."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.actors import Command, authorize
from cloudaudit.common.events.anomaly import TeamSettingsReply, TeamSettingsRequest
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import Action

SOURCE = "analytics"


async def current_thresholds(
    uow: AnomalyUnitOfWork, team_id: UUID, settings: AnalyticsSettings
) -> tuple[Decimal, Decimal]:
    """The team's saved (min impact, min impact %), else the service's defaults."""
    saved = await uow.repo.team_settings(team_id)
    if saved is None:
        return settings.anomaly_min_impact, settings.anomaly_min_impact_pct
    return saved.min_impact, saved.min_impact_pct


async def team_settings(
    cmd: Command[TeamSettingsRequest], uow: AnomalyUnitOfWork, settings: AnalyticsSettings
) -> TeamSettingsReply:
    """Read (nothing given; any member) or change (owners and admins, audited) the actor's
    team's thresholds."""
    request, actor = cmd.request, cmd.actor
    changing = request.min_impact is not None or request.min_impact_pct is not None
    async with uow:
        await authorize(
            uow, actor, Action.CHANGE_SETTINGS if changing else Action.READ_SPEND, source=SOURCE
        )
        min_impact, min_pct = await current_thresholds(uow, actor.team_id, settings)
        if not changing:
            return TeamSettingsReply(min_impact=min_impact, min_impact_pct=min_pct)
        new_impact = request.min_impact if request.min_impact is not None else min_impact
        new_pct = request.min_impact_pct if request.min_impact_pct is not None else min_pct
        await uow.repo.save_team_settings(actor.team_id, new_impact, new_pct, actor.user_id)
        await uow.emit(
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=actor.team_id,
                user_id=actor.user_id,
                action="anomaly.thresholds_changed",
                entity_type="team",
                entity_id=str(actor.team_id),
                source=actor.audit_source(SOURCE),
                details={
                    "min_impact": str(new_impact),
                    "min_impact_pct": str(new_pct),
                    "was": {"min_impact": str(min_impact), "min_impact_pct": str(min_pct)},
                },
            ),
        )
        await uow.commit()
    return TeamSettingsReply(min_impact=new_impact, min_impact_pct=new_pct)
