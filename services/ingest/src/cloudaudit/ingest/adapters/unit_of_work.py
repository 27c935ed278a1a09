"""The ingest unit of work: one transaction, the repository, and the outbox."""

from __future__ import annotations

from typing import Self

from cloudaudit.common.db import UnitOfWork
from cloudaudit.ingest.adapters.repository import IngestRepository


class IngestUnitOfWork(UnitOfWork):
    repo: IngestRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = IngestRepository(self.session)
        return self
