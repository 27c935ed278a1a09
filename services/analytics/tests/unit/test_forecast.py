"""Forecasts of a series' spend: month end, intervals, month-start fees, anomalies, plans."""

from __future__ import annotations

import calendar
import io
import random
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cloudaudit.analytics.adapters import forecast_csv
from cloudaudit.analytics.domain.backtest import MalformedBacktestRow
from cloudaudit.analytics.domain.forecast import (
    ForecastRefused,
    Horizon,
    SeriesForecaster,
    forecast_period,
    period_bounds,
)

REPO = Path(__file__).resolve().parents[4]


def _days(start: date, values: list[float]) -> list[tuple[date, Decimal]]:
    return [(start + timedelta(days=i), Decimal(str(round(v, 2)))) for i, v in enumerate(values)]


def _weekly(rng: random.Random, days: int, level: float = 100.0) -> list[float]:
    start = date(2025, 1, 1)
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        weekend = 0.4 if day.weekday() >= 5 else 1.0
        out.append(level * weekend * (1 + rng.gauss(0, 0.05)))
    return out


def test_rest_of_month_error_is_below_the_run_rate_on_generated_cost_series() -> None:
    sys.path.insert(0, str(REPO))
    from benchmarks.anomaly.data import generate

    rows, _ = generate(seed=3, accounts=2, days=200, steps_per_day=1)
    series: dict[str, list[tuple[date, float]]] = {}
    for series_id, at, value, *_ in rows:
        series.setdefault(series_id, []).append((at.date(), value))
    ours = run_rate = actual_total = 0.0
    for points in series.values():
        forecaster = SeriesForecaster()
        for i, (day, value) in enumerate(points):
            forecaster.learn(datetime(day.year, day.month, day.day, tzinfo=UTC), value)
            if i < 60 or day.day != 10:
                continue
            left = calendar.monthrange(day.year, day.month)[1] - day.day
            if i + left >= len(points):
                break
            actual = sum(v for _, v in points[i + 1 : i + 1 + left])
            month_to_date = sum(v for _, v in points[i - 9 : i + 1])
            ours += abs(sum(s.forecast for s in forecaster.forecast(left)) - actual)
            run_rate += abs(month_to_date / 10 * left - actual)
            actual_total += actual
    assert actual_total > 0
    assert ours / actual_total < 0.7 * (run_rate / actual_total)


def test_a_month_start_fee_does_not_inflate_the_rest_of_the_month() -> None:
    values = []
    start = date(2025, 1, 1)
    for i in range(120):
        day = start + timedelta(days=i)
        values.append(50.0 + (1500.0 if day.day == 1 else 0.0))
    history = _days(start, values)[: 31 + 28 + 31 + 5]  # to 5 April
    result = forecast_period(history, Horizon.MONTH)
    assert result.start == date(2025, 4, 1) and result.end == date(2025, 4, 30)
    assert result.actual == Decimal("1750.00")
    assert abs(result.forecast_rest - Decimal(50 * 25)) < Decimal(25)
    # and next month's fee is expected on its 1st
    ninety = forecast_period(history, Horizon.NEXT_90)
    first_may = next(d for d in ninety.days if d[0] == date(2025, 5, 1))
    assert first_may[1] > Decimal(1000)


def test_an_open_spike_is_not_extrapolated_but_a_persisting_shift_is() -> None:
    rng = random.Random(5)
    start = date(2025, 1, 1)
    base = [100 * (1 + rng.gauss(0, 0.03)) for _ in range(60)]
    spiked = forecast_period(_days(start, [*base, 900.0]), Horizon.NEXT_30)
    flat = forecast_period(_days(start, base), Horizon.NEXT_30)
    assert abs(spiked.forecast_rest - flat.forecast_rest) < flat.forecast_rest * Decimal("0.03")
    shifted = forecast_period(_days(start, [*base, *[300.0] * 5]), Horizon.NEXT_30)
    assert shifted.forecast_rest > Decimal(300 * 30 * 0.9)


def test_planned_spend_moves_the_forecast_on_the_days_it_covers() -> None:
    history = _days(date(2025, 1, 1), _weekly(random.Random(1), 70))
    as_of = history[-1][0]
    plain = forecast_period(history, Horizon.NEXT_30)
    plan = {as_of + timedelta(days=d): Decimal("40") for d in range(1, 11)}
    planned = forecast_period(history, Horizon.NEXT_30, plan)
    assert planned.planned == Decimal("400")
    assert planned.forecast_rest - plain.forecast_rest == pytest.approx(Decimal(400), abs=1)
    assert planned.days[0][1] - plain.days[0][1] == pytest.approx(Decimal(40), abs=Decimal("0.02"))
    assert planned.days[20][1] == plain.days[20][1]


def test_weekday_pattern_and_intervals_are_ordered() -> None:
    history = _days(date(2025, 1, 1), _weekly(random.Random(2), 84))
    result = forecast_period(history, Horizon.NEXT_30)
    by_weekday = {d.weekday(): f for d, f, _, _ in result.days[:7]}
    assert by_weekday[5] < by_weekday[2] * Decimal("0.6")
    assert result.lower_95 <= result.lower_80 < result.total < result.upper_80 <= result.upper_95
    for _, forecast, low, high in result.days:
        assert low <= forecast <= high
    assert all(isinstance(v, Decimal) for v in (result.actual, result.forecast_rest))


def test_quarter_and_month_bounds() -> None:
    assert period_bounds(Horizon.QUARTER, date(2026, 5, 7)) == (date(2026, 4, 1), date(2026, 6, 30))
    assert period_bounds(Horizon.MONTH, date(2024, 2, 3)) == (date(2024, 2, 1), date(2024, 2, 29))
    with pytest.raises(ForecastRefused, match="month, quarter, 30d or 90d"):
        Horizon.parse("fortnight")
    with pytest.raises(ForecastRefused, match="no cost days"):
        forecast_period([], Horizon.MONTH)


def _csv(rows: list[tuple[str, str, float]]) -> str:
    return "series_id,timestamp,value\n" + "".join(f"{s},{t},{v}\n" for s, t, v in rows)


def test_csv_forecast_gives_horizon_steps_after_each_series_and_is_deterministic() -> None:
    rng = random.Random(9)
    rows = []
    for i in range(40):
        day = (date(2025, 3, 1) + timedelta(days=i)).isoformat()
        rows.append(("a/ec2", day, round(100 + rng.gauss(0, 5), 2)))
        if i >= 30:
            rows.append(("b/s3", day, 7.5))
    text = _csv(rows)
    outputs = []
    for _ in range(2):
        sink = io.StringIO()
        run = forecast_csv.run(io.StringIO(text), sink, 5)
        outputs.append(sink.getvalue())
    assert outputs[0] == outputs[1]
    assert run.series == 2 and run.points == 50
    lines = outputs[0].splitlines()
    assert lines[0] == "series_id,timestamp,forecast,lower_80,upper_80,lower_95,upper_95"
    assert [line.split(",")[:2] for line in lines[1:3]] == [
        ["a/ec2", "2025-04-10"],
        ["a/ec2", "2025-04-11"],
    ]
    assert len(lines) == 1 + 2 * 5
    last = lines[-1].split(",")
    assert last[:3] == ["b/s3", "2025-04-14", "7.5000"]
    assert float(last[5]) <= float(last[3]) <= float(last[2]) <= float(last[4]) <= float(last[6])


def test_csv_forecast_refuses_unsorted_rows_and_empty_input() -> None:
    text = _csv([("a", "2025-01-02", 1.0), ("a", "2025-01-03", 1.0), ("a", "2025-01-01", 1.0)])
    with pytest.raises(MalformedBacktestRow, match="series a: timestamps must increase"):
        forecast_csv.run(io.StringIO(text), io.StringIO(), 3)
    with pytest.raises(MalformedBacktestRow, match="no rows"):
        forecast_csv.run(io.StringIO("series_id,timestamp,value\n"), io.StringIO(), 3)


def test_the_forecast_command_writes_the_file_and_refuses_bad_input_in_one_line(
    tmp_path: Path,
) -> None:
    from cloudaudit.analytics.entrypoints.cli import register
    from typer import Typer
    from typer.testing import CliRunner

    app = Typer()
    register(app)

    source = tmp_path / "costs.csv"
    source.write_text(_csv([("a", f"2025-01-{d:02d}", 10.0 + d) for d in range(1, 15)]))
    target = tmp_path / "forecast.csv"
    done = CliRunner().invoke(
        app, ["forecast", "--input", str(source), "--output", str(target), "--horizon", "4"]
    )
    assert done.exit_code == 0, done.output
    assert target.read_text().splitlines()[4].startswith("a,2025-01-18,")
    missing = CliRunner().invoke(
        app, ["forecast", "--input", str(tmp_path / "none.csv"), "--output", "-"]
    )
    assert missing.exit_code == 1
    assert "cannot open" in missing.output and "Traceback" not in missing.output


def test_planned_spend_counts_for_its_service_and_for_the_total_only() -> None:
    from cloudaudit.analytics.domain.forecast import PlannedPeriod, planned_days

    plans = [
        PlannedPeriod(
            service="AmazonEC2",
            amount_per_day=Decimal("30"),
            start=date(2026, 4, 25),
            end=date(2026, 5, 10),
        ),
        PlannedPeriod(
            service=None, amount_per_day=Decimal("5"), start=date(2026, 4, 1), end=date(2026, 4, 28)
        ),
    ]
    ec2 = planned_days(plans, "amazonec2", date(2026, 4, 21), date(2026, 4, 30))
    assert sorted(ec2) == [date(2026, 4, d) for d in range(25, 31)]
    assert set(ec2.values()) == {Decimal("30")}
    assert planned_days(plans, "AmazonS3", date(2026, 4, 21), date(2026, 4, 30)) == {}
    total = planned_days(plans, None, date(2026, 4, 21), date(2026, 4, 30))
    assert total[date(2026, 4, 26)] == Decimal("35") and total[date(2026, 4, 30)] == Decimal("30")
