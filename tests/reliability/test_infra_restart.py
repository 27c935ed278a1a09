"""Crash safety of the infrastructure: restart NATS and PostgreSQL under load while the four
services run as processes; they reconnect, report ready again, and finish with nothing lost,
nothing repeated and nothing dead-lettered.

NATS and PostgreSQL here are private to this module (their own state directory and ports), so
stopping them leaves the session's shared servers, and every other test, alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import aiohttp
import nats
import pytest
from cloudaudit.common.bus import (
    BusNames,
    ensure_streams,
    is_transient,
    make_broker,
    publish_event,
    rpc,
)
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import make_engine
from cloudaudit.common.embedded import EmbeddedInfrastructure, free_port
from cloudaudit.common.events.anomaly import (
    ANOMALY_DETECTED,
)
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.base import Event
from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded
from cloudaudit.common.runtime import Endpoints
from cloudaudit.common.testing import eventually
from cloudaudit.demo.company import EC2_SERVICE
from cloudaudit.demo.stack import ProductStack
from faststream.nats import NatsBroker
from sqlalchemy import text

from .conftest import Product, anomaly_event, cost_day

log = logging.getLogger("cloudaudit.tests.infra_restart")

ALERTS = "CINFRARESTART"
OWNER = "UINFRAOWNER"
SLACK_TEAM = "T0INFRA"
ACCOUNTS = 3
HISTORY_DAYS = 60
ALERT_BURST = 60
AUDIT_ENTRIES = 120
OUTAGE_S = 3.0  # how long each server stays down
PUBLISH_PAUSE_S = 0.04  # a steady stream, spread over the three outages


@dataclass
class Infra:
    servers: EmbeddedInfrastructure
    product: Product

    @property
    def ready_urls(self) -> dict[str, str]:
        ports = self.product.stack.ports
        return {
            name: f"http://127.0.0.1:{ports[port]}/readyz"
            for name, port in (
                ("identity", "identity"),
                ("ingest", "ingest"),
                ("analytics", "analytics"),
                ("bot", "bot_health"),
            )
        }


class StackWithoutAws(ProductStack):
    """The product without the AWS stand-in: nothing in this test talks to AWS, and seeding
    the simulated company would add half a minute on a busy machine."""

    def _start_aws(self) -> None:
        self.aws_url = f"http://127.0.0.1:{free_port()}"  # nothing listens: no AWS here


@pytest.fixture(scope="module")
def infra() -> Iterator[Infra]:
    """Private NATS + PostgreSQL, migrated, with the whole product running on them. The
    servers' and services' logs stay in /tmp/cloudaudit-infra-restart-*/ afterwards."""
    state = Path(tempfile.mkdtemp(prefix="cloudaudit-infra-restart-"))
    servers = EmbeddedInfrastructure(state, free_port(), free_port())
    stack: ProductStack | None = None
    try:
        servers.nats.start()
        servers.postgres.start()
        stack = StackWithoutAws(
            endpoints=Endpoints(database_url=servers.postgres.url, nats_url=servers.nats.url),
            state_dir=state / "product",
            bus_prefix=f"i{uuid.uuid4().hex[:8]}",
            extra_env={"CLOUDAUDIT_LOG_LEVEL": "INFO", "CLOUDAUDIT_MAX_DELIVERIES": "3"},
        )
        started = time.monotonic()
        stack.start(lambda step: log.info(step, extra={"s": round(time.monotonic() - started)}))
        yield Infra(servers, Product(stack, servers.postgres.url))
    finally:
        if stack is not None:
            stack.stop()
        servers.nats.stop()
        servers.postgres.stop()
        for data in (servers.nats.root, servers.postgres.root):  # the logs stay, for a look
            shutil.rmtree(data, ignore_errors=True)


# -- the load -----------------------------------------------------------------------------------
def audit_entry(team_id: UUID, n: int) -> AuditRecorded:
    return AuditRecorded(
        team_id=team_id,
        action="budget.reviewed",
        entity_type="budget",
        entity_id=f"budget-{n}",
        details={"amount": "125.50"},
        source="reliability",
    )


class SteadyPublisher:
    """Publishes like a service's outbox relay would: each event until JetStream acks it,
    retrying through outages (the same event_id, so JetStream keeps one copy)."""

    def __init__(self, broker: NatsBroker, names: BusNames) -> None:
        self.broker, self.names = broker, names
        self.published = 0
        self.retries = 0

    async def publish(self, subject: str, event: Event) -> None:
        while True:
            try:
                await asyncio.wait_for(
                    publish_event(self.broker, self.names, subject, event), timeout=5
                )
                self.published += 1
                return
            except Exception:  # bus down or reconnecting: try again, as a relay does
                self.retries += 1
                await asyncio.sleep(0.2)

    async def publish_all(self, events: list[tuple[str, Event]]) -> None:
        for subject, event in events:
            await self.publish(subject, event)
            await asyncio.sleep(PUBLISH_PAUSE_S)


def interleave(*streams: list[tuple[str, Event]]) -> list[tuple[str, Event]]:
    merged: list[tuple[str, Event]] = []
    for index in range(max(len(s) for s in streams)):
        merged.extend(s[index] for s in streams if index < len(s))
    return merged


# -- what an operator checks --------------------------------------------------------------------
async def readiness(infra: Infra) -> dict[str, tuple[int, set[str]]]:
    """Each service's /readyz: the status, and the names of the checks that are not ok."""
    found: dict[str, tuple[int, set[str]]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        for name, url in infra.ready_urls.items():
            try:
                async with http.get(url) as response:
                    checks = (await response.json())["checks"]
                    failing = {check for check, state in checks.items() if state != "ok"}
                    found[name] = (response.status, failing)
            except (aiohttp.ClientError, TimeoutError):
                found[name] = (0, {"http"})
    return found


async def all_ready(infra: Infra) -> bool:
    return all(status == 200 for status, _ in (await readiness(infra)).values())


async def none_ready(infra: Infra, check: str) -> bool:
    """Every service answers 503 and names the server that is away."""
    return all(
        status == 503 and check in failing for status, failing in (await readiness(infra)).values()
    )


def posted_alerts(slack, channel: str) -> Counter[str]:
    posted: Counter[str] = Counter()
    for message in slack.channel_messages(channel):
        for block in message.blocks:
            block_id = block.get("block_id", "")
            if block_id.startswith("anomaly:"):
                posted[block_id.removeprefix("anomaly:")] += 1
                break
    return posted


async def outage(infra: Infra, stop, start, check: str) -> float:
    """Stop a server, see every service turn not-ready naming it, start it again on the same
    port with the same data, see every service ready again. Returns seconds until all were."""
    await asyncio.to_thread(stop)
    stopped = time.monotonic()
    await eventually(lambda: none_ready(infra, check), timeout=30, interval=0.2)
    await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
    await asyncio.to_thread(start)
    restarted = time.monotonic()
    await eventually(lambda: all_ready(infra), timeout=60, interval=0.2)
    took = time.monotonic() - restarted
    log.info("services ready again", extra={"outage": check, "seconds": round(took, 2)})
    return took


async def test_nats_and_postgres_restarted_under_load_lose_and_repeat_nothing(infra: Infra):
    product, servers = infra.product, infra.servers
    product.slack.add_workspace(SLACK_TEAM, "Infra Co", "xoxb-infra-restart-workspace")
    owner = product.driver(team_id=SLACK_TEAM)
    try:
        team_id = await product.alerts_here(owner, OWNER, ALERTS, SLACK_TEAM)
    finally:
        await owner.close()

    today = utcnow().date()
    accounts = [(uuid4(), f"6{n:011d}") for n in range(ACCOUNTS)]
    history = [
        (
            COST_DAY_RECORDED.format(aws_account_id=aws_id),
            cost_day(team_id, account_id, aws_id, today - timedelta(days=offset)),
        )
        for offset in range(HISTORY_DAYS, 0, -1)
        for account_id, aws_id in accounts
    ]
    # today each account's EC2 jumps by $700 (new p4d instances): one real anomaly each
    spikes = [
        (
            COST_DAY_RECORDED.format(aws_account_id=aws_id),
            cost_day(team_id, account_id, aws_id, today, extra=Decimal(700)),
        )
        for account_id, aws_id in accounts
    ]
    audits = [(AUDIT_RECORDED, audit_entry(team_id, n)) for n in range(AUDIT_ENTRIES)]
    alerts = [
        (ANOMALY_DETECTED.format(aws_account_id=e.aws_account_id), e)
        for e in (anomaly_event(team_id, n, prefix="8") for n in range(ALERT_BURST))
    ]

    names = BusNames(product.stack.bus_prefix)
    broker = make_broker(servers.nats.url, names, "reliability", 3)
    await broker.connect()
    await ensure_streams(broker, names)
    publisher = SteadyPublisher(broker, names)
    try:
        # The Slack posts happen around the NATS outages, not the PostgreSQL one: a post that
        # Slack accepted just before the database went away is the bot's known posting window.
        first = asyncio.create_task(publisher.publish_all(interleave(history, audits)))

        async def days_recorded() -> int:
            return await product.value(
                "SELECT count(*) FROM analytics.cost_days WHERE team_id = $1", team_id
            )

        await eventually(lambda: _at_least(days_recorded, len(history) // 6), timeout=60)
        recovery = {
            "postgres fast restart": await outage(
                infra, servers.postgres.stop, servers.postgres.start, "database"
            )
        }
        second = asyncio.create_task(publisher.publish_all(interleave(alerts, spikes)))
        await eventually(lambda: _posted_at_least(product.slack, 5), timeout=60, interval=0.05)
        recovery["nats SIGTERM restart"] = await outage(
            infra, servers.nats.stop, servers.nats.start, "nats"
        )
        recovery["nats kill -9 restart"] = await outage(
            infra, servers.nats.kill, servers.nats.start, "nats"
        )
        await asyncio.wait_for(asyncio.gather(first, second), timeout=120)
    finally:
        await broker.stop()

    # -- everything arrives, exactly once --------------------------------------------------
    expected_days = len(history) + len(spikes)
    await eventually(lambda: _at_least(days_recorded, expected_days), timeout=90, interval=0.5)
    assert await days_recorded() == expected_days
    rows = await product.rows(
        "SELECT usage_date, count(*) AS n FROM analytics.cost_days WHERE team_id = $1 "
        "GROUP BY usage_date",
        team_id,
    )
    assert {r["usage_date"]: r["n"] for r in rows} == {
        today - timedelta(days=offset): ACCOUNTS for offset in range(HISTORY_DAYS + 1)
    }

    audit_ids = {e.event_id for _, e in audits}

    async def audits_stored() -> bool:
        stored = await product.value(
            "SELECT count(*) FROM identity.audit_logs WHERE team_id = $1 AND source = $2",
            team_id,
            "reliability",
        )
        return stored >= len(audit_ids)

    await eventually(audits_stored, timeout=60, interval=0.5)
    stored_audits = await product.rows(
        "SELECT audit_id FROM identity.audit_logs WHERE team_id = $1 AND source = $2",
        team_id,
        "reliability",
    )
    assert Counter(r["audit_id"] for r in stored_audits) == Counter(audit_ids)

    async def spikes_detected() -> list:
        found = await product.rows(
            "SELECT anomaly_id, account_id, usage_date FROM analytics.cost_anomalies "
            "WHERE team_id = $1 AND service = $2 AND alerted <> 0",
            team_id,
            EC2_SERVICE,
        )
        return found if len(found) >= ACCOUNTS else []

    detected = await eventually(spikes_detected, timeout=60, interval=0.5)
    assert sorted(r["account_id"] for r in detected) == sorted(a for a, _ in accounts)
    assert {r["usage_date"] for r in detected} == {today}

    wanted = {str(e.anomaly_id) for _, e in alerts} | {str(r["anomaly_id"]) for r in detected}

    async def all_posted() -> bool:
        return wanted <= set(posted_alerts(product.slack, ALERTS))

    await eventually(all_posted, timeout=90, interval=0.5)
    posted = posted_alerts(product.slack, ALERTS)
    assert set(posted) == wanted
    assert {k: n for k, n in posted.items() if n > 1} == {}

    # -- nothing was a poison message, and every service is ready --------------------------
    dead = await _dead_letters(servers.nats.url, names)
    assert dead == [], dead
    assert await readiness(infra) == {name: (200, set()) for name in infra.ready_urls}
    assert publisher.published == len(history) + len(spikes) + len(audits) + len(alerts)
    log.info(
        "infrastructure restarts survived",
        extra={"recovery_s": {k: round(v, 2) for k, v in recovery.items()}},
    )
    print(f"recovery seconds: {recovery}; publish retries: {publisher.retries}")


async def _dead_letters(nats_url: str, names: BusNames) -> list[str]:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(names.stream("DLQ"))
        if not info.state.messages:
            return []
        sub = await nc.jetstream().pull_subscribe(
            names.subject("dlq.v1.>"), stream=names.stream("DLQ")
        )
        messages = []
        with contextlib.suppress(Exception):
            messages = await sub.fetch(min(50, info.state.messages), timeout=2)
        return [m.data.decode()[:300] for m in messages] or [f"{info.state.messages} messages"]
    finally:
        await nc.close()


async def _at_least(count, wanted: int) -> bool:
    return await count() >= wanted


async def _posted_at_least(slack, wanted: int) -> bool:
    return sum(posted_alerts(slack, ALERTS).values()) >= wanted


# -- what counts as the infrastructure's fault --------------------------------------------------
async def _raised(work) -> BaseException:
    try:
        await work()
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


async def test_an_outage_is_transient_and_a_bad_message_or_query_is_not(
    infrastructure, database_url, bus_prefix
):
    """The classification that decides retry-until-back versus dead-letter, on real errors."""
    nowhere = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/cloudaudit")
    engine = make_engine(database_url)
    names = BusNames(bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "reliability", 3)
    await broker.connect()
    try:

        async def connect_nowhere() -> None:
            async with nowhere.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def terminated_mid_session() -> None:
            async with engine.connect() as conn:
                pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                async with engine.connect() as admin:
                    await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                await conn.execute(text("SELECT 1"))

        async def bad_query() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1 / 0"))

        async def nobody_answers() -> None:  # a service that is down, on a live bus
            await rpc(
                broker,
                names,
                "identity.v1.rpc.nobody",
                AuditRecorded(team_id=uuid4(), action="a", entity_type="b"),
                AuditRecorded,
                timeout=1,
            )

        async def bad_message() -> None:
            CostDayRecorded.model_validate_json(b'{"team_id": "not a uuid"}')

        assert is_transient(await _raised(connect_nowhere))
        assert is_transient(await _raised(terminated_mid_session))
        assert is_transient(await _raised(nobody_answers))
        assert not is_transient(await _raised(bad_query))
        assert not is_transient(await _raised(bad_message))
        assert not is_transient(RuntimeError("a bug"))
    finally:
        await broker.stop()
        await nowhere.dispose()
        await engine.dispose()
