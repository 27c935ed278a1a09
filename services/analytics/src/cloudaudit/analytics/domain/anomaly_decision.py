"""The alert-or-update decision for one series-day's verdict: a new anomaly (alerted or
recorded quietly), a change to the anomaly already recorded for its episode, or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef
from cloudaudit.analytics.domain.detector import Verdict
from cloudaudit.analytics.domain.planned_spend import PlanInForce, matches_plan
from cloudaudit.analytics.domain.root_cause import Cause, explain
from cloudaudit.analytics.domain.severity import classify
from cloudaudit.common.events.anomaly import AnomalyKind, AnomalyStatus, Severity
from cloudaudit.common.money import STORAGE_QUANTUM

PCT_QUANTUM = Decimal("0.01")
MAX_PCT = 9_999_999.0  # the column's range: a rise from nearly nothing is "very large"


def money(value: float) -> Decimal:
    """Model floats back to money at the boundary."""
    return Decimal(repr(value)).quantize(STORAGE_QUANTUM)


def percent(value: float) -> Decimal:
    return Decimal(repr(min(value, MAX_PCT))).quantize(PCT_QUANTUM)


def episode_start(verdict: Verdict) -> date | None:
    """The day the verdict's episode began (None: the day is in no episode)."""
    if verdict.episode_started_at is None:
        return None
    return date.fromisoformat(verdict.episode_started_at[:10])


@dataclass(frozen=True, kw_only=True)
class KnownAnomaly:
    """What the decision needs of the anomaly already recorded for an episode."""

    anomaly_id: UUID
    status: AnomalyStatus
    alerted: bool


@dataclass(frozen=True, kw_only=True)
class NewAnomaly:
    """An anomaly to record; `alert` False: recorded (expected or quiet), not sent."""

    kind: AnomalyKind
    severity: Severity
    status: AnomalyStatus
    expected_cost: Decimal
    actual_cost: Decimal
    impact: Decimal
    impact_pct: Decimal
    causes: tuple[Cause, ...]
    episode_start: date
    alert: bool


@dataclass(frozen=True, kw_only=True)
class EpisodeUpdate:
    """Changes to a recorded anomaly; `notify`: tell the bot it resolved (it was alerted)."""

    anomaly_id: UUID
    impact: Decimal | None = None
    model_version: int | None = None
    episode_end: date | None = None
    status: AnomalyStatus | None = None
    notify: bool = False

    def fields(self) -> dict[str, object]:
        wanted = {
            "impact": self.impact,
            "model_version": self.model_version,
            "episode_end": self.episode_end,
            "status": None if self.status is None else self.status.value,
        }
        return {name: value for name, value in wanted.items() if value is not None}


def judge_day(
    *,
    ref: SeriesRef,
    usage_date: date,
    day: SeriesDay,
    drivers: dict[str, float],
    verdict: Verdict,
    model_version: int,
    existing: KnownAnomaly | None,
    plans: Sequence[PlanInForce],
    alertable: bool,
    quiet: bool = False,
) -> NewAnomaly | EpisodeUpdate | None:
    """Record, update or resolve the anomaly of this series' episode, exactly once per change.

    Only a recent (`alertable`) episode without an anomaly yet alerts; planned spend that
    explains it records it as expected, and `quiet` (a service already alerted that day, for
    the account total) records it without sending."""
    started = episode_start(verdict)
    if started is None:
        return None
    impact, actual, expected = money(verdict.impact), day.cost, money(verdict.expected)
    if verdict.alert and alertable and existing is None:
        pct = percent(verdict.impact_pct)
        planned = matches_plan(ref, plans, actual - expected)
        return NewAnomaly(
            kind=AnomalyKind(verdict.kind.value) if verdict.kind else AnomalyKind.SPIKE,
            severity=classify(impact, pct),
            status=AnomalyStatus.EXPECTED if planned else AnomalyStatus.OPEN,
            expected_cost=expected,
            actual_cost=actual,
            impact=impact,
            impact_pct=pct,
            causes=tuple(explain(drivers, day.drivers)),
            episode_start=started,
            alert=not (planned or quiet),
        )
    if existing is None:
        return None
    resolved = verdict.resolved and existing.status is AnomalyStatus.OPEN
    changes = EpisodeUpdate(
        anomaly_id=existing.anomaly_id,
        impact=impact if verdict.flagged or verdict.alert or resolved else None,
        model_version=model_version if verdict.flagged or verdict.alert else None,
        episode_end=usage_date if verdict.absorbed or resolved else None,
        status=AnomalyStatus.RESOLVED if resolved else None,
        notify=resolved and existing.alerted,
    )
    return changes if changes.fields() else None
