"""What every bot handler works with: settings, the other services, the database, Slack."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from pydantic import SecretStr

from cloudaudit.bot.adapters.platform import Platform
from cloudaudit.bot.adapters.slack_api import SlackGateway
from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
from cloudaudit.bot.domain.errors import ServiceUnavailable
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.events.identity import Audience, Role


@dataclass(frozen=True)
class Actor:
    """A Slack user as identity vouches for them (team, user and role from identity's signed
    token, not from a bus reply), in the channel they acted from, with the actor tokens the
    bot passes to the service that owns what they act on."""

    slack_team_id: str
    slack_user_id: str
    user_id: UUID
    team_id: UUID
    role: Role
    time_zone: str = "UTC"
    channel_id: str | None = None
    tokens: Mapping[Audience, SecretStr] = field(default_factory=dict, repr=False)

    @property
    def mention(self) -> str:
        return f"<@{self.slack_user_id}>"

    def token(self, audience: Audience) -> SecretStr:
        """The actor token for one service (identity issues one per service the bot calls)."""
        token = self.tokens.get(audience)
        if token is None:
            raise ServiceUnavailable(
                f"identity gave no token for {audience.value}; try again in a minute"
            )
        return token


@dataclass
class Deps:
    settings: BotSettings
    platform: Platform
    uow: Callable[[], BotUnitOfWork]
    slack: SlackGateway
    verifier: ActorVerifier  # the bot's own audience: roles for the state the bot owns
