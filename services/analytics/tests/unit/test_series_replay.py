"""A series' model over stored days: replay, checkpoints and where a replay starts (pure)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef
from cloudaudit.analytics.domain.detector import Thresholds
from cloudaudit.analytics.domain.series_replay import (
    CHECKPOINT_EVERY_DAYS,
    ReplayStart,
    SeriesModel,
    StoredSeriesDay,
    checkpoint_day,
    episode_ends,
    relearn,
    replay_since,
    replay_starts,
    services_first,
    with_feedback,
)
from cloudaudit.common.events.anomaly import Feedback

START = date(2026, 1, 1)
THRESHOLDS = Thresholds(100.0, 20.0)
EC2, S3, TOTAL = (
    SeriesRef("AmazonEC2", "us-east-1"),
    SeriesRef("AmazonS3", None),
    SeriesRef(None, None),
)


def stored(days: int, spike_on: int | None = None) -> dict[date, StoredSeriesDay]:
    out = {}
    for n in range(days):
        cost = Decimal(200 + (n * 7) % 11) + (Decimal(800) if n == spike_on else 0)
        out[START + timedelta(days=n)] = StoredSeriesDay(
            cost=cost, drivers={"usage_type:BoxUsage": cost}
        )
    return out


def test_a_replay_gives_the_model_an_in_order_feed_would():
    values = stored(60, spike_on=45)
    model = SeriesModel(None)
    for day, value in values.items():
        model.learn(day, value.series_day(), THRESHOLDS)
    run = relearn(None, None, list(values), values, THRESHOLDS)
    assert run.model.to_state() == model.to_state()
    assert [j.usage_date for j in run.judged] == list(values)
    assert any(j.verdict.alert for j in run.judged)


def test_a_replay_from_a_checkpoint_ends_where_the_full_replay_ends():
    values = stored(60)
    days = list(values)
    full = relearn(None, None, days, values, THRESHOLDS)
    start, base = full.checkpoints[0]
    assert checkpoint_day(start) and start.toordinal() % CHECKPOINT_EVERY_DAYS == 0
    tail = relearn(base, start, [d for d in days if d > start], values, THRESHOLDS)
    assert tail.model.to_state() == full.model.to_state()


def test_feedback_stored_with_a_day_is_applied_after_it_in_a_replay():
    values = stored(30)
    last = max(values)
    plain = relearn(None, None, list(values), values, THRESHOLDS)
    values[last] = StoredSeriesDay(cost=values[last].cost, feedback=(Feedback.NOT_USEFUL,))
    taught = relearn(None, None, list(values), values, THRESHOLDS)
    taught_detector = taught.model.to_state()["detector"]
    assert taught_detector != plain.model.to_state()["detector"]
    assert taught_detector == with_feedback(plain.model.to_state(), Feedback.NOT_USEFUL)["detector"]


def test_a_day_missing_from_storage_costs_nothing():
    values = stored(5)
    gap = START + timedelta(days=5)
    run = relearn(None, None, [*values, gap], values, THRESHOLDS)
    assert run.judged[-1].day == SeriesDay()


def test_services_come_before_the_account_total():
    assert services_first({TOTAL, S3, EC2}) == [EC2, S3, TOTAL]


def test_a_replay_starts_at_a_checkpoint_or_the_first_day_and_skips_what_cannot_change():
    changed = date(2026, 2, 1)
    checkpoint = (date(2026, 1, 20), {"detector": {}, "drivers": {}})
    keyed = [(EC2, "ec2"), (S3, "s3"), (TOTAL, "total"), (SeriesRef("Legacy", None), "legacy")]
    starts = replay_starts(
        keyed,
        changed,
        first_days={
            "ec2": date(2026, 1, 1),
            "s3": date(2026, 2, 5),  # began after the day: an in-order feed gives the same
            "total": date(2026, 1, 1),
            "legacy": date(2026, 1, 1),
        },
        checkpoints={"ec2": checkpoint},
        states={"total": {"replayable_from": None}, "legacy": {}},
    )
    assert starts == [
        ReplayStart(ref=EC2, key="ec2", start=checkpoint[0], base=checkpoint[1]),
        ReplayStart(ref=TOTAL, key="total"),
    ]
    assert replay_since(starts) is None
    assert replay_since(starts[:1]) == checkpoint[0]


def test_each_episode_of_a_replay_runs_through_its_last_day():
    values = stored(60, spike_on=45)
    run = relearn(None, None, list(values), values, THRESHOLDS)
    ends = episode_ends(run.judged)
    spike = next(j for j in run.judged if j.verdict.alert)
    assert spike.verdict.episode_started_at in ends
    assert ends[spike.verdict.episode_started_at] >= spike.usage_date
