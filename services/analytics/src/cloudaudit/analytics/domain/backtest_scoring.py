"""Alert-level scoring of backtest flags against labelled events (what a user would live with).

- A labelled material event counts as detected once, by the first flag inside its window.
- Flags outside every material event's window are false; each run of them counts one alert
  per started week (a detector that flags a whole fortnight wrongly costs two alerts).
- False alerts are attributed to a cause (month start, weekend, immaterial change, drop or
  recovery, after a real change, other) from the labels and the calendar.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DAYS_PER_MONTH = 30.44
AFTER_CHANGE_DAYS = 21


@dataclass(frozen=True, slots=True)
class LabelledEvent:
    series_id: str
    kind: str  # spike, level_shift, level_shift_fixed, leak; immaterial; drop
    start: datetime
    end: datetime  # last affected step
    material: bool
    impact: float = 0.0

    def detection_end(self) -> datetime:
        """Flags up to here count for the event (a lasting shift: its first two weeks)."""
        if self.kind == "level_shift":
            return max(self.end, self.start + timedelta(days=14))
        return self.end


class AlertRates:
    """Alert-level rates of a scored run: what was there to find (`targets`), how many of them
    were found (`detected`), false alerts, over how many series-months and how fast."""

    detected: int
    false_alerts: int
    series_months: float
    points: int
    seconds: float

    @property
    def targets(self) -> int:
        raise NotImplementedError

    @property
    def precision(self) -> float:
        alerts = self.detected + self.false_alerts
        return self.detected / alerts if alerts else 0.0

    @property
    def recall(self) -> float:
        return self.detected / self.targets if self.targets else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def alerts_per_series_month(self) -> float:
        total = self.detected + self.false_alerts
        return total / self.series_months if self.series_months else 0.0

    @property
    def false_alerts_per_series_month(self) -> float:
        return self.false_alerts / self.series_months if self.series_months else 0.0

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0


@dataclass
class Score(AlertRates):
    name: str
    events: int = 0
    detected: int = 0
    false_alerts: int = 0
    series_months: float = 0.0
    delays_by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    missed_by_kind: Counter[str] = field(default_factory=Counter)
    events_by_kind: Counter[str] = field(default_factory=Counter)
    false_by_cause: Counter[str] = field(default_factory=Counter)
    points: int = 0
    seconds: float = 0.0

    @property
    def targets(self) -> int:
        return self.events

    def median_delay(self, kind: str | None = None) -> float | None:
        values = (
            self.delays_by_kind.get(kind, [])
            if kind
            else [d for ds in self.delays_by_kind.values() for d in ds]
        )
        return statistics.median(values) if values else None


def _cause(at: datetime, events: Sequence[LabelledEvent]) -> str:
    for event in events:
        if not event.material and event.kind != "drop" and event.start <= at <= event.end:
            return "immaterial"
    for event in events:
        if event.kind == "drop" and event.start <= at <= event.end + timedelta(days=14):
            return "drop_or_recovery"
    for event in events:
        if event.material and event.end < at <= event.end + timedelta(days=AFTER_CHANGE_DAYS):
            return "after_change"
    if at.day == 1 and at.hour == 0:
        return "month_start"
    if at.weekday() >= 5:
        return "weekend"
    return "other"


def _count_false(
    result: Score, run: list[datetime], steps_per_week: int, labelled: Sequence[LabelledEvent]
) -> None:
    if run:
        alerts = math.ceil(len(run) / steps_per_week)
        result.false_alerts += alerts
        result.false_by_cause[_cause(run[0], labelled)] += alerts


def score(
    name: str, flags: Mapping[str, Sequence[tuple[datetime, bool]]], events: Iterable[LabelledEvent]
) -> Score:
    """Score one detector's flags (per series, in time order) against the labels."""
    by_series: dict[str, list[LabelledEvent]] = defaultdict(list)
    for event in events:
        by_series[event.series_id].append(event)
    result = Score(name)
    for series_id, steps in flags.items():
        if len(steps) < 2:
            continue
        step_seconds = (steps[1][0] - steps[0][0]).total_seconds()
        span_days = (steps[-1][0] - steps[0][0]).total_seconds() / 86_400 + step_seconds / 86_400
        result.series_months += span_days / DAYS_PER_MONTH
        steps_per_week = max(1, round(7 * 86_400 / step_seconds))
        labelled = by_series.get(series_id, [])
        material = [e for e in labelled if e.material]
        detected: set[int] = set()
        run: list[datetime] = []

        for at, flagged in steps:
            if not flagged:
                _count_false(result, run, steps_per_week, labelled)
                run = []
                continue
            hit = next(
                (i for i, e in enumerate(material) if e.start <= at <= e.detection_end()), None
            )
            if hit is None:
                run.append(at)
                continue
            _count_false(result, run, steps_per_week, labelled)
            run = []
            if hit not in detected:
                detected.add(hit)
                event = material[hit]
                delay = (at - event.start).total_seconds() / 86_400
                result.delays_by_kind[event.kind].append(delay)
        _count_false(result, run, steps_per_week, labelled)
        for index, event in enumerate(material):
            result.events += 1
            result.events_by_kind[event.kind] += 1
            if index in detected:
                result.detected += 1
            else:
                result.missed_by_kind[event.kind] += 1
    return result
