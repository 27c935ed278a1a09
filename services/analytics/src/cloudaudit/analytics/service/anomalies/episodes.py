"""Applying one series-day's verdict: record, update or resolve its anomaly, and emit what the
bot needs. The decision is the domain's (`anomaly_decision.judge_day`); this writes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.domain.anomaly_decision import (
    EpisodeUpdate,
    KnownAnomaly,
    NewAnomaly,
    episode_start,
    judge_day,
)
from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef
from cloudaudit.analytics.domain.detector import Verdict
from cloudaudit.analytics.domain.planned_spend import PlanInForce
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import (
    ANOMALY_DETECTED,
    ANOMALY_UPDATED,
    AnomalyDetected,
    AnomalyStatus,
    AnomalyUpdated,
    RootCause,
)
from cloudaudit.common.events.cost import CostDayRecorded


@dataclass(frozen=True)
class Judged:
    """One series-day's verdict and what it was judged on."""

    usage_date: date
    day: SeriesDay
    drivers: dict[str, float]  # the driver baseline before the day
    verdict: Verdict
    model_version: int
    replayed_from: date | None = None  # set when the day was judged in a replay
    episode_through: date | None = None  # in a replay, the last day of the day's episode


async def _recorded_for(uow: AnomalyUnitOfWork, key: str, judged: Judged) -> KnownAnomaly | None:
    """The anomaly already recorded for this day's episode. After a replay the same change may
    start on another day: it is matched to the anomaly recorded for it, not alerted again."""
    started = episode_start(judged.verdict)
    if started is None:
        return None
    existing = await uow.repo.anomaly_for_episode(key, started)
    if existing is None and judged.replayed_from is not None:
        through = judged.episode_through or judged.usage_date
        existing = await uow.repo.anomaly_for_change(key, started, through, judged.replayed_from)
    return existing


async def apply_verdict(
    uow: AnomalyUnitOfWork,
    event: CostDayRecorded,
    ref: SeriesRef,
    key: str,
    judged: Judged,
    plans: list[PlanInForce],
    alertable: bool,
    quiet: bool = False,
) -> int:
    """Write what the domain decided for this series-day; the number of alerts raised (0/1)."""
    decision = judge_day(
        ref=ref,
        usage_date=judged.usage_date,
        day=judged.day,
        drivers=judged.drivers,
        verdict=judged.verdict,
        model_version=judged.model_version,
        existing=await _recorded_for(uow, key, judged),
        plans=plans,
        alertable=alertable,
        quiet=quiet,
    )
    if isinstance(decision, NewAnomaly):
        return await _record(uow, event, ref, key, judged, decision)
    if isinstance(decision, EpisodeUpdate):
        await _update(uow, event, decision)
    return 0


async def _record(
    uow: AnomalyUnitOfWork,
    event: CostDayRecorded,
    ref: SeriesRef,
    key: str,
    judged: Judged,
    new: NewAnomaly,
) -> int:
    anomaly_id = uuid4()
    await uow.repo.add_anomaly(
        anomaly_id=anomaly_id,
        team_id=event.team_id,
        account_id=event.account_id,
        aws_account_id=event.aws_account_id,
        series_key=key,
        service=ref.service,
        region=ref.region,
        daily_cost_id=judged.day.summary_id,
        usage_date=judged.usage_date,
        detected_at=utcnow(),
        kind=new.kind.value,
        severity=new.severity.value,
        status=new.status.value,
        expected_cost=new.expected_cost,
        actual_cost=new.actual_cost,
        impact=new.impact,
        deviation_pct=new.impact_pct,
        root_cause=[
            {"dimension": c.dimension, "name": c.name, "contribution": str(c.contribution)}
            for c in new.causes
        ],
        episode_start=new.episode_start,
        model_version=judged.model_version,
        alerted=1 if new.alert else 0,
    )
    if not new.alert:
        return 0
    await uow.emit(
        ANOMALY_DETECTED.format(aws_account_id=event.aws_account_id),
        _detected(event, ref, judged, new, anomaly_id),
    )
    return 1


def _detected(
    event: CostDayRecorded, ref: SeriesRef, judged: Judged, new: NewAnomaly, anomaly_id: UUID
) -> AnomalyDetected:
    return AnomalyDetected(
        team_id=event.team_id,
        anomaly_id=anomaly_id,
        account_id=event.account_id,
        aws_account_id=event.aws_account_id,
        daily_cost_id=judged.day.summary_id,
        service=ref.service,
        region=ref.region,
        usage_date=judged.usage_date,
        kind=new.kind,
        severity=new.severity,
        actual_cost=new.actual_cost,
        expected_cost=new.expected_cost,
        impact=new.impact,
        impact_pct=new.impact_pct,
        root_causes=[
            RootCause(dimension=c.dimension, name=c.name, contribution=c.contribution)
            for c in new.causes
        ],
    )


async def _update(uow: AnomalyUnitOfWork, event: CostDayRecorded, update: EpisodeUpdate) -> None:
    await uow.repo.update_anomaly(update.anomaly_id, **update.fields())
    if update.notify and update.impact is not None:
        await uow.emit(
            ANOMALY_UPDATED.format(aws_account_id=event.aws_account_id),
            AnomalyUpdated(
                team_id=event.team_id,
                anomaly_id=update.anomaly_id,
                aws_account_id=event.aws_account_id,
                status=AnomalyStatus.RESOLVED,
                impact=update.impact,
            ),
        )
