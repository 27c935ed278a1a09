"""Anomaly handlers: one function per event or request; the only place their transactions commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef, series_of_day
from cloudaudit.analytics.domain.detector import (
    CostAnomalyDetector,
    DetectorConfig,
    Thresholds,
    Verdict,
)
from cloudaudit.analytics.domain.root_cause import explain, learn_drivers
from cloudaudit.analytics.domain.severity import classify
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.anomaly import (
    ANOMALY_DETECTED,
    ANOMALY_UPDATED,
    AnomaliesReply,
    AnomaliesRequest,
    AnomalyDetected,
    AnomalyFeedbackReply,
    AnomalyFeedbackRequest,
    AnomalyKind,
    AnomalyStatus,
    AnomalySummary,
    AnomalyUpdated,
    ExpectSpendReply,
    ExpectSpendRequest,
    Feedback,
    RootCause,
    Severity,
    TeamSettingsReply,
    TeamSettingsRequest,
)
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.cost import CostDayRecorded
from cloudaudit.common.money import STORAGE_QUANTUM

UowFactory = Callable[[], AnomalyUnitOfWork]
DAILY = DetectorConfig(steps_per_day=1)
PCT_QUANTUM = Decimal("0.01")


def _money(value: float) -> Decimal:
    """Model floats back to money at the boundary."""
    return Decimal(repr(value)).quantize(STORAGE_QUANTUM)


def _pct(value: float) -> Decimal:
    return Decimal(repr(min(value, 9_999_999.0))).quantize(PCT_QUANTUM)


@dataclass(frozen=True)
class DayOutcome:
    applied: bool
    alerts: int = 0
    series: int = 0


async def _thresholds(
    uow: AnomalyUnitOfWork, team_id: UUID, settings: AnalyticsSettings
) -> tuple[Decimal, Decimal]:
    saved = await uow.repo.team_settings(team_id)
    if saved is None:
        return settings.anomaly_min_impact, settings.anomaly_min_impact_pct
    return saved["min_impact"], saved["min_impact_pct"]


# -- cost days in -----------------------------------------------------------------------------
async def record_cost_day(
    event: CostDayRecorded,
    uow: AnomalyUnitOfWork,
    settings: AnalyticsSettings,
    today: date | None = None,
) -> DayOutcome:
    """Judge and learn every series of one account-day, exactly once per (series, day).

    A redelivered day (same or older revision) changes nothing. A restated last day is re-learnt
    from the model as it was before that day; a restated older day is recorded but not re-learnt
    (the model has moved on). Only recent days alert: a backfill teaches without flooding."""
    today = today or utcnow().date()
    async with uow:
        await uow.repo.lock_account(event.team_id, event.account_id)
        seen = await uow.repo.day_revision(event.team_id, event.account_id, event.usage_date)
        if seen is not None and seen >= event.revision:
            return DayOutcome(applied=False)
        min_impact, min_pct = await _thresholds(uow, event.team_id, settings)
        thresholds = Thresholds(float(min_impact), float(min_pct))
        planned = await uow.repo.expectations_on(event.team_id, event.usage_date)
        stored = await uow.repo.states(event.team_id, event.account_id)
        days = series_of_day(event)
        refs = {SeriesRef(r["service"], r["region"]) for r in stored.values()} | set(days)
        alertable = event.usage_date >= today - timedelta(days=settings.anomaly_alert_window_days)
        alerts = 0
        # Services first: when one of them alerts, the account total (the safety net for
        # changes spread thin across services) records the same day without a second alert.
        for ref in sorted(refs, key=lambda r: (r.service is None, r.service or "", r.region or "")):
            key = ref.key(event.team_id, event.account_id)
            row = stored.get(key)
            base = _base_state(row, event.usage_date, restated=seen is not None)
            if base is _SKIP:
                continue
            day = days.get(ref, SeriesDay())
            detector = (
                CostAnomalyDetector.from_state(base["detector"], DAILY)
                if base
                else CostAnomalyDetector(DAILY)
            )
            drivers: dict[str, float] = base["drivers"] if base else {}
            at = datetime(
                event.usage_date.year, event.usage_date.month, event.usage_date.day, tzinfo=UTC
            )
            verdict = detector.observe(at, float(day.cost), thresholds)
            state = {
                "detector": detector.to_state(),
                "drivers": learn_drivers(drivers, day.drivers) if verdict.learned else drivers,
            }
            version = await uow.repo.save_state(
                {
                    "series_key": key,
                    "team_id": event.team_id,
                    "account_id": event.account_id,
                    "aws_account_id": event.aws_account_id,
                    "service": ref.service,
                    "region": ref.region,
                    "state": state,
                    "previous_state": base,
                    "last_usage_date": event.usage_date,
                },
                None if row is None else row["model_version"],
            )
            alerts += await _apply_verdict(
                uow,
                event,
                ref,
                key,
                day,
                drivers,
                verdict,
                version,
                planned,
                alertable,
                quiet=ref.service is None and alerts > 0,
            )
        await uow.repo.record_day(
            event.team_id,
            event.account_id,
            event.usage_date,
            event.revision,
            event.event_id,
            event.total_unblended_cost,
        )
        await uow.commit()
    return DayOutcome(applied=True, alerts=alerts, series=len(refs))


_SKIP: Any = object()


def _base_state(row: dict[str, Any] | None, usage_date: date, restated: bool) -> Any:
    """The model state this day is learnt onto, or _SKIP when the day must not be learnt."""
    if row is None:
        return None
    last = row["last_usage_date"]
    if last is None or usage_date > last:
        return row["state"]
    if usage_date == last and restated and row["previous_state"] is not None:
        return row["previous_state"]
    return _SKIP


def _matches_plan(ref: SeriesRef, plans: list[dict[str, Any]], excess_per_day: Decimal) -> bool:
    if ref.service is None:  # account total: planned increases cover most of the excess
        return bool(plans) and sum((p["amount"] for p in plans), Decimal(0)) * 2 >= excess_per_day
    return any(p["service"].lower() == ref.service.lower() for p in plans)


async def _apply_verdict(
    uow: AnomalyUnitOfWork,
    event: CostDayRecorded,
    ref: SeriesRef,
    key: str,
    day: SeriesDay,
    drivers: dict[str, float],
    verdict: Verdict,
    version: int,
    plans: list[dict[str, Any]],
    alertable: bool,
    quiet: bool = False,
) -> int:
    """Record, update or resolve the anomaly of this series' episode; emit what the bot needs."""
    if verdict.episode_started_at is None:
        return 0
    episode_start = date.fromisoformat(verdict.episode_started_at[:10])
    existing = await uow.repo.anomaly_for_episode(key, episode_start)
    impact, actual = _money(verdict.impact), day.cost
    expected = _money(verdict.expected)
    if verdict.alert and alertable and existing is None:
        pct = _pct(verdict.impact_pct)
        causes = explain(drivers, day.drivers)
        expected_plan = _matches_plan(ref, plans, actual - expected)
        silent = expected_plan or quiet
        anomaly_id = uuid4()
        kind = AnomalyKind(verdict.kind.value) if verdict.kind else AnomalyKind.SPIKE
        severity = classify(impact, pct)
        await uow.repo.add_anomaly(
            anomaly_id=anomaly_id,
            team_id=event.team_id,
            account_id=event.account_id,
            aws_account_id=event.aws_account_id,
            series_key=key,
            service=ref.service,
            region=ref.region,
            daily_cost_id=day.summary_id,
            usage_date=event.usage_date,
            detected_at=utcnow(),
            kind=kind.value,
            severity=severity.value,
            status=(AnomalyStatus.EXPECTED if expected_plan else AnomalyStatus.OPEN).value,
            expected_cost=expected,
            actual_cost=actual,
            impact=impact,
            deviation_pct=pct,
            root_cause=[
                {"dimension": c.dimension, "name": c.name, "contribution": str(c.contribution)}
                for c in causes
            ],
            episode_start=episode_start,
            model_version=version,
            alerted=0 if silent else 1,
        )
        if silent:
            return 0
        await uow.emit(
            ANOMALY_DETECTED.format(aws_account_id=event.aws_account_id),
            AnomalyDetected(
                team_id=event.team_id,
                anomaly_id=anomaly_id,
                account_id=event.account_id,
                aws_account_id=event.aws_account_id,
                daily_cost_id=day.summary_id,
                service=ref.service,
                region=ref.region,
                usage_date=event.usage_date,
                kind=kind,
                severity=severity,
                actual_cost=actual,
                expected_cost=expected,
                impact=impact,
                impact_pct=pct,
                root_causes=[
                    RootCause(dimension=c.dimension, name=c.name, contribution=c.contribution)
                    for c in causes
                ],
            ),
        )
        return 1
    if existing is None:
        return 0
    if verdict.flagged or verdict.alert:
        await uow.repo.update_anomaly(existing["anomaly_id"], impact=impact, model_version=version)
    if verdict.absorbed:
        await uow.repo.update_anomaly(existing["anomaly_id"], episode_end=event.usage_date)
    if verdict.resolved and existing["status"] == AnomalyStatus.OPEN.value:
        await uow.repo.update_anomaly(
            existing["anomaly_id"],
            status=AnomalyStatus.RESOLVED.value,
            episode_end=event.usage_date,
            impact=impact,
        )
        if existing["alerted"]:
            await uow.emit(
                ANOMALY_UPDATED.format(aws_account_id=event.aws_account_id),
                AnomalyUpdated(
                    team_id=event.team_id,
                    anomaly_id=existing["anomaly_id"],
                    aws_account_id=event.aws_account_id,
                    status=AnomalyStatus.RESOLVED,
                    impact=impact,
                ),
            )
    return 0


# -- feedback ---------------------------------------------------------------------------------
FEEDBACK_STATUS = {
    Feedback.EXPECTED: AnomalyStatus.EXPECTED,
    Feedback.NOT_USEFUL: AnomalyStatus.DISMISSED,
}


async def give_feedback(
    request: AnomalyFeedbackRequest, uow: AnomalyUnitOfWork
) -> AnomalyFeedbackReply:
    """'Expected' absorbs the series' current level now; 'not useful' raises its bar; 'useful'
    undoes one raise. The model changes in the same transaction as the anomaly, and is audited."""
    async with uow:
        anomaly = await uow.repo.anomaly(request.team_id, request.anomaly_id)
        if anomaly is None:
            return AnomalyFeedbackReply.failure(  # type: ignore[return-value]
                "not_found", "no such anomaly in your team; list them with /cloudaudit anomalies"
            )
        await uow.repo.lock_account(anomaly["team_id"], anomaly["account_id"])
        row = await uow.repo.state(anomaly["series_key"])
        if row is not None:
            detector = CostAnomalyDetector.from_state(row["state"]["detector"], DAILY)
            if request.feedback is Feedback.EXPECTED:
                detector.accept_current_level()
            elif request.feedback is Feedback.NOT_USEFUL:
                detector.raise_bar()
            else:
                detector.lower_bar()
            await uow.repo.save_state(
                {
                    **{
                        k: row[k]
                        for k in (
                            "series_key",
                            "team_id",
                            "account_id",
                            "aws_account_id",
                            "service",
                            "region",
                            "previous_state",
                            "last_usage_date",
                        )
                    },
                    "state": {**row["state"], "detector": detector.to_state()},
                },
                row["model_version"],
            )
        status = FEEDBACK_STATUS.get(request.feedback, AnomalyStatus(anomaly["status"]))
        await uow.repo.update_anomaly(
            request.anomaly_id, status=status.value, feedback=request.feedback.value
        )
        await uow.repo.add_feedback(
            feedback_id=uuid4(),
            anomaly_id=request.anomaly_id,
            team_id=request.team_id,
            user_id=request.user_id,
            feedback=request.feedback.value,
            note=request.note,
        )
        await uow.emit(
            ANOMALY_UPDATED.format(aws_account_id=anomaly["aws_account_id"]),
            AnomalyUpdated(
                team_id=request.team_id,
                anomaly_id=request.anomaly_id,
                aws_account_id=anomaly["aws_account_id"],
                status=status,
                impact=anomaly["impact"],
                feedback=request.feedback,
                by_user=request.user_id,
                note=request.note,
            ),
        )
        await uow.emit(
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=request.team_id,
                user_id=request.user_id,
                action="anomaly.feedback",
                entity_type="anomaly",
                entity_id=str(request.anomaly_id),
                source="analytics",
                details={
                    "feedback": request.feedback.value,
                    "status": status.value,
                    "service": anomaly["service"],
                    "note": request.note,
                },
            ),
        )
        await uow.commit()
    return AnomalyFeedbackReply(status=status)


# -- thresholds, planned spend, listing -------------------------------------------------------
async def team_settings(
    request: TeamSettingsRequest, uow: AnomalyUnitOfWork, settings: AnalyticsSettings
) -> TeamSettingsReply:
    """Read (nothing given) or change a team's thresholds; a change is audited."""
    async with uow:
        min_impact, min_pct = await _thresholds(uow, request.team_id, settings)
        if request.min_impact is None and request.min_impact_pct is None:
            return TeamSettingsReply(min_impact=min_impact, min_impact_pct=min_pct)
        new_impact = request.min_impact if request.min_impact is not None else min_impact
        new_pct = request.min_impact_pct if request.min_impact_pct is not None else min_pct
        await uow.repo.save_team_settings(request.team_id, new_impact, new_pct, request.user_id)
        await uow.emit(
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=request.team_id,
                user_id=request.user_id,
                action="anomaly.thresholds_changed",
                entity_type="team",
                entity_id=str(request.team_id),
                source="analytics",
                details={
                    "min_impact": str(new_impact),
                    "min_impact_pct": str(new_pct),
                    "was": {"min_impact": str(min_impact), "min_impact_pct": str(min_pct)},
                },
            ),
        )
        await uow.commit()
    return TeamSettingsReply(min_impact=new_impact, min_impact_pct=new_pct)


async def expect_spend(request: ExpectSpendRequest, uow: AnomalyUnitOfWork) -> ExpectSpendReply:
    """Planned spend: anomalies it explains are recorded as expected and not alerted."""
    if request.end < request.start:
        return ExpectSpendReply.failure(  # type: ignore[return-value]
            "invalid_period", "the end date is before the start date"
        )
    expectation_id = uuid4()
    async with uow:
        await uow.repo.add_expectation(
            expectation_id=expectation_id,
            team_id=request.team_id,
            service=request.service,
            amount=request.amount,
            start_date=request.start,
            end_date=request.end,
            created_by=request.user_id,
        )
        await uow.emit(
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=request.team_id,
                user_id=request.user_id,
                action="anomaly.spend_expected",
                entity_type="spend_expectation",
                entity_id=str(expectation_id),
                source="analytics",
                details={
                    "service": request.service,
                    "amount": str(request.amount),
                    "start": request.start.isoformat(),
                    "end": request.end.isoformat(),
                },
            ),
        )
        await uow.commit()
    return ExpectSpendReply(expectation_id=expectation_id)


def summary(row: dict[str, Any]) -> AnomalySummary:
    return AnomalySummary(
        anomaly_id=row["anomaly_id"],
        aws_account_id=row["aws_account_id"],
        service=row["service"],
        region=row["region"],
        usage_date=row["usage_date"],
        detected_at=row["detected_at"],
        kind=AnomalyKind(row["kind"]),
        severity=Severity(row["severity"]),
        status=AnomalyStatus(row["status"]),
        impact=row["impact"],
        impact_pct=row["deviation_pct"],
    )


async def list_anomalies(request: AnomaliesRequest, uow: AnomalyUnitOfWork) -> AnomaliesReply:
    async with uow:
        rows = await uow.repo.anomalies(
            request.team_id, request.status.value if request.status else None, request.limit
        )
    return AnomaliesReply(anomalies=[summary(r) for r in rows])
