"""One outbox row the bus can never take (over NATS's max_payload) is parked with its error
after a few tries; the rows behind it are published meanwhile, and `cloudaudit outbox list`
names it. Before, such a row blocked the relay of its service forever."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from uuid import uuid4

import pytest
from attack_support import Database
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import OUTBOX_PARK_AFTER
from cloudaudit.common.testing import eventually

SUBJECT = "anomaly.v1.outbox_probe"  # captured by the ANOMALY stream; nobody here consumes it


async def store(db: Database, event_id, payload: dict, age_s: float) -> None:
    await db.execute(
        "INSERT INTO identity.outbox (event_id, subject, payload, created_at) "
        "VALUES ($1, $2, $3::jsonb, $4)",
        event_id,
        SUBJECT,
        json.dumps(payload),
        utcnow() - timedelta(seconds=age_s),
    )


async def outbox_row(db: Database, event_id) -> dict:
    [row] = await db.fetch(
        "SELECT attempts, last_error, parked_at, published_at FROM identity.outbox "
        "WHERE event_id = $1",
        event_id,
    )
    return dict(row)


@pytest.mark.slow
async def test_a_row_too_big_for_the_bus_is_parked_and_the_rows_behind_it_flow(
    start_service, settings, db, bus
):
    too_big, after = uuid4(), [uuid4() for _ in range(3)]
    await store(db, too_big, {"event_id": str(too_big), "blob": "x" * 1_500_000}, age_s=60)
    for n, event_id in enumerate(after):
        await store(db, event_id, {"event_id": str(event_id), "n": n}, age_s=30 - n)

    await start_service("identity")

    async def published_behind() -> bool:
        rows = [await outbox_row(db, e) for e in after]
        return all(r["published_at"] is not None for r in rows)

    await eventually(published_behind, timeout=30)
    stored = [json.loads(m.data) for m in await bus.stream_messages("ANOMALY", SUBJECT)]
    assert sorted(m["n"] for m in stored) == [0, 1, 2]

    async def parked() -> dict | None:
        row = await outbox_row(db, too_big)
        return row if row["parked_at"] is not None else None

    row = await eventually(parked, timeout=60)
    assert row["attempts"] == OUTBOX_PARK_AFTER and row["published_at"] is None
    assert "payload" in row["last_error"].lower()

    env = dict(
        os.environ,
        NATS_URL=settings.nats_url_value(),
        DATABASE_URL=settings.database_url.get_secret_value(),
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cloudaudit.common",
        "outbox",
        "list",
        "--service",
        "identity",
        "--format",
        "json",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    [listed] = json.loads(out)
    assert listed["event_id"] == str(too_big) and listed["subject"] == SUBJECT


@pytest.mark.slow
async def test_readyz_fails_while_publishing_is_stalled(start_service, db):
    """An event the relay has not published for an hour means events are not reaching anyone:
    the service must stop saying it is ready (here no stream takes the event's subject)."""
    stuck = uuid4()
    await db.execute(
        "INSERT INTO identity.outbox (event_id, subject, payload, created_at) "
        "VALUES ($1, 'unstreamed.v1.probe', $2::jsonb, $3)",
        stuck,
        json.dumps({"event_id": str(stuck)}),
        utcnow() - timedelta(hours=1),
    )
    identity = await start_service("identity")

    health = await identity.health()

    assert not health.healthy
    assert health.checks["outbox"].startswith("stalled: the oldest unpublished event is")
    assert "CLOUDAUDIT_OUTBOX_MAX_LAG_S" in health.checks["outbox"]
