"""Expected cost of one series: robust level x seasonal factors + month-start charge, and noise.

A river `Forecaster`: `learn_one(y, x)` / `forecast(horizon, xs)`, with `x` the calendar
features of a step (`CalendarStep`). Its state is plain numbers (`to_state`/`from_state`), so a
restart continues exactly where it left off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from river import stats, time_series

# Deseasonalising by a factor near zero (a dev account switched off at the weekend) would blow
# the level up; such steps teach the factor only.
MIN_FACTOR_FOR_LEVEL = 0.2
# Cost noise is mostly proportional; a floor keeps a perfectly flat series (one RDS instance)
# from turning a few cents into an infinite z-score.
MIN_RELATIVE_NOISE = 0.01
# Mean absolute deviation x 1.25 estimates a standard deviation for Gaussian noise.
MAD_TO_SIGMA = 1.25
MAX_STEPS_PER_DAY_FOR_WEEKLY = 48


class WarmEWMean(stats.base.Univariate):
    """Exponentially weighted mean that averages equally while young (weight 1/n until it falls
    to `fading_factor`), so the first values do not pin it as river's EWMean's first value does.
    Its state is two numbers, which makes persisting it exact."""

    def __init__(self, fading_factor: float = 0.1, mean: float = 0.0, n: int = 0) -> None:
        self.fading_factor = fading_factor
        self.mean = mean
        self.n = n

    def update(self, x: float) -> None:
        self.n += 1
        weight = 1.0 / self.n
        if weight < self.fading_factor:
            weight = self.fading_factor
        self.mean += weight * (x - self.mean)

    def get(self) -> float:
        return self.mean

    def reset_to(self, value: float, n: int = 1) -> None:
        self.mean = value
        self.n = n


@dataclass(frozen=True, slots=True)
class CalendarStep:
    """What the model needs to know about a step's time: its seasonal phases and month start."""

    phases: tuple[int, ...]
    month_start: bool

    @classmethod
    def at(cls, at: datetime, steps_per_day: int) -> CalendarStep:
        if steps_per_day <= 0:  # coarser than daily: no weekly pattern to learn
            return cls((), at.day == 1)
        if steps_per_day == 1:
            return cls((at.weekday(),), at.day == 1)
        minute_of_day = at.hour * 60 + at.minute
        slot = minute_of_day * steps_per_day // 1440
        if steps_per_day <= MAX_STEPS_PER_DAY_FOR_WEEKLY:  # hour of a weekday / weekend day
            weekend = 1 if at.weekday() >= 5 else 0
            return cls((weekend * steps_per_day + slot,), at.day == 1 and minute_of_day == 0)
        return cls((slot,), at.day == 1 and minute_of_day == 0)


def season_sizes(steps_per_day: int) -> tuple[int, ...]:
    """Day of week for daily data; for hourly data the hour of a weekday or of a weekend day
    (office hours happen on weekdays only, which separate hour and weekday factors cannot
    express, and 48 slots are learnt within a week where 168 hours of the week take three);
    time of day for finer data."""
    if steps_per_day <= 0:
        return ()
    if steps_per_day == 1:
        return (7,)
    if steps_per_day <= MAX_STEPS_PER_DAY_FOR_WEEKLY:
        return (2 * steps_per_day,)
    return (steps_per_day,)


class CostForecaster(time_series.base.Forecaster):
    """Expected cost for the next step and how noisy the series is.

    - level: Huber-clipped exponentially weighted mean of the deseasonalised cost, so a spike
      moves it by at most `huber_k` sigmas' worth;
    - seasonal factors: multiplicative (a weekend at 30 % of a weekday is a factor, not noise),
      learnt as the ratio of a step's cost to the level;
    - noise: weighted mean absolute deviation relative to the level (proportional noise);
    - month-start charge: the excess of the first step of a month over the usual level, learnt
      separately (support, tax, reserved-instance and Savings Plans fees land there), never
      mixed into the level.
    """

    def __init__(
        self,
        steps_per_day: int = 1,
        level_fading: float = 0.12,
        season_fading: float = 0.05,
        noise_fading: float = 0.05,
        month_start_fading: float = 0.5,
        huber_k: float = 2.0,
    ) -> None:
        self.steps_per_day = steps_per_day
        self.level_fading = level_fading
        self.season_fading = season_fading
        self.noise_fading = noise_fading
        self.month_start_fading = month_start_fading
        self.huber_k = huber_k
        self.level = WarmEWMean(level_fading)
        self.noise = WarmEWMean(noise_fading)  # relative: |deseasonalised residual| / level
        self.factors = [
            [WarmEWMean(season_fading) for _ in range(size)] for size in season_sizes(steps_per_day)
        ]
        self.month_start = WarmEWMean(month_start_fading)
        self.month_start_spread = WarmEWMean(month_start_fading)

    # -- reading ------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return self.level.n

    def season(self, step: CalendarStep) -> float:
        """Seasonal factor of a step: its cost relative to the level (1 until first seen)."""
        factor = 1.0
        for index, phase in enumerate(step.phases):
            cell = self.factors[index][phase]
            if cell.n:
                factor *= cell.mean
        return factor

    def sigma(self, step: CalendarStep, season: float | None = None) -> float:
        """Standard deviation of the cost at this step, in the series' units."""
        s = self.season(step) if season is None else season
        relative = max(self.noise.mean * MAD_TO_SIGMA, MIN_RELATIVE_NOISE)
        return relative * abs(self.level.mean) * max(s, MIN_FACTOR_FOR_LEVEL)

    def expected_base(self, step: CalendarStep) -> float:
        return self.level.mean * self.season(step)

    def month_start_known(self) -> bool:
        return self.month_start.n > 0

    def forecast(self, horizon: int, xs: list[dict[str, Any]] | None = None) -> list[float]:
        """river protocol: expected cost of the given future steps (x = {"step": CalendarStep})."""
        steps = [x["step"] for x in (xs or [])] or [CalendarStep((), False)] * horizon
        out = []
        for step in steps[:horizon]:
            base = self.expected_base(step)
            if step.month_start and self.month_start_known():
                base += self.month_start.mean
            out.append(base)
        return out

    # -- learning -----------------------------------------------------------------------------
    def learn_one(self, y: float, x: dict[str, Any] | None = None) -> None:
        step: CalendarStep = (x or {}).get("step") or CalendarStep((), False)
        self.learn_step(y, step)

    def learn_step(self, y: float, step: CalendarStep) -> None:
        if step.month_start and self.level.n > 0:
            self._learn_month_start(y, step)
            return
        season = self.season(step)
        level = self.level.mean
        if self.level.n == 0:
            self.level.update(y)
            self._learn_factors(y, step, y)
            return
        if season >= MIN_FACTOR_FOR_LEVEL:
            residual = y / season - level
            relative_sigma = max(self.noise.mean * MAD_TO_SIGMA, MIN_RELATIVE_NOISE)
            bound = (
                self.huber_k * relative_sigma * abs(level) if self.noise.n >= 3 else abs(residual)
            )
            clipped = min(max(residual, -bound), bound)
            self.level.update(level + clipped)
            if abs(level) > 0:
                self.noise.update(
                    min(abs(residual), 2 * bound if bound else abs(residual)) / abs(level)
                )
        self._learn_factors(y, step, self.level.mean)

    def _learn_factors(self, y: float, step: CalendarStep, level: float) -> None:
        if level <= 0:
            return
        for index, phase in enumerate(step.phases):
            cell = self.factors[index][phase]
            ratio = y / level
            if cell.n >= 3:  # robust: one odd day moves a factor by a bounded amount
                ratio = min(max(ratio, cell.mean * 0.5), cell.mean * 1.5 + 0.05)
            cell.update(ratio)

    def _learn_month_start(self, y: float, step: CalendarStep) -> None:
        excess = y - self.expected_base(step)
        if self.month_start.n:
            self.month_start_spread.update(abs(excess - self.month_start.mean))
        self.month_start.update(excess)

    def month_start_sigma(self, step: CalendarStep) -> float:
        """How far a month-start charge may stray from its usual amount."""
        base_sigma = self.sigma(step)
        spread = self.month_start_spread.mean * MAD_TO_SIGMA if self.month_start_spread.n else 0.0
        return (base_sigma**2 + spread**2) ** 0.5 + 0.15 * abs(self.month_start.mean)

    # -- changes decided by the detector -------------------------------------------------------
    def absorb_change(self, delta: float) -> None:
        """A change became the new normal. Cost changes are mostly additive (a resource left
        running costs the same on a Sunday as on a Monday), so the level moves by `delta` and
        every seasonal factor is re-expressed around the new level: a weekend that was 50 % of
        a weekday becomes a larger share once a fixed amount is added to every day."""
        old = self.level.mean
        new = old + delta
        if old <= 0 or new <= 0:
            self.level.reset_to(max(new, 0.0), max(self.level.n, 1))
            return
        for table in self.factors:
            for cell in table:
                if cell.n:
                    cell.reset_to(max((old * cell.mean + delta) / new, 0.01), cell.n)
        self.level.reset_to(new, self.level.n)

    def absorb_ratio(self, ratio: float) -> None:
        """A proportional change became the new normal: the level scales, the pattern stays."""
        self.level.reset_to(max(self.level.mean * (1.0 + ratio), 0.0), max(self.level.n, 1))

    # -- persistence --------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "level": [self.level.mean, self.level.n],
            "noise": [self.noise.mean, self.noise.n],
            "factors": [[[c.mean, c.n] for c in table] for table in self.factors],
            "month_start": [self.month_start.mean, self.month_start.n],
            "month_start_spread": [self.month_start_spread.mean, self.month_start_spread.n],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.level.reset_to(*state["level"])
        self.noise.reset_to(*state["noise"])
        saved_factors = state["factors"]
        if [len(t) for t in saved_factors] == [len(t) for t in self.factors]:
            for table, saved in zip(self.factors, saved_factors, strict=True):
                for cell, (mean, n) in zip(table, saved, strict=True):
                    cell.reset_to(mean, n)
        # else: a state from an older seasonal layout; the factors are learnt again
        self.month_start.reset_to(*state["month_start"])
        self.month_start_spread.reset_to(*state["month_start_spread"])
