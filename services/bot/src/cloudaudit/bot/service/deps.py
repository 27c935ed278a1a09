"""What every bot handler works with: settings, the other services, the database, Slack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from cloudaudit.bot.adapters.platform import Platform
from cloudaudit.bot.adapters.slack_api import SlackGateway
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.events.identity import Role


@dataclass(frozen=True)
class Actor:
    """A Slack user as CloudAudit knows them, in the channel they acted from."""

    slack_team_id: str
    slack_user_id: str
    user_id: UUID
    team_id: UUID
    role: Role | None
    time_zone: str = "UTC"
    channel_id: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.slack_user_id}>"


@dataclass
class Deps:
    settings: BotSettings
    platform: Platform
    uow: Callable[[], BotUnitOfWork]
    slack: SlackGateway
