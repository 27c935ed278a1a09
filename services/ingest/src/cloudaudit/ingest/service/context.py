"""What every ingest handler works with: settings, transactions, AWS, and the outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from cloudaudit.common.db import Publisher
from cloudaudit.ingest.adapters.aws import AwsGateway
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.settings import IngestSettings
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


@dataclass
class Ingest:
    settings: IngestSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    aws: AwsGateway
    outbox: Table
    publisher: Publisher | None = None

    def uow(self) -> IngestUnitOfWork:
        return IngestUnitOfWork(self.sessions, self.outbox, self.publisher)

    @contextlib.asynccontextmanager
    async def account_lock(self, account_id: UUID) -> AsyncIterator[bool]:
        """A PostgreSQL session lock: one sync per account at a time, across every replica.
        Released when the block ends, or by PostgreSQL if the process dies."""
        key = {"k": f"ingest-sync:{account_id}"}
        async with self.engine.connect() as connection:
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
