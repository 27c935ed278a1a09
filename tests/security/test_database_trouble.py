"""Database trouble never loses a cost day: PostgreSQL full, failing over, deadlocked or timing
out is retried (not counted towards dead-lettering) until it passes; what outlives the retry
window is dead-lettered with the reason, and `cloudaudit dlq replay` restores it exactly once.

The trouble is real: a trigger on analytics' own table raises the real SQLSTATE inside the
service's transaction, for as long as the test keeps a row in its `trouble` table. Attempts are
counted with a sequence, which (unlike a table) is not rolled back with the failed transaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
import pytest_asyncio
from attack_support import Database
from cloudaudit.common.bus import publish_event
from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded, CostDriver, CostLine
from cloudaudit.common.testing import eventually

MAX_DELIVERIES = 2
DAY = date(2026, 11, 20)

TRIGGER = """
CREATE TABLE IF NOT EXISTS public.trouble (sqlstate text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS public.trouble_attempts;
-- SECURITY DEFINER: the trouble is the server's, not something analytics' own role may read.
CREATE OR REPLACE FUNCTION public.raise_trouble() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER AS $$
DECLARE code text;
BEGIN
    PERFORM nextval('public.trouble_attempts');
    SELECT sqlstate INTO code FROM public.trouble LIMIT 1;
    IF code IS NOT NULL THEN
        RAISE EXCEPTION 'simulated database trouble %', code USING ERRCODE = code;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS trouble ON analytics.cost_days;
CREATE TRIGGER trouble BEFORE INSERT OR UPDATE ON analytics.cost_days
    FOR EACH ROW EXECUTE FUNCTION public.raise_trouble();
"""


def cost_day() -> CostDayRecorded:
    cost = Decimal("212.40")
    return CostDayRecorded(
        team_id=uuid4(),
        account_id=uuid4(),
        aws_account_id="123456789012",
        usage_date=DAY,
        total_unblended_cost=cost,
        lines=[
            CostLine(
                summary_id=uuid4(),
                service="AmazonEC2",
                region="us-east-1",
                unblended_cost=cost,
                top_usage_types=[CostDriver(name="USE1-BoxUsage:m5.large", cost=cost)],
                top_resources=[],
            )
        ],
    )


class Trouble:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def install(self) -> None:
        await self.db.execute(TRIGGER)  # no arguments: one simple query runs every statement

    async def start(self, sqlstate: str) -> None:
        await self.db.execute("DELETE FROM public.trouble")
        await self.db.execute("INSERT INTO public.trouble VALUES ($1)", sqlstate)

    async def stop(self) -> None:
        await self.db.execute("DELETE FROM public.trouble")

    async def attempts(self) -> int:
        [row] = await self.db.fetch("SELECT last_value, is_called FROM public.trouble_attempts")
        return int(row["last_value"]) if row["is_called"] else 0


@pytest_asyncio.fixture(loop_scope="session")
async def analytics(start_service, settings):
    async def start(retry_for_s: float):
        from cloudaudit.analytics.settings import AnalyticsSettings

        service_settings = AnalyticsSettings(  # type: ignore[call-arg]
            DATABASE_URL=settings.database_url.get_secret_value(),
            NATS_URL=settings.nats_url_value(),
            CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
            CLOUDAUDIT_STATE_DIR=str(settings.state_dir),
            CLOUDAUDIT_MAX_DELIVERIES=MAX_DELIVERIES,
            CLOUDAUDIT_TRANSIENT_RETRY_FOR_S=retry_for_s,
            RECOMMENDATIONS_REFRESH_ON_SYNC=False,
        )
        return await start_service("analytics", service_settings)

    return start


@pytest.fixture
def trouble(db: Database) -> Trouble:
    return Trouble(db)


async def days_recorded(db: Database, event: CostDayRecorded) -> int:
    [row] = await db.fetch(
        "SELECT count(*) AS n FROM analytics.cost_days WHERE team_id = $1 AND usage_date = $2",
        event.team_id,
        DAY,
    )
    return int(row["n"])


async def dead_letters(bus) -> list[dict]:
    return [json.loads(m.data) for m in await bus.stream_messages("DLQ")]


@pytest.mark.parametrize(
    "sqlstate",
    [
        "53100",  # disk full (the daily subset runs this one; the full suite every one)
        pytest.param("53200", marks=pytest.mark.slow),  # out of memory
        pytest.param("25006", marks=pytest.mark.slow),  # read-only: the failover window
        pytest.param("40P01", marks=pytest.mark.slow),  # deadlock detected
        pytest.param("40001", marks=pytest.mark.slow),  # serialization failure
        pytest.param("57014", marks=pytest.mark.slow),  # statement timeout
    ],
)
async def test_database_trouble_is_retried_past_the_dead_letter_count_and_loses_nothing(
    analytics, trouble, db, bus, sqlstate
):
    await analytics(retry_for_s=3600)
    await trouble.install()
    await trouble.start(sqlstate)
    event = cost_day()

    await publish_event(bus.broker, bus.names, COST_DAY_RECORDED, event)
    # Well past MAX_DELIVERIES attempts: a message-level failure would be dead-lettered by now.
    await eventually(lambda: _at_least(trouble.attempts(), MAX_DELIVERIES + 2), timeout=30)
    assert await days_recorded(db, event) == 0
    await trouble.stop()

    await eventually(lambda: _equals(days_recorded(db, event), 1), timeout=30)
    assert await dead_letters(bus) == []


async def test_a_bad_message_error_is_still_dead_lettered_after_its_attempts(
    analytics, trouble, db, bus
):
    """The control: the same trigger raising a constraint violation (the message's fault) is
    dead-lettered after MAX_DELIVERIES, so the test above would see one if trouble counted."""
    await analytics(retry_for_s=3600)
    await trouble.install()
    await trouble.start("23514")  # check_violation
    event = cost_day()

    await publish_event(bus.broker, bus.names, COST_DAY_RECORDED, event)

    await eventually(lambda: _non_empty(dead_letters(bus)), timeout=30)
    [letter] = await dead_letters(bus)
    assert letter["deliveries"] == MAX_DELIVERIES
    assert json.loads(letter["payload"])["event_id"] == str(event.event_id)


@pytest.mark.slow
async def test_trouble_longer_than_the_window_is_dead_lettered_with_why_and_replay_restores_it(
    analytics, trouble, db, bus, settings
):
    await analytics(retry_for_s=2)
    await trouble.install()
    await trouble.start("53100")
    event = cost_day()

    await publish_event(bus.broker, bus.names, COST_DAY_RECORDED, event)
    await eventually(lambda: _non_empty(dead_letters(bus)), timeout=30)
    [letter] = await dead_letters(bus)
    assert "CLOUDAUDIT_TRANSIENT_RETRY_FOR_S" in letter["error"]
    assert "cloudaudit dlq replay" in letter["error"]
    assert await days_recorded(db, event) == 0  # the day is lost until someone replays it

    await trouble.stop()
    env = dict(
        os.environ,
        NATS_URL=settings.nats_url_value(),
        DATABASE_URL=settings.database_url.get_secret_value(),
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
    )
    listed = await _cli(env, "dlq", "list", "--subject", "cost.v1", "--format", "json")
    [row] = json.loads(listed)
    assert row["subject"] == COST_DAY_RECORDED and "53100" in row["error"]
    replayed = await _cli(env, "dlq", "replay", str(row["seq"]))
    assert f"#{row['seq']} -> {COST_DAY_RECORDED}" in replayed

    await eventually(lambda: _equals(days_recorded(db, event), 1), timeout=30)
    assert await dead_letters(bus) == []  # replayed letters leave the DLQ
    again = await _cli(env, "dlq", "replay", str(row["seq"]), check=False)
    assert "no dead letter" in again  # a second replay names what happened instead
    await asyncio.sleep(1)
    assert await days_recorded(db, event) == 1


async def _cli(env: dict[str, str], *args: str, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cloudaudit.common",
        *args,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    if check:
        assert process.returncode == 0, text
    return text


async def _at_least(value, wanted: int) -> bool:
    return await value >= wanted


async def _equals(value, wanted: int) -> bool:
    return await value == wanted


async def _non_empty(value) -> bool:
    return bool(await value)
