"""Month-end forecast benchmark: CloudAudit's forecaster versus naive baselines.

On the labelled cost generators of `benchmarks/anomaly/data.py` (daily series with weekday
patterns, growth, month-start fees, support and tax, spikes, level shifts and leaks), a forecast
of the rest of the month is made on day 5, 10, 15 and 20 of every month after the warm-up, from
the days up to and including that day only. Scored per series and month:

- MAPE: mean of |forecast - actual| / actual of the rest-of-month total (months whose rest
  costs less than $1 are left out of the mean, they make any ratio explode);
- WAPE: sum |forecast - actual| / sum actual over all series-months (weighted APE, the figure
  that says how many dollars are off);
- cov80: share of the rest-of-month daily values inside the daily 80 % interval.

Baselines: run-rate (month-to-date / day x days left), the mean of the last 28 days, and the
daily mean of last month, each times the days left; statsmodels' ETS (additive trend, weekly
seasonality) when statsmodels is installed.

    .venv/bin/python benchmarks/forecast.py [--seed 7] [--accounts 12] [--days 540]
"""

from __future__ import annotations

import argparse
import calendar
import math
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo: `benchmarks.anomaly`

from cloudaudit.analytics.domain.forecast import Z_80, SeriesForecaster

from benchmarks.anomaly.data import WARM_UP_DAYS, generate

FORECAST_DAYS = (5, 10, 15, 20)
MIN_REST_FOR_MAPE_USD = 1.0
ETS_HISTORY_DAYS = 120


def _ets_rest(history: list[float], days_left: int) -> float | None:
    try:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing  # type: ignore[import-untyped]
    except ImportError:
        return None
    window = history[-ETS_HISTORY_DAYS:]
    if len(window) < 28 or max(window) <= 0:
        return sum(window[-28:]) / len(window[-28:]) * days_left
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(
            window, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7
        ).fit()
        return float(max(sum(fit.forecast(days_left)), 0.0))


def run(seed: int, accounts: int, days: int, with_ets: bool) -> dict[str, dict[int, list[float]]]:
    rows, _ = generate(seed=seed, accounts=accounts, days=days, steps_per_day=1)
    series: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for series_id, at, value, *_ in rows:
        series[series_id].append((at.date(), value))
    # method -> forecast day -> [abs error sum, actual sum, ape sum, ape count, covered, daily n]
    score: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0] * 6))
    for points in series.values():
        forecaster = SeriesForecaster(steps_per_day=1)
        values = [v for _, v in points]
        for i, (day, value) in enumerate(points):
            forecaster.learn(_midnight(day), value)
            if i < WARM_UP_DAYS or day.day not in FORECAST_DAYS:
                continue
            dim = calendar.monthrange(day.year, day.month)[1]
            left = dim - day.day
            if i + left >= len(points):
                break
            actual_days = values[i + 1 : i + 1 + left]
            actual = sum(actual_days)
            steps = forecaster.forecast(left)
            month_to_date = values[i - day.day + 1 : i + 1]
            prev_len = (day.replace(day=1) - timedelta(days=1)).day
            prev_month = values[i - day.day + 1 - prev_len : i - day.day + 1]
            guesses = {
                "cloudaudit": sum(s.forecast for s in steps),
                "run-rate": sum(month_to_date) / day.day * left,
                "mean-28d": sum(values[i - 27 : i + 1]) / 28 * left,
                "last-month": sum(prev_month) / len(prev_month) * left,
            }
            if with_ets:
                ets = _ets_rest(values[: i + 1], left)
                if ets is not None:
                    guesses["ets"] = ets
            for method, guess in guesses.items():
                cell = score[method][day.day]
                cell[0] += abs(guess - actual)
                cell[1] += actual
                if actual >= MIN_REST_FOR_MAPE_USD:
                    cell[2] += abs(guess - actual) / actual
                    cell[3] += 1
            cell = score["cloudaudit"][day.day]
            for s, value_ in zip(steps, actual_days, strict=True):
                low, high = s.bounds(Z_80)
                cell[4] += 1 if low <= value_ <= high else 0
                cell[5] += 1
    return score


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--no-ets", action="store_true", help="skip the statsmodels ETS baseline")
    args = parser.parse_args()
    started = time.perf_counter()
    score = run(args.seed, args.accounts, args.days, not args.no_ets)
    seconds = time.perf_counter() - started
    methods = list(score)
    print(
        f"month-end forecast, generated daily cost series (seed {args.seed}, "
        f"{args.accounts} accounts, {args.days} days), rest-of-month total"
    )
    print(
        f"| day | {' | '.join(f'{m} WAPE' for m in methods)} | cloudaudit MAPE | "
        f"best naive MAPE | cov80 | ratio to best naive WAPE |"
    )
    print("|" + "---|" * (len(methods) + 5))
    failures = []
    for day in FORECAST_DAYS:
        wape = {m: score[m][day][0] / score[m][day][1] for m in methods if score[m][day][1]}
        mape = {m: score[m][day][2] / score[m][day][3] for m in methods if score[m][day][3]}
        naive = [m for m in wape if m in ("run-rate", "mean-28d", "last-month")]
        best = min(naive, key=lambda m: wape[m])
        best_mape = min(mape[m] for m in naive)
        cell = score["cloudaudit"][day]
        coverage = cell[4] / cell[5] if cell[5] else math.nan
        ratio = wape["cloudaudit"] / wape[best]
        print(
            f"| {day} | {' | '.join(f'{wape[m]:.3f}' for m in methods)} | "
            f"{mape['cloudaudit']:.3f} | {best_mape:.3f} ({best}) | {coverage:.1%} | "
            f"{ratio:.2f} |"
        )
        if ratio > 0.95:
            failures.append(f"day {day}: WAPE {ratio:.2f} x the best naive ({best}), target 0.95")
        if not 0.70 <= coverage <= 0.90:
            failures.append(f"day {day}: 80 % interval covers {coverage:.1%}, target 70-90 %")
    if args.no_ets:
        print("(ETS skipped: --no-ets)")
    elif "ets" not in methods:
        print(
            "(statsmodels is not installed: no ETS column; `uv sync --all-packages --group bench`)"
        )
    print(f"{seconds:.1f} s")
    for failure in failures:
        print(f"MISSED: {failure}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
