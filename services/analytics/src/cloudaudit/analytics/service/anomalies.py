"""Anomaly handlers: one function per event or request; the only place their transactions commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
# A checkpoint of every series' model is kept every this many days: re-learning a late or
# restated day replays at most this many days plus the days after it (a year of daily values
# replays in about 3 ms per series, a fortnight in well under one).
CHECKPOINT_EVERY_DAYS = 14


def _checkpoint_day(usage_date: date) -> bool:
    return usage_date.toordinal() % CHECKPOINT_EVERY_DAYS == 0


def _midnight(usage_date: date) -> datetime:
    return datetime(usage_date.year, usage_date.month, usage_date.day, tzinfo=UTC)


def _apply_feedback(detector: CostAnomalyDetector, feedback: Feedback) -> None:
    if feedback is Feedback.EXPECTED:
        detector.accept_current_level()
    elif feedback is Feedback.NOT_USEFUL:
        detector.raise_bar()
    else:
        detector.lower_bar()


class SeriesModel:
    """One series' detector with the driver baseline root cause compares a day against."""

    def __init__(self, state: dict[str, Any] | None) -> None:
        self.detector = (
            CostAnomalyDetector.from_state(state["detector"], DAILY)
            if state
            else CostAnomalyDetector(DAILY)
        )
        self.drivers: dict[str, float] = dict(state["drivers"]) if state else {}

    def learn(self, usage_date: date, day: SeriesDay, thresholds: Thresholds) -> Verdict:
        verdict = self.detector.observe(_midnight(usage_date), float(day.cost), thresholds)
        if verdict.learned:
            self.drivers = learn_drivers(self.drivers, day.drivers)
        return verdict

    def to_state(self) -> dict[str, Any]:
        return {"detector": self.detector.to_state(), "drivers": self.drivers}


@dataclass
class _Judge:
    """What applying a day's verdicts needs, shared by every series of one account-day."""

    uow: AnomalyUnitOfWork
    event: CostDayRecorded
    settings: AnalyticsSettings
    today: date
    thresholds: Thresholds
    replayed_from: date | None = None
    plans: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    alerts_on: dict[date, int] = field(default_factory=dict)

    async def apply(
        self,
        ref: SeriesRef,
        key: str,
        usage_date: date,
        day: SeriesDay,
        drivers: dict[str, float],
        verdict: Verdict,
        version: int,
        episode_through: date | None = None,
    ) -> None:
        if usage_date not in self.plans:
            self.plans[usage_date] = await self.uow.repo.expectations_on(
                self.event.team_id, usage_date, self.event.account_id
            )
        window = timedelta(days=self.settings.anomaly_alert_window_days)
        raised = await _apply_verdict(
            self.uow,
            self.event,
            ref,
            key,
            Judged(usage_date, day, drivers, verdict, version, self.replayed_from, episode_through),
            self.plans[usage_date],
            alertable=usage_date >= self.today - window,
            # Services first: when one of them alerts, the account total (the safety net for
            # changes spread thin across services) records the same day without a second alert.
            quiet=ref.service is None and self.alerts_on.get(usage_date, 0) > 0,
        )
        self.alerts_on[usage_date] = self.alerts_on.get(usage_date, 0) + raised


def _services_first(refs: set[SeriesRef]) -> list[SeriesRef]:
    return sorted(refs, key=lambda r: (r.service is None, r.service or "", r.region or ""))


def _series_row(key: str, day: SeriesDay) -> dict[str, Any]:
    return {
        "series_key": key,
        "cost": day.cost,
        "summary_id": day.summary_id,
        "drivers": {name: str(cost) for name, cost in day.drivers.items()},
    }


def _stored_day(row: dict[str, Any] | None) -> SeriesDay:
    if row is None:  # the series had nothing that day
        return SeriesDay()
    return SeriesDay(
        cost=row["cost"],
        summary_id=row["summary_id"],
        drivers={name: Decimal(cost) for name, cost in row["drivers"].items()},
    )


async def record_cost_day(
    event: CostDayRecorded,
    uow: AnomalyUnitOfWork,
    settings: AnalyticsSettings,
    today: date | None = None,
) -> DayOutcome:
    """Judge and learn every series of one account-day, exactly once per (series, day).

    A redelivered day (same or older revision) changes nothing. A day after the account's last
    one is learnt onto the stored models. A day that arrives late (behind later days) or is
    restated is stored and every series it touches is replayed from its last checkpoint before
    that day through every later stored day, so the models are what an in-order feed of the
    latest values would give. Only recent days alert: a backfill teaches without flooding."""
    today = today or utcnow().date()
    async with uow:
        await uow.repo.lock_account(event.team_id, event.account_id)
        seen = await uow.repo.day_revision(event.team_id, event.account_id, event.usage_date)
        if seen is not None and seen >= event.revision:
            return DayOutcome(applied=False)
        min_impact, min_pct = await _thresholds(uow, event.team_id, settings)
        judge = _Judge(uow, event, settings, today, Thresholds(float(min_impact), float(min_pct)))
        latest = await uow.repo.latest_day(event.team_id, event.account_id)
        days = series_of_day(event)
        await uow.repo.save_series_days(
            event.team_id,
            event.account_id,
            event.usage_date,
            [_series_row(ref.key(event.team_id, event.account_id), d) for ref, d in days.items()],
        )
        await uow.repo.record_day(
            event.team_id,
            event.account_id,
            event.usage_date,
            event.revision,
            event.event_id,
            event.total_unblended_cost,
        )
        if latest is None or event.usage_date > latest:
            series = await _learn_next_day(judge, days)
        else:
            judge.replayed_from = event.usage_date
            series = await _replay_from(judge, days)
        await uow.commit()
    return DayOutcome(applied=True, alerts=sum(judge.alerts_on.values()), series=series)


async def _learn_next_day(judge: _Judge, days: dict[SeriesRef, SeriesDay]) -> int:
    """The usual case: the day after every model's last one, learnt onto the stored state."""
    event, uow = judge.event, judge.uow
    stored = await uow.repo.states(event.team_id, event.account_id)
    refs = {SeriesRef(r["service"], r["region"]) for r in stored.values()} | set(days)
    checkpoints: list[dict[str, Any]] = []
    for ref in _services_first(refs):
        key = ref.key(event.team_id, event.account_id)
        row = stored.get(key)
        base = row["state"] if row else None
        model = SeriesModel(base)
        day = days.get(ref, SeriesDay())
        drivers = model.drivers
        verdict = model.learn(event.usage_date, day, judge.thresholds)
        # A model from before day values were stored can be replayed only from its first
        # checkpoint on: take one now.
        legacy = row is not None and "replayable_from" not in row["state"]
        state = {
            **model.to_state(),
            "replayable_from": event.usage_date.isoformat()
            if legacy
            else (base or {}).get("replayable_from"),
        }
        if legacy or _checkpoint_day(event.usage_date):
            checkpoints.append(_checkpoint(event, key, event.usage_date, model.to_state()))
        version = await uow.repo.save_state(
            _state_row(event, ref, key, state, base, event.usage_date),
            None if row is None else row["model_version"],
        )
        await judge.apply(ref, key, event.usage_date, day, drivers, verdict, version)
    await uow.repo.save_checkpoints(checkpoints)
    return len(refs)


def _checkpoint(
    event: CostDayRecorded, key: str, usage_date: date, state: dict[str, Any]
) -> dict[str, Any]:
    return {
        "series_key": key,
        "usage_date": usage_date,
        "team_id": event.team_id,
        "account_id": event.account_id,
        "state": state,
    }


def _state_row(
    event: CostDayRecorded,
    ref: SeriesRef,
    key: str,
    state: dict[str, Any],
    previous: dict[str, Any] | None,
    last: date,
) -> dict[str, Any]:
    return {
        "series_key": key,
        "team_id": event.team_id,
        "account_id": event.account_id,
        "aws_account_id": event.aws_account_id,
        "service": ref.service,
        "region": ref.region,
        "state": state,
        "previous_state": previous,
        "last_usage_date": last,
    }


async def _replay_from(judge: _Judge, days: dict[SeriesRef, SeriesDay]) -> int:
    """A late or restated day: rebuild each series it touches from stored day values."""
    event, uow = judge.event, judge.uow
    changed = event.usage_date
    team_id, account_id = event.team_id, event.account_id
    stored = await uow.repo.states(team_id, account_id)
    first_days = await uow.repo.first_days(team_id, account_id)
    checkpoints = await uow.repo.checkpoints_before(team_id, account_id, changed)
    refs = {SeriesRef(r["service"], r["region"]) for r in stored.values()} | set(days)
    plans: list[tuple[SeriesRef, str, date | None, dict[str, Any] | None]] = []
    for ref in _services_first(refs):
        key = ref.key(team_id, account_id)
        first = first_days.get(key)
        if first is None or first > changed:
            continue  # the series began after this day: an in-order feed gives it the same
        if key in checkpoints:
            plans.append((ref, key, *checkpoints[key]))
            continue
        row = stored.get(key)
        if row is not None and row["state"].get("replayable_from", changed) is not None:
            continue  # history from before day values were kept: cannot be rebuilt
        plans.append((ref, key, None, None))
    if not plans:
        return 0
    starts = [start for _, _, start, _ in plans]
    since = None if None in starts else min(d for d in starts if d is not None)
    timeline = await uow.repo.account_days(team_id, account_id, after=since)
    values = await uow.repo.series_days(team_id, account_id, since=since)
    new_checkpoints: list[dict[str, Any]] = []
    for ref, key, start, base in plans:
        days_to_learn = [
            d for d in timeline if d >= first_days[key] and (start is None or d > start)
        ]
        run = _relearn(base, start, days_to_learn, values.get(key, {}), judge.thresholds)
        new_checkpoints += [_checkpoint(event, key, d, state) for d, state in run.checkpoints]
        row = stored.get(key)
        state = {
            **run.model.to_state(),
            "replayable_from": row["state"].get("replayable_from") if row else None,
        }
        version = await uow.repo.save_state(
            _state_row(event, ref, key, state, run.previous, days_to_learn[-1]),
            None if row is None else row["model_version"],
        )
        judged = [j for j in run.judged if j[0] >= changed]  # earlier days are judged as before
        # how far each episode of the replay ran: an anomaly recorded within it is the same change
        spans = {v.episode_started_at: d for d, _, _, v in judged if v.episode_started_at}
        for usage_date, day, drivers, verdict in judged:
            through = spans.get(verdict.episode_started_at, usage_date)
            await judge.apply(ref, key, usage_date, day, drivers, verdict, version, through)
    await uow.repo.save_checkpoints(new_checkpoints)
    return len(plans)


@dataclass
class _Relearnt:
    model: SeriesModel
    previous: dict[str, Any] | None = None  # the state before the last day
    judged: list[tuple[date, SeriesDay, dict[str, float], Verdict]] = field(default_factory=list)
    checkpoints: list[tuple[date, dict[str, Any]]] = field(default_factory=list)


def _relearn(
    base: dict[str, Any] | None,
    start: date | None,
    days: list[date],
    stored: dict[date, dict[str, Any]],
    thresholds: Thresholds,
) -> _Relearnt:
    """Replay one series from `base` (its checkpoint after `start`, or nothing) over `days`,
    applying feedback where it was given, as an in-order feed of these values would."""
    run = _Relearnt(SeriesModel(base))
    if start is not None:  # feedback given right after the checkpoint's day
        for feedback in (stored.get(start) or {}).get("feedback") or []:
            _apply_feedback(run.model.detector, Feedback(feedback))
    for usage_date in days:
        row = stored.get(usage_date)
        day = _stored_day(row)
        if usage_date == days[-1]:
            run.previous = run.model.to_state()
        drivers = run.model.drivers
        verdict = run.model.learn(usage_date, day, thresholds)
        run.judged.append((usage_date, day, drivers, verdict))
        if _checkpoint_day(usage_date):
            run.checkpoints.append((usage_date, run.model.to_state()))
        for feedback in (row or {}).get("feedback") or []:
            _apply_feedback(run.model.detector, Feedback(feedback))
    return run


def _matches_plan(ref: SeriesRef, plans: list[dict[str, Any]], excess_per_day: Decimal) -> bool:
    """Planned spend explains a service's rise when planned for that service, or when a plan
    for any service covers most of it; the account total's when the plans together do."""

    def covers(amount: Decimal) -> bool:
        return amount * 2 >= excess_per_day

    if ref.service is None:
        return bool(plans) and covers(sum((p["amount"] for p in plans), Decimal(0)))
    service = ref.service.lower()
    return any(
        (p["service"] or "").lower() == service or (p["service"] is None and covers(p["amount"]))
        for p in plans
    )


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


async def _apply_verdict(
    uow: AnomalyUnitOfWork,
    event: CostDayRecorded,
    ref: SeriesRef,
    key: str,
    judged: Judged,
    plans: list[dict[str, Any]],
    alertable: bool,
    quiet: bool = False,
) -> int:
    """Record, update or resolve the anomaly of this series' episode; emit what the bot needs.

    Exactly once per change: after a replay the same change may start on another day, and is
    matched to the anomaly already recorded for it instead of alerting again."""
    verdict, day, drivers, version = (
        judged.verdict,
        judged.day,
        judged.drivers,
        judged.model_version,
    )
    usage_date = judged.usage_date
    if verdict.episode_started_at is None:
        return 0
    episode_start = date.fromisoformat(verdict.episode_started_at[:10])
    existing = await uow.repo.anomaly_for_episode(key, episode_start)
    if existing is None and judged.replayed_from is not None:
        existing = await uow.repo.anomaly_for_change(
            key, episode_start, judged.episode_through or usage_date, judged.replayed_from
        )
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
            usage_date=usage_date,
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
                usage_date=usage_date,
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
        await uow.repo.update_anomaly(existing["anomaly_id"], episode_end=usage_date)
    if verdict.resolved and existing["status"] == AnomalyStatus.OPEN.value:
        await uow.repo.update_anomaly(
            existing["anomaly_id"],
            status=AnomalyStatus.RESOLVED.value,
            episode_end=usage_date,
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
            _apply_feedback(detector, request.feedback)
            if row["last_usage_date"] is not None:  # a replay applies it at the same point
                await uow.repo.add_series_feedback(
                    row["series_key"],
                    row["team_id"],
                    row["account_id"],
                    row["last_usage_date"],
                    request.feedback.value,
                )
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


class PlanRejected(Exception):
    """Planned spend that cannot be recorded or cancelled; the message says how to fix it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class PlanSpend:
    """Declare a known increase: `amount` more per day from `start` to `end` (inclusive)."""

    team_id: UUID
    amount: Decimal
    start: date
    end: date
    service: str | None = None  # None: any service
    account: str | None = None  # AWS account id or CloudAudit account id; None: every account
    note: str | None = None
    user_id: UUID | None = None  # None: an operator at the command line
    source: str = "analytics"


async def _account_of(uow: AnomalyUnitOfWork, team_id: UUID, given: str) -> UUID:
    accounts = await uow.repo.team_accounts(team_id)
    wanted = given.strip()
    for account_id, aws_account_id in accounts.items():
        if wanted in (str(account_id), aws_account_id):
            return account_id
    known = ", ".join(sorted(accounts.values())) or "none yet"
    raise PlanRejected(
        "unknown_account",
        f"account {given} has no cost data in this team (its accounts: {known}); "
        "give the 12-digit AWS account id or CloudAudit's account id",
    )


async def plan_spend(command: PlanSpend, uow: AnomalyUnitOfWork, team_must_exist: bool) -> UUID:
    """Record planned spend (audited); anomalies it explains are recorded as expected and not
    alerted. `team_must_exist`: refuse a team analytics has no cost data for (a mistyped id)."""
    if command.amount <= 0:
        raise PlanRejected(
            "invalid_amount", f"the amount must be more than 0 (got {command.amount})"
        )
    if command.end < command.start:
        raise PlanRejected(
            "invalid_period",
            f"the end date {command.end} is before the start date {command.start}",
        )
    expectation_id = uuid4()
    async with uow:
        if team_must_exist and not await uow.repo.team_has_days(command.team_id):
            raise PlanRejected(
                "unknown_team",
                f"team {command.team_id} has no cost data in CloudAudit; check the id with "
                "`cloudaudit teams list` (or connect an AWS account first)",
            )
        account_id = (
            None
            if command.account is None
            else await _account_of(uow, command.team_id, command.account)
        )
        await uow.repo.add_expectation(
            expectation_id=expectation_id,
            team_id=command.team_id,
            account_id=account_id,
            service=command.service,
            amount=command.amount,
            start_date=command.start,
            end_date=command.end,
            note=command.note,
            created_by=command.user_id,
        )
        await uow.emit(
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=command.team_id,
                user_id=command.user_id,
                action="anomaly.spend_expected",
                entity_type="spend_expectation",
                entity_id=str(expectation_id),
                source=command.source,
                details={
                    "service": command.service,
                    "account_id": None if account_id is None else str(account_id),
                    "amount": str(command.amount),
                    "start": command.start.isoformat(),
                    "end": command.end.isoformat(),
                    "note": command.note,
                },
            ),
        )
        await uow.commit()
    return expectation_id


async def expect_spend(request: ExpectSpendRequest, uow: AnomalyUnitOfWork) -> ExpectSpendReply:
    """Planned spend from Slack: anomalies it explains are recorded as expected, not alerted."""
    command = PlanSpend(
        team_id=request.team_id,
        amount=request.amount,
        start=request.start,
        end=request.end,
        service=request.service,
        user_id=request.user_id,
    )
    try:
        expectation_id = await plan_spend(command, uow, team_must_exist=False)
    except PlanRejected as exc:
        return ExpectSpendReply.failure(exc.code, exc.message)  # type: ignore[return-value]
    return ExpectSpendReply(expectation_id=expectation_id)


async def planned_spend(
    team_id: UUID, uow: AnomalyUnitOfWork, include_cancelled: bool = False
) -> list[dict[str, Any]]:
    """The team's planned spend, earliest first, with the AWS account id it is limited to."""
    async with uow:
        rows = await uow.repo.expectations(team_id, include_cancelled)
        accounts = await uow.repo.team_accounts(team_id)
    return [{**r, "aws_account_id": accounts.get(r["account_id"])} for r in rows]


async def cancel_planned_spend(
    expectation_id: UUID,
    uow: AnomalyUnitOfWork,
    user_id: UUID | None = None,
    team_id: UUID | None = None,
    source: str = "analytics",
) -> dict[str, Any]:
    """Withdraw planned spend (audited): from now on its increases alert again. `team_id`
    limits it to one team's plans (None: an operator may cancel any)."""
    async with uow:
        row = await uow.repo.expectation(expectation_id)
        if row is None or (team_id is not None and row["team_id"] != team_id):
            raise PlanRejected(
                "not_found",
                f"no planned spend {expectation_id}; list them with `cloudaudit expect list`",
            )
        if row["cancelled_at"] is not None:
            raise PlanRejected(
                "already_cancelled",
                f"planned spend {expectation_id} was already cancelled on "
                f"{row['cancelled_at']:%Y-%m-%d %H:%M} UTC",
            )
        await uow.repo.cancel_expectation(expectation_id, user_id)
        await uow.emit(
            AUDIT_RECORDED,
            AuditRecorded(
                team_id=row["team_id"],
                user_id=user_id,
                action="anomaly.spend_expectation_cancelled",
                entity_type="spend_expectation",
                entity_id=str(expectation_id),
                source=source,
                details={
                    "service": row["service"],
                    "amount": str(row["amount"]),
                    "start": row["start_date"].isoformat(),
                    "end": row["end_date"].isoformat(),
                },
            ),
        )
        await uow.commit()
    return row


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
