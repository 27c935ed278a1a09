"""An import whose process dies never stays `running`: the next import finds it abandoned (its
lease lock is gone) and labels it `interrupted`, while an import still running elsewhere is
left alone."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import pytest
from cloudaudit.common.clock import utcnow
from cloudaudit.common.testing import eventually
from cloudaudit.ingest.service.imports import INTERRUPTED_REASON, import_costs
from sqlalchemy.engine import make_url

from ..oracle import DATA, cur2

SAMPLE = DATA / "cur2_2024_04.csv.gz"
COPIES = 6000  # ~40k line items: the import is still loading when it is killed


def big_export(folder: Path) -> Path:
    """The sample CUR 2.0 month, every line item repeated: one large export file."""
    with gzip.open(SAMPLE, "rt", newline="") as sample:
        reader = csv.reader(sample)
        header, rows = next(reader), list(reader)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for _ in range(COPIES):
        writer.writerows(rows)
    path = folder / "cur2_2024_04_large.csv.gz"
    path.write_bytes(gzip.compress(buffer.getvalue().encode(), compresslevel=1))
    return path


def dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(False)


async def query(database_url: str, sql: str, *args) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn(database_url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def imports_of(database_url: str, team_id: UUID) -> list[asyncpg.Record]:
    return await query(
        database_url,
        "SELECT import_id, status, started_at, finished_at, heartbeat_at, problems "
        "FROM ingest.imports WHERE team_id = $1 ORDER BY started_at",
        team_id,
    )


async def import_leases_held(database_url: str) -> int:
    rows = await query(
        database_url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()",
    )
    return rows[0][0]


@pytest.fixture
def cli_env(infrastructure, database_url, bus_prefix, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "INGEST_"))}
    env.update(
        DATABASE_URL=database_url,
        NATS_URL=infrastructure.nats_url,
        CLOUDAUDIT_BUS_PREFIX=bus_prefix,
        CLOUDAUDIT_STATE_DIR=str(tmp_path / "state"),
        CLOUDAUDIT_LOG_LEVEL="WARNING",
        INGEST_IMPORT_BLOCK_BYTES=str(64 * 1024),  # many small batches: many progress reports
    )
    return env


async def test_import_killed_mid_load_is_labelled_interrupted_by_the_next_one(
    deps, database_url, cli_env, tmp_path
):
    team_id = uuid4()
    export = await asyncio.to_thread(big_export, tmp_path)
    killed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cloudaudit.common",
        "import-costs",
        str(export),
        "--team",
        str(team_id),
        env=cli_env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def loading() -> bool:
            started = await imports_of(database_url, team_id)
            return bool(started) and started[0]["status"] == "running"

        await eventually(loading, timeout=90, interval=0.02)
        os.kill(killed.pid, signal.SIGKILL)
    finally:
        await asyncio.wait_for(killed.wait(), 10)
    assert killed.returncode == -signal.SIGKILL

    # What the killed process left: a `running` import with no process behind it.
    [zombie] = await imports_of(database_url, team_id)
    assert zombie["status"] == "running" and zombie["finished_at"] is None
    assert zombie["heartbeat_at"] is not None and zombie["heartbeat_at"] >= zombie["started_at"]
    # PostgreSQL notices the dead client and drops its lease (and rolls back its rows).
    await eventually(lambda: _none(import_leases_held, database_url), timeout=30)

    report = await import_costs(deps, team_id, [str(export)])

    assert report.interrupted == [zombie["import_id"]]
    killed_import, rerun = await imports_of(database_url, team_id)
    assert killed_import["import_id"] == zombie["import_id"]
    assert killed_import["status"] == "interrupted"
    assert killed_import["finished_at"] == zombie["heartbeat_at"]  # its last sign of life
    assert json.loads(killed_import["problems"]) == [{"reason": INTERRUPTED_REASON}]
    assert rerun["import_id"] == report.import_id and rerun["status"] == "succeeded"
    # Every line item once: the killed import kept nothing, the re-run everything.
    expected = cur2(SAMPLE.name)
    assert report.rows_loaded == len(expected) * COPIES
    [stored] = await query(
        database_url,
        "SELECT count(*) AS n, sum(unblended_cost) AS cost FROM ingest.cost_data "
        "WHERE team_id = $1",
        team_id,
    )
    assert stored["n"] == len(expected) * COPIES
    assert stored["cost"] == sum((i.unblended for i in expected), Decimal(0)) * COPIES
    assert await import_leases_held(database_url) == 0  # the re-run released its own


async def test_an_import_still_running_elsewhere_is_left_alone_until_its_process_is_gone(
    deps, database_url
):
    team_id = uuid4()
    other = uuid4()
    sample = [str(SAMPLE)]
    # Another process's import, alive: it holds its lease while it loads.
    async with deps.leases.import_lease(other):
        async with deps.uow() as uow:
            await uow.repo.add_import(
                import_id=other,
                team_id=team_id,
                started_at=utcnow(),
                heartbeat_at=utcnow(),
                status="running",
                sources=sample,
                formats={},
            )
            await uow.commit()

        first = await import_costs(deps, team_id, sample)

        assert first.interrupted == []
        statuses = {r["import_id"]: r["status"] for r in await imports_of(database_url, team_id)}
        assert statuses == {other: "running", first.import_id: "succeeded"}

    # That process ended without finishing its import (its lease is released): the next
    # import labels it, and only it.
    second = await import_costs(deps, team_id, sample)

    assert second.interrupted == [other]
    statuses = {r["import_id"]: r["status"] for r in await imports_of(database_url, team_id)}
    assert statuses == {
        other: "interrupted",
        first.import_id: "succeeded",
        second.import_id: "succeeded",
    }


async def _none(count, *args) -> bool:
    return await count(*args) == 0


async def test_ingest_labels_imports_abandoned_before_it_started(
    deps, database_url, start_service, ingest_settings
):
    """A service start sweeps every team: no zombie waits for that team's next import."""
    team_id, abandoned = uuid4(), uuid4()
    async with deps.uow() as uow:
        await uow.repo.add_import(
            import_id=abandoned,
            team_id=team_id,
            started_at=utcnow(),
            heartbeat_at=utcnow(),
            status="running",
            sources=[str(SAMPLE)],
            formats={},
        )
        await uow.commit()

    await start_service("ingest", ingest_settings)

    async def labelled() -> bool:
        [row] = await imports_of(database_url, team_id)
        return row["status"] == "interrupted"

    await eventually(labelled, timeout=30)
    [row] = await imports_of(database_url, team_id)
    assert json.loads(row["problems"]) == [{"reason": INTERRUPTED_REASON}]
