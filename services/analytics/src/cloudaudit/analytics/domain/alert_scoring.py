"""Alert-level scoring of flags against zone labels: what a judge of a cost detector counts.

Labels are one zone per row (`series_id,timestamp,value,zone[,event_id]`):
- `spike`, `shift`, `leak`: the rows of a material event (rows of one event share an
  `event_id`; without one, a run of equal zones is one event);
- `trap` (an immaterial change or a recurring fee) and `normal`: nothing to find;
- `drop` (a fall to zero): ignored, flags there are never counted.

An event is detected when any flag falls in its detection window: a spike from onset to
max(end, onset + 2 days), a shift from onset to onset + 2 days, a leak from onset to its ramp's
end + 2 days (on sub-daily series + 6 hours instead of + 2 days). Every other flag (outside
drop rows) is false; consecutive false flags form a run and a run of L steps costs
ceil(L / R) alerts, R = 7 days of steps on daily series and 1 day on sub-daily ones.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloudaudit.analytics.domain.backtest_scoring import AlertRates

EVENT_ZONES = ("spike", "shift", "leak")
ZONES = (*EVENT_ZONES, "trap", "normal", "drop")
DAYS_PER_MONTH = 30.44
SECONDS_PER_DAY = 86_400


class MalformedLabels(ValueError):
    """A labelled row cannot be scored; the message names the row and the fix."""


@dataclass(frozen=True, slots=True)
class ZoneRow:
    series_id: str
    at: datetime
    zone: str
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class ZoneEvent:
    series_id: str
    zone: str
    onset: datetime
    end: datetime  # last row of the event
    window_end: datetime


@dataclass
class AlertScore(AlertRates):
    """Precision, recall and F1 at alert level, and alerts per series-month."""

    name: str
    events: int = 0
    detected: int = 0
    false_alerts: int = 0
    series_months: float = 0.0
    events_by_zone: Counter[str] = field(default_factory=Counter)
    missed_by_zone: Counter[str] = field(default_factory=Counter)
    false_by_zone: Counter[str] = field(default_factory=Counter)
    delays_days: list[float] = field(default_factory=list)

    @property
    def targets(self) -> int:
        return self.events

    @property
    def median_delay_days(self) -> float | None:
        if not self.delays_days:
            return None
        ordered = sorted(self.delays_days)
        return ordered[len(ordered) // 2]


def _grace(sub_daily: bool) -> timedelta:
    return timedelta(hours=6) if sub_daily else timedelta(days=2)


def events_of(rows: Sequence[ZoneRow], sub_daily: bool) -> list[ZoneEvent]:
    """The material events of one series' rows (in time order), with their windows."""
    events: list[ZoneEvent] = []
    current: tuple[str, str] | None = None
    onset = end = rows[0].at if rows else None
    for row in rows:
        key = (row.zone, row.event_id) if row.zone in EVENT_ZONES else None
        if key != current:
            if current is not None and onset is not None and end is not None:
                events.append(_event(row.series_id, current[0], onset, end, sub_daily))
            current, onset = key, row.at
        end = row.at
    if current is not None and onset is not None and end is not None:
        events.append(_event(rows[-1].series_id, current[0], onset, end, sub_daily))
    return events


def _event(series_id: str, zone: str, onset: datetime, end: datetime, sub_daily: bool) -> ZoneEvent:
    grace = _grace(sub_daily)
    if zone == "spike":
        window_end = max(end, onset + grace)
    elif zone == "shift":
        window_end = onset + grace
    else:
        window_end = end + grace
    return ZoneEvent(series_id, zone, onset, end, window_end)


def _close_run(result: AlertScore, run: list[ZoneRow], run_steps: int) -> None:
    """A run of L false flags costs ceil(L / R) alerts."""
    if run:
        alerts = math.ceil(len(run) / run_steps)
        result.false_alerts += alerts
        result.false_by_zone[run[0].zone] += alerts
        run.clear()


def score_alerts(
    name: str,
    rows: Iterable[ZoneRow],
    flags: Mapping[str, Mapping[datetime, bool]],
) -> AlertScore:
    """Score flags (per series, per timestamp) against zone-labelled rows."""
    by_series: dict[str, list[ZoneRow]] = defaultdict(list)
    for row in rows:
        if row.zone not in ZONES:
            raise MalformedLabels(
                f"series {row.series_id!r} at {row.at.isoformat()}: zone {row.zone!r} is not one "
                f"of {', '.join(ZONES)}"
            )
        by_series[row.series_id].append(row)
    result = AlertScore(name)
    for series_id, series_rows in by_series.items():
        series_rows.sort(key=lambda r: r.at)
        if len(series_rows) < 2:
            continue
        step = (series_rows[1].at - series_rows[0].at).total_seconds()
        sub_daily = step < SECONDS_PER_DAY
        span = (series_rows[-1].at - series_rows[0].at).total_seconds() + step
        result.series_months += span / SECONDS_PER_DAY / DAYS_PER_MONTH
        run_steps = max(1, round((SECONDS_PER_DAY if sub_daily else 7 * SECONDS_PER_DAY) / step))
        events = events_of(series_rows, sub_daily)
        series_flags = flags.get(series_id, {})
        detected: set[int] = set()
        run: list[ZoneRow] = []

        for row in series_rows:
            if not series_flags.get(row.at, False):
                _close_run(result, run, run_steps)
                continue
            hits = [i for i, e in enumerate(events) if e.onset <= row.at <= e.window_end]
            if hits:
                _close_run(result, run, run_steps)
                for i in hits:
                    if i not in detected:
                        detected.add(i)
                        result.delays_days.append(
                            (row.at - events[i].onset).total_seconds() / SECONDS_PER_DAY
                        )
                continue
            if row.zone == "drop":
                _close_run(result, run, run_steps)
                continue
            run.append(row)
        _close_run(result, run, run_steps)
        for i, event in enumerate(events):
            result.events += 1
            result.events_by_zone[event.zone] += 1
            if i in detected:
                result.detected += 1
            else:
                result.missed_by_zone[event.zone] += 1
    return result
