"""Anomaly detection over the real bus and database: cost days in, alerts, feedback, plans."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from cloudaudit.analytics.domain.detector import CostAnomalyDetector, DetectorConfig, Thresholds
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.bus import publish_event, rpc
from cloudaudit.common.db import asyncpg_url
from cloudaudit.common.events.anomaly import (
    RPC_ANOMALIES,
    RPC_ANOMALY_FEEDBACK,
    RPC_EXPECT,
    RPC_TEAM_SETTINGS,
    AnomaliesReply,
    AnomaliesRequest,
    AnomalyDetected,
    AnomalyFeedbackReply,
    AnomalyFeedbackRequest,
    AnomalyStatus,
    AnomalyUpdated,
    ExpectSpendReply,
    ExpectSpendRequest,
    Feedback,
    TeamSettingsReply,
    TeamSettingsRequest,
)
from cloudaudit.common.events.audit import AuditRecorded
from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded, CostDriver, CostLine
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import eventually, sign_actor_token
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

AWS_ACCOUNT = "123456789012"
EC2, S3 = ("AmazonEC2", "us-east-1"), ("AmazonS3", "us-east-1")
SUMMARY_IDS = {EC2: uuid4(), S3: uuid4()}


def ec2_cost(day: date) -> Decimal:
    """$200 on weekdays, $150 at weekends, a few dollars of day-to-day wobble."""
    base = Decimal(150) if day.weekday() >= 5 else Decimal(200)
    return base + Decimal((day.toordinal() * 7) % 11) - 5


def cost_day(
    team_id: UUID,
    account_id: UUID,
    day: date,
    ec2: Decimal | None = None,
    s3: Decimal = Decimal("20.00"),
    revision: int = 1,
    backfill: bool = False,
    extra_usage: Decimal = Decimal(0),
) -> CostDayRecorded:
    ec2 = ec2_cost(day) if ec2 is None else ec2
    usage = [CostDriver(name="USE1-BoxUsage:m5.large", cost=ec2 - extra_usage)]
    if extra_usage:
        usage.append(CostDriver(name="USE1-BoxUsage:p4d.24xlarge", cost=extra_usage))
    lines = [
        CostLine(
            summary_id=SUMMARY_IDS[EC2],
            service=EC2[0],
            region=EC2[1],
            unblended_cost=ec2,
            top_usage_types=usage,
            top_resources=[CostDriver(name="i-0abc", cost=ec2 - extra_usage)]
            + ([CostDriver(name="i-0gpu", cost=extra_usage)] if extra_usage else []),
        ),
        CostLine(
            summary_id=SUMMARY_IDS[S3],
            service=S3[0],
            region=S3[1],
            unblended_cost=s3,
            top_usage_types=[CostDriver(name="TimedStorage-ByteHrs", cost=s3)],
        ),
    ]
    return CostDayRecorded(
        team_id=team_id,
        account_id=account_id,
        aws_account_id=AWS_ACCOUNT,
        usage_date=day,
        total_unblended_cost=ec2 + s3,
        lines=lines,
        revision=revision,
        backfill=backfill,
    )


class Account:
    """One connected account of one team, and what the test can see of analytics."""

    def __init__(self, bus, db) -> None:
        self.bus, self.db = bus, db
        self.team_id, self.account_id = uuid4(), uuid4()

    async def publish(self, event: CostDayRecorded) -> None:
        await publish_event(
            self.bus.broker,
            self.bus.names,
            COST_DAY_RECORDED.format(aws_account_id=AWS_ACCOUNT),
            event,
        )

    async def days_recorded(self) -> int:
        async with self.db.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT count(*) FROM analytics.cost_days WHERE team_id = :t"),
                    {"t": self.team_id},
                )
            ).scalar_one()

    async def history(self, days: int, until: date, **kwargs) -> None:
        """Publish `days` days ending the day before `until`, and wait until all are learnt."""
        before = await self.days_recorded()
        for offset in range(days, 0, -1):
            await self.publish(
                cost_day(
                    self.team_id,
                    self.account_id,
                    until - timedelta(offset),
                    backfill=True,
                    **kwargs,
                )
            )
        await eventually(lambda: self._at_least(before + days), timeout=30)

    async def _at_least(self, count: int) -> bool:
        return await self.days_recorded() >= count

    async def revision_of(self, day: date) -> int | None:
        async with self.db.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT revision FROM analytics.cost_days WHERE team_id = :t AND usage_date = :d"
                    ),
                    {"t": self.team_id, "d": day},
                )
            ).scalar_one_or_none()

    async def ec2_state(self) -> dict:
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT state, model_version FROM analytics.detector_states "
                        "WHERE team_id = :t AND service = 'AmazonEC2'"
                    ),
                    {"t": self.team_id},
                )
            ).one()
        state = row.state if isinstance(row.state, dict) else json.loads(row.state)
        return {"state": state, "model_version": row.model_version}

    async def total_state(self) -> dict:
        async with self.db.connect() as conn:
            state = (
                await conn.execute(
                    text(
                        "SELECT state FROM analytics.detector_states "
                        "WHERE team_id = :t AND service IS NULL"
                    ),
                    {"t": self.team_id},
                )
            ).scalar_one()
        return state if isinstance(state, dict) else json.loads(state)

    async def anomalies(self) -> list[dict]:
        async with self.db.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT * FROM analytics.cost_anomalies WHERE team_id = :t ORDER BY usage_date"
                ),
                {"t": self.team_id},
            )
            return [dict(r) for r in rows.mappings()]


@pytest.fixture
async def db(database_url):
    engine = create_async_engine(asyncpg_url(database_url))
    yield engine
    await engine.dispose()


@pytest.fixture
def today(fixed_today: date) -> date:
    """The product's 'today' (the clock is set to it): the detector's history and the alert
    window are counted back from it, so the real date must not decide an outcome."""
    return fixed_today


@pytest.fixture
def analytics_settings(settings) -> AnalyticsSettings:
    return AnalyticsSettings(
        **{name: getattr(settings, name) for name in type(settings).model_fields}
    )


@pytest.fixture
async def analytics(start_service, analytics_settings):
    return await start_service("analytics", analytics_settings)


@pytest.fixture
def account(bus, db) -> Account:
    return Account(bus, db)


async def detected_messages(queue) -> list[AnomalyDetected]:
    out = []
    while not queue.empty():
        out.append(AnomalyDetected.model_validate_json((await queue.get()).data))
    return out


async def test_spike_is_detected_the_day_it_lands_with_root_cause(today, analytics, account, bus):
    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(35, until=today)
    assert detected.empty()  # a month of normal history, backfilled: no alert
    await account.publish(
        cost_day(
            account.team_id,
            account.account_id,
            today,
            ec2=ec2_cost(today) + Decimal(700),
            extra_usage=Decimal(700),
        )
    )
    message = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    assert (message.service, message.region, message.usage_date) == (
        "AmazonEC2",
        "us-east-1",
        today,
    )
    assert message.kind.value == "spike" and message.severity.value == "high"  # $700, +350 %
    assert Decimal(650) < message.impact < Decimal(750) and message.impact_pct > 250
    assert message.daily_cost_id == SUMMARY_IDS[EC2]
    top = {(c.dimension, c.name): c.contribution for c in message.root_causes}
    assert top[("usage_type", "USE1-BoxUsage:p4d.24xlarge")] == Decimal("700.00")
    assert top[("resource", "i-0gpu")] == Decimal("700.00")
    rows = await account.anomalies()
    # the account total saw the same change: recorded, but the channel gets one alert
    assert [(r["service"], r["alerted"], r["status"]) for r in rows] == [
        ("AmazonEC2", 1, "open"),
        (None, 0, "open"),
    ]
    assert await detected_messages(detected) == []


async def test_recurring_month_start_fee_is_not_an_anomaly(
    today, start_service, analytics_settings, account, bus
):
    first = date(2026, 6, 1)
    settings = analytics_settings.model_copy(
        update={"anomaly_alert_window_days": (today - first).days + 1}
    )
    await start_service("analytics", settings)
    detected = await bus.collect("anomaly.v1.detected.>")
    day = first
    events = []
    while day < date(2026, 9, 3):
        fee = Decimal(3000) if day.day == 1 else Decimal(0)  # reserved-instance fee on the 1st
        events.append(cost_day(account.team_id, account.account_id, day, ec2=ec2_cost(day) + fee))
        day += timedelta(1)
    for event in events:
        await account.publish(event)
    await eventually(lambda: account._at_least(len(events)), timeout=30)
    # 1 July (first fee seen with history) and 1 August, 1 September (recurring): no alert
    assert await detected_messages(detected) == []
    assert await account.anomalies() == []


async def test_model_continues_across_a_restart(
    today, start_service, analytics_settings, account, bus
):
    first = await start_service("analytics", analytics_settings)
    await account.history(30, until=today)
    before = await account.ec2_state()
    await first.stop()
    detected = await bus.collect("anomaly.v1.detected.>")
    await start_service("analytics", analytics_settings)
    # a fresh model would still be warming up (21 days) and could not alert on this spike
    await account.publish(
        cost_day(account.team_id, account.account_id, today, ec2=ec2_cost(today) + Decimal(500))
    )
    message = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    assert message.service == "AmazonEC2" and message.usage_date == today
    after = await account.ec2_state()
    assert after["model_version"] == before["model_version"] + 1
    assert after["state"]["detector"]["steps_seen"] == before["state"]["detector"]["steps_seen"] + 1


async def test_redelivered_and_restated_days_are_learnt_once(today, analytics, account):
    await account.history(25, until=today)
    last = today - timedelta(1)
    state = await account.ec2_state()
    # redelivery: the same day again (a new event id, so JetStream does not drop it)
    await account.publish(cost_day(account.team_id, account.account_id, last))
    # a later day proves the redelivered one was consumed before it
    await account.publish(cost_day(account.team_id, account.account_id, today))
    await eventually(lambda: account.revision_of(today))
    after = await account.ec2_state()
    assert after["model_version"] == state["model_version"] + 1
    assert after["state"]["detector"]["steps_seen"] == state["state"]["detector"]["steps_seen"] + 1
    # restatement of the last day: re-learnt from the model as it was before that day
    restated = ec2_cost(today) + Decimal(3)
    await account.publish(
        cost_day(account.team_id, account.account_id, today, ec2=restated, revision=2)
    )
    await eventually(lambda: _equals(account.revision_of(today), 2))
    final = await account.ec2_state()
    replay = CostAnomalyDetector(DetectorConfig())
    for offset in range(25, -1, -1):
        day = today - timedelta(offset)
        value = restated if day == today else ec2_cost(day)
        replay.observe(
            datetime(day.year, day.month, day.day, tzinfo=UTC), float(value), Thresholds()
        )
    assert final["state"]["detector"] == json.loads(json.dumps(replay.to_state()))


async def _equals(awaitable, expected) -> bool:
    return (await awaitable) == expected


async def test_feedback_expected_absorbs_the_change_and_is_audited(today, analytics, account, bus):
    detected = await bus.collect("anomaly.v1.detected.>")
    updated = await bus.collect("anomaly.v1.updated.>")
    audits = await bus.collect("audit.v1.recorded")
    await account.history(30, until=today - timedelta(1))
    for day in (today - timedelta(1), today):  # a new level: +$400 a day
        await account.publish(
            cost_day(account.team_id, account.account_id, day, ec2=ec2_cost(day) + Decimal(400))
        )
    alert = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    await eventually(lambda: account.revision_of(today))
    user = uuid4()
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_ANOMALY_FEEDBACK,
        AnomalyFeedbackRequest(
            actor_token=sign_actor_token(account.team_id, user, Role.MEMBER, Audience.ANALYTICS),
            anomaly_id=alert.anomaly_id,
            feedback=Feedback.EXPECTED,
            note="new batch cluster",
        ),
        AnomalyFeedbackReply,
    )
    assert reply.ok and reply.status is AnomalyStatus.EXPECTED
    update = AnomalyUpdated.model_validate_json((await eventually(updated.get)).data)
    assert (update.anomaly_id, update.status, update.feedback, update.by_user) == (
        alert.anomaly_id,
        AnomalyStatus.EXPECTED,
        Feedback.EXPECTED,
        user,
    )
    audit = AuditRecorded.model_validate_json((await eventually(audits.get)).data)
    assert (audit.action, audit.entity_id, audit.user_id, audit.details["feedback"]) == (
        "anomaly.feedback",
        str(alert.anomaly_id),
        user,
        "expected",
    )
    state = await account.ec2_state()
    assert state["state"]["detector"]["episode"] is None  # the new level is normal now
    listed = await rpc(
        bus.broker,
        bus.names,
        RPC_ANOMALIES,
        AnomaliesRequest(
            actor_token=sign_actor_token(account.team_id, uuid4(), Role.VIEWER, Audience.ANALYTICS),
            status=AnomalyStatus.EXPECTED,
        ),
        AnomaliesReply,
    )
    assert [a.anomaly_id for a in listed.anomalies] == [alert.anomaly_id]
    other_team = await rpc(
        bus.broker,
        bus.names,
        RPC_ANOMALY_FEEDBACK,
        AnomalyFeedbackRequest(  # a member of another team, with a genuine token of theirs
            actor_token=sign_actor_token(uuid4(), user, Role.OWNER, Audience.ANALYTICS),
            anomaly_id=alert.anomaly_id,
            feedback=Feedback.NOT_USEFUL,
        ),
        AnomalyFeedbackReply,
    )
    assert not other_team.ok and other_team.error.code == "not_found"


async def test_planned_spend_is_recorded_as_expected_and_not_alerted(
    today, analytics, account, bus
):
    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(30, until=today)
    plan = await rpc(
        bus.broker,
        bus.names,
        RPC_EXPECT,
        ExpectSpendRequest(
            actor_token=sign_actor_token(account.team_id, uuid4(), Role.ADMIN, Audience.ANALYTICS),
            service="AmazonEC2",
            amount=Decimal(600),
            start=today,
            end=today + timedelta(14),
        ),
        ExpectSpendReply,
    )
    assert plan.ok and plan.expectation_id
    await account.publish(
        cost_day(account.team_id, account.account_id, today, ec2=ec2_cost(today) + Decimal(600))
    )
    await eventually(lambda: account.revision_of(today))
    rows = await account.anomalies()
    assert [(r["service"], r["status"], r["alerted"]) for r in rows if r["service"]] == [
        ("AmazonEC2", "expected", 0)
    ]
    assert await detected_messages(detected) == []


async def test_team_thresholds_decide_what_alerts(today, analytics, account, bus):
    detected = await bus.collect("anomaly.v1.detected.>")
    raised = await rpc(
        bus.broker,
        bus.names,
        RPC_TEAM_SETTINGS,
        TeamSettingsRequest(
            actor_token=sign_actor_token(account.team_id, uuid4(), Role.OWNER, Audience.ANALYTICS),
            min_impact=Decimal(1000),
        ),
        TeamSettingsReply,
    )
    assert raised.ok and (raised.min_impact, raised.min_impact_pct) == (Decimal(1000), Decimal(20))
    await account.history(30, until=today)
    await account.publish(
        cost_day(account.team_id, account.account_id, today, ec2=ec2_cost(today) + Decimal(700))
    )
    await eventually(lambda: account.revision_of(today))
    assert await detected_messages(detected) == [] and await account.anomalies() == []
    read = await rpc(
        bus.broker,
        bus.names,
        RPC_TEAM_SETTINGS,
        TeamSettingsRequest(
            actor_token=sign_actor_token(account.team_id, uuid4(), Role.VIEWER, Audience.ANALYTICS)
        ),
        TeamSettingsReply,
    )
    assert read.min_impact == Decimal(1000)


async def test_backfilled_history_does_not_alert_on_old_days(today, analytics, account, bus):
    detected = await bus.collect("anomaly.v1.detected.>")
    start = today - timedelta(60)
    for offset in range(55):
        day = start + timedelta(offset)
        spike = Decimal(900) if offset == 40 else Decimal(0)  # 20 days ago: old news
        await account.publish(
            cost_day(
                account.team_id, account.account_id, day, ec2=ec2_cost(day) + spike, backfill=True
            )
        )
    await eventually(lambda: account._at_least(55), timeout=30)
    assert await detected_messages(detected) == [] and await account.anomalies() == []


async def test_anomalies_command_lists_what_was_detected(
    today, analytics, account, bus, settings, monkeypatch
):
    import asyncio

    from cloudaudit.analytics.entrypoints.cli import register
    from typer import Typer
    from typer.testing import CliRunner

    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(30, until=today)
    await account.publish(
        cost_day(account.team_id, account.account_id, today, ec2=ec2_cost(today) + Decimal(800))
    )
    alert = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("NATS_URL", settings.nats_url_value())
    app = Typer()
    register(app)
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["anomalies", "--team", str(account.team_id), "--status", "open", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert {(r["anomaly_id"], r["service"]) for r in listed} >= {
        (str(alert.anomaly_id), "AmazonEC2")
    }
    assert {r["status"] for r in listed} == {"open"}
    bad = await asyncio.to_thread(CliRunner().invoke, app, ["anomalies", "--team", "nope"])
    assert bad.exit_code == 1 and "no team is called 'nope'" in bad.output
    assert "Traceback" not in bad.output


# -- late and restated days -------------------------------------------------------------------
def in_order_model(values: dict[date, Decimal]) -> dict:
    """The EC2 detector as an in-order feed of these day values leaves it."""
    model = CostAnomalyDetector(DetectorConfig())
    for day in sorted(values):
        model.observe(_midnight(day), float(values[day]), Thresholds())
    return json.loads(json.dumps(model.to_state()))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def test_days_delivered_out_of_order_give_the_in_order_model(today, analytics, bus, db):
    first = today - timedelta(45)
    days = [first + timedelta(n) for n in range(45)]
    in_order, shuffled = Account(bus, db), Account(bus, db)
    # what a kill -9 does: a few days come back after later ones (one of them a week late)
    late = {days[12], days[13], days[30], days[40]}
    arrival = [d for d in days if d not in late] + [days[30], days[12], days[40], days[13]]
    for day in days:
        await in_order.publish(cost_day(in_order.team_id, in_order.account_id, day, backfill=True))
    for day in arrival:
        await shuffled.publish(cost_day(shuffled.team_id, shuffled.account_id, day, backfill=True))
    await eventually(lambda: in_order._at_least(45), timeout=60)
    await eventually(lambda: shuffled._at_least(45), timeout=60)
    expected = await in_order.ec2_state()
    got = await shuffled.ec2_state()
    assert got["state"]["detector"]["steps_seen"] == 45
    assert got["state"]["detector"] == expected["state"]["detector"]
    assert got["state"]["drivers"] == expected["state"]["drivers"]
    assert got["state"]["detector"] == in_order_model({d: ec2_cost(d) for d in days})
    totals = [await account.total_state() for account in (in_order, shuffled)]
    assert totals[0]["detector"] == totals[1]["detector"]
    assert totals[0]["detector"]["steps_seen"] == 45


async def test_restated_older_day_is_relearnt_and_redelivery_changes_nothing(
    today, analytics, account, bus
):
    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(30, until=today + timedelta(1))
    restated_day = today - timedelta(10)
    # Cost Explorer revises an old day: a $900 charge turns up, 10 days late
    restated = ec2_cost(restated_day) + Decimal(900)
    event = cost_day(account.team_id, account.account_id, restated_day, ec2=restated, revision=2)
    await account.publish(event)
    await eventually(lambda: _equals(account.revision_of(restated_day), 2))
    relearnt = await account.ec2_state()
    values = {today - timedelta(n): ec2_cost(today - timedelta(n)) for n in range(30)}
    assert relearnt["state"]["detector"] == in_order_model({**values, restated_day: restated})
    assert relearnt["state"]["detector"] != in_order_model(values)
    # the same restatement again (a new event id, so JetStream does not drop it): a no-op,
    # proven by a later day consumed after it
    await account.publish(event.model_copy(update={"event_id": uuid4()}))
    await account.publish(cost_day(account.team_id, account.account_id, today + timedelta(1)))
    await eventually(lambda: account.revision_of(today + timedelta(1)))
    after = await account.ec2_state()
    assert after["model_version"] == relearnt["model_version"] + 1
    assert after["state"]["detector"]["steps_seen"] == 31
    # an old day is never alerted: outside the recent window, however large
    assert await detected_messages(detected) == [] and await account.anomalies() == []


# Runs at the pinned ordinary date, not at the calendar edges: when today or yesterday is the 1st
# of a month the detector (seasonal at a month start) does not count the 1st's rise into the
# episode (2027-03-02) or does not alert a first-of-month spike at all (2027-03-01). That is the
# detector's month-start behaviour, not this test's subject (see issue 13, section 0 report).
async def test_late_day_of_an_alerted_change_does_not_alert_again(today, analytics, account, bus):
    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(30, until=today - timedelta(1))
    spike = Decimal(700)
    # today's spike arrives (and alerts) before yesterday's, which was part of the same rise
    await account.publish(
        cost_day(account.team_id, account.account_id, today, ec2=ec2_cost(today) + spike)
    )
    first = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    yesterday = today - timedelta(1)
    await account.publish(
        cost_day(account.team_id, account.account_id, yesterday, ec2=ec2_cost(yesterday) + spike)
    )
    await eventually(lambda: account.revision_of(yesterday))
    assert first.service == "AmazonEC2"
    assert await detected_messages(detected) == []  # one change, one alert
    ec2 = [r for r in await account.anomalies() if r["service"] == "AmazonEC2"]
    assert [r["anomaly_id"] for r in ec2] == [first.anomaly_id]
    state = await account.ec2_state()
    assert state["state"]["detector"]["steps_seen"] == 32  # 30 days of history, then 2
    assert state["state"]["detector"]["episode"]["started_at"].startswith(yesterday.isoformat())


async def test_feedback_survives_a_replay(today, analytics, account, bus):
    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(30, until=today - timedelta(1))
    for day in (today - timedelta(1), today):  # a new level: +$400 a day
        await account.publish(
            cost_day(account.team_id, account.account_id, day, ec2=ec2_cost(day) + Decimal(400))
        )
    alert = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    await eventually(lambda: account.revision_of(today))
    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_ANOMALY_FEEDBACK,
        AnomalyFeedbackRequest(
            actor_token=sign_actor_token(account.team_id, uuid4(), Role.ADMIN, Audience.ANALYTICS),
            anomaly_id=alert.anomaly_id,
            feedback=Feedback.NOT_USEFUL,
        ),
        AnomalyFeedbackReply,
    )
    assert reply.ok
    before = (await account.ec2_state())["state"]["detector"]
    assert before["bar"] == 1.5 and before["episode"] is None
    # a restatement of a day before the feedback rebuilds the model: the feedback stays
    old = today - timedelta(12)
    await account.publish(
        cost_day(account.team_id, account.account_id, old, ec2=ec2_cost(old) + 2, revision=2)
    )
    await eventually(lambda: _equals(account.revision_of(old), 2))
    after = (await account.ec2_state())["state"]["detector"]
    assert after["bar"] == 1.5 and after["episode"] is None
    assert after["steps_seen"] == before["steps_seen"]
    assert after["model"] != before["model"]  # re-learnt with the restated value


# -- `cloudaudit expect` ----------------------------------------------------------------------
async def test_expect_command_plans_lists_and_cancels_spend(
    today, analytics, account, bus, settings, monkeypatch
):
    import asyncio

    from cloudaudit.analytics.entrypoints.cli import register
    from typer import Typer
    from typer.testing import CliRunner

    detected = await bus.collect("anomaly.v1.detected.>")
    audits = await bus.collect("audit.v1.recorded")
    await account.history(30, until=today)
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("NATS_URL", settings.nats_url_value())
    app = Typer()
    register(app)

    async def cloudaudit(*args: str):
        return await asyncio.to_thread(CliRunner().invoke, app, list(args))

    team = str(account.team_id)
    period = ("--from", today.isoformat(), "--to", (today + timedelta(14)).isoformat())
    # mistakes are one line naming the problem, never a traceback
    negative = await cloudaudit("expect", "add", "--team", team, "--amount", "-500", *period)
    assert negative.exit_code == 2 and "--amount must be more than 0" in negative.output
    backwards = await cloudaudit(
        "expect", "add", "--team", team, "--amount", "500",
        "--from", today.isoformat(), "--to", (today - timedelta(1)).isoformat(),
    )  # fmt: skip
    assert backwards.exit_code == 1 and "is before the start date" in backwards.output
    unknown_team = await cloudaudit(
        "expect", "add", "--team", str(uuid4()), "--amount", "500", *period
    )
    assert unknown_team.exit_code == 1 and "has no cost data" in unknown_team.output
    unknown_account = await cloudaudit(
        "expect", "add", "--team", team, "--amount", "500", "--account", "999999999999", *period
    )
    assert unknown_account.exit_code == 1 and AWS_ACCOUNT in unknown_account.output
    assert "Traceback" not in negative.output + backwards.output + unknown_team.output

    planned = await cloudaudit(
        "expect", "add", "--team", team, "--amount", "600.50", *period,
        "--service", "AmazonEC2", "--account", AWS_ACCOUNT, "--note", "load test", "--format", "json",
    )  # fmt: skip
    assert planned.exit_code == 0, planned.output
    plan_id = json.loads(planned.output)["expectation_id"]
    anywhere = await cloudaudit(
        "expect", "add", "--team", team, "--amount", "1000", *period, "--format", "json"
    )
    assert anywhere.exit_code == 0, anywhere.output
    withdrawn = json.loads(anywhere.output)["expectation_id"]
    cancelled = await cloudaudit("expect", "cancel", withdrawn)
    assert cancelled.exit_code == 0 and "cancelled planned spend" in cancelled.output
    again = await cloudaudit("expect", "cancel", withdrawn)
    assert again.exit_code == 1 and "already cancelled" in again.output

    listed = await cloudaudit("expect", "list", "--team", team, "--format", "json")
    assert listed.exit_code == 0, listed.output
    [plan] = json.loads(listed.output)
    assert (plan["expectation_id"], plan["service"], plan["aws_account_id"]) == (
        plan_id,
        "AmazonEC2",
        AWS_ACCOUNT,
    )
    assert Decimal(plan["amount_per_day"]) == Decimal("600.50") and plan["note"] == "load test"
    everything = await cloudaudit("expect", "list", "--team", team, "--all")
    assert "cancelled" in everything.output and "$600.50" in everything.output

    # EC2 rises as planned; S3 rises too, which only the cancelled plan would have covered
    await account.publish(
        cost_day(
            account.team_id,
            account.account_id,
            today,
            ec2=ec2_cost(today) + Decimal(600),
            s3=Decimal(520),
        )
    )
    alert = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    assert alert.service == "AmazonS3"
    rows = {r["service"]: (r["status"], r["alerted"]) for r in await account.anomalies()}
    assert rows["AmazonEC2"] == ("expected", 0) and rows["AmazonS3"] == ("open", 1)
    assert await detected_messages(detected) == []

    # both commands are audited like the Slack path (published by analytics' outbox relay)
    seen: list[AuditRecorded] = []

    async def audited() -> bool:
        while not audits.empty():
            seen.append(AuditRecorded.model_validate_json((await audits.get()).data))
        return {a.action for a in seen} >= {
            "anomaly.spend_expected",
            "anomaly.spend_expectation_cancelled",
        }

    await eventually(audited, timeout=30)
    mine = {(a.action, a.entity_id) for a in seen if a.source == "cli"}
    assert ("anomaly.spend_expected", plan_id) in mine
    assert ("anomaly.spend_expectation_cancelled", withdrawn) in mine


async def test_a_service_that_was_exactly_zero_alerts_on_its_first_day_of_spend(
    today, analytics, account, bus
):
    # S3 at exactly $0 for 35 days has no spread of its own: its first $300 day is judged by
    # dollars and alerted that day, not the next.
    detected = await bus.collect("anomaly.v1.detected.>")
    await account.history(35, until=today, s3=Decimal("0.00"))
    await account.publish(
        cost_day(account.team_id, account.account_id, today, s3=Decimal("300.00"))
    )
    message = AnomalyDetected.model_validate_json((await eventually(detected.get)).data)
    assert (message.service, message.usage_date, message.kind.value) == (
        "AmazonS3",
        today,
        "level_shift",
    )
    assert message.impact == Decimal("300.00")
