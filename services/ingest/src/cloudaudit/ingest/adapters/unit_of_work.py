"""The ingest unit of work: one transaction, the repository, the cost tables, the inventory,
and the outbox."""

from __future__ import annotations

from typing import Self

from cloudaudit.common.db import UnitOfWork
from cloudaudit.ingest.adapters.costs import Costs
from cloudaudit.ingest.adapters.inventory_repository import InventoryRepository
from cloudaudit.ingest.adapters.repository import IngestRepository
from sqlalchemy.exc import SQLAlchemyError

# What a handler catches when the database (not its input) failed mid-way: it records the
# failure and re-raises, so the caller (a CLI, the bus consumer) reports or retries it.
StoreError = SQLAlchemyError


class IngestUnitOfWork(UnitOfWork):
    repo: IngestRepository
    costs: Costs
    inventory: InventoryRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = IngestRepository(self.session)
        self.costs = Costs(self.session)
        self.inventory = InventoryRepository(self.session)
        return self
