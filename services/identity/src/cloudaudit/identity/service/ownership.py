"""Who owns a Slack workspace's team: never whoever typed first.

- OAuth install: Slack authenticated the installer; the bot tells identity
  (`identity.v1.rpc.slack_installed`) and the installer becomes the first owner.
- Single-workspace token mode: the operator names the owner, by a claim code
  (`cloudaudit teams claim-code`, typed as `/cloudaudit claim CODE` by the owner), or by an
  owner invitation (`cloudaudit teams create NAME --owner-slack U... | --owner EMAIL`).
Until then the workspace's people are told how the owner claims it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID, uuid4

from cloudaudit.common.events.identity import (
    ClaimReply,
    ClaimRequest,
    Role,
    SlackInstalledReply,
    SlackInstalledRequest,
    SlackPerson,
)
from cloudaudit.identity.adapters.rows import OneTimeCode
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain import people
from cloudaudit.identity.domain.codes import CodePurpose
from cloudaudit.identity.domain.errors import Conflict, InvalidInput, NotAdmitted, NotFound
from cloudaudit.identity.domain.people import SlackKind
from cloudaudit.identity.service.codes import issue_code, spend_code
from cloudaudit.identity.service.deps import PeopleDeps
from cloudaudit.identity.service.handlers import _audit, _member_changed
from cloudaudit.identity.service.slack_people import slack_person

log = logging.getLogger(__name__)
OWNED_ALREADY = (
    "this workspace's CloudAudit team has an owner already; ask them to invite you "
    "(`/cloudaudit invite @you owner`)"
)


async def _workspace_team(
    uow: IdentityUnitOfWork, slack_team_id: str, name: str | None, via: str
) -> UUID:
    """The workspace's team, created and linked now if it has none."""
    team_id = await uow.repo.workspace_team(slack_team_id)
    if team_id is not None:
        return team_id
    team_id = uuid4()
    await uow.repo.add_team(team_id, name or f"Slack {slack_team_id}")
    await uow.repo.link_workspace(slack_team_id, team_id, name)
    await _audit(
        uow, team_id, None, "team.created", "team", str(team_id),
        {"via": via, "slack_team_id": slack_team_id},
    )  # fmt: skip
    return team_id


async def _make_owner(uow: IdentityUnitOfWork, team_id: UUID, user_id: UUID, via: str) -> None:
    current = await uow.repo.role_of(team_id, user_id)
    if current is None:
        await uow.repo.add_member(team_id, user_id, Role.OWNER)
    else:
        await uow.repo.set_role(team_id, user_id, Role.OWNER)
    await _audit(
        uow, team_id, user_id, "team.owner_named", "user", str(user_id),
        {"via": via, "from": current.value if current else None},
    )  # fmt: skip
    await _member_changed(uow, team_id, user_id, Role.OWNER, None)


async def slack_installed(
    request: SlackInstalledRequest, uow: IdentityUnitOfWork
) -> SlackInstalledReply:
    """An OAuth install finished: the installer owns the workspace's team, unless it has an
    owner already (a reinstall changes nobody's role)."""
    person = SlackPerson(
        slack_team_id=request.slack_team_id,
        slack_user_id=request.installer_slack_user_id,
        display_name=request.installer_name,
        email=request.installer_email,
    )
    async with uow:
        await uow.repo.lock_slack_workspace(request.slack_team_id)
        team_id = await _workspace_team(
            uow, request.slack_team_id, request.slack_team_name, "slack_install"
        )
        user_id = await slack_person(person, uow)
        became_owner = await uow.repo.count_owners(team_id) == 0
        if became_owner:
            await _make_owner(uow, team_id, user_id, "slack_install")
        else:
            await _audit(uow, team_id, user_id, "slack.reinstalled", "team", str(team_id))
        await uow.commit()
    log.info(
        "slack app installed",
        extra={"team_id": str(team_id), "user_id": str(user_id), "became_owner": became_owner},
    )
    return SlackInstalledReply(team_id=team_id, owner_user_id=user_id, became_owner=became_owner)


async def claim(request: ClaimRequest, uow: IdentityUnitOfWork, deps: PeopleDeps) -> ClaimReply:
    """`/cloudaudit claim CODE`: the operator's code makes this full member of the workspace
    the first owner of its team."""
    if people.slack_kind(request) is not SlackKind.FULL:
        raise NotAdmitted("only a full member of this workspace can claim its CloudAudit team")
    subject = f"slack:{request.slack_team_id}:{request.slack_user_id}"
    async with uow:
        code = await spend_code(
            uow, deps, CodePurpose.CLAIM, request.code.get_secret_value(), subject
        )
        await uow.repo.lock_slack_workspace(request.slack_team_id)
        team_id = await _claimed_team(uow, request, code)
        if await uow.repo.count_owners(team_id) > 0:
            raise Conflict(OWNED_ALREADY)
        user_id = await slack_person(request, uow)
        await _make_owner(uow, team_id, user_id, "claim_code")
        await uow.commit()
    log.info("team claimed", extra={"team_id": str(team_id), "user_id": str(user_id)})
    return ClaimReply(team_id=team_id, user_id=user_id, role=Role.OWNER)


async def _claimed_team(uow: IdentityUnitOfWork, person: SlackPerson, code: OneTimeCode) -> UUID:
    """The team a claim code is for: the one it names (linked to this workspace now, if it has
    no workspace yet), else the workspace's own (created if new)."""
    linked = await uow.repo.workspace_team(person.slack_team_id)
    if code.team_id is None:
        return await _workspace_team(uow, person.slack_team_id, person.slack_team_name, "claim")
    if linked is not None and linked != code.team_id:
        raise Conflict("that claim code is for another team than this workspace's")
    if linked is None:
        if await uow.repo.team_workspace(code.team_id) is not None:
            raise Conflict("that claim code's team is linked to another Slack workspace")
        await uow.repo.link_workspace(person.slack_team_id, code.team_id, person.slack_team_name)
    return code.team_id


async def new_claim_code(
    team_id: UUID | None, uow: IdentityUnitOfWork, deps: PeopleDeps
) -> tuple[str, datetime]:
    """A claim code for the operator to hand to the first owner: for a given team, or for
    the team of whichever workspace it is typed in first."""
    async with uow:
        if team_id is not None:
            if await uow.repo.team(team_id) is None:
                raise NotFound("team not found")
            if await uow.repo.count_owners(team_id) > 0:
                raise Conflict("that team has an owner already; owners invite people instead")
        code, expires_at = await issue_code(
            uow, deps, CodePurpose.CLAIM, deps.claim_code_ttl, team_id=team_id
        )
        await _audit(
            uow, team_id, None, "team.claim_code_issued", "team", str(team_id) if team_id else None,
            {"expires_at": expires_at.isoformat()}, source="cli",
        )  # fmt: skip
        await uow.commit()
    return code, expires_at


async def operator_team(name: str, slack_team_id: str | None, uow: IdentityUnitOfWork) -> UUID:
    """`cloudaudit teams create`: a team with no members yet (its first owner is invited next),
    linked to a Slack workspace when the operator names one."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("team name must be 1 to 200 characters")
    team_id = uuid4()
    async with uow:
        if await uow.repo.teams_named(name):
            raise Conflict(
                f"a team called {name!r} exists already: team names are unique, so "
                "`--team NAME` means one team; choose another name"
            )
        if slack_team_id and await uow.repo.workspace_team(slack_team_id):
            raise Conflict(f"Slack workspace {slack_team_id} belongs to another team already")
        await uow.repo.add_team(team_id, name)
        if slack_team_id:
            await uow.repo.link_workspace(slack_team_id, team_id, None)
        await _audit(
            uow, team_id, None, "team.created", "team", str(team_id),
            {"name": name, "slack_team_id": slack_team_id}, source="cli",
        )  # fmt: skip
        await uow.commit()
    return team_id
