"""The bus over a real NATS server: delivery, redelivery after a crash, dedupe, dead letters."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from cloudaudit.common.bus import (
    BusNames,
    ensure_streams,
    make_broker,
    publish_event,
    subscribe_durable,
)
from cloudaudit.common.db import asyncpg_url
from cloudaudit.common.events.base import Event
from cloudaudit.common.events.dead_letter import DeadLetter
from cloudaudit.common.money import Money
from cloudaudit.common.testing import eventually
from faststream.nats import NatsBroker
from pydantic import Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


class CostNoted(Event):
    """A test-only event shaped like the real cost events (money as Decimal)."""

    amount: Money = Field()


SUBJECT = "cost.v1.test_noted"


@pytest.fixture
async def ledger(database_url: str):
    """A real table to observe a handler's committed effects."""
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE ledger (event_id uuid PRIMARY KEY, amount numeric(20,6))")
        )
    yield engine
    await engine.dispose()


async def _count(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM ledger"))).scalar_one()


async def _started(broker: NatsBroker, names: BusNames) -> NatsBroker:
    await broker.connect()
    await ensure_streams(broker, names)
    await broker.start()
    return broker


async def test_handler_crash_is_redelivered_and_applied_once(settings, infrastructure, ledger):
    names = BusNames(settings.bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "test", max_deliveries=5)
    attempts: list[UUID] = []

    @subscribe_durable(broker, names, SUBJECT, "ledger-writer")
    async def on_cost(event: CostNoted) -> None:
        attempts.append(event.event_id)
        async with ledger.begin() as conn:
            await conn.execute(
                text("INSERT INTO ledger VALUES (:id, :amount) ON CONFLICT DO NOTHING"),
                {"id": event.event_id, "amount": event.amount},
            )
            if len(attempts) == 1:
                raise RuntimeError("crash before commit")  # rolls back the insert

    await _started(broker, names)
    try:
        event = CostNoted(team_id=uuid4(), amount=Decimal("12.345678"))
        await publish_event(broker, names, SUBJECT, event)
        await eventually(lambda: _count_is(ledger, 1))
        # A re-publish of the same event (an outbox retry) is dropped by JetStream's dedupe.
        await publish_event(broker, names, SUBJECT, event)
        second = CostNoted(team_id=uuid4(), amount=Decimal("1"))
        await publish_event(broker, names, SUBJECT, second)
        await eventually(lambda: _count_is(ledger, 2))
        assert attempts.count(event.event_id) == 2  # crashed once, then applied
        async with ledger.connect() as conn:
            stored = (
                await conn.execute(
                    text("SELECT amount FROM ledger WHERE event_id = :id"), {"id": event.event_id}
                )
            ).scalar_one()
        assert stored == Decimal("12.345678")
    finally:
        await broker.stop()


async def _count_is(engine, expected: int) -> bool:
    return await _count(engine) == expected


async def test_poison_message_is_dead_lettered_and_consumer_keeps_going(
    settings, infrastructure, bus
):
    names = BusNames(settings.bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "test", max_deliveries=3)
    handled: list[Decimal] = []

    @subscribe_durable(broker, names, SUBJECT, "strict-reader")
    async def on_cost(event: CostNoted) -> None:
        handled.append(event.amount)

    await _started(broker, names)
    try:
        js = bus.nc.jetstream()
        await js.publish(
            names.subject(SUBJECT),
            b'{"team_id": "not-a-uuid", "amount": "x"}',
            stream=names.stream("COST"),
        )
        good = CostNoted(team_id=uuid4(), amount=Decimal("5.00"))
        await publish_event(broker, names, SUBJECT, good)
        await eventually(lambda: _async(handled == [Decimal("5.00")]))
        dead = await eventually(lambda: bus.stream_messages("DLQ"))
        record = DeadLetter.model_validate_json(dead[0].data)
        assert record.original_subject == SUBJECT
        assert record.consumer == "strict-reader"
        assert "team_id" in record.error
        assert json.loads(record.payload)["amount"] == "x"
    finally:
        await broker.stop()


async def test_failing_handler_is_dead_lettered_after_max_deliveries(settings, infrastructure, bus):
    names = BusNames(settings.bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "test", max_deliveries=3)
    attempts: list[int] = []

    @subscribe_durable(broker, names, SUBJECT, "always-fails")
    async def on_cost(event: CostNoted) -> None:
        attempts.append(1)
        raise ValueError("downstream rejected the row")

    await _started(broker, names)
    try:
        await publish_event(broker, names, SUBJECT, CostNoted(team_id=uuid4(), amount=Decimal("1")))
        dead = await eventually(lambda: bus.stream_messages("DLQ"), timeout=20)
        record = DeadLetter.model_validate_json(dead[0].data)
        assert record.deliveries == 3
        assert record.error_type == "ValueError"
        assert "downstream rejected" in record.error
        assert len(attempts) == 3
    finally:
        await broker.stop()


async def _async(value):
    return value


async def test_request_reply_round_trip_with_decimal(settings, infrastructure):
    from cloudaudit.common.bus import rpc
    from cloudaudit.common.events.base import Reply, Request

    class Quote(Request):
        amount: Money

    class Quoted(Reply):
        doubled: Money | None = None

    names = BusNames(settings.bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "test", 3)

    @broker.subscriber(names.subject("test.v1.rpc.double"))
    async def double(request: Quote) -> Quoted:
        return Quoted(doubled=request.amount * 2)

    await _started(broker, names)
    try:
        reply = await rpc(
            broker, names, "test.v1.rpc.double", Quote(amount=Decimal("0.10")), Quoted
        )
        assert reply.doubled == Decimal("0.20")
        assert isinstance(reply.doubled, Decimal)
    finally:
        await broker.stop()
    await asyncio.sleep(0)


async def test_a_handler_slower_than_the_ack_wait_is_not_redelivered_while_it_runs(
    settings, infrastructure, monkeypatch
):
    """An inventory refresh or an LLM call can outlast JetStream's ack wait; redelivering it
    to another worker meanwhile would repeat AWS and LLM calls the customer pays for."""
    from cloudaudit.common import bus as bus_module

    monkeypatch.setattr(bus_module, "ACK_WAIT_S", 1)
    monkeypatch.setattr(bus_module, "IN_PROGRESS_EVERY_S", 0.25)
    names = BusNames(settings.bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "test", max_deliveries=5)
    started: list[int] = []
    finished = asyncio.Event()

    @subscribe_durable(broker, names, SUBJECT, "slow-worker")
    async def on_cost(event: CostNoted) -> None:
        started.append(1)
        await asyncio.sleep(4)  # four ack waits
        finished.set()

    await _started(broker, names)
    try:
        await publish_event(broker, names, SUBJECT, CostNoted(team_id=uuid4(), amount=Decimal("1")))
        await asyncio.wait_for(finished.wait(), 20)
        await asyncio.sleep(1.5)  # a redelivery after the ack would show up here too
        assert len(started) == 1
    finally:
        await broker.stop()
