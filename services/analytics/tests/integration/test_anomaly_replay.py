"""Late and restated cost days on real PostgreSQL: the handler, called directly, must leave every
series' model as an in-order feed of the final day values would."""

from __future__ import annotations

import random
import time
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.adapters.orm import outbox
from cloudaudit.analytics.service.anomalies import CHECKPOINT_EVERY_DAYS, record_cost_day
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.db import make_engine
from cloudaudit.common.events.cost import CostDayRecorded, CostDriver, CostLine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker


def cost_day(
    team_id: UUID, account_id: UUID, day: date, bump: Decimal = Decimal(0), revision: int = 1
) -> CostDayRecorded:
    """EC2 with a weekly pattern, S3 that starts a month in, and the odd one-day bump."""
    weekly = Decimal(150) if day.weekday() >= 5 else Decimal(200)
    ec2 = weekly + (day.toordinal() * 7) % 11 + bump
    lines = [
        CostLine(
            summary_id=uuid4(),
            service="AmazonEC2",
            region="us-east-1",
            unblended_cost=ec2,
            top_usage_types=[CostDriver(name="BoxUsage:m5.large", cost=ec2)],
        )
    ]
    if day.toordinal() % 90 > 30:
        s3 = Decimal(20) + (day.toordinal() % 3)
        lines.append(
            CostLine(summary_id=uuid4(), service="AmazonS3", region="us-east-1", unblended_cost=s3)
        )
    return CostDayRecorded(
        team_id=team_id,
        account_id=account_id,
        aws_account_id="210987654321",
        usage_date=day,
        total_unblended_cost=sum((line.unblended_cost for line in lines), Decimal(0)),
        lines=lines,
        revision=revision,
        backfill=True,
    )


@pytest.fixture
async def sessions(database_url):
    engine = make_engine(database_url, schema="analytics")
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
def analytics_settings(settings) -> AnalyticsSettings:
    return AnalyticsSettings(
        **{name: getattr(settings, name) for name in type(settings).model_fields}
    )


async def feed(sessions, settings, events: list[CostDayRecorded]) -> list[float]:
    seconds = []
    for event in events:
        started = time.perf_counter()
        await record_cost_day(event, AnomalyUnitOfWork(sessions, outbox), settings)
        seconds.append(time.perf_counter() - started)
    return seconds


async def models(sessions, team_id: UUID) -> dict[tuple[str | None, str | None], dict]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT service, region, state FROM detector_states WHERE team_id = :t"),
            {"t": team_id},
        )
        return {
            (r.service, r.region): {"detector": r.state["detector"], "drivers": r.state["drivers"]}
            for r in rows
        }


@pytest.fixture
def today(fixed_today: date) -> date:
    """A known 'today' (the clock is set to it): the fed history is counted back from it."""
    return fixed_today


def ms(values: list[float]) -> str:
    return f"mean {1000 * sum(values) / len(values):.1f} ms, max {1000 * max(values):.1f} ms"


async def test_days_in_any_order_with_restatements_learn_the_in_order_models(
    today, sessions, analytics_settings
):
    days = [today - timedelta(n) for n in range(75, 0, -1)]
    bumps = {days[20]: Decimal(40), days[50]: Decimal(60)}  # restated later in the shuffled feed
    in_order, shuffled = (uuid4(), uuid4()), (uuid4(), uuid4())
    final = [cost_day(*in_order, d, bumps.get(d, Decimal(0)), 2 if d in bumps else 1) for d in days]
    timings = {"in order": await feed(sessions, analytics_settings, final)}
    arrival = list(days)
    random.Random(20261125).shuffle(arrival)
    events = [cost_day(*shuffled, d) for d in arrival]
    events += [cost_day(*shuffled, d, bump, revision=2) for d, bump in bumps.items()]
    events += [cost_day(*shuffled, days[30])]  # a redelivery: changes nothing
    timings["shuffled"] = await feed(sessions, analytics_settings, events)
    expected, got = await models(sessions, in_order[0]), await models(sessions, shuffled[0])
    assert set(got) == {("AmazonEC2", "us-east-1"), ("AmazonS3", "us-east-1"), (None, None)}
    assert got == expected
    assert got[(None, None)]["detector"]["steps_seen"] == len(days)
    print(
        f"\n75 days per series x 3 series: {', '.join(f'{k} {ms(v)}' for k, v in timings.items())}"
    )


@pytest.mark.slow
async def test_a_year_old_restatement_replays_from_its_checkpoint(
    today, sessions, analytics_settings
):
    days = [today - timedelta(n) for n in range(365, 0, -1)]
    team = (uuid4(), uuid4())
    in_order = await feed(sessions, analytics_settings, [cost_day(*team, d) for d in days])
    timings = {}
    for age in (2, 30, 200):
        day = today - timedelta(age)
        timings[age] = await feed(
            sessions, analytics_settings, [cost_day(*team, day, Decimal(25), revision=2)]
        )
    reference = (uuid4(), uuid4())
    restated = {today - timedelta(age) for age in timings}
    await feed(
        sessions,
        analytics_settings,
        [cost_day(*reference, d, Decimal(25) if d in restated else Decimal(0)) for d in days],
    )
    assert await models(sessions, team[0]) == await models(sessions, reference[0])
    async with sessions() as session:
        kept = (
            await session.execute(
                text("SELECT count(*) FROM detector_checkpoints WHERE team_id = :t"),
                {"t": team[0]},
            )
        ).scalar_one()
    assert kept >= 3 * (365 // CHECKPOINT_EVERY_DAYS) - 6  # S3 appears a month in
    print(
        f"\na year in order: {ms(in_order)} per day; restating a day "
        + ", ".join(f"{age} days old: {1000 * t[0]:.0f} ms" for age, t in timings.items())
    )


async def test_models_learnt_before_day_values_were_kept_are_not_lost(
    today, sessions, analytics_settings
):
    days = [today - timedelta(n) for n in range(40, 0, -1)]
    team = (uuid4(), uuid4())
    await feed(sessions, analytics_settings, [cost_day(*team, d) for d in days[:30]])
    async with sessions() as session, session.begin():  # as an older release left them
        for statement in (
            "DELETE FROM series_days WHERE team_id = :t",
            "DELETE FROM detector_checkpoints WHERE team_id = :t",
            "UPDATE detector_states SET state = state - 'replayable_from' WHERE team_id = :t",
        ):
            await session.execute(text(statement), {"t": team[0]})
    before = await models(sessions, team[0])
    # a late restatement of a day whose values were never kept: recorded, model kept
    await feed(sessions, analytics_settings, [cost_day(*team, days[10], Decimal(30), 2)])
    assert await models(sessions, team[0]) == before
    # the next days are learnt as usual and checkpointed; from then on replays work
    await feed(sessions, analytics_settings, [cost_day(*team, d) for d in days[30:]])
    continued = await models(sessions, team[0])
    assert continued[(None, None)]["detector"]["steps_seen"] == 40
    await feed(sessions, analytics_settings, [cost_day(*team, days[35], Decimal(30), 2)])
    restated = await models(sessions, team[0])
    assert restated[(None, None)]["detector"]["steps_seen"] == 40
    assert restated[("AmazonEC2", "us-east-1")] != continued[("AmazonEC2", "us-east-1")]
