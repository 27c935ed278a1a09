"""A web session's person, teams and actor tokens, for the web app (the edge that read the cookie)."""

from __future__ import annotations

from cloudaudit.common.events.identity import (
    ActorSource,
    WebSessionReply,
    WebSessionRequest,
    WebTeam,
)
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.errors import NotFound
from cloudaudit.identity.domain.people import TEAM_NOT_FOUND
from cloudaudit.identity.service import accounts
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.handlers import with_tokens


async def web_session(
    request: WebSessionRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> WebSessionReply:
    """The session's person and teams; tokens for the chosen team with the role the database
    holds now (a team the person is not a member of is not found, as on the HTTP API)."""
    user = await accounts.session_user(request.session_token.get_secret_value(), uow, deps)
    teams = await accounts.teams_of(user, uow)
    reply = WebSessionReply(
        user_id=user.user_id,
        email=user.email,
        teams=[WebTeam(team_id=t.team_id, name=t.name, role=t.role) for t in teams],
    )
    if request.team_id is None and not teams:
        return reply
    chosen = next((t for t in teams if request.team_id in (None, t.team_id)), None)
    if chosen is None:
        raise NotFound(TEAM_NOT_FOUND)
    reply = reply.model_copy(update={"team_id": chosen.team_id, "role": chosen.role})
    return with_tokens(
        reply, deps, request.audiences, ActorSource.WEB, chosen.role, chosen.team_id, user.user_id
    )
