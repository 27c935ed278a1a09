"""The identity unit of work: one transaction, the repository, and the outbox."""

from __future__ import annotations

from typing import Self

from cloudaudit.common.db import UnitOfWork
from cloudaudit.identity.adapters.repository import IdentityRepository


class IdentityUnitOfWork(UnitOfWork):
    repo: IdentityRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = IdentityRepository(self.session)
        return self
