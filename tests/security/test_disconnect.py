"""Disconnecting an AWS account: only the team's owners and admins may, only their own team's
account, it stops syncs, and with `delete_data` every service forgets the account (ingest's
costs, summaries and runs; analytics' anomalies, series and recommendations), audited.

The real identity, ingest and analytics run on the session's NATS and PostgreSQL; requests are
hand-written JSON on the bus, as in the other attack tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from attack_support import enrol
from cloudaudit.common.testing import eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

DISCONNECT = "ingest.v1.rpc.disconnect"


async def _add_cost_rows(db, victim) -> None:
    await db.execute(
        "INSERT INTO ingest.cost_data (team_id, account_id, import_id, source, usage_date, "
        "billing_period, aws_account_id, service, region, usage_type, unblended_cost, "
        "currency, usage_start) VALUES ($1, $2, gen_random_uuid(), 'cur', $3, $4, "
        "'111122223333', 'AmazonEC2', 'us-east-1', 'BoxUsage', 12.5, 'USD', $5)",
        victim.owner.team_id,
        victim.account_id,
        date(2026, 11, 20),
        date(2026, 11, 1),
        datetime(2026, 11, 20, tzinfo=UTC),
    )


async def _count(db, query: str, *args) -> int:
    return int((await db.fetch(query, *args))[0][0])


async def test_a_member_cannot_disconnect_and_a_stranger_finds_nothing(attacker, victim, db):
    stranger = await enrol(attacker, "T-DISCONNECT-STRANGER", "U-DISCONNECT-STRANGER")
    for person, code in ((victim.member, "forbidden"), (stranger, "not_found")):
        answer = await attacker.ask(
            DISCONNECT,
            {
                "actor_token": person.tokens["ingest"],
                "account_id": str(victim.account_id),
                "delete_data": True,
            },
        )
        assert not answer["ok"] and answer["error"]["code"] == code, answer
    rows = await db.fetch("SELECT status FROM ingest.aws_accounts")
    assert [r["status"] for r in rows] == ["connected"]
    assert await _count(db, "SELECT count(*) FROM analytics.cost_anomalies") == 1


async def test_disconnect_keeping_the_data_stops_syncs_and_is_audited(attacker, victim, db):
    answer = await attacker.ask(
        DISCONNECT,
        {"actor_token": victim.owner.tokens["ingest"], "account_id": str(victim.account_id)},
    )
    assert answer["ok"] and answer["data_deleted"] is False, answer
    assert (await db.fetch("SELECT status FROM ingest.aws_accounts"))[0]["status"] == "disconnected"
    sync = await attacker.ask(
        "ingest.v1.rpc.sync",
        {"actor_token": victim.owner.tokens["ingest"], "account_id": str(victim.account_id)},
    )
    assert sync["ok"] and sync["started"] == [], sync  # skipped: nothing to sync with
    assert await _count(db, "SELECT count(*) FROM analytics.cost_anomalies") == 1

    async def audited():
        rows = await db.fetch(
            "SELECT details FROM identity.audit_logs WHERE action = 'account.disconnected' "
            "AND team_id = $1",
            victim.owner.team_id,
        )
        return rows or None

    assert await eventually(audited)


async def test_disconnect_deleting_the_data_empties_every_service(attacker, victim, db):
    await _add_cost_rows(db, victim)
    answer = await attacker.ask(
        DISCONNECT,
        {
            "actor_token": victim.owner.tokens["ingest"],
            "account_id": str(victim.account_id),
            "delete_data": True,
        },
    )
    assert answer["ok"] and answer["data_deleted"] and answer["cost_rows_deleted"] == 1, answer
    assert await _count(db, "SELECT count(*) FROM ingest.aws_accounts") == 0
    assert await _count(db, "SELECT count(*) FROM ingest.cost_data") == 0

    async def analytics_forgot():
        left = await _count(
            db,
            "SELECT (SELECT count(*) FROM analytics.cost_anomalies) + "
            "(SELECT count(*) FROM analytics.recommendations)",
        )
        return left == 0 or None

    assert await eventually(analytics_forgot, timeout=20)
    # the team's history says who did it, and that the data went
    rows = await eventually(
        lambda: db.fetch(
            "SELECT user_id, details FROM identity.audit_logs WHERE action = 'account.disconnected'"
        )
    )
    assert rows[0]["user_id"] == victim.owner.user_id
    assert '"data_deleted": true' in rows[0]["details"]
