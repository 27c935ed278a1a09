"""The settable clock: tests move the product's 'now' and 'today', and put it back."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
from cloudaudit.common import clock
from cloudaudit.common.events.base import Event
from cloudaudit.common.testing import PINNED_TODAY
from sqlalchemy.engine import make_url


def test_frozen_at_moves_now_today_and_event_times_then_restores_the_real_clock():
    real = clock.current_clock()
    with clock.frozen_at(datetime(2028, 2, 29, 23, 0, tzinfo=UTC), ticking=False):
        assert clock.utcnow() == datetime(2028, 2, 29, 23, 0, tzinfo=UTC)
        assert clock.today() == date(2028, 2, 29)
        assert Event(team_id=uuid4()).occurred_at == clock.utcnow()
    assert clock.current_clock() is real
    assert abs(clock.utcnow() - datetime.now(UTC)) < timedelta(seconds=5)  # noqa: TID251


def test_a_date_means_noon_utc_and_time_ticks_on_from_it():
    with clock.frozen_at(date(2026, 12, 31)):
        first = clock.utcnow()
        time.sleep(0.01)  # the wall clock advancing is what is being tested
        assert first.date() == date(2026, 12, 31) and first.hour == 12
        assert clock.utcnow() > first


def test_naive_moments_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"), clock.frozen_at(datetime(2027, 1, 1)):
        pass


def test_a_subprocess_follows_the_fake_now_environment_variable():
    code = "from cloudaudit.common import clock; print(clock.today())"
    env = {"CLOUDAUDIT_FAKE_NOW": "2027-03-14T06:59:00+00:00", "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "2027-03-14"


@pytest.mark.calendar_edges
def test_fixed_today_runs_at_every_calendar_edge(fixed_today, request):
    assert clock.today() == fixed_today
    assert request.node.callspec.id == fixed_today.isoformat()


# slack_sdk's own tables keep their shape; its store always writes installed_at itself.
DATABASE_CLOCK_ALLOWED = {
    ("bot", "slack_installations", "installed_at"),
    ("bot", "slack_bots", "installed_at"),
}


async def test_no_table_takes_a_business_time_from_the_database_clock(database_url):
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE column_default ILIKE '%now()%' OR column_default ILIKE '%current_timestamp%'"
        )
    finally:
        await conn.close()
    found = {(r["table_schema"], r["table_name"], r["column_name"]) for r in rows}
    assert found - DATABASE_CLOCK_ALLOWED == set()


def test_an_unmarked_test_runs_once_at_a_fixed_date(fixed_today, request):
    assert clock.today() == fixed_today == PINNED_TODAY
    assert not hasattr(request.node, "callspec")
