"""The product as operators run it, for crash and bad-input tests.

One `ProductStack` for the folder (package-scoped: starting four service processes and the AWS
stand-in takes seconds), on the session's real NATS + PostgreSQL, with a private database cloned
from the migrated template and a private bus prefix, so modules never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio
from cloudaudit.bot.driver import SlackDriver
from cloudaudit.common.events.anomaly import AnomalyDetected, AnomalyKind, RootCause, Severity
from cloudaudit.common.events.cost import CostDayRecorded, CostDriver, CostLine
from cloudaudit.common.runtime import Endpoints
from cloudaudit.common.settings import CommonSettings
from cloudaudit.common.testing import BusClient, eventually
from cloudaudit.common.testing_people import SlackWorkspace
from cloudaudit.demo.company import EC2_SERVICE
from cloudaudit.demo.stack import SIGNING_SECRET, ProductStack
from sqlalchemy.engine import make_url


def asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def _create_database(admin_url: str, name: str, template: str) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(admin_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()


async def _drop_database(admin_url: str, name: str) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(admin_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Product:
    """A running ProductStack and what a test needs to look at it like an operator."""

    stack: ProductStack
    database_url: str

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.stack.ports['bot_http']}/slack/events"

    @property
    def slack(self) -> Any:
        return self.stack.slack

    def env(self) -> dict[str, str]:
        return self.stack.service_env()

    async def rows(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url))
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def value(self, query: str, *args: Any) -> Any:
        rows = await self.rows(query, *args)
        return rows[0][0] if rows else None

    def pid(self, service: str) -> int:
        assert self.stack.supervisor is not None
        return self.stack.supervisor.children[service].pid

    def kill(self, service: str) -> None:
        """kill -9: no shutdown hook, no flush, no goodbye."""
        assert self.stack.supervisor is not None
        proc = self.stack.supervisor.children[service]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    async def restart(self, service: str) -> None:
        # ProductStack.restart polls health with asyncio.run: keep it off the test's loop.
        await asyncio.to_thread(self.stack.restart, service)

    def driver(self, team_id: str = "T0CLOUD") -> SlackDriver:
        return SlackDriver(self.events_url, SIGNING_SECRET, self.slack, team_id=team_id)

    def people(self, slack_team: str = "T0CLOUD") -> SlackWorkspace:
        async def ask(subject: str, request: Any, reply_type: Any) -> Any:
            return await self.stack.request(subject, request, reply_type)

        return SlackWorkspace(ask, slack_team)

    async def install(self, slack_user: str, slack_team: str = "T0CLOUD") -> UUID:
        """The app installed in a workspace by `slack_user`, who owns its team. One bot token
        answers users.info for every workspace here, so it is told their home workspace."""
        self.slack.set_user(slack_user, home_team=slack_team)
        reply = await self.people(slack_team).install(slack_user)
        assert reply.team_id is not None, reply
        return reply.team_id

    async def team_of(self, slack_user: str, slack_team: str = "T0CLOUD") -> UUID:
        reply = await self.people(slack_team).person(slack_user)
        assert reply.team_id is not None, reply
        return reply.team_id

    async def alerts_here(
        self, driver: SlackDriver, user: str, channel: str, slack_team: str = "T0CLOUD"
    ) -> UUID:
        """The owner (the app's installer) sets `/cloudaudit alerts here`."""
        team_id = await self.install(user, slack_team)
        response = await driver.command("alerts here", user=user, channel=channel)
        assert response.status == 200, response.text

        async def channel_set() -> bool:
            found = await self.value(
                "SELECT alert_channel_id FROM bot.teams WHERE team_id=$1", team_id
            )
            return found == channel

        await eventually(channel_set, timeout=20)
        return team_id


@pytest.fixture(scope="package")
def product(
    infrastructure: Endpoints, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Product]:
    name = f"rel_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_database(infrastructure.database_url, name, template_database))
    url = make_url(infrastructure.database_url).set(database=name)
    database_url = url.render_as_string(hide_password=False)
    state = Path(tmp_path_factory.mktemp("product"))
    stack = ProductStack(
        endpoints=Endpoints(database_url=database_url, nats_url=infrastructure.nats_url),
        state_dir=state,
        bus_prefix=f"r{uuid.uuid4().hex[:8]}",
        extra_env={
            "CLOUDAUDIT_LOG_LEVEL": "INFO",
            "CLOUDAUDIT_MAX_DELIVERIES": "3",
        },
    )
    try:
        stack.start()
        yield Product(stack, database_url)
    finally:
        stack.stop()
        asyncio.run(_drop_database(infrastructure.database_url, name))


@pytest_asyncio.fixture(loop_scope="session")
async def product_bus(product: Product) -> AsyncIterator[BusClient]:
    """Publish and read on the stack's bus (its prefix), as another service would."""
    settings = CommonSettings(  # type: ignore[call-arg]
        DATABASE_URL=product.database_url,
        NATS_URL=product.stack.endpoints.nats_url,
        CLOUDAUDIT_BUS_PREFIX=product.stack.bus_prefix,
        CLOUDAUDIT_MAX_DELIVERIES=3,
    )
    client = BusClient(settings, product.stack.endpoints)
    await client.start()
    yield client
    await client.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def slack_driver(product: Product) -> AsyncIterator[SlackDriver]:
    driver = product.driver()
    yield driver
    await driver.close()


def anomaly_event(team_id: UUID, n: int, prefix: str = "9") -> AnomalyDetected:
    """A detected EC2 spike of account number n, as analytics publishes it."""
    return AnomalyDetected(
        team_id=team_id,
        anomaly_id=uuid4(),
        account_id=uuid4(),
        aws_account_id=f"{prefix}{n:011d}",
        service="AmazonEC2",
        region="us-east-1",
        usage_date=date(2026, 11, 24),
        kind=AnomalyKind.SPIKE,
        severity=Severity.HIGH,
        actual_cost=Decimal("1000"),
        expected_cost=Decimal("300"),
        impact=Decimal("700"),
        impact_pct=Decimal("233"),
        root_causes=[
            RootCause(dimension="usage_type", name="BoxUsage:p3.2xlarge", contribution=700)
        ],
    )


def _ec2_normal(day: date) -> Decimal:
    return (Decimal(150) if day.weekday() >= 5 else Decimal(200)) + (day.toordinal() * 7) % 11 - 5


def cost_day(
    team_id: UUID, account_id: UUID, aws_account_id: str, day: date, extra: Decimal = Decimal(0)
) -> CostDayRecorded:
    """One account's EC2 day as ingest publishes it: a weekday/weekend pattern, plus `extra`
    dollars of new instances (a real jump; such a day is live, not backfill)."""
    normal = _ec2_normal(day)
    usage = [CostDriver(name="USE1-BoxUsage:m5.large", cost=normal)]
    if extra:
        usage.append(CostDriver(name="USE1-BoxUsage:p4d.24xlarge", cost=extra))
    line = CostLine(
        summary_id=uuid4(),
        service=EC2_SERVICE,  # ingest names a service as Cost Explorer and CUR do
        region="us-east-1",
        unblended_cost=normal + extra,
        top_usage_types=usage,
    )
    return CostDayRecorded(
        team_id=team_id,
        account_id=account_id,
        aws_account_id=aws_account_id,
        usage_date=day,
        total_unblended_cost=normal + extra,
        lines=[line],
        backfill=not extra,
    )
