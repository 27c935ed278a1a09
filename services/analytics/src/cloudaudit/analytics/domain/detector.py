"""Streaming cost anomaly detector: one per cost series, episodes judged in dollars and percent.

`CostAnomalyDetector.observe(at, cost, thresholds)` is the whole decision for one step, used
unchanged by the live service and by `cloudaudit backtest`. It speaks river's protocol too
(`learn_one` / `score_one` with `x = {"at": datetime}`), so it can be evaluated like any river
anomaly detector.

How a step is judged (all in the series' own units; floats only in here):
1. The forecaster gives the expected cost and its noise; z = (cost - expected) / sigma.
2. Outside an episode, a step far above expectation (z >= z_open) opens a *spike/shift*
   episode; a slow creep is caught by a one-sided CUSUM on z and opens a *leak* episode.
   A step far below opens a *drop* episode (never an anomaly, but kept out of the model).
3. While an episode is open the model does not learn (the baseline stays frozen), and the
   excess over that baseline accumulates. The episode alerts once, when its excess reaches
   the team's impact threshold and its relative excess the percentage threshold (a new level
   is also judged on its first days' excess projected over 7 days).
4. An episode closes when the cost is back to normal (resolved), or is absorbed when the cost
   has held a new level for a week: the model continues from the new level, so a lasting
   change alerts once and then becomes normal.
5. Sub-daily series (hourly, 5-minute) keep the same rules with their memory in days: the level
   and noise fade per day rather than per step, the warm-up is the steps needed to see every
   seasonal slot a few times (a week of hours of weekdays and weekend days, 3 days of 5-minute slots), an
   episode closes after 6 quiet hours, and in raw units an episode needs a step 12 sigmas out.
   Daily series are untouched by any of this.
6. Month-start charges are learnt separately; the first month-start step a series shows is
   learnt, never alerted, because nothing yet says whether it recurs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from cloudaudit.analytics.domain.cost_model import (
    MAX_STEPS_PER_DAY_FOR_WEEKLY,
    CalendarStep,
    CostForecaster,
    season_sizes,
)
from river import base as river_base

STATE_FORMAT = 1
RECENT_STEPS = 8


class EpisodeKind(StrEnum):
    SPIKE = "spike"
    LEVEL_SHIFT = "level_shift"
    LEAK = "leak"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What makes an excess matter. `min_impact` None: raw units, percentage only."""

    min_impact: float | None = 100.0
    min_impact_pct: float = 20.0
    # Sub-daily (hourly) series: dollars of excess within the episode's first day.
    subdaily_min_impact: float = 10.0
    bar: float = 1.0  # per-series multiplier raised by repeated "not useful" feedback

    def scaled(self, bar: float) -> Thresholds:
        return replace(self, bar=bar)


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    steps_per_day: int = 1
    z_open: float = 3.0
    z_quiet: float = 1.0
    z_alert: float = 4.0
    rel_open: float = 0.10
    continue_fraction: float = 0.3
    cusum_k: float = 0.5
    cusum_h: float = 6.0
    cusum_z_cap: float = 2.5
    min_history_days: float = 21.0
    close_after_days: float = 2.0
    absorb_after_days: float = 7.0
    # A rise soon after an alerted change was absorbed is that change still unfolding (a leak
    # ramping on): it is tracked, not alerted again.
    continuation_days: float = 14.0
    max_episode_days: float = 60.0
    shift_horizon_days: float = 7.0
    projection_after_days: float = 3.0
    # Changes whose total excess stays under this never alert, whatever the team's threshold.
    noise_floor: float = 15.0
    # Heavy tails: how often a series' normal steps stand 3 sigmas out (a Gaussian series:
    # 0.13 %, a bill with Student-t days: a few %) raises the z a single step needs to alert,
    # as if its tail fell like a power law of this index (see `CostAnomalyDetector.z_needed`).
    tail_prior_rate: float = 0.002
    tail_prior_steps: float = 60.0
    tail_fading: float = 0.01
    tail_index: float = 3.0
    tail_target_rate: float = 0.002
    # Two steps alert together only when their z-scores add up to this over the single-step z.
    pair_z_margin: float = 1.5
    # The largest z a normal step has shown (fading by this share a day) is the bar a
    # single step must clear, times `record_margin`.
    record_fading: float = 0.01
    record_margin: float = 0.9
    level_fading: float = 0.12
    season_fading: float = 0.05
    noise_fading: float = 0.05
    # Sub-daily series only (steps_per_day > 1); daily series never read these.
    # Warm-up: enough steps to see every seasonal slot this many times (at most
    # min_history_days): hourly 48 weekday/weekend hour slots and at least a week, 3 days of
    # 5-minute time-of-day slots.
    subdaily_slot_visits: int = 3
    # An episode of a sub-daily series closes after this many hours back to normal.
    subdaily_close_after_hours: float = 6.0
    # Dollars: the spread a series is given when its own says nothing (a series that has been
    # exactly $0, or a flat one): per day, spread over a day's steps as sqrt(steps).
    prior_spread_usd: float = 5.0
    # A series spending for the first time is judged on its first days' dollars, projected
    # over this horizon (the first week; the first day on sub-daily series).
    new_spend_days: float = 7.0
    subdaily_new_spend_days: float = 1.0
    # The noise floor of sub-daily series (an hourly change of $2 in total never alerts).
    subdaily_noise_floor: float = 2.0
    # Raw units (no dollars), sub-daily: one step's noise is not Gaussian (5-minute metrics have
    # heavy tails), so an episode alerts only once some step stood this many sigmas out.
    subdaily_raw_min_z: float = 12.0

    @property
    def subdaily(self) -> bool:
        return self.steps_per_day > 1

    def warmup_steps(self) -> int:
        days = self.steps(self.min_history_days)
        if not self.subdaily:
            return days
        slots = max((sum(season_sizes(self.steps_per_day)), 1))
        visits = self.subdaily_slot_visits * slots
        if self.steps_per_day <= MAX_STEPS_PER_DAY_FOR_WEEKLY:
            # a week, so weekend slots have been seen whatever day the series starts
            visits = max(visits, self.steps(7.0))
        return min(days, visits)

    def close_steps(self) -> int:
        if not self.subdaily:
            return self.steps(self.close_after_days)
        return min(
            self.steps(self.close_after_days), self.steps(self.subdaily_close_after_hours / 24)
        )

    def per_step_fading(self, fading_per_day: float) -> float:
        """Daily: the fading as given. Sub-daily: the same memory in days, spread over the
        day's steps (a level fading 12 % a day, not 12 % an hour)."""
        if not self.subdaily:
            return fading_per_day
        return 1.0 - (1.0 - fading_per_day) ** (1.0 / self.steps_per_day)

    def steps(self, days: float) -> int:
        per_day = self.steps_per_day if self.steps_per_day > 0 else 1
        return max(1, round(days * per_day))


@dataclass(slots=True)
class Episode:
    """A run of steps away from the frozen baseline."""

    kind: EpisodeKind
    started_at: str
    direction: int = 1
    steps: int = 0
    quiet: int = 0
    impact: float = 0.0
    expected: float = 0.0
    max_z: float = 0.0
    z_sum: float = 0.0
    alerted: bool = False
    opened_by_cusum: bool = False
    continues: str | None = None  # start of the alerted change this one carries on
    recent_excess: list[float] = field(default_factory=list)
    recent_expected: list[float] = field(default_factory=list)
    last_at: str | None = None

    @property
    def impact_pct(self) -> float:
        return 100.0 * self.impact / self.expected if self.expected > 0 else float("inf")

    def recent_pct(self, expected_now: float) -> float:
        if not self.recent_excess or expected_now <= 0:
            return 0.0
        tail = self.recent_excess[-3:]
        return 100.0 * (sum(tail) / len(tail)) / expected_now


@dataclass(slots=True)
class NewSpend:
    """The first days of a series that had been exactly $0: judged by dollars alone."""

    started_at: str
    steps: int = 0
    impact: float = 0.0
    alerted: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one step."""

    score: float
    expected: float
    sigma: float
    flagged: bool = False  # part of an alerted episode (what the backtest prints)
    alert: bool = False  # the episode alerts now (publish once)
    resolved: bool = False  # an alerted episode ended with the cost back to normal
    absorbed: bool = False  # an episode's level became the new normal
    kind: EpisodeKind | None = None
    impact: float = 0.0
    impact_pct: float = 0.0
    episode_started_at: str | None = None
    continues: str | None = None  # the alerted episode this step's episode carries on
    learned: bool = True


class CostAnomalyDetector(river_base.SupervisedAnomalyDetector):
    """Per-series detector: a `CostForecaster` plus episodes, CUSUM and the series' history."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        c = self.config
        self.model = self._new_model()
        self._warmup_steps = c.warmup_steps()
        self._close_steps = c.close_steps()
        self._tail_after = max(2, self._warmup_steps // 2)
        self._record_keep = 1.0 - c.per_step_fading(c.record_fading)
        self.episode: Episode | None = None
        self.cusum = 0.0
        self.cusum_started_at: str | None = None
        self.cusum_impact = 0.0
        self.cusum_expected = 0.0
        self.bar = 1.0
        self.steps_seen = 0
        self.last_at: str | None = None
        self.changes: list[dict[str, Any]] = []  # the series' own history of changes (last few)
        self.last_alerted_change: str | None = None
        self.steps_since_change = 0
        # Share of steps 3 sigmas out, starting from a prior worth `tail_prior_steps` steps.
        self.tail_rate = c.tail_prior_rate
        self.tail_steps = 0.0
        self.record_z = 0.0
        self.spend_seen = False
        self.new_spend: NewSpend | None = None

    def _new_model(self) -> CostForecaster:
        c = self.config
        return CostForecaster(
            steps_per_day=c.steps_per_day,
            level_fading=c.per_step_fading(c.level_fading),
            season_fading=c.season_fading,
            noise_fading=c.per_step_fading(c.noise_fading),
        )

    # -- river protocol -----------------------------------------------------------------------
    def learn_one(self, x: dict[str, Any], y: float) -> None:
        self.observe(x["at"], float(y), Thresholds())

    def score_one(self, x: dict[str, Any], y: float) -> float:
        step = CalendarStep.at(x["at"], self.config.steps_per_day)
        expected, sigma = self._expectation(step)
        return max(0.0, (float(y) - expected) / sigma) if sigma > 0 else 0.0

    # -- the decision -------------------------------------------------------------------------
    def _expectation(self, step: CalendarStep) -> tuple[float, float]:
        model = self.model
        season = model.season(step)
        expected = model.level.mean * season
        if step.month_start and model.month_start_known():
            return expected + model.month_start.mean, model.month_start_sigma(step)
        return expected, model.sigma(step, season)

    def observe(
        self, at: datetime, cost: float, thresholds: Thresholds, planned: float = 0.0
    ) -> Verdict:
        """Judge one step (then learn from it unless it is part of an episode)."""
        c = self.config
        step = CalendarStep.at(at, c.steps_per_day)
        stamp = at.isoformat()
        self.steps_seen += 1
        self.last_at = stamp
        self.steps_since_change += 1
        dollars = thresholds.min_impact is not None
        if not self.spend_seen:
            if cost == 0.0:  # nothing spent yet: nothing to learn
                return Verdict(score=0.0, expected=0.0, sigma=0.0)
            self.spend_seen = True
            if self.steps_seen > 1 and dollars and cost > 0 and not step.month_start:
                self.model = self._new_model()  # its zeros say nothing about the new service
                self.new_spend = NewSpend(started_at=stamp)
        if self.new_spend is not None:
            return self._judge_new_spend(self.new_spend, step, stamp, cost, thresholds)
        model = self.model
        if model.n == 0:
            model.learn_step(cost, step)
            return Verdict(score=0.0, expected=cost, sigma=0.0)
        expected, sigma = self._expectation(step)
        expected += planned
        if dollars:
            sigma = max(sigma, self._prior_spread())
        excess = cost - expected
        z = excess / sigma if sigma > 0 else 0.0
        score = z if z > 0 else 0.0
        warm = model.n >= self._warmup_steps
        if model.n >= self._tail_after and not step.month_start:
            self._learn_tail(z)
            if not warm and z > self.record_z:
                self.record_z = z
        if step.month_start and self.episode is None and self._new_month_start_charge(cost, step):
            model.learn_step(cost, step)  # nothing says yet whether it recurs
            return Verdict(score=0.0, expected=expected, sigma=sigma)
        if not warm:
            model.learn_step(cost, step)
            return Verdict(score=score, expected=expected, sigma=sigma)
        if self.episode is not None:
            return self._continue_episode(
                self.episode, step, stamp, cost, expected, sigma, z, thresholds
            )
        return self._outside_episode(step, stamp, cost, expected, sigma, z, thresholds)

    def _prior_spread(self) -> float:
        c = self.config
        return c.prior_spread_usd / max(1, c.steps_per_day) ** 0.5

    def _floor(self, thresholds: Thresholds) -> float:
        c = self.config
        if c.subdaily:
            return max(thresholds.subdaily_min_impact * self.bar, c.subdaily_noise_floor)
        return max((thresholds.min_impact or 0.0) * self.bar, c.noise_floor)

    def _judge_new_spend(
        self, spend: NewSpend, step: CalendarStep, stamp: str, cost: float, thresholds: Thresholds
    ) -> Verdict:
        """A series spending for the first time: there is no spread of its own to judge by,
        so its first days' dollars decide (the day's cost against a prior spread, projected
        over the first week, or the first day on sub-daily series), from its first step."""
        c = self.config
        self.model.learn_step(cost, step)
        spend.steps += 1
        spend.impact += cost
        prior = self._prior_spread()
        horizon = c.steps(c.subdaily_new_spend_days if c.subdaily else c.new_spend_days)
        mean = spend.impact / spend.steps
        projected = spend.impact + mean * max(0, horizon - spend.steps)
        floor = self._floor(thresholds)
        alert = not spend.alerted and (
            spend.impact >= floor or (mean >= c.z_open * prior and projected >= floor)
        )
        spend.alerted = spend.alerted or alert
        verdict = Verdict(
            score=max(0.0, cost / prior),
            expected=0.0,
            sigma=prior,
            flagged=spend.alerted and cost > 0,
            alert=alert,
            kind=EpisodeKind.LEVEL_SHIFT,
            impact=spend.impact,
            impact_pct=float("inf"),
            episode_started_at=spend.started_at,
            learned=True,
        )
        if spend.steps >= horizon:
            if spend.alerted:
                self.last_alerted_change = spend.started_at
                self.steps_since_change = 0
                self.changes = [
                    *self.changes,
                    {
                        "kind": EpisodeKind.LEVEL_SHIFT.value,
                        "started_at": spend.started_at,
                        "ended_at": stamp,
                        "impact": round(spend.impact, 6),
                        "alerted": True,
                        "absorbed": True,
                    },
                ][-10:]
            self.new_spend = None
        return verdict

    def _learn_tail(self, z: float) -> None:
        c = self.config
        self.tail_steps += 1.0
        weight = max(1.0 / (self.tail_steps + c.tail_prior_steps), c.tail_fading)
        self.tail_rate += weight * ((1.0 if abs(z) >= 3.0 else 0.0) - self.tail_rate)
        self.record_z *= self._record_keep

    def _learn_record(self, episode: Episode) -> None:
        """A rise that closed without alerting was normal for this series: remember its size."""
        if episode.direction > 0 and not episode.alerted:
            self.record_z = max(self.record_z, episode.max_z)

    def z_needed(self) -> float:
        """The z one step needs to alert on its own: `z_alert` for a Gaussian-tailed series,
        more where 3-sigma steps are common (a power-law tail through the observed rate)."""
        c = self.config
        ratio = self.tail_rate / c.tail_target_rate
        record = c.record_margin * self.record_z
        if ratio <= 1.0:
            return max(c.z_alert, record)
        return max(c.z_alert, 3.0 * ratio ** (1.0 / c.tail_index), record)

    def _new_month_start_charge(self, cost: float, step: CalendarStep) -> bool:
        """A month-start charge no earlier month start has shown (at least half its size)."""
        model = self.model
        charge = cost - model.expected_base(step)
        if not model.month_start_known():
            return True
        return charge > 0 and model.month_start.mean < 0.5 * charge

    def _outside_episode(
        self,
        step: CalendarStep,
        stamp: str,
        cost: float,
        expected: float,
        sigma: float,
        z: float,
        thresholds: Thresholds,
    ) -> Verdict:
        c = self.config
        excess = cost - expected
        score = z if z > 0 else 0.0
        relative_ok = excess >= c.rel_open * abs(expected)
        if z >= c.z_open and relative_ok:
            self._reset_cusum()
            episode = self._open_rise(Episode(kind=EpisodeKind.SPIKE, started_at=stamp))
            return self._continue_episode(
                episode, step, stamp, cost, expected, sigma, z, thresholds
            )
        if z <= -c.z_open and -excess >= c.rel_open * abs(expected):
            self._reset_cusum()
            self.episode = Episode(kind=EpisodeKind.DROP, started_at=stamp, direction=-1)
            return self._continue_episode(
                self.episode, step, stamp, cost, expected, sigma, z, thresholds
            )
        # Slow creep: one-sided CUSUM on the standardised excess.
        # On a heavy-tailed series the same z is weaker evidence: scaled as the single-step bar.
        increment = min(z * c.z_alert / self.z_needed(), c.cusum_z_cap) - c.cusum_k
        if self.cusum + increment > 0:
            if self.cusum == 0:
                self.cusum_started_at = stamp
                self.cusum_impact = 0.0
                self.cusum_expected = 0.0
            self.cusum += increment
            self.cusum_impact += excess
            self.cusum_expected += expected
        else:
            self._reset_cusum()
        if self.cusum >= c.cusum_h:
            episode = Episode(
                kind=EpisodeKind.LEAK,
                started_at=self.cusum_started_at or stamp,
                opened_by_cusum=True,
                impact=self.cusum_impact - excess,
                expected=self.cusum_expected - expected,
            )
            self._reset_cusum()
            self._open_rise(episode)
            return self._continue_episode(
                episode, step, stamp, cost, expected, sigma, z, thresholds
            )
        if self.cusum < c.cusum_h / 2:  # under suspicion the baseline stays where it was
            self.model.learn_step(cost, step)
            return Verdict(score=score, expected=expected, sigma=sigma)
        return Verdict(score=score, expected=expected, sigma=sigma, learned=False)

    def _open_rise(self, episode: Episode) -> Episode:
        c = self.config
        if self.last_alerted_change is not None and self.steps_since_change <= c.steps(
            c.continuation_days
        ):
            episode.alerted = True
            episode.continues = self.last_alerted_change
        self.episode = episode
        return episode

    def _reset_cusum(self) -> None:
        self.cusum = 0.0
        self.cusum_started_at = None
        self.cusum_impact = 0.0
        self.cusum_expected = 0.0

    def _continue_episode(
        self,
        episode: Episode,
        step: CalendarStep,
        stamp: str,
        cost: float,
        expected: float,
        sigma: float,
        z: float,
        thresholds: Thresholds,
    ) -> Verdict:
        c = self.config
        excess = cost - expected
        score = z if z > 0 else 0.0
        active = z * episode.direction >= c.z_quiet
        if active and episode.recent_excess:
            # Part of the same episode only while near its size: a day just above noise after
            # a $500 spike is the series back to normal, not the spike going on.
            tail = episode.recent_excess[-3:]
            active = excess * episode.direction >= c.continue_fraction * abs(sum(tail) / len(tail))
        episode.last_at = stamp
        if active:
            episode.steps += 1
            episode.quiet = 0
            episode.impact += excess
            episode.expected += expected
            episode.max_z = max(episode.max_z, z * episode.direction)
            episode.z_sum += z * episode.direction
            episode.recent_excess = ([*episode.recent_excess, excess])[-RECENT_STEPS:]
            episode.recent_expected = ([*episode.recent_expected, expected])[-RECENT_STEPS:]
        else:
            episode.quiet += 1
        alert = False
        if episode.direction > 0 and active and not episode.alerted:
            kind = self._material(episode, expected, thresholds)
            if kind is not None:
                episode.alerted = alert = True
                episode.kind = kind
        base = dict(
            score=score,
            expected=expected,
            sigma=sigma,
            kind=episode.kind,
            episode_started_at=episode.started_at,
            continues=episode.continues,
            learned=False,
        )
        if alert:
            return Verdict(
                flagged=True,
                alert=True,
                impact=episode.impact,
                impact_pct=self._pct(episode, expected),
                **base,
            )  # type: ignore[arg-type]
        if episode.quiet >= self._close_steps:
            self._close(episode, absorbed=False)
            return Verdict(
                resolved=episode.alerted and episode.direction > 0,
                impact=episode.impact,
                impact_pct=self._pct(episode, expected),
                **base,
            )  # type: ignore[arg-type]
        if active and self._settled(episode):
            self._absorb(episode)
            return Verdict(
                flagged=self._flags(episode),
                absorbed=True,
                impact=episode.impact,
                impact_pct=self._pct(episode, expected),
                **base,
            )  # type: ignore[arg-type]
        return Verdict(
            flagged=active and self._flags(episode),
            impact=episode.impact,
            impact_pct=self._pct(episode, expected),
            **base,
        )  # type: ignore[arg-type]

    @staticmethod
    def _flags(episode: Episode) -> bool:
        """Steps of an alerted rise are anomalous; a continuation is tracked silently."""
        return episode.alerted and episode.direction > 0 and episode.continues is None

    def _pct(self, episode: Episode, expected: float) -> float:
        return max(
            episode.impact_pct if episode.expected > 0 else 0.0, episode.recent_pct(expected)
        )

    def _material(
        self, episode: Episode, expected: float, thresholds: Thresholds
    ) -> EpisodeKind | None:
        """The episode's kind if its excess now matters to the team, else None."""
        c = self.config
        bar = self.bar
        pct = self._pct(episode, expected)
        if pct < thresholds.min_impact_pct * bar:
            return None
        needed = self.z_needed()
        significant = (
            episode.max_z >= needed
            or (
                episode.steps >= 2
                and episode.z_sum >= (needed / c.z_alert) * (c.z_alert + c.pair_z_margin)
            )
            or episode.opened_by_cusum
        )
        if not significant:
            return None
        kind = self._kind(episode)
        if thresholds.min_impact is None and c.subdaily and episode.max_z < c.subdaily_raw_min_z:
            return None
        if thresholds.min_impact is None:  # raw units: relative and statistical only
            return kind if episode.steps >= 2 or episode.max_z >= c.z_alert + 1 else None
        floor = self._floor(thresholds)
        if episode.impact >= floor:
            return kind
        if episode.steps >= c.steps(c.projection_after_days) and kind is not EpisodeKind.SPIKE:
            tail = episode.recent_excess[-3:]
            projected = episode.impact + (sum(tail) / len(tail)) * max(
                0, c.steps(c.shift_horizon_days) - episode.steps
            )
            if projected >= floor:
                return kind
        return None

    def _kind(self, episode: Episode) -> EpisodeKind:
        if episode.opened_by_cusum:
            return EpisodeKind.LEAK
        recent = episode.recent_excess
        if len(recent) >= 4:
            first, last = recent[: len(recent) // 2], recent[len(recent) // 2 :]
            if sum(last) / len(last) > 1.5 * max(sum(first) / len(first), 1e-9):
                return EpisodeKind.LEAK
        if episode.steps >= self.config.steps(2.0):
            return EpisodeKind.LEVEL_SHIFT
        return EpisodeKind.SPIKE

    def _settled(self, episode: Episode) -> bool:
        """Held a new level long enough (a lasting change), or lasted too long to judge."""
        c = self.config
        if episode.steps >= c.steps(c.max_episode_days):
            return True
        if episode.steps < c.steps(c.absorb_after_days) or len(episode.recent_excess) < 6:
            return False
        values = _change_shape(episode)[2]
        half = len(values) // 2
        before, after = sum(values[:half]) / half, sum(values[half:]) / (len(values) - half)
        return abs(after - before) <= 0.25 * max(abs(before), 1e-9)

    def _absorb(self, episode: Episode) -> None:
        if episode.recent_excess:
            multiplicative, amount, _ = _change_shape(episode)
            if multiplicative:
                self.model.absorb_ratio(amount)
            else:
                self.model.absorb_change(amount)
        self._close(episode, absorbed=True)

    def _close(self, episode: Episode, absorbed: bool) -> None:
        if absorbed and episode.alerted and episode.direction > 0:
            self.last_alerted_change = episode.continues or episode.started_at
            self.steps_since_change = 0
        if episode.alerted or absorbed:
            self.changes = [
                *self.changes,
                {
                    "kind": episode.kind.value,
                    "started_at": episode.started_at,
                    "ended_at": episode.last_at,
                    "impact": round(episode.impact, 6),
                    "alerted": episode.alerted,
                    "absorbed": absorbed,
                },
            ][-10:]
        if not absorbed:
            self._learn_record(episode)
        self.episode = None
        self._reset_cusum()

    # -- feedback -----------------------------------------------------------------------------
    def accept_current_level(self) -> None:
        """'Expected': whatever the series does now is normal from now on."""
        episode = self.episode
        if episode is not None:
            if episode.recent_excess:
                self._absorb(episode)
            else:
                self._close(episode, absorbed=True)

    def raise_bar(self, factor: float = 1.5, cap: float = 5.0) -> None:
        """'Not useful': this series needs a bigger change before it alerts again."""
        self.bar = min(cap, self.bar * factor)
        self.accept_current_level()

    def lower_bar(self, factor: float = 1.5) -> None:
        """'Useful': undo one step of a raised bar."""
        self.bar = max(1.0, self.bar / factor)

    # -- persistence --------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "steps_per_day": self.config.steps_per_day,
            "model": self.model.to_state(),
            "episode": None
            if self.episode is None
            else {**asdict(self.episode), "kind": self.episode.kind.value},
            "cusum": [self.cusum, self.cusum_started_at, self.cusum_impact, self.cusum_expected],
            "bar": self.bar,
            "steps_seen": self.steps_seen,
            "last_at": self.last_at,
            "changes": self.changes,
            "last_alerted_change": [self.last_alerted_change, self.steps_since_change],
            "tail": [self.tail_rate, self.tail_steps, self.record_z],
            "spend": [
                self.spend_seen,
                None if self.new_spend is None else asdict(self.new_spend),
            ],
        }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], config: DetectorConfig | None = None
    ) -> CostAnomalyDetector:
        base = config or DetectorConfig()
        if base.steps_per_day != state["steps_per_day"]:
            base = replace(base, steps_per_day=state["steps_per_day"])
        detector = cls(base)
        detector.model.load_state(state["model"])
        saved = state["episode"]
        detector.episode = (
            None if saved is None else Episode(**{**saved, "kind": EpisodeKind(saved["kind"])})
        )
        (
            detector.cusum,
            detector.cusum_started_at,
            detector.cusum_impact,
            detector.cusum_expected,
        ) = state["cusum"]
        detector.bar = state["bar"]
        detector.steps_seen = state["steps_seen"]
        detector.last_at = state["last_at"]
        detector.changes = list(state["changes"])
        detector.last_alerted_change, detector.steps_since_change = state["last_alerted_change"]
        if "tail" in state:  # states saved before tails were learnt start from the prior
            detector.tail_rate, detector.tail_steps, detector.record_z = state["tail"]
        # States saved before first spend was tracked: any learnt level means spend was seen.
        spend_seen, new_spend = state.get("spend", [detector.model.n > 0, None])
        detector.spend_seen = spend_seen
        detector.new_spend = None if new_spend is None else NewSpend(**new_spend)
        return detector


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _change_shape(episode: Episode) -> tuple[bool, float, list[float]]:
    """Is the change a fixed amount per step (additive) or a share of the usual cost
    (multiplicative)? Whichever varies less across the episode's recent steps, with the typical
    amount (dollars per step, or a ratio) and the per-step values behind it."""
    excess = episode.recent_excess
    ratios = [
        e / x if x > 0 else 0.0 for e, x in zip(excess, episode.recent_expected, strict=False)
    ]
    additive, multiplicative = _median(excess), _median(ratios) if ratios else 0.0

    def spread(values: list[float], centre: float) -> float:
        return _median([abs(v - centre) for v in values]) / max(abs(centre), 1e-9)

    if (
        ratios
        and len(ratios) == len(excess)
        and spread(ratios, multiplicative) < spread(excess, additive)
    ):
        return True, multiplicative, ratios
    return False, additive, excess
