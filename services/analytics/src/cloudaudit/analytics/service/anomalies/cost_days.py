"""Cost days in: learn and judge every series of one account-day, exactly once per (series, day).

The series' model and its replay are the domain's (`series_replay`); this loads what they need,
saves what they produce and applies each verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cloudaudit.analytics.adapters.anomaly_rows import Checkpoint, SeriesState
from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef, series_of_day
from cloudaudit.analytics.domain.detector import Thresholds, Verdict
from cloudaudit.analytics.domain.planned_spend import PlanInForce
from cloudaudit.analytics.domain.series_replay import (
    ReplayStart,
    SeriesModel,
    checkpoint_day,
    episode_ends,
    relearn,
    replay_since,
    replay_starts,
    services_first,
)
from cloudaudit.analytics.service.anomalies.episodes import Judged, apply_verdict
from cloudaudit.analytics.service.anomalies.thresholds import current_thresholds
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.cost import CostDayRecorded


@dataclass(frozen=True)
class DayOutcome:
    applied: bool
    alerts: int = 0
    series: int = 0


@dataclass
class _Judge:
    """What applying a day's verdicts needs, shared by every series of one account-day."""

    uow: AnomalyUnitOfWork
    event: CostDayRecorded
    settings: AnalyticsSettings
    today: date
    thresholds: Thresholds
    replayed_from: date | None = None
    plans: dict[date, list[PlanInForce]] = field(default_factory=dict)
    alerts_on: dict[date, int] = field(default_factory=dict)

    async def apply(
        self,
        ref: SeriesRef,
        key: str,
        judged: Judged,
    ) -> None:
        usage_date = judged.usage_date
        if usage_date not in self.plans:
            self.plans[usage_date] = await self.uow.repo.expectations_on(
                self.event.team_id, usage_date, self.event.account_id
            )
        window = timedelta(days=self.settings.anomaly_alert_window_days)
        raised = await apply_verdict(
            self.uow,
            self.event,
            ref,
            key,
            judged,
            self.plans[usage_date],
            alertable=usage_date >= self.today - window,
            # Services first: when one of them alerts, the account total (the safety net for
            # changes spread thin across services) records the same day without a second alert.
            quiet=ref.service is None and self.alerts_on.get(usage_date, 0) > 0,
        )
        self.alerts_on[usage_date] = self.alerts_on.get(usage_date, 0) + raised

    def judged(
        self,
        usage_date: date,
        day: SeriesDay,
        drivers: dict[str, float],
        verdict: Verdict,
        version: int,
        episode_through: date | None = None,
    ) -> Judged:
        return Judged(
            usage_date, day, drivers, verdict, version, self.replayed_from, episode_through
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
    team_id, account_id = event.team_id, event.account_id
    async with uow:
        await uow.repo.lock_account(team_id, account_id)
        seen = await uow.repo.day_revision(team_id, account_id, event.usage_date)
        if seen is not None and seen >= event.revision:
            return DayOutcome(applied=False)
        min_impact, min_pct = await current_thresholds(uow, team_id, settings)
        judge = _Judge(uow, event, settings, today, Thresholds(float(min_impact), float(min_pct)))
        latest = await uow.repo.latest_day(team_id, account_id)
        days = await _store_day(uow, event)
        if latest is None or event.usage_date > latest:
            series = await _learn_next_day(judge, days)
        else:
            judge.replayed_from = event.usage_date
            series = await _replay_from(judge, days)
        await uow.commit()
    return DayOutcome(applied=True, alerts=sum(judge.alerts_on.values()), series=series)


async def _store_day(uow: AnomalyUnitOfWork, event: CostDayRecorded) -> dict[SeriesRef, SeriesDay]:
    """Keep the day's series values (the replay's source) and its revision; the day's series."""
    team_id, account_id = event.team_id, event.account_id
    days = series_of_day(event)
    await uow.repo.save_series_days(
        team_id,
        account_id,
        event.usage_date,
        {ref.key(team_id, account_id): day for ref, day in days.items()},
    )
    await uow.repo.record_day(
        team_id,
        account_id,
        event.usage_date,
        event.revision,
        event.event_id,
        event.total_unblended_cost,
    )
    return days


def _checkpoint(event: CostDayRecorded, key: str, day: date, state: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        series_key=key,
        usage_date=day,
        team_id=event.team_id,
        account_id=event.account_id,
        state=state,
    )


def _series_state(
    event: CostDayRecorded,
    ref: SeriesRef,
    key: str,
    state: dict[str, Any],
    previous: dict[str, Any] | None,
    last: date,
) -> SeriesState:
    return SeriesState(
        series_key=key,
        team_id=event.team_id,
        account_id=event.account_id,
        aws_account_id=event.aws_account_id,
        service=ref.service,
        region=ref.region,
        state=state,
        previous_state=previous,
        last_usage_date=last,
    )


def _refs(stored: dict[str, SeriesState], days: dict[SeriesRef, SeriesDay]) -> list[SeriesRef]:
    return services_first({SeriesRef(r.service, r.region) for r in stored.values()} | set(days))


async def _learn_next_day(judge: _Judge, days: dict[SeriesRef, SeriesDay]) -> int:
    """The usual case: the day after every model's last one, learnt onto the stored state."""
    event, uow, usage_date = judge.event, judge.uow, judge.event.usage_date
    stored = await uow.repo.states(event.team_id, event.account_id)
    refs = _refs(stored, days)
    checkpoints: list[Checkpoint] = []
    for ref in refs:
        key = ref.key(event.team_id, event.account_id)
        row = stored.get(key)
        base = row.state if row else None
        model = SeriesModel(base)
        day = days.get(ref, SeriesDay())
        drivers = model.drivers
        verdict = model.learn(usage_date, day, judge.thresholds)
        # A model from before day values were stored can be replayed only from its first
        # checkpoint on: take one now.
        legacy = row is not None and "replayable_from" not in row.state
        replayable = usage_date.isoformat() if legacy else (base or {}).get("replayable_from")
        state = {**model.to_state(), "replayable_from": replayable}
        if legacy or checkpoint_day(usage_date):
            checkpoints.append(_checkpoint(event, key, usage_date, model.to_state()))
        version = await uow.repo.save_state(
            _series_state(event, ref, key, state, base, usage_date),
            None if row is None else row.model_version,
        )
        await judge.apply(ref, key, judge.judged(usage_date, day, drivers, verdict, version))
    await uow.repo.save_checkpoints(checkpoints)
    return len(refs)


async def _replay_from(judge: _Judge, days: dict[SeriesRef, SeriesDay]) -> int:
    """A late or restated day: rebuild each series it touches from stored day values."""
    event, uow, changed = judge.event, judge.uow, judge.event.usage_date
    team_id, account_id = event.team_id, event.account_id
    stored = await uow.repo.states(team_id, account_id)
    first_days = await uow.repo.first_days(team_id, account_id)
    starts = replay_starts(
        [(ref, ref.key(team_id, account_id)) for ref in _refs(stored, days)],
        changed,
        first_days,
        await uow.repo.checkpoints_before(team_id, account_id, changed),
        {key: row.state for key, row in stored.items()},
    )
    if not starts:
        return 0
    since = replay_since(starts)
    timeline = await uow.repo.account_days(team_id, account_id, after=since)
    values = await uow.repo.series_days(team_id, account_id, since=since)
    checkpoints: list[Checkpoint] = []
    for start in starts:
        days_to_learn = [
            d
            for d in timeline
            if d >= first_days[start.key] and (start.start is None or d > start.start)
        ]
        run = relearn(
            start.base, start.start, days_to_learn, values.get(start.key, {}), judge.thresholds
        )
        checkpoints += [_checkpoint(event, start.key, d, state) for d, state in run.checkpoints]
        version = await _save_replayed(
            judge, start, stored.get(start.key), run.model, run.previous, days_to_learn[-1]
        )
        judged = [j for j in run.judged if j.usage_date >= changed]  # earlier: judged as before
        through = episode_ends(judged)
        for j in judged:
            ends = through.get(j.verdict.episode_started_at or "", j.usage_date)
            await judge.apply(
                start.ref,
                start.key,
                judge.judged(j.usage_date, j.day, j.drivers, j.verdict, version, ends),
            )
    await uow.repo.save_checkpoints(checkpoints)
    return len(starts)


async def _save_replayed(
    judge: _Judge,
    start: ReplayStart,
    row: SeriesState | None,
    model: SeriesModel,
    previous: dict[str, Any] | None,
    last: date,
) -> int:
    replayable = row.state.get("replayable_from") if row else None
    state = {**model.to_state(), "replayable_from": replayable}
    return await judge.uow.repo.save_state(
        _series_state(judge.event, start.ref, start.key, state, previous, last),
        None if row is None else row.model_version,
    )
