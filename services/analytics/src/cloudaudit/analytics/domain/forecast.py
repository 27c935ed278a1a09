"""Spend forecasts of one series: the next steps and the rest of a month, quarter or N days.

Built on the per-series `CostForecaster` (level x weekday factors + a month-start charge learnt
apart, so a support fee or an RI fee on the 1st never inflates the run-rate), with:

- a damped trend: the level's recent slope, plus the lag an exponential mean has behind a
  growing series;
- anomalies held out: a run of steps far from the expectation is not learnt while it is open,
  so a spike is not extrapolated to the month end; once it has lasted `PERSIST_DAYS` it is the
  new normal and the level moves to it;
- intervals: the model's noise, scaled by how well the one-step forecasts have matched (a
  calibration learnt online), widened with the horizon by the uncertainty of the level;
- planned spend: amounts per day a team declared, added to the days they cover.

Floats inside (the river model's numbers), `Decimal` at the boundaries (`forecast_period`).
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from cloudaudit.analytics.domain.cost_model import (
    MAD_TO_SIGMA,
    MIN_RELATIVE_NOISE,
    CalendarStep,
    CostForecaster,
)
from cloudaudit.common.errors import DomainError

Z_80 = 1.2816
Z_95 = 1.9600
# A step this many sigmas from its expectation opens (or continues) a held-out run.
Z_OPEN = 3.5
PERSIST_DAYS = 3
# The model is too young to judge anomalies before a week and a half of data.
WARM_UP_DAYS = 10
TREND_FADING = 0.04
# Per step: a trend carried a month ahead undamped would turn noise into runaway growth.
TREND_DAMPING = 0.97
CALIBRATION_FADING = 0.03
MIN_CALIBRATION, MAX_CALIBRATION = 0.8, 3.0
# How much of the relative noise the level itself is unsure of; grows with the horizon.
LEVEL_UNCERTAINTY = 0.30
LEVEL_UNCERTAINTY_DAYS = 20.0
CENT = Decimal("0.01")


class ForecastRefused(DomainError):
    """A forecast that cannot be made; the message says what is missing."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


class Horizon(StrEnum):
    """Period a forecast runs to: calendar month or quarter of the last day, or N days ahead."""

    MONTH = "month"
    QUARTER = "quarter"
    NEXT_30 = "30d"
    NEXT_90 = "90d"

    @classmethod
    def parse(cls, text: str) -> Horizon:
        aliases = {
            "month": "month",
            "quarter": "quarter",
            "30d": "30d",
            "30": "30d",
            "90d": "90d",
            "90": "90d",
            "next30": "30d",
            "next90": "90d",
        }
        value = aliases.get(text.strip().lower())
        if value is None:
            raise ForecastRefused(
                "invalid_period", f"unknown period {text!r}; use month, quarter, 30d or 90d"
            )
        return cls(value)


@dataclass(frozen=True, slots=True)
class StepForecast:
    """Expected cost of one future step with its 80 % and 95 % intervals (never below 0)."""

    at: datetime
    forecast: float
    sigma: float

    def bounds(self, z: float) -> tuple[float, float]:
        return max(self.forecast - z * self.sigma, 0.0), self.forecast + z * self.sigma


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    """Spend of a period: actual so far plus the forecast rest, with intervals on the total."""

    start: date
    end: date  # inclusive
    as_of: date  # last day with actuals
    actual: Decimal
    forecast_rest: Decimal
    planned: Decimal  # part of forecast_rest that is declared planned spend
    lower_80: Decimal
    upper_80: Decimal
    lower_95: Decimal
    upper_95: Decimal
    days: tuple[tuple[date, Decimal, Decimal, Decimal], ...]  # day, forecast, lower_80, upper_80

    @property
    def total(self) -> Decimal:
        return self.actual + self.forecast_rest


def period_bounds(horizon: Horizon, as_of: date) -> tuple[date, date]:
    """First and last day of the period a forecast made after `as_of` covers."""
    if horizon is Horizon.MONTH:
        last = calendar.monthrange(as_of.year, as_of.month)[1]
        return as_of.replace(day=1), as_of.replace(day=last)
    if horizon is Horizon.QUARTER:
        first_month = 3 * ((as_of.month - 1) // 3) + 1
        last_month = first_month + 2
        last = calendar.monthrange(as_of.year, last_month)[1]
        return date(as_of.year, first_month, 1), date(as_of.year, last_month, last)
    days = 30 if horizon is Horizon.NEXT_30 else 90
    return as_of + timedelta(days=1), as_of + timedelta(days=days)


class SeriesForecaster:
    """Learns one series step by step (no look-ahead) and forecasts the steps after its last.

    Deterministic: the same rows give the same forecast, to the last bit."""

    def __init__(self, steps_per_day: int = 1) -> None:
        self.steps_per_day = steps_per_day
        self.model = CostForecaster(steps_per_day=steps_per_day)
        self.slope = 0.0  # level change per step
        self.slope_n = 0
        self.calibration = 1.0  # sqrt of the mean squared standardised one-step error
        self.calibration_n = 0
        self.last_at: datetime | None = None
        self.held: list[tuple[datetime, float, float]] = []  # open run: at, cost, z
        # History often starts on the 1st (an import of whole months): that day's fees would
        # become the first level, so it waits until a usual day has set the level.
        self.first_month_start: tuple[float, CalendarStep] | None = None

    @property
    def step(self) -> timedelta:
        return timedelta(days=1) / max(self.steps_per_day, 1)

    def _calendar(self, at: datetime) -> CalendarStep:
        return CalendarStep.at(at, self.steps_per_day)

    def _relative_noise(self) -> float:
        return float(max(self.model.noise.mean * MAD_TO_SIGMA, MIN_RELATIVE_NOISE))

    def _expect(self, step: CalendarStep) -> tuple[float, float]:
        model = self.model
        expected = model.expected_base(step)
        if step.month_start and model.month_start_known():
            return expected + model.month_start.mean, model.month_start_sigma(step)
        return expected, model.sigma(step)

    # -- learning -----------------------------------------------------------------------------
    def learn(self, at: datetime, cost: float) -> None:
        if self.last_at is not None and at <= self.last_at:
            raise ForecastRefused(
                "unordered",
                f"timestamps must increase within a series ({self.last_at} then {at}); "
                "sort rows by timestamp",
            )
        self.last_at = at
        step = self._calendar(at)
        model = self.model
        warm = model.n >= WARM_UP_DAYS * max(self.steps_per_day, 1)
        if model.n == 0 and step.month_start:
            self.first_month_start = (cost, step)
            return
        if not warm or step.month_start:
            self._teach(cost, step)
            if self.first_month_start is not None:
                self._teach(*self.first_month_start)
                self.first_month_start = None
            return
        expected, sigma = self._expect(step)
        z = (cost - expected) / sigma if sigma > 0 else 0.0
        self._calibrate(z)
        same_sign = not self.held or (self.held[0][2] > 0) == (z > 0)
        if abs(z) >= Z_OPEN and same_sign:
            self.held.append((at, cost, z))
            if len(self.held) >= PERSIST_DAYS * max(self.steps_per_day, 1):
                self._absorb_held()
            return
        self.held.clear()  # the run ended without persisting: a one-off, never learnt
        self._teach(cost, step)

    def _teach(self, cost: float, step: CalendarStep) -> None:
        model = self.model
        before = model.level.mean
        warm = model.n >= WARM_UP_DAYS * max(self.steps_per_day, 1)
        model.learn_step(cost, step)
        if warm and not step.month_start:
            change = model.level.mean - before
            self.slope_n += 1
            weight = max(1.0 / self.slope_n, TREND_FADING)
            self.slope += weight * (change - self.slope)

    def _calibrate(self, z: float) -> None:
        self.calibration_n += 1
        weight = max(1.0 / self.calibration_n, CALIBRATION_FADING)
        squared = self.calibration**2 + weight * (min(z * z, 16.0) - self.calibration**2)
        self.calibration = min(max(math.sqrt(squared), MIN_CALIBRATION), MAX_CALIBRATION)

    def _absorb_held(self) -> None:
        """The run persisted: its median deseasonalised excess is the new normal."""
        model = self.model
        excess = sorted(
            cost / max(model.season(self._calendar(at)), 0.2) - model.level.mean
            for at, cost, _ in self.held
        )
        model.absorb_change(excess[len(excess) // 2])
        self.slope = 0.0  # the jump is not a trend
        held, self.held = self.held, []
        for at, cost, _ in held:
            self._teach(cost, self._calendar(at))

    # -- forecasting --------------------------------------------------------------------------
    def forecast(
        self, horizon: int, planned: Mapping[date, float] | None = None
    ) -> list[StepForecast]:
        """The `horizon` steps after the last one learnt, planned spend (per day) added."""
        if self.first_month_start is not None:  # a single first-of-month day
            self._teach(*self.first_month_start)
            self.first_month_start = None
        if self.last_at is None or self.model.n == 0:
            raise ForecastRefused(
                "no_history", "a series needs at least one day of cost before it can be forecast"
            )
        model = self.model
        lag = (1.0 - model.level_fading) / model.level_fading if model.n > 1 else 0.0
        relative = self._relative_noise() * self.calibration
        out: list[StepForecast] = []
        spd = max(self.steps_per_day, 1)
        for h in range(1, horizon + 1):
            at = self.last_at + self.step * h
            step = self._calendar(at)
            season = model.season(step)
            damped = sum(TREND_DAMPING**k for k in range(1, h + 1))
            level = max(model.level.mean + self.slope * (lag * TREND_DAMPING + damped), 0.0)
            expected = level * season
            if step.month_start and model.month_start_known():
                expected += model.month_start.mean
            sigma_noise = relative * level * max(season, 0.2)
            level_share = LEVEL_UNCERTAINTY * (1 + h / spd / LEVEL_UNCERTAINTY_DAYS)
            sigma = sigma_noise * math.sqrt(1 + level_share**2)
            if step.month_start and model.month_start_known():
                sigma = math.hypot(sigma, model.month_start_sigma(step) * self.calibration)
            extra = (planned or {}).get(at.date(), 0.0) / spd
            out.append(StepForecast(at, max(expected, 0.0) + extra, sigma))
        return out

    def total_sigma(self, steps: Sequence[StepForecast]) -> float:
        """Interval of a sum of steps: independent noise plus the shared level's uncertainty."""
        if not steps:
            return 0.0
        relative = self._relative_noise() * self.calibration
        noise = sum((s.sigma / math.sqrt(1 + LEVEL_UNCERTAINTY**2)) ** 2 for s in steps)
        days = len(steps) / max(self.steps_per_day, 1)
        level_share = relative * LEVEL_UNCERTAINTY * (1 + days / LEVEL_UNCERTAINTY_DAYS)
        level = level_share * sum(s.forecast for s in steps)
        return math.sqrt(noise + level * level)

    def to_state(self) -> dict[str, Any]:
        return {
            "steps_per_day": self.steps_per_day,
            "model": self.model.to_state(),
            "slope": [self.slope, self.slope_n],
            "calibration": [self.calibration, self.calibration_n],
            "last_at": self.last_at.isoformat() if self.last_at else None,
            "held": [[at.isoformat(), cost, z] for at, cost, z in self.held],
        }


def _money(value: float) -> Decimal:
    return Decimal(repr(max(value, 0.0))).quantize(CENT, ROUND_HALF_EVEN)


def learn_daily(history: Iterable[tuple[date, Decimal]]) -> SeriesForecaster:
    """A daily forecaster fed a series' cost days in order (gaps are days of no cost)."""
    forecaster = SeriesForecaster(steps_per_day=1)
    previous: date | None = None
    for day, cost in history:
        if previous is not None:
            gap = previous + timedelta(days=1)
            while gap < day:  # a day without a cost record cost nothing
                forecaster.learn(_midnight(gap), 0.0)
                gap += timedelta(days=1)
        forecaster.learn(_midnight(day), float(cost))
        previous = day
    return forecaster


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def forecast_period(
    history: Sequence[tuple[date, Decimal]],
    horizon: Horizon,
    planned: Mapping[date, Decimal] | None = None,
) -> PeriodForecast:
    """Spend of the period holding the last day of `history` (month/quarter) or the N days
    after it: actuals inside the period plus the forecast of its remaining days."""
    if not history:
        raise ForecastRefused(
            "no_history", "no cost days yet for this scope; import or sync cost data first"
        )
    forecaster = learn_daily(history)
    as_of = history[-1][0]
    start, end = period_bounds(horizon, as_of)
    actual = sum((cost for day, cost in history if start <= day <= as_of), Decimal(0))
    remaining = (end - as_of).days
    planned_f = {day: float(amount) for day, amount in (planned or {}).items()}
    steps = forecaster.forecast(remaining, planned_f) if remaining > 0 else []
    rest = sum(s.forecast for s in steps)
    sigma = forecaster.total_sigma(steps)
    planned_rest = sum(
        (amount for day, amount in (planned or {}).items() if as_of < day <= end), Decimal(0)
    )
    days = tuple(
        (s.at.date(), _money(s.forecast), _money(s.bounds(Z_80)[0]), _money(s.bounds(Z_80)[1]))
        for s in steps
    )
    return PeriodForecast(
        start=start,
        end=end,
        as_of=as_of,
        actual=actual,
        forecast_rest=_money(rest),
        planned=planned_rest,
        lower_80=actual + _money(rest - Z_80 * sigma),
        upper_80=actual + _money(rest + Z_80 * sigma),
        lower_95=actual + _money(rest - Z_95 * sigma),
        upper_95=actual + _money(rest + Z_95 * sigma),
        days=days,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedPeriod:
    """Planned spend as a team declares it (`cloudaudit expect`): an amount per day."""

    service: str | None  # None: the account as a whole
    amount_per_day: Decimal
    start: date
    end: date  # inclusive


def planned_days(
    plans: Iterable[PlannedPeriod], service: str | None, start: date, end: date
) -> dict[date, Decimal]:
    """Planned spend per day of [start, end] for a series: a service's forecast gains the plans
    for that service; a total (service None) gains every plan, since it holds every service."""
    out: dict[date, Decimal] = {}
    wanted = service.lower() if service else None
    for plan in plans:
        if wanted is not None and (plan.service or "").lower() != wanted:
            continue
        day = max(plan.start, start)
        while day <= min(plan.end, end):
            out[day] = out.get(day, Decimal(0)) + plan.amount_per_day
            day += timedelta(days=1)
    return out
