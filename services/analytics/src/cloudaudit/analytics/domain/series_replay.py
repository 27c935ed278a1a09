"""One cost series' model over time: learning a day, checkpoints, and replaying stored days.

Plain data in and out (model states are the JSON-able dicts the detector writes); the service
loads and saves them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef
from cloudaudit.analytics.domain.detector import (
    CostAnomalyDetector,
    DetectorConfig,
    Thresholds,
    Verdict,
)
from cloudaudit.analytics.domain.root_cause import learn_drivers
from cloudaudit.common.events.anomaly import Feedback

DAILY = DetectorConfig(steps_per_day=1)
# A checkpoint of every series' model is kept every this many days: re-learning a late or
# restated day replays at most this many days plus the days after it (a year of daily values
# replays in about 3 ms per series, a fortnight in well under one).
CHECKPOINT_EVERY_DAYS = 14


def checkpoint_day(usage_date: date) -> bool:
    return usage_date.toordinal() % CHECKPOINT_EVERY_DAYS == 0


def _midnight(usage_date: date) -> datetime:
    return datetime(usage_date.year, usage_date.month, usage_date.day, tzinfo=UTC)


def apply_feedback(detector: CostAnomalyDetector, feedback: Feedback) -> None:
    """'Expected' absorbs the current level; 'not useful' raises the bar; 'useful' lowers it."""
    if feedback is Feedback.EXPECTED:
        detector.accept_current_level()
    elif feedback is Feedback.NOT_USEFUL:
        detector.raise_bar()
    else:
        detector.lower_bar()


def with_feedback(state: dict[str, Any], feedback: Feedback) -> dict[str, Any]:
    """A stored model state after the user's feedback on its series."""
    detector = CostAnomalyDetector.from_state(state["detector"], DAILY)
    apply_feedback(detector, feedback)
    return {**state, "detector": detector.to_state()}


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


def services_first(refs: Iterable[SeriesRef]) -> list[SeriesRef]:
    """Services before the account total: when one of them alerts, the total (the safety net
    for changes spread thin across services) records the same day without a second alert."""
    return sorted(refs, key=lambda r: (r.service is None, r.service or "", r.region or ""))


@dataclass(frozen=True, kw_only=True)
class StoredSeriesDay:
    """What a series cost on one stored day, and the feedback given while it was the last."""

    cost: Decimal = Decimal(0)
    summary_id: UUID | None = None
    drivers: Mapping[str, Decimal] = field(default_factory=dict)
    feedback: tuple[Feedback, ...] = ()

    def series_day(self) -> SeriesDay:
        return SeriesDay(cost=self.cost, summary_id=self.summary_id, drivers=dict(self.drivers))


@dataclass(frozen=True, kw_only=True)
class JudgedDay:
    """One replayed day: what it cost, the driver baseline before it, and its verdict."""

    usage_date: date
    day: SeriesDay
    drivers: dict[str, float]
    verdict: Verdict


@dataclass
class Relearnt:
    model: SeriesModel
    previous: dict[str, Any] | None = None  # the state before the last day
    judged: list[JudgedDay] = field(default_factory=list)
    checkpoints: list[tuple[date, dict[str, Any]]] = field(default_factory=list)


def relearn(
    base: dict[str, Any] | None,
    start: date | None,
    days: Sequence[date],
    stored: Mapping[date, StoredSeriesDay],
    thresholds: Thresholds,
) -> Relearnt:
    """Replay one series from `base` (its checkpoint after `start`, or nothing) over `days`,
    applying feedback where it was given, as an in-order feed of these values would."""
    run = Relearnt(SeriesModel(base))
    if start is not None and start in stored:  # feedback given right after the checkpoint's day
        for feedback in stored[start].feedback:
            apply_feedback(run.model.detector, feedback)
    for usage_date in days:
        row = stored.get(usage_date)
        day = row.series_day() if row is not None else SeriesDay()  # nothing that day
        if usage_date == days[-1]:
            run.previous = run.model.to_state()
        drivers = run.model.drivers
        verdict = run.model.learn(usage_date, day, thresholds)
        run.judged.append(
            JudgedDay(usage_date=usage_date, day=day, drivers=drivers, verdict=verdict)
        )
        if checkpoint_day(usage_date):
            run.checkpoints.append((usage_date, run.model.to_state()))
        for feedback in row.feedback if row is not None else ():
            apply_feedback(run.model.detector, feedback)
    return run


def episode_ends(judged: Iterable[JudgedDay]) -> dict[str, date]:
    """How far each episode of a replay ran: an anomaly recorded within it is the same change."""
    return {
        j.verdict.episode_started_at: j.usage_date for j in judged if j.verdict.episode_started_at
    }


@dataclass(frozen=True, kw_only=True)
class ReplayStart:
    """Where one series' replay starts: after its checkpoint `start`, or from its first day."""

    ref: SeriesRef
    key: str
    start: date | None = None
    base: dict[str, Any] | None = None


def replay_starts(
    keyed: Sequence[tuple[SeriesRef, str]],
    changed: date,
    first_days: Mapping[str, date],
    checkpoints: Mapping[str, tuple[date, dict[str, Any]]],
    states: Mapping[str, dict[str, Any]],
) -> list[ReplayStart]:
    """The series a late or restated day touches, each with where its replay starts."""
    starts: list[ReplayStart] = []
    for ref, key in keyed:
        first = first_days.get(key)
        if first is None or first > changed:
            continue  # the series began after this day: an in-order feed gives it the same
        if key in checkpoints:
            start, base = checkpoints[key]
            starts.append(ReplayStart(ref=ref, key=key, start=start, base=base))
            continue
        state = states.get(key)
        if state is not None and state.get("replayable_from", changed) is not None:
            continue  # history from before day values were kept: cannot be rebuilt
        starts.append(ReplayStart(ref=ref, key=key))
    return starts


def replay_since(starts: Sequence[ReplayStart]) -> date | None:
    """The earliest day any of these replays needs (None: from each series' beginning)."""
    if any(s.start is None for s in starts):
        return None
    return min(s.start for s in starts if s.start is not None)
