"""The anomalies unit of work: one transaction, the repository, and the outbox."""

from __future__ import annotations

from typing import Self

from cloudaudit.analytics.adapters.anomaly_repository import AnomalyRepository
from cloudaudit.common.db import UnitOfWork


class AnomalyUnitOfWork(UnitOfWork):
    repo: AnomalyRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = AnomalyRepository(self.session)
        return self
