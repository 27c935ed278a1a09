"""CSV in, CSV out for `cloudaudit forecast --input`: the steps after each series' last row."""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from cloudaudit.analytics.adapters.backtest_csv import read_rows
from cloudaudit.analytics.domain.backtest import MalformedBacktestRow, steps_per_day
from cloudaudit.analytics.domain.forecast import Z_80, Z_95, ForecastRefused, SeriesForecaster

OUTPUT_COLUMNS = (
    "series_id",
    "timestamp",
    "forecast",
    "lower_80",
    "upper_80",
    "lower_95",
    "upper_95",
)


@dataclass(frozen=True)
class ForecastRun:
    points: int
    series: int
    seconds: float


def _stamp(at: datetime, daily: bool) -> str:
    return at.strftime("%Y-%m-%d") if daily else at.strftime("%Y-%m-%d %H:%M:%S")


def run(source: TextIO, sink: TextIO, horizon: int) -> ForecastRun:
    """Learn every series of `source`, then write `horizon` steps after each one's last row
    (series in the order first seen). A series of one row is forecast as daily."""
    started = time.perf_counter()
    forecasters: dict[str, SeriesForecaster] = {}
    first: dict[str, tuple[datetime, float]] = {}
    daily_stamps: dict[str, bool] = {}
    points = 0
    for series_id, stamp, at, value in read_rows(source):
        points += 1
        forecaster = forecasters.get(series_id)
        try:
            if forecaster is None:
                if series_id not in first:
                    first[series_id] = (at, value)
                    daily_stamps[series_id] = len(stamp.strip()) <= 10
                    continue
                first_at, first_value = first.pop(series_id)
                forecaster = forecasters[series_id] = SeriesForecaster(
                    max(steps_per_day(first_at, at), 1)
                )
                forecaster.learn(first_at, first_value)
            forecaster.learn(at, value)
        except ForecastRefused as exc:
            raise MalformedBacktestRow(f"series {series_id}: {exc}") from None
    for series_id, (at, value) in first.items():  # one row only
        forecasters[series_id] = SeriesForecaster(1)
        forecasters[series_id].learn(at, value)
    if not forecasters:
        raise MalformedBacktestRow("the input has a header but no rows; nothing to forecast")
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for series_id in sorted(forecasters, key=list(daily_stamps).index):
        forecaster = forecasters[series_id]
        daily = daily_stamps[series_id] and forecaster.steps_per_day <= 1
        for step in forecaster.forecast(horizon):
            low80, high80 = step.bounds(Z_80)
            low95, high95 = step.bounds(Z_95)
            writer.writerow(
                (
                    series_id,
                    _stamp(step.at, daily),
                    *(f"{v:.4f}" for v in (step.forecast, low80, high80, low95, high95)),
                )
            )
    return ForecastRun(points, len(forecasters), time.perf_counter() - started)
