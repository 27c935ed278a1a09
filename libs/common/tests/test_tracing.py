"""Following one event through the logs: a handler's log lines carry the event it handles, and
the events it emits (outbox or direct publish) carry the cause and the chain's first event."""

from __future__ import annotations

import io
import json
import logging
from uuid import UUID, uuid4

from cloudaudit.common.bus import (
    BusNames,
    ensure_streams,
    make_broker,
    publish_event,
    subscribe_durable,
)
from cloudaudit.common.db import UnitOfWork, make_engine, outbox_table, service_metadata
from cloudaudit.common.events.base import Event
from cloudaudit.common.logging import JsonFormatter
from cloudaudit.common.testing import eventually
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.schema import CreateSchema

DAY = "cost.v1.trace_day"
FOUND = "anomaly.v1.trace_found"
POSTED = "anomaly.v1.trace_posted"


class TraceEvent(Event):
    """A test-only event: what each step of the chain publishes."""

    step: str


def _json_lines(stream: io.StringIO, logger_name: str) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == logger_name]


async def test_a_chain_of_handlers_logs_and_links_the_event_that_caused_each_step(
    settings, infrastructure, database_url
):
    names = BusNames(settings.bus_prefix)
    broker = make_broker(infrastructure.nats_url, names, "test", max_deliveries=3)
    engine = make_engine(database_url)
    metadata = service_metadata("trace")
    outbox = outbox_table(metadata)
    async with engine.begin() as conn:
        await conn.execute(CreateSchema("trace", if_not_exists=True))
        await conn.run_sync(metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def publish(subject: str, event_id: str, payload: dict) -> None:
        await publish_event(broker, names, subject, TraceEvent.model_validate(payload))

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("cloudaudit.trace-test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    seen: dict[str, TraceEvent] = {}

    @subscribe_durable(broker, names, DAY, "trace-detector")
    async def on_day(event: TraceEvent) -> None:
        seen["day"] = event
        log.info("cost day scored", extra={"team_id": str(event.team_id)})
        async with UnitOfWork(sessions, outbox, publish) as uow:  # the outbox path
            await uow.emit(FOUND, TraceEvent(team_id=event.team_id, step="anomaly"))
            await uow.commit()

    @subscribe_durable(broker, names, FOUND, "trace-poster")
    async def on_found(event: TraceEvent) -> None:
        seen["anomaly"] = event
        log.info("alert posted")
        await publish_event(broker, names, POSTED, TraceEvent(team_id=event.team_id, step="post"))

    @subscribe_durable(broker, names, POSTED, "trace-audit")
    async def on_posted(event: TraceEvent) -> None:
        seen["post"] = event

    await broker.connect()
    await ensure_streams(broker, names)
    await broker.start()
    try:
        day = TraceEvent(team_id=uuid4(), step="day")
        await publish_event(broker, names, DAY, day)
        await eventually(lambda: _async("post" in seen), timeout=30)
        log.info("outside any handler")
    finally:
        await broker.stop()
        log.removeHandler(handler)
        await engine.dispose()

    anomaly, post = seen["anomaly"], seen["post"]
    assert seen["day"].correlation_id is None and seen["day"].causation_id is None
    # Each emitted event names its cause; all of them name the cost day that started it.
    assert anomaly.causation_id == day.event_id and anomaly.correlation_id == day.event_id
    assert post.causation_id == anomaly.event_id and post.correlation_id == day.event_id

    lines = {line["msg"]: line for line in _json_lines(stream, "cloudaudit.trace-test")}
    scored = lines["cost day scored"]
    assert scored["event_id"] == str(day.event_id)
    assert scored["subject"] == DAY and scored["correlation_id"] == str(day.event_id)
    assert scored["team_id"] == str(day.team_id)
    posted = lines["alert posted"]
    assert posted["event_id"] == str(anomaly.event_id) and posted["subject"] == FOUND
    assert posted["correlation_id"] == str(day.event_id)
    assert "event_id" not in lines["outside any handler"]
    assert isinstance(UUID(posted["event_id"]), UUID)


async def _async(value: bool) -> bool:
    return value
