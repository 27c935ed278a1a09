"""First day of spend, what the backtest flags (`alerts` / `steps`), and alert-level scoring."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from cloudaudit.analytics.adapters import backtest_csv
from cloudaudit.analytics.domain.alert_scoring import (
    MalformedLabels,
    ZoneRow,
    events_of,
    score_alerts,
)
from cloudaudit.analytics.domain.backtest import Backtest, MalformedBacktestRow
from cloudaudit.analytics.domain.detector import (
    CostAnomalyDetector,
    DetectorConfig,
    EpisodeKind,
    Thresholds,
)

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def day(i: int) -> datetime:
    return START + timedelta(days=i)


def test_a_new_service_is_alerted_on_its_first_day_of_spend():
    # 40 days at exactly $0, then a new EKS cluster at $150 a day: its own spread is 0, so
    # dollars decide on day one (and once only).
    detector = CostAnomalyDetector()
    verdicts = [detector.observe(day(i), 0.0 if i < 40 else 150.0, Thresholds()) for i in range(50)]
    alerted = [i for i, v in enumerate(verdicts) if v.alert]
    assert alerted == [40]
    first = verdicts[40]
    assert first.kind is EpisodeKind.LEVEL_SHIFT
    assert first.impact == pytest.approx(150.0)
    assert first.episode_started_at == day(40).isoformat()


def test_a_small_new_service_is_judged_on_its_first_week_projected_from_day_one():
    # $20 a day is $140 over its first week: at least $100, alerted on the first day.
    detector = CostAnomalyDetector()
    verdicts = [detector.observe(day(i), 0.0 if i < 30 else 20.0, Thresholds()) for i in range(45)]
    assert [i for i, v in enumerate(verdicts) if v.alert] == [30]


def test_a_few_cents_of_new_spend_is_not_an_alert():
    detector = CostAnomalyDetector()
    verdicts = [detector.observe(day(i), 0.0 if i < 30 else 0.4, Thresholds()) for i in range(60)]
    assert not any(v.alert for v in verdicts)


def test_new_spend_state_survives_a_restart():
    detector = CostAnomalyDetector()
    for i in range(31):
        detector.observe(day(i), 0.0 if i < 30 else 5.0, Thresholds())
    restored = CostAnomalyDetector.from_state(detector.to_state())
    # $5 then $30: $35 spent, projected over the week past $100 from the second day
    assert restored.observe(day(31), 30.0, Thresholds()).alert


def _rows() -> list[tuple[str, datetime, float]]:
    rng = random.Random(3)
    return [
        ("s", day(i), 300 * (1 + rng.gauss(0, 0.03)) + (900 if 50 <= i < 53 else 0))
        for i in range(80)
    ]


def test_backtest_alerts_mode_flags_only_the_step_an_alert_is_posted():
    alerts = [r.at for r in Backtest(flags="alerts").run(_rows()) if r.is_anomaly]
    steps = [r.at for r in Backtest(flags="steps").run(_rows()) if r.is_anomaly]
    assert alerts == [day(50)]
    assert steps == [day(50), day(51), day(52)]
    assert [r.at for r in Backtest().run(_rows()) if r.is_anomaly] == alerts  # the default


def test_backtest_refuses_an_unknown_flags_mode():
    with pytest.raises(MalformedBacktestRow, match="alerts, steps"):
        Backtest(flags="episodes")


def test_backtest_csv_is_deterministic_and_has_no_look_ahead():
    text = "series_id,timestamp,value\n" + "".join(
        f"{s},{at.date()},{v:.4f}\n" for s, at, v in _rows()
    )
    config, thresholds = backtest_csv.load_config(None, "usd")

    def run(source: str) -> list[str]:
        sink = io.StringIO()
        backtest_csv.run(io.StringIO(source), sink, config, thresholds, "alerts")
        return sink.getvalue().splitlines()

    whole = run(text)
    assert whole == run(text)
    prefix = text.splitlines()[:52]
    assert run("\n".join(prefix) + "\n") == whole[:52]


def zones(values: dict[int, str], n: int, step: timedelta = timedelta(days=1)) -> list[ZoneRow]:
    return [ZoneRow("s", START + step * i, values.get(i, "normal")) for i in range(n)]


def test_detection_windows_follow_the_judges_rules():
    rows = zones(
        {
            10: "spike",
            20: "shift",
            21: "shift",
            22: "shift",
            23: "shift",
            30: "leak",
            31: "leak",
            32: "leak",
        },
        60,
    )
    spike, shift, leak = events_of(rows, sub_daily=False)
    assert (spike.onset, spike.window_end) == (day(10), day(12))
    assert (shift.onset, shift.window_end) == (day(20), day(22))
    assert (leak.onset, leak.window_end) == (day(30), day(34))
    hourly = zones({5: "spike"}, 48, timedelta(hours=1))
    (event,) = events_of(hourly, sub_daily=True)
    assert event.window_end == START + timedelta(hours=11)


def test_false_flags_cost_one_alert_per_started_week_and_drops_are_ignored():
    rows = zones({10: "spike", **{i: "drop" for i in range(40, 45)}}, 61)
    flags = {
        "s": {day(11): True, day(13): True, **{day(i): True for i in range(20, 28)}, day(41): True}
    }
    result = score_alerts("t", rows, flags)
    assert (result.events, result.detected) == (1, 1)
    # day 13 is one false run (past the spike's window); days 20-27 are 8 steps: 2 alerts
    assert result.false_alerts == 3
    assert result.precision == pytest.approx(1 / 4)
    assert result.recall == 1.0
    assert result.alerts_per_series_month == pytest.approx(4 / (61 / 30.44))


def test_an_unknown_zone_names_the_row_and_the_known_zones():
    with pytest.raises(MalformedLabels, match="'peak' is not one of spike, shift, leak"):
        score_alerts("t", [ZoneRow("s", day(0), "peak")], {})


def test_daily_detector_config_is_what_the_backtest_uses_by_default():
    assert Backtest().config == DetectorConfig()
