"""The identity unit of work: one transaction, the repository, and the outbox."""

from __future__ import annotations

from typing import Self

from cloudaudit.common.db import Publisher, UnitOfWork
from cloudaudit.identity.adapters.orm import outbox
from cloudaudit.identity.adapters.repository import IdentityRepository
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class IdentityUnitOfWork(UnitOfWork):
    """Without a publisher (the CLI), events wait in the outbox for the service's relay."""

    repo: IdentityRepository

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], publisher: Publisher | None = None
    ) -> None:
        super().__init__(sessions, outbox, publisher)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = IdentityRepository(self.session)
        return self
