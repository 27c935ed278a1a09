"""Who is acting: Slack user -> CloudAudit user and team (identity), and may they do this."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import aiohttp

from cloudaudit.bot.domain.errors import BotError, NotAllowed
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.common.events.identity import (
    Action,
    AuthorizeRequest,
    Role,
    SlackUserRequest,
)

# The Slack -> CloudAudit mapping never changes once made, so it is cached; roles are not:
# every permission question goes to identity.
MAPPING_TTL_S = 300.0

log = logging.getLogger(__name__)


class ActorDirectory:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._cache: dict[tuple[str, str], tuple[float, Actor]] = {}

    async def resolve(
        self,
        slack_team_id: str,
        slack_user_id: str,
        channel_id: str | None = None,
        slack_team_name: str | None = None,
    ) -> Actor:
        key = (slack_team_id, slack_user_id)
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < MAPPING_TTL_S:
            return replace(cached[1], channel_id=channel_id)
        profile: dict[str, object] = {}
        try:  # name, email and time zone are nice to have; enrolment works without them
            client = await self.deps.slack.client_for(slack_team_id)
            profile = await self.deps.slack.user_info(client, slack_user_id)
        except (BotError, aiohttp.ClientError) as exc:
            log.info("no Slack profile", extra={"slack_team_id": slack_team_id, "error": str(exc)})
        details = profile.get("profile") if isinstance(profile.get("profile"), dict) else {}
        assert isinstance(details, dict)
        reply = await self.deps.platform.slack_user(
            SlackUserRequest(
                slack_team_id=slack_team_id,
                slack_user_id=slack_user_id,
                slack_team_name=slack_team_name,
                email=(str(details["email"])[:320] if details.get("email") else None),
                display_name=(
                    str(
                        details.get("real_name")
                        or details.get("display_name")
                        or profile.get("name")
                        or ""
                    )[:200]
                    or None
                ),
            )
        )
        assert reply.user_id is not None and reply.team_id is not None
        actor = Actor(
            slack_team_id=slack_team_id,
            slack_user_id=slack_user_id,
            user_id=reply.user_id,
            team_id=reply.team_id,
            role=reply.role,
            time_zone=str(profile.get("tz") or "UTC"),
            channel_id=channel_id,
        )
        async with self.deps.uow() as uow:
            await uow.repo.remember_team(
                actor.team_id,
                slack_team_id,
                slack_team_name,
                slack_user_id if reply.role is Role.OWNER else None,
            )
            await uow.commit()
        self._cache[key] = (time.monotonic(), actor)
        return actor

    async def require(self, actor: Actor, action: Action) -> Actor:
        """Ask identity; raise NotAllowed with identity's reason when the answer is no."""
        reply = await self.deps.platform.authorize(
            AuthorizeRequest(team_id=actor.team_id, user_id=actor.user_id, action=action)
        )
        if not reply.allowed:
            raise NotAllowed(reply.reason or "you are not allowed to do that")
        return replace(actor, role=reply.role)

    async def allowed(self, actor: Actor, action: Action) -> bool:
        try:
            await self.require(actor, action)
        except NotAllowed:
            return False
        return True
