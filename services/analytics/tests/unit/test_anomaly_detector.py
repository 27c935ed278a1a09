"""The detector on constructed series: each rule of what is (and is not) a cost anomaly."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from cloudaudit.analytics.domain.backtest import Backtest
from cloudaudit.analytics.domain.detector import (
    CostAnomalyDetector,
    DetectorConfig,
    EpisodeKind,
    Thresholds,
    Verdict,
)

START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
WARM_DAYS = 60


def day(i: int) -> datetime:
    return START + timedelta(days=i)


def series(
    n: int,
    level: float,
    noise: float = 0.03,
    weekend: float = 1.0,
    seed: int = 1,
    growth_per_month: float = 0.0,
) -> list[float]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        cost = level * (1 + growth_per_month) ** (i / 30.44)
        if day(i).weekday() >= 5:
            cost *= weekend
        out.append(max(0.0, cost * (1 + rng.gauss(0, noise))))
    return out


def run(
    values: list[float],
    thresholds: Thresholds | None = None,
    detector: CostAnomalyDetector | None = None,
    start: int = 0,
) -> list[Verdict]:
    detector = detector or CostAnomalyDetector()
    return [
        detector.observe(day(start + i), v, thresholds or Thresholds())
        for i, v in enumerate(values)
    ]


def alerts(verdicts: list[Verdict]) -> list[int]:
    return [i for i, v in enumerate(verdicts) if v.alert]


def test_quiet_series_never_alerts():
    assert alerts(run(series(400, 300, noise=0.08))) == []


def test_weekday_weekend_pattern_is_not_an_anomaly():
    dev = series(400, 500, weekend=0.25, seed=3)  # dev account switched off at weekends
    assert alerts(run(dev)) == []


def test_steady_organic_growth_is_not_an_anomaly():
    assert alerts(run(series(500, 400, growth_per_month=0.06, seed=4))) == []


@pytest.mark.parametrize("multiple", [5, 12, 20])
def test_recurring_month_start_fee_is_not_an_anomaly(multiple):
    values = series(400, 40, seed=5)
    for i in range(len(values)):
        if day(i).day == 1:
            values[i] += 40 * multiple  # Savings Plans / support fee on the 1st
    verdicts = run(values)
    assert alerts(verdicts) == []
    assert not any(v.flagged for v in verdicts)


def test_first_month_start_fee_seen_is_learnt_not_alerted():
    values = series(120, 100, seed=6)
    first_of_month = [i for i in range(120) if day(i).day == 1 and i > 30]
    for i in first_of_month:
        values[i] += 1500
    assert alerts(run(values)) == []


def test_an_8_dollar_change_is_not_an_anomaly():
    values = series(200, 20, noise=0.02, seed=7)
    values[WARM_DAYS] += 8  # +40 % for a day, but $8
    for i in range(WARM_DAYS + 30, 200):
        values[i] += 1.1  # a new $1.10/day: $8 in a week
    assert alerts(run(values)) == []


def test_one_dollar_service_running_at_sixty_dollars_is_an_anomaly():
    values = series(120, 1.0, noise=0.05, seed=8)
    for i in range(WARM_DAYS, 120):
        values[i] = 60 * (1 + random.Random(i).gauss(0, 0.03))
    verdicts = run(values)
    assert alerts(verdicts) == [WARM_DAYS + 1]  # $118 of excess after two days
    assert verdicts[WARM_DAYS + 1].kind is EpisodeKind.LEVEL_SHIFT


def test_spike_is_flagged_the_day_it_lands():
    values = series(120, 300, seed=9)
    values[WARM_DAYS] += 450
    verdicts = run(values)
    assert alerts(verdicts) == [WARM_DAYS]
    assert verdicts[WARM_DAYS].kind is EpisodeKind.SPIKE
    assert 400 < verdicts[WARM_DAYS].impact < 500 and verdicts[WARM_DAYS].impact_pct > 100


def test_two_day_spike_counts_its_days_together():
    values = series(120, 300, noise=0.02, seed=10)
    values[WARM_DAYS] += 70
    values[WARM_DAYS + 1] += 70  # $70 a day: $140 over the spike
    assert alerts(run(values)) == [WARM_DAYS + 1]


def test_lasting_shift_alerts_once_then_becomes_normal():
    values = series(300, 500, seed=11)
    for i in range(WARM_DAYS, 300):
        values[i] += 250
    verdicts = run(values)
    assert alerts(verdicts) == [WARM_DAYS]
    assert not any(v.flagged for v in verdicts[WARM_DAYS + 14 :])
    assert any(v.absorbed for v in verdicts[WARM_DAYS : WARM_DAYS + 14])


def test_shift_that_gets_fixed_alerts_once_and_resolves():
    values = series(200, 500, seed=12)
    for i in range(WARM_DAYS, WARM_DAYS + 5):
        values[i] += 300
    verdicts = run(values)
    assert alerts(verdicts) == [WARM_DAYS]
    resolved = [i for i, v in enumerate(verdicts) if v.resolved]
    assert resolved and WARM_DAYS + 5 <= resolved[0] <= WARM_DAYS + 7


def test_slow_leak_alerts_soon_after_it_matters_and_only_once():
    values = series(200, 300, noise=0.04, seed=13)
    for i in range(WARM_DAYS, 200):
        values[i] += 4.0 * (i - WARM_DAYS + 1)  # +$4/day more every day
    verdicts = run(values)
    # the ramp's excess reaches 20 % of the usual $300 on its 15th day
    material = WARM_DAYS + 14
    assert [i for i in alerts(verdicts)] == alerts(verdicts)[:1]
    assert material <= alerts(verdicts)[0] <= material + 4


def test_drops_are_never_anomalies_and_recovery_is_not_either():
    values = series(200, 400, seed=14)
    for i in range(WARM_DAYS, WARM_DAYS + 4):
        values[i] = 0.0  # outage
    for i in range(WARM_DAYS + 60, 200):
        values[i] *= 0.5  # clean-up
    assert alerts(run(values)) == []


def test_team_thresholds_apply():
    values = series(120, 300, noise=0.02, seed=15)
    values[WARM_DAYS] += 150
    assert alerts(run(values, Thresholds(min_impact=200))) == []
    assert alerts(run(values, Thresholds(min_impact=100))) == [WARM_DAYS]
    assert alerts(run(values, Thresholds(min_impact=100, min_impact_pct=60))) == []


def test_raw_units_use_relative_thresholds_only():
    values = series(120, 0.5, noise=0.02, seed=16)  # e.g. CPU share: no dollars anywhere
    values[WARM_DAYS] *= 3
    assert alerts(run(values, Thresholds(min_impact=None))) == [WARM_DAYS]


def test_nothing_alerts_while_warming_up():
    values = series(40, 100, seed=17)
    values[10] += 1000
    assert alerts(run(values)) == []


def test_not_useful_feedback_raises_the_bar_for_that_series():
    values = series(200, 300, noise=0.02, seed=18)
    values[WARM_DAYS] += 150
    values[WARM_DAYS + 40] += 150
    detector = CostAnomalyDetector()
    first = run(values[: WARM_DAYS + 1], detector=detector)
    assert alerts(first) == [WARM_DAYS]
    detector.raise_bar()
    later = run(values[WARM_DAYS + 1 :], detector=detector, start=WARM_DAYS + 1)
    assert alerts(later) == []
    assert detector.bar == 1.5


def test_expected_feedback_makes_the_new_level_normal_at_once():
    values = series(120, 300, noise=0.02, seed=19)
    for i in range(WARM_DAYS, 120):
        values[i] += 200
    detector = CostAnomalyDetector()
    assert alerts(run(values[: WARM_DAYS + 1], detector=detector)) == [WARM_DAYS]
    detector.accept_current_level()
    rest = run(values[WARM_DAYS + 1 :], detector=detector, start=WARM_DAYS + 1)
    assert not any(v.flagged or v.alert for v in rest)
    assert abs(rest[5].expected - 500) < 30


def test_state_round_trip_continues_exactly():
    values = series(300, 250, weekend=0.5, seed=20)
    for i in range(150, 160):
        values[i] += 400
    straight = run(values)
    detector = CostAnomalyDetector()
    first = run(values[:155], detector=detector)
    restored = CostAnomalyDetector.from_state(json.loads(json.dumps(detector.to_state())))
    second = run(values[155:], detector=restored, start=155)
    assert first + second == straight


def test_backtest_has_no_look_ahead():
    rows = []
    for i, (a, b) in enumerate(
        zip(series(200, 300, seed=21), series(200, 40, seed=22), strict=True)
    ):
        rows += [("a", day(i), a + (500 if i == 120 else 0)), ("b", day(i), b)]
    full = list(Backtest().run(rows))
    prefix = list(Backtest().run(rows[: 2 * 121]))
    assert prefix == full[: len(prefix)]
    assert [r.at for r in full if r.is_anomaly] == [day(120)]
    assert list(Backtest().run(rows)) == full  # deterministic


def test_backtest_infers_hourly_steps():
    rng = random.Random(23)
    rows = []
    for h in range(24 * 40):
        at = START + timedelta(hours=h)
        office = 1.6 if 8 <= at.hour <= 19 and at.weekday() < 5 else 1.0
        value = 10 * office * (1 + rng.gauss(0, 0.03)) + (200 if h == 24 * 35 + 10 else 0)
        rows.append(("h", at, value))
    flagged = [r.at for r in Backtest().run(rows) if r.is_anomaly]
    assert flagged == [START + timedelta(hours=24 * 35 + 10)]


def test_river_protocol_scores_a_spike_higher():
    detector = CostAnomalyDetector(DetectorConfig())
    for i, v in enumerate(series(60, 100, seed=24)):
        detector.learn_one({"at": day(i)}, v)
    assert detector.score_one({"at": day(60)}, 400) > 10 > detector.score_one({"at": day(60)}, 101)


def test_five_minute_series_warms_up_in_days_and_alerts_each_spike_once():
    # 5-minute metric in raw units: 288 time-of-day slots, each seen 3 times after 3 days
    # (a 21-day warm-up would judge nothing in a week of data), and an episode closes after
    # quiet hours, so a second spike the same evening is a second alert.
    rng = random.Random(25)
    detector = CostAnomalyDetector(DetectorConfig(steps_per_day=288))
    spikes = {288 * 4 + 144 + i for i in range(3)} | {288 * 4 + 240 + i for i in range(2)}
    verdicts = []
    for s in range(288 * 6):
        at = START + timedelta(minutes=5 * s)
        busy = 1.3 if 9 <= at.hour <= 17 else 1.0
        value = 50 * busy * (1 + rng.gauss(0, 0.05)) * (3 if s in spikes else 1)
        verdicts.append(detector.observe(at, value, Thresholds(min_impact=None)))
    assert [s for s, v in enumerate(verdicts) if v.alert] == [288 * 4 + 144, 288 * 4 + 240]
    assert {s for s, v in enumerate(verdicts) if v.flagged} == spikes


def test_daily_settings_are_untouched_by_the_sub_daily_ones():
    daily = DetectorConfig()
    assert daily.warmup_steps() == 21 and daily.close_steps() == 2
    assert daily.per_step_fading(0.12) == 0.12
    hourly = DetectorConfig(steps_per_day=24)
    assert hourly.warmup_steps() == 7 * 24  # a week: every weekday and weekend hour seen
    assert hourly.close_steps() == 6
