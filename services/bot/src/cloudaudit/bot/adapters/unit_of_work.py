"""The bot unit of work: one transaction, the repository, the stored Slack credentials, and the
outbox."""

from __future__ import annotations

from typing import Self

from cloudaudit.bot.adapters.installation_store import SlackTokenRows
from cloudaudit.bot.adapters.repository import BotRepository
from cloudaudit.common.db import UnitOfWork


class BotUnitOfWork(UnitOfWork):
    repo: BotRepository
    tokens: SlackTokenRows

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.repo = BotRepository(self.session)
        self.tokens = SlackTokenRows(self.session)
        return self
