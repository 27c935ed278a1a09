"""Naive detectors the benchmark compares against, each one per series, as people set them up.

- static threshold: alert when a step costs 50 % more than the mean of its first 28 days;
- rolling z-score: z over the trailing 28 days >= 3 (river `utils.Rolling` mean and variance);
- plain z-score: river `anomaly.StandardAbsoluteDeviation` (all-history mean/std) >= 3;
- HalfSpaceTrees: river defaults (10 trees, height 8, window 250) on the min-max scaled cost,
  flagged above river's `QuantileFilter(q=0.98)`;
- forecaster residuals: river `anomaly.PredictiveAnomalyDetection` around a `HoltWinters`
  forecaster with the weekly season, flagged when its score reaches 1 (3 sigma).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from river import anomaly, preprocessing, stats, time_series, utils

Flagger = Callable[[datetime, float], bool]

MIN_STEPS = 14


def static_threshold(steps_per_day: int) -> Flagger:
    warm = 28 * steps_per_day
    mean = stats.Mean()

    def flag(at: datetime, value: float) -> bool:
        if mean.n < warm:
            mean.update(value)
            return False
        return value > 1.5 * mean.get()

    return flag


def rolling_zscore(steps_per_day: int) -> Flagger:
    window = 28 * steps_per_day
    mean = utils.Rolling(stats.Mean, window_size=window)
    var = utils.Rolling(stats.Var, window_size=window)

    def flag(at: datetime, value: float) -> bool:
        n = len(mean.window)
        sd = max(var.get(), 0.0) ** 0.5 if n > 1 else 0.0
        flagged = n >= MIN_STEPS and sd > 0 and (value - mean.get()) / sd >= 3.0
        mean.update(value)
        var.update(value)
        return flagged

    return flag


def plain_zscore(steps_per_day: int) -> Flagger:
    model = anomaly.StandardAbsoluteDeviation()
    seen = [0]

    def flag(at: datetime, value: float) -> bool:
        score = model.score_one(None, value)
        model.learn_one(None, value)
        seen[0] += 1
        return seen[0] > MIN_STEPS and score >= 3.0

    return flag


def half_space_trees(steps_per_day: int) -> Flagger:
    model = preprocessing.MinMaxScaler() | anomaly.QuantileFilter(
        anomaly.HalfSpaceTrees(seed=42), q=0.98
    )
    seen = [0]

    def flag(at: datetime, value: float) -> bool:
        x = {"cost": value}
        score = model.score_one(x)
        flagged = seen[0] > MIN_STEPS and model["QuantileFilter"].classify(score)
        model.learn_one(x)
        seen[0] += 1
        return bool(flagged)

    return flag


def forecaster_residuals(steps_per_day: int) -> Flagger:
    season = 7 if steps_per_day == 1 else 24
    model = anomaly.PredictiveAnomalyDetection(
        time_series.HoltWinters(alpha=0.3, beta=0.01, gamma=0.2, seasonality=season),
        horizon=1,
        n_std=3.0,
        warmup_period=2 * season + 1,
    )

    seen = [0]

    def flag(at: datetime, value: float) -> bool:
        value += 1.0  # HoltWinters divides by its first level: keep all-zero series finite
        seen[0] += 1
        if seen[0] <= season + 1:  # HoltWinters cannot forecast before one full season
            model.learn_one(None, value)
            return False
        score = model.score_one(None, value)
        model.learn_one(None, value)
        return score >= 1.0

    return flag


BASELINES: dict[str, Callable[[int], Flagger]] = {
    "static threshold (+50 % of first 28 d)": static_threshold,
    "rolling z-score (28 d, z>=3)": rolling_zscore,
    "river z-score (StandardAbsoluteDeviation)": plain_zscore,
    "river HalfSpaceTrees (defaults)": half_space_trees,
    "river HoltWinters residuals (PAD)": forecaster_residuals,
}
