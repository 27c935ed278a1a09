"""Embedded servers and migrations: clear errors, reuse, idempotent schema creation."""

from __future__ import annotations

import socket

import asyncpg
import pytest
from cloudaudit.common.embedded import EmbeddedNats, EmbeddedServerError, free_port
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.service import discover_services
from cloudaudit.common.testing import _asyncpg_dsn


def test_port_in_use_is_reported_with_the_fix(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(EmbeddedServerError) as error:
            EmbeddedNats(tmp_path, port).start()
    message = str(error.value)
    assert (
        f"port {port}" in message
        and "CLOUDAUDIT_EMBEDDED_NATS_PORT" in message
        and "NATS_URL" in message
    )


def test_stale_pid_file_is_cleaned_and_server_starts_and_is_reused(tmp_path):
    nats = EmbeddedNats(tmp_path, free_port())
    nats.root.mkdir(parents=True)
    nats.pid_file.write_text("999999")  # a process that does not exist
    assert nats.running_pid() is None and not nats.pid_file.exists()
    try:
        assert nats.start() is True
        assert nats.start() is False  # already running: reused, not started twice
        assert nats.running_pid() is not None
    finally:
        nats.stop()
    assert nats.running_pid() is None


async def test_migrations_run_from_empty_and_are_idempotent(infrastructure):
    dsn = _asyncpg_dsn(infrastructure.database_url, "postgres")
    admin = await asyncpg.connect(dsn)
    await admin.execute("DROP DATABASE IF EXISTS migrate_check WITH (FORCE)")
    await admin.execute("CREATE DATABASE migrate_check")
    try:
        url = infrastructure.database_url.rsplit("/", 1)[0] + "/migrate_check"
        specs = discover_services()
        for _ in range(2):
            for spec in specs.values():
                await upgrade(spec.migrations, url, spec.schema)
        conn = await asyncpg.connect(_asyncpg_dsn(url, "migrate_check"))
        try:
            schemas = {r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
            tables = {
                (r["table_schema"], r["table_name"])
                for r in await conn.fetch(
                    "SELECT table_schema, table_name FROM information_schema.tables"
                )
            }
        finally:
            await conn.close()
        assert {"identity", "ingest", "analytics", "bot"} <= schemas
        assert ("identity", "audit_logs") in tables and ("identity", "team_members") in tables
        for schema in ("identity", "ingest", "analytics", "bot"):
            assert (schema, "outbox") in tables and (schema, "alembic_version") in tables
    finally:
        await admin.execute("DROP DATABASE IF EXISTS migrate_check WITH (FORCE)")
        await admin.close()
