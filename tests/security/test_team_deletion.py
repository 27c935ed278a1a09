"""A deleted team leaves nothing behind: on `identity.v1.team.deleted` every service deletes
every row it keeps of that team (found by its `team_id` column, so a table added later is
covered), and nothing of any other team.

The real ingest and analytics run on the session's NATS and PostgreSQL; the event is published
on JetStream as identity publishes it."""

from __future__ import annotations

import uuid

import pytest
from attack_support import enrol
from cloudaudit.common.bus import publish_event
from cloudaudit.common.db import delete_team_rows, make_engine
from cloudaudit.common.events.team import TEAM_DELETED, TeamDeleted
from cloudaudit.common.testing import eventually
from sqlalchemy.ext.asyncio import async_sessionmaker

pytestmark = pytest.mark.asyncio(loop_scope="session")

COUNTED = (
    "ingest.aws_accounts",
    "ingest.team_settings",
    "analytics.cost_anomalies",
    "analytics.recommendations",
)


async def _rows_of(db, team_id) -> dict[str, int]:
    return {
        table: int(
            (await db.fetch(f"SELECT count(*) FROM {table} WHERE team_id = $1", team_id))[0][0]
        )
        for table in COUNTED
    }


@pytest.mark.slow
async def test_every_service_deletes_the_deleted_teams_rows_and_only_those(
    attacker, victim, db, bus
):
    bystander = await enrol(attacker, "T-BYSTANDER", "U-BYSTANDER")
    await db.execute(
        "INSERT INTO ingest.team_settings (team_id, external_id, tag_keys, created_at) "
        "VALUES ($1, 'ca-bystander-external-id', '[]', now())",
        bystander.team_id,
    )
    assert all((await _rows_of(db, victim.owner.team_id)).values())
    await publish_event(
        bus.broker, bus.names, TEAM_DELETED, TeamDeleted(team_id=victim.owner.team_id)
    )

    async def gone():
        left = await _rows_of(db, victim.owner.team_id)
        return not any(left.values()) or None

    assert await eventually(gone, timeout=20)
    assert (await _rows_of(db, bystander.team_id))["ingest.team_settings"] == 1
    # a redelivered event finds nothing left and changes nothing
    await publish_event(
        bus.broker, bus.names, TEAM_DELETED, TeamDeleted(team_id=victim.owner.team_id)
    )
    assert (await _rows_of(db, bystander.team_id))["ingest.team_settings"] == 1


async def test_the_bot_deletes_its_team_rows_but_not_slacks_own_tables(database_url, db):
    """The bot's schema mixes our tables (team_id a UUID) with slack_sdk's (team_id Slack's
    workspace id, a string): only ours are matched, and the installation is the bot's to drop
    when Slack says the app was uninstalled."""
    from cloudaudit.bot.adapters.orm import outbox

    team_id = uuid.uuid4()
    engine = make_engine(database_url, schema="bot")
    try:
        counts = await delete_team_rows(async_sessionmaker(engine), outbox.metadata, team_id)
    finally:
        await engine.dispose()
    assert counts == {}  # nothing of that team, and no type error on slack_sdk's varchar ids
