"""Who is acting: identity maps a Slack user to a CloudAudit user, team and role, and signs
actor tokens for the services the bot calls for them.

The bot believes the person's role only from its own (bot-audience) token, verified with
identity's public keys: a bus reply alone could be forged. Roles are never cached: every
interaction asks identity again (one request), so a role change counts at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import aiohttp

from cloudaudit.bot.domain.errors import BotError, NotAllowed
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.service.posting import audit
from cloudaudit.common.errors import Unauthenticated
from cloudaudit.common.events.identity import Action, Audience, Role, SlackUserRequest
from cloudaudit.common.permissions import denial_reason

# A Slack profile (name, email, time zone) changes rarely and costs a Slack API call: cached.
PROFILE_TTL_S = 300.0
# The actions on state the bot itself owns (the team's alert channel and digest); everything
# else is authorized and audited by the service that owns it.
BOT_ACTIONS = frozenset({Action.CONFIGURE_ALERTS})

log = logging.getLogger(__name__)


def _flag(profile: dict[str, object], name: str) -> bool | None:
    value = profile.get(name)
    return value if isinstance(value, bool) else None


def person_fields(
    slack_team_id: str,
    slack_user_id: str,
    slack_team_name: str | None,
    profile: dict[str, object],
) -> dict[str, Any]:
    """What identity is told about the person: who in Slack, their name and email (contact
    information), and the kind of account users.info reported. A flag Slack did not give is
    passed as unknown (None), never guessed: identity then refuses rather than assume a full
    member. `is_stranger` is the exception: Slack sets it only on strangers."""
    details = profile.get("profile") if isinstance(profile.get("profile"), dict) else {}
    assert isinstance(details, dict)
    name = details.get("real_name") or details.get("display_name") or profile.get("name") or ""
    answered = bool(profile.get("id"))
    home = profile.get("team_id")
    return {
        "slack_team_id": slack_team_id,
        "slack_user_id": slack_user_id,
        "slack_team_name": slack_team_name,
        "email": (str(details["email"])[:320] if details.get("email") else None),
        "email_confirmed": profile.get("is_email_confirmed") is True,
        "display_name": str(name)[:200] or None,
        "is_restricted": _flag(profile, "is_restricted"),
        "is_ultra_restricted": _flag(profile, "is_ultra_restricted"),
        "is_stranger": (_flag(profile, "is_stranger") or False) if answered else None,
        "user_team_id": str(home)[:32] if isinstance(home, str) and home else None,
    }


class ActorDirectory:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._profiles: dict[tuple[str, str], tuple[float, dict[str, object]]] = {}

    async def _profile(self, slack_team_id: str, slack_user_id: str) -> dict[str, object]:
        key = (slack_team_id, slack_user_id)
        cached = self._profiles.get(key)
        if cached and time.monotonic() - cached[0] < PROFILE_TTL_S:
            return cached[1]
        profile: dict[str, object] = {}
        try:  # without a profile, identity refuses: it never assumes a full member
            client = await self.deps.slack.client_for(slack_team_id)
            profile = await self.deps.slack.user_info(client, slack_user_id)
        except (BotError, aiohttp.ClientError) as exc:
            log.info("no Slack profile", extra={"slack_team_id": slack_team_id, "error": str(exc)})
            return profile
        self._profiles[key] = (time.monotonic(), profile)
        return profile

    async def resolve(
        self,
        slack_team_id: str,
        slack_user_id: str,
        channel_id: str | None = None,
        slack_team_name: str | None = None,
    ) -> Actor:
        profile = await self._profile(slack_team_id, slack_user_id)
        reply = await self.deps.platform.slack_user(
            SlackUserRequest(
                **person_fields(slack_team_id, slack_user_id, slack_team_name, profile)
            )
        )
        try:
            vouched = self.deps.verifier.verify(reply.tokens[Audience.BOT].get_secret_value())
        except (KeyError, Unauthenticated) as exc:
            log.warning("identity's answer carried no valid bot token", extra={"error": str(exc)})
            raise NotAllowed("identity could not vouch for you right now; try again") from None
        assert vouched.user_id is not None
        actor = Actor(
            slack_team_id=slack_team_id,
            slack_user_id=slack_user_id,
            user_id=vouched.user_id,
            team_id=vouched.team_id,
            role=vouched.role,
            time_zone=str(profile.get("tz") or "UTC"),
            channel_id=channel_id,
            tokens=reply.tokens,
        )
        async with self.deps.uow() as uow:
            await uow.repo.remember_team(
                actor.team_id,
                slack_team_id,
                slack_team_name,
                slack_user_id if actor.role is Role.OWNER else None,
            )
            await uow.commit()
        return actor

    async def person(
        self, slack_team_id: str, slack_user_id: str, slack_team_name: str | None = None
    ) -> dict[str, Any]:
        """The person as identity's Slack requests describe them (link, claim)."""
        profile = await self._profile(slack_team_id, slack_user_id)
        return person_fields(slack_team_id, slack_user_id, slack_team_name, profile)

    async def require(self, actor: Actor, action: Action) -> Actor:
        """For the state the bot owns: allowed by the verified role, or refused with the
        reason and the attempt audited once in the team's log."""
        assert action in BOT_ACTIONS, f"{action} is authorized by the service that owns it"
        reason = ActorDirectory.refusal(actor, action)
        if reason is not None:
            async with self.deps.uow() as uow:
                await audit(
                    uow,
                    actor.team_id,
                    actor.user_id,
                    "authorization.refused",
                    "action",
                    action.value,
                    action=action.value,
                    role=actor.role.value,
                    reason=reason,
                )
                await uow.commit()
            raise NotAllowed(reason)
        return actor

    @staticmethod
    def refusal(actor: Actor, action: Action) -> str | None:
        return denial_reason(action, actor.role)

    @staticmethod
    def allowed(actor: Actor, action: Action) -> bool:
        """Whether to show the controls for an action: a question, not an attempt."""
        return ActorDirectory.refusal(actor, action) is None
