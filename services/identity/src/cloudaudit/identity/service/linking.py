"""One person, two identities: a Slack user and a web user become one only through a link
proven from both sides, never through an email.

One side shows a one-time code (10 minutes, hashed at rest, spent once) to the person it
verified; the person enters it on the other side, which verified them too:
- `/cloudaudit link` in Slack shows a code; the signed-in web user enters it
  (POST /api/v1/link/slack);
- or the web user asks for a code (POST /api/v1/link/slack/code) and types
  `/cloudaudit link CODE` in Slack.
The Slack identity then belongs to the web user; what the Slack-only user had (memberships:
the higher role of the two where both were in a team) moves over, and it is audited
(`identity.linked`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from cloudaudit.common.events.identity import (
    LinkCodeReply,
    LinkCodeRequest,
    LinkReply,
    LinkSlackRequest,
)
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain import people
from cloudaudit.identity.domain.codes import CodePurpose
from cloudaudit.identity.domain.errors import Conflict, InvalidCredentials, NotClaimed
from cloudaudit.identity.domain.passwords import token_digest
from cloudaudit.identity.service.codes import issue_code, spend_code
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.handlers import _audit, _member_changed
from cloudaudit.identity.service.slack_people import slack_person
from pydantic import SecretStr

log = logging.getLogger(__name__)
LINKED_ELSEWHERE = (
    "this Slack account is linked to another web account already; sign in there, or ask the "
    "operator to separate them"
)


async def slack_link_code(
    request: LinkCodeRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> LinkCodeReply:
    """`/cloudaudit link`: a code for this Slack person, to enter on the web."""
    async with uow:
        if await uow.repo.workspace_team(request.slack_team_id) is None:
            raise NotClaimed(people.UNCLAIMED)
        code, expires_at = await issue_code(
            uow, deps, CodePurpose.LINK_SLACK, deps.link_code_ttl,
            slack_team_id=request.slack_team_id, slack_user_id=request.slack_user_id,
        )  # fmt: skip
        await uow.commit()
    return LinkCodeReply(code=SecretStr(code), expires_at=expires_at)


async def web_link_code(
    session_token: str, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> tuple[str, datetime]:
    """A code for the signed-in web user, to type in Slack as `/cloudaudit link CODE`."""
    async with uow:
        user_id = await _session_user(session_token, uow, deps)
        code, expires_at = await issue_code(
            uow, deps, CodePurpose.LINK_WEB, deps.link_code_ttl, user_id=user_id
        )
        await uow.commit()
    return code, expires_at


async def link_from_web(
    session_token: str, code: str, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> tuple[str, str]:
    """The signed-in web user enters the code Slack showed: (slack team, slack user) linked."""
    async with uow:
        user_id = await _session_user(session_token, uow, deps)
        spent = await spend_code(uow, deps, CodePurpose.LINK_SLACK, code, f"user:{user_id}")
        assert spent.slack_team_id is not None and spent.slack_user_id is not None
        await uow.repo.lock_slack_workspace(spent.slack_team_id)
        await _link(uow, spent.slack_team_id, spent.slack_user_id, user_id, "slack_code")
        await uow.commit()
    return spent.slack_team_id, spent.slack_user_id


async def link_from_slack(
    request: LinkSlackRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> LinkReply:
    """`/cloudaudit link CODE` with the code the web app showed."""
    subject = f"slack:{request.slack_team_id}:{request.slack_user_id}"
    async with uow:
        spent = await spend_code(
            uow, deps, CodePurpose.LINK_WEB, request.code.get_secret_value(), subject
        )
        assert spent.user_id is not None
        await uow.repo.lock_slack_workspace(request.slack_team_id)
        if await uow.repo.workspace_team(request.slack_team_id) is None:
            raise NotClaimed(people.UNCLAIMED)
        await slack_person(request, uow)  # known from now on, if it was not
        await _link(uow, request.slack_team_id, request.slack_user_id, spent.user_id, "web_code")
        await uow.commit()
    return LinkReply(user_id=spent.user_id)


async def _session_user(token: str, uow: IdentityUnitOfWork, deps: IdentityDeps) -> UUID:
    user_id = await uow.repo.session_user(token_digest(token), deps.now())
    if user_id is None:
        raise InvalidCredentials("session expired or invalid; log in again")
    return user_id


async def _link(
    uow: IdentityUnitOfWork, slack_team_id: str, slack_user_id: str, web_user: UUID, via: str
) -> None:
    """The Slack identity now belongs to `web_user`; the Slack-only user it had is merged in."""
    team_id = await uow.repo.workspace_team(slack_team_id)
    if team_id is None:
        raise NotClaimed(people.UNCLAIMED)
    slack_only = await uow.repo.slack_user(slack_team_id, slack_user_id)
    if slack_only == web_user:
        return
    if slack_only is None:
        await uow.repo.link_slack_user(slack_team_id, slack_user_id, web_user)
    else:
        merged = await uow.repo.user(slack_only)
        if merged is not None and merged.web_account:
            raise Conflict(LINKED_ELSEWHERE)
        await _merge(uow, slack_only, web_user)
    await _audit(
        uow, team_id, web_user, "identity.linked", "user", str(web_user),
        {"slack_team_id": slack_team_id, "slack_user_id": slack_user_id, "via": via,
         "merged_user_id": str(slack_only) if slack_only else None},
    )  # fmt: skip
    log.info("identities linked", extra={"team_id": str(team_id), "user_id": str(web_user)})


async def _merge(uow: IdentityUnitOfWork, slack_only: UUID, web_user: UUID) -> None:
    """Move a Slack-only user's memberships and Slack links to the web user, then drop it."""
    theirs = await uow.repo.memberships(slack_only)
    mine = await uow.repo.memberships(web_user)
    for team_id, role in theirs.items():
        kept = people.higher(role, mine[team_id]) if team_id in mine else role
        if team_id not in mine:
            await uow.repo.add_member(team_id, web_user, kept)
        elif kept is not mine[team_id]:
            await uow.repo.set_role(team_id, web_user, kept)
        await _member_changed(uow, team_id, web_user, kept, web_user)
        await _member_changed(uow, team_id, slack_only, None, web_user)
    await uow.repo.move_slack_links(slack_only, web_user)
    await uow.repo.delete_user(slack_only)
