"""People from Slack: linking a Slack and a web identity, claiming the workspace's team,
inviting someone, and telling identity who installed the app. Identity decides each; the bot
passes what Slack verified (the person, by the request signature) and what users.info said.

`link` and `claim` run before the person is a member (they are how one becomes one), so they
take the Slack person, not an actor.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr

from cloudaudit.bot.service.answers import Answer
from cloudaudit.bot.service.deps import Actor, Deps
from cloudaudit.bot.views import people as people_views
from cloudaudit.common.events.identity import (
    Audience,
    ClaimRequest,
    InviteRequest,
    LinkCodeRequest,
    LinkSlackRequest,
    Role,
    SlackInstalledRequest,
)
from cloudaudit.common.logging import register_secret

log = logging.getLogger(__name__)


async def link_code(person: dict[str, Any], deps: Deps) -> Answer:
    """`/cloudaudit link`: a code for this person to enter on the web (shown to them only)."""
    reply = await deps.platform.link_code(LinkCodeRequest(**person))
    assert reply.code is not None
    code = reply.code.get_secret_value()
    register_secret(code)
    return Answer(
        text="Your CloudAudit link code", blocks=people_views.link_code(code, reply.expires_at)
    )


async def link_with(person: dict[str, Any], code: str, deps: Deps) -> Answer:
    """`/cloudaudit link CODE`: the web app's code links this Slack person to that account."""
    register_secret(code)
    await deps.platform.link_slack(LinkSlackRequest(**person, code=SecretStr(code)))
    return Answer(text="Slack and web accounts linked", blocks=people_views.linked())


async def claim(person: dict[str, Any], code: str, deps: Deps) -> Answer:
    """`/cloudaudit claim CODE`: the operator's code makes this person the team's first owner."""
    register_secret(code)
    await deps.platform.claim(ClaimRequest(**person, code=SecretStr(code)))
    return Answer(
        text="You own this workspace's CloudAudit team",
        blocks=people_views.claimed(person.get("slack_team_name")),
    )


async def invite(actor: Actor, deps: Deps, slack_user_id: str, role: str) -> Answer:
    """`/cloudaudit invite @person [role]`: identity authorizes and audits it."""
    reply = await deps.platform.invite(
        InviteRequest(
            actor_token=actor.token(Audience.IDENTITY),
            slack_user_id=slack_user_id,
            role=Role(role),
        )
    )
    return Answer(
        text="Invitation sent",
        blocks=people_views.invited(slack_user_id, role, reply.expires_at),
    )


async def installed(
    deps: Deps, slack_team_id: str, team_name: str | None, installer: str, bot_token: str | None
) -> bool:
    """After an OAuth install: the installer Slack authenticated owns the workspace's team
    (unless it has an owner already). True if identity recorded it."""
    profile: dict[str, Any] = {}
    if bot_token:
        client = deps.slack.new_client(bot_token)
        profile = await deps.slack.user_info(client, installer)
    details = profile.get("profile") if isinstance(profile.get("profile"), dict) else {}
    reply = await deps.platform.slack_installed(
        SlackInstalledRequest(
            slack_team_id=slack_team_id,
            slack_team_name=team_name,
            installer_slack_user_id=installer,
            installer_name=str(details.get("real_name") or "")[:200] or None,
            installer_email=str(details.get("email") or "")[:320] or None,
        )
    )
    log.info(
        "installation recorded by identity",
        extra={"slack_team_id": slack_team_id, "became_owner": reply.became_owner},
    )
    return reply.ok
