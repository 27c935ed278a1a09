"""Each service connects as its own PostgreSQL role, with rights on its own schema only.

Every test here is an attack by a service's own credentials (a compromised process, or a bug
that builds the wrong query): reading or writing another service's schema, changing its own
schema, rewriting or erasing the audit log, or dropping the trigger that guards it. The session's
services already run as these roles (the pytest plugin's `endpoints`), so the rest of the suite
proves the roles can do their work; these prove they can do nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import asyncpg
import pytest
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db_roles import ServiceRoles
from cloudaudit.common.migrations import migrate_services
from cloudaudit.common.service import discover_services
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEMAS = {name: spec.schema for name, spec in discover_services().items()}


def dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect_as(endpoints, service: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn(endpoints.database_url_for(service)))


async def refused(conn: asyncpg.Connection, statement: str, *args) -> str:
    """The statement fails for lack of rights; returns PostgreSQL's message."""
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as caught:
        await conn.execute(statement, *args)
    return str(caught.value)


async def first_table(owner: asyncpg.Connection, schema: str) -> str:
    return await owner.fetchval(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename LIMIT 1", schema
    )


async def test_every_service_role_is_refused_on_every_other_schema(database_url, endpoints):
    owner = await asyncpg.connect(dsn(database_url))
    tables = {schema: await first_table(owner, schema) for schema in SCHEMAS.values()}
    await owner.close()
    for service in SCHEMAS:
        conn = await connect_as(endpoints, service)
        try:
            assert await conn.fetchval("SELECT current_user") == f"cloudaudit_{service}"
            for other, schema in SCHEMAS.items():
                if other == service:
                    await conn.fetch(f'SELECT * FROM "{schema}"."{tables[schema]}" LIMIT 1')
                    continue
                message = await refused(conn, f'SELECT * FROM "{schema}"."{tables[schema]}"')
                assert f"schema {schema}" in message
                await refused(conn, f'DELETE FROM "{schema}"."{tables[schema]}"')
        finally:
            await conn.close()


async def test_a_service_role_cannot_change_its_own_schema_or_make_new_ones(endpoints):
    conn = await connect_as(endpoints, "ingest")
    try:
        await refused(conn, "CREATE TABLE ingest.stolen (x int)")
        await refused(conn, "CREATE TABLE public.stolen (x int)")
        await refused(conn, "CREATE SCHEMA stolen")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await conn.execute("DROP TABLE ingest.cost_data")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner"):
            await conn.execute("ALTER TABLE ingest.cost_data ADD COLUMN stolen int")
        # What ingest may cause is one function of the owner's: a month's partition.
        assert await conn.fetchval("SELECT ingest.ensure_cost_partition('2031-07-01')") is True
        assert await conn.fetchval("SELECT ingest.ensure_cost_partition('2031-07-09')") is False
    finally:
        await conn.close()


def audit_row(created_days_ago: int = 0) -> tuple:
    at = utcnow() - timedelta(days=created_days_ago)
    return (uuid4(), uuid4(), "team.renamed", "team", "{}", "identity", at, at)


INSERT_AUDIT = (
    "INSERT INTO identity.audit_logs (audit_id, team_id, action, entity_type, details, source, "
    "occurred_at, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)"
)


async def test_identity_may_only_append_to_the_audit_log(endpoints):
    conn = await connect_as(endpoints, "identity")
    try:
        row = audit_row()
        await conn.execute(INSERT_AUDIT, *row)
        assert await conn.fetchval(
            "SELECT count(*) FROM identity.audit_logs WHERE audit_id = $1", row[0]
        )
        await refused(conn, "UPDATE identity.audit_logs SET action = 'forged'")
        await refused(conn, "DELETE FROM identity.audit_logs")
        await refused(conn, "TRUNCATE identity.audit_logs")
        # nor can it switch the guard off
        await refused(conn, "DROP TRIGGER audit_logs_no_update_delete ON identity.audit_logs")
        await refused(conn, "ALTER TABLE identity.audit_logs DISABLE TRIGGER ALL")
        await refused(conn, "DROP FUNCTION identity.audit_logs_append_only() CASCADE")
        # a cut-off set by identity itself changes nothing: it has no DELETE to begin with
        await conn.execute(
            "SELECT set_config('cloudaudit.audit_retention_before', '2999-01-01', false)"
        )
        await refused(conn, "DELETE FROM identity.audit_logs")
    finally:
        await conn.close()
    for other in ("ingest", "analytics", "bot"):
        conn = await connect_as(endpoints, other)
        try:
            await refused(conn, INSERT_AUDIT, *audit_row())
        finally:
            await conn.close()


def _audit_prune(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`cloudaudit audit-prune ...` as the schemas' owner (the test database's superuser)."""
    env = {**os.environ, "DATABASE_URL": database_url, "NATS_URL": "nats://127.0.0.1:1"}
    command = [str(Path(sys.executable).with_name("cloudaudit")), "audit-prune", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


async def test_the_owner_removes_history_only_through_the_retention_job(database_url, endpoints):
    identity = await connect_as(endpoints, "identity")
    old, recent = audit_row(created_days_ago=500), audit_row(created_days_ago=10)
    for row in (old, recent):
        await identity.execute(INSERT_AUDIT, *row)
    await identity.close()
    owner = await asyncpg.connect(dsn(database_url))
    try:
        # even the owner cannot change or delete history by hand ...
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute("DELETE FROM identity.audit_logs WHERE audit_id = $1", old[0])
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute(
                "UPDATE identity.audit_logs SET action = 'x' WHERE audit_id = $1", old[0]
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await owner.execute("TRUNCATE identity.audit_logs")
        # ... and the retention job, run as the owner, removes only what is past its cut-off
        dry = _audit_prune(database_url, "--keep-days", "400", "--dry-run")
        assert dry.stdout.startswith("1 audit entries"), dry.stdout + dry.stderr
        done = _audit_prune(database_url, "--keep-days", "400")
        assert done.stdout.startswith("removed 1 audit entries"), done.stdout + done.stderr
        left = {
            r["audit_id"] for r in await owner.fetch("SELECT audit_id FROM identity.audit_logs")
        }
        assert recent[0] in left and old[0] not in left
        too_short = _audit_prune(database_url, "--keep-days", "3")
        assert too_short.returncode != 0 and "--keep-days" in too_short.stderr
    finally:
        await owner.close()


async def test_roles_are_granted_again_without_error_and_have_no_powers(
    database_url, database_roles
):
    await migrate_services(discover_services().values(), database_url, database_roles)
    owner = await asyncpg.connect(dsn(database_url))
    try:
        rows = await owner.fetch(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, "
            "rolcanlogin FROM pg_roles WHERE rolname = ANY($1::text[])",
            [database_roles.role(name) for name in SCHEMAS],
        )
        assert len(rows) == len(SCHEMAS)
        for row in rows:
            assert row["rolcanlogin"]
            assert not any(
                row[k]
                for k in (
                    "rolsuper",
                    "rolcreaterole",
                    "rolcreatedb",
                    "rolreplication",
                    "rolbypassrls",
                )
            ), dict(row)
    finally:
        await owner.close()


async def test_a_wrong_password_is_refused(endpoints):
    wrong = ServiceRoles(passwords={"ingest": "not-the-password"})
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn(wrong.url_for(endpoints.database_url, "ingest")))


async def test_the_embedded_server_wants_a_password_over_tcp(infrastructure):
    if os.environ.get("DATABASE_URL"):
        pytest.skip(
            "the session's PostgreSQL is an operator's (DATABASE_URL), not the embedded one"
        )
    url = make_url(infrastructure.database_url)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://{url.username}@{url.host}:{url.port}/{url.database}")
