"""PostgreSQL session locks held on connections of their own, outside any unit of work: one
Cost Explorer sync per account at a time, and proof that an import's process is alive."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from uuid import UUID

from cloudaudit.ingest.adapters.repository import (
    release_import_lease,
    take_import_lease,
    write_import_heartbeat,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

IMPORT_HEARTBEAT_S = 5.0  # heartbeat_at is written at most this often


class ImportLease:
    """Proof that the process running an import is alive, on a connection of its own.

    It holds a PostgreSQL session lock for the import (released by PostgreSQL the moment the
    process dies or its connection drops: that is how a later import knows this one will never
    finish) and writes `heartbeat_at` as progress is reported (the last sign of life, which
    becomes the end time of an import found interrupted). The rows themselves are written in
    the import's one transaction, so an interrupted import leaves none behind."""

    def __init__(self, connection: AsyncConnection, import_id: UUID) -> None:
        self.connection, self.import_id = connection, import_id
        self._last_beat = time.monotonic()

    async def beat(self) -> None:
        if time.monotonic() - self._last_beat < IMPORT_HEARTBEAT_S:
            return
        self._last_beat = time.monotonic()
        try:
            await write_import_heartbeat(self.connection, self.import_id)
        except SQLAlchemyError as exc:  # the import's own transaction reports the outage
            log.warning(
                "import heartbeat not written",
                extra={"import_id": str(self.import_id), "error": str(exc)[:300]},
            )


class Leases:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @contextlib.asynccontextmanager
    async def account_sync(self, account_id: UUID) -> AsyncIterator[bool]:
        """One sync per account at a time, across every replica: True if this one holds it.
        Released when the block ends, or by PostgreSQL if the process dies."""
        key = {"k": f"ingest-sync:{account_id}"}
        async with self._engine.connect() as connection:
            locked = bool(
                (
                    await connection.execute(text("SELECT pg_try_advisory_lock(hashtext(:k))"), key)
                ).scalar_one()
            )
            await connection.commit()
            try:
                yield locked
            finally:
                if locked:
                    await connection.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), key)
                    await connection.commit()

    @contextlib.asynccontextmanager
    async def import_lease(self, import_id: UUID) -> AsyncIterator[ImportLease]:
        async with self._engine.connect() as connection:
            await take_import_lease(connection, import_id)
            try:
                yield ImportLease(connection, import_id)
            finally:
                with contextlib.suppress(SQLAlchemyError):  # a dropped connection released it
                    await release_import_lease(connection, import_id)
