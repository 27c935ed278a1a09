"""The web API for people: linking a Slack identity by a one-time code, invitations, and who
may join a team (its join policy)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from aiohttp import web
from cloudaudit.common.events.identity import GuestPolicy, JoinPolicy, Role
from cloudaudit.identity.adapters.rows import Invitation, User
from cloudaudit.identity.domain.errors import NotFound
from cloudaudit.identity.service import invitations, linking
from cloudaudit.identity.service.accounts import web_actor
from cloudaudit.identity.service.deps import IdentityDeps
from pydantic import BaseModel, Field

CurrentUser = Callable[[web.Request], Awaitable[User]]


class LinkCode(BaseModel):
    code: str = Field(min_length=1, max_length=40)


class NewInvitation(BaseModel):
    email: str | None = Field(default=None, max_length=320)
    slack_user_id: str | None = Field(default=None, max_length=32)
    role: Role = Role.MEMBER


class Policy(BaseModel):
    join_policy: JoinPolicy | None = None
    guest_policy: GuestPolicy | None = None


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    return {
        "invitation_id": str(invitation.invitation_id),
        "team_id": str(invitation.team_id),
        "email": invitation.email,
        "slack_user_id": invitation.slack_user_id,
        "role": invitation.role.value,
        "created_at": invitation.created_at.isoformat(),
        "expires_at": invitation.expires_at.isoformat(),
    }


def _invitation_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["invitation_id"])
    except ValueError:
        raise NotFound("invitation not found") from None


def register(
    app: web.Application,
    deps: IdentityDeps,
    current_user: CurrentUser,
    body_of: Callable[[web.Request, type[BaseModel]], Awaitable[Any]],
    team_of: Callable[[web.Request], UUID],
    bearer: Callable[[web.Request], str],
) -> None:
    uow = deps.uow

    async def link_slack(request: web.Request) -> web.Response:
        """The code `/cloudaudit link` showed in Slack: that Slack identity is now yours."""
        token = bearer(request)
        body: LinkCode = await body_of(request, LinkCode)
        team, user = await linking.link_from_web(token, body.code, uow(), deps)
        return web.json_response({"status": "linked", "slack_team_id": team, "slack_user_id": user})

    async def link_code(request: web.Request) -> web.Response:
        """A code to type in Slack as `/cloudaudit link CODE`."""
        code, expires_at = await linking.web_link_code(bearer(request), uow(), deps)
        return web.json_response(
            {"code": code, "expires_at": expires_at.isoformat(),
             "message": f"type `/cloudaudit link {code}` in Slack before it expires"},
            status=201,
        )  # fmt: skip

    async def my_invitations(request: web.Request) -> web.Response:
        found = await invitations.my_invitations(await current_user(request), uow(), deps)
        return web.json_response({"invitations": [invitation_json(i) for i in found]})

    async def accept(request: web.Request) -> web.Response:
        user = await current_user(request)
        done = await invitations.accept_on_web(user, _invitation_id(request), uow(), deps)
        return web.json_response({"team_id": str(done.team_id), "role": done.role.value})

    async def invite(request: web.Request) -> web.Response:
        actor = web_actor(team_of(request), await current_user(request))
        body: NewInvitation = await body_of(request, NewInvitation)
        made = await invitations.invite(
            actor, body.slack_user_id, body.email, body.role, uow(), deps
        )
        return web.json_response(invitation_json(made), status=201)

    async def team_invitations(request: web.Request) -> web.Response:
        actor = web_actor(team_of(request), await current_user(request))
        found = await invitations.team_invitations(actor, uow(), deps)
        return web.json_response({"invitations": [invitation_json(i) for i in found]})

    async def set_policy(request: web.Request) -> web.Response:
        actor = web_actor(team_of(request), await current_user(request))
        body: Policy = await body_of(request, Policy)
        team = await invitations.set_policy(actor, body.join_policy, body.guest_policy, uow())
        return web.json_response(
            {"join_policy": team.join_policy.value, "guest_policy": team.guest_policy.value}
        )

    app.router.add_post("/api/v1/link/slack", link_slack)
    app.router.add_post("/api/v1/link/slack/code", link_code)
    app.router.add_get("/api/v1/me/invitations", my_invitations)
    app.router.add_post("/api/v1/invitations/{invitation_id}/accept", accept)
    app.router.add_post("/api/v1/teams/{team_id}/invitations", invite)
    app.router.add_get("/api/v1/teams/{team_id}/invitations", team_invitations)
    app.router.add_put("/api/v1/teams/{team_id}/policy", set_policy)
