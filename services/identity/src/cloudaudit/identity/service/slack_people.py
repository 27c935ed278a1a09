"""Slack people: who a Slack user is, and whether they may be in the workspace's team.

A new Slack user is a new person: their profile email is kept as contact information and
never matched to another account (that would hand a victim's Slack identity to whoever signed
up first with their address). They join the workspace's team only by invitation, or under the
team's `workspace` join policy, never as its owner by being first: owners are the OAuth
installer or the person the operator names (`ownership`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID, uuid4

from cloudaudit.common.events.identity import (
    ActorSource,
    Role,
    SlackPerson,
    SlackUserReply,
    SlackUserRequest,
)
from cloudaudit.identity.adapters.rows import Invitation, Team
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain import people
from cloudaudit.identity.domain.errors import Conflict, NotClaimed
from cloudaudit.identity.domain.people import Admission, SlackKind
from cloudaudit.identity.service.deps import IdentityDeps
from cloudaudit.identity.service.handlers import _audit, _member_changed, split_name, with_tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Membership:
    team: Team
    user_id: UUID
    role: Role


async def slack_actor(
    request: SlackUserRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> SlackUserReply:
    """A Slack person who may act in the workspace's team, with actor tokens for the bot."""
    reply = await enrol_slack_user(request, uow, deps)
    assert reply.team_id is not None and reply.user_id is not None and reply.role is not None
    return with_tokens(
        reply, deps, request.audiences, ActorSource.SLACK, reply.role, reply.team_id, reply.user_id
    )


async def _membership(person: SlackPerson, uow: IdentityUnitOfWork) -> Membership | None:
    team_id = await uow.repo.workspace_team(person.slack_team_id)
    team = await uow.repo.team(team_id) if team_id else None
    user_id = (
        await uow.repo.slack_user(person.slack_team_id, person.slack_user_id) if team else None
    )
    role = await uow.repo.role_of(team.team_id, user_id) if team and user_id else None
    return Membership(team, user_id, role) if team and user_id and role else None


async def enrol_slack_user(
    request: SlackUserRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> SlackUserReply:
    """Resolve a Slack user: a member as they are (a guest reads only, a refused guest or an
    external user is refused), a newcomer admitted by the team's rules or refused with what
    to do about it."""
    kind = people.slack_kind(request)
    async with uow:  # the common case first: no lock, so a busy workspace is not serialised
        found = await _membership(request, uow)
    enrolled = False
    if found is None:
        async with uow:
            await uow.repo.lock_slack_workspace(request.slack_team_id)
            found = await _membership(request, uow)
            if found is None:
                found = await _admit(request, kind, uow, deps)
                await uow.commit()
                enrolled = True
    role = people.member_role(kind, found.role, found.team.guest_policy)
    return SlackUserReply(
        user_id=found.user_id, team_id=found.team.team_id, role=role, enrolled=enrolled
    )


async def _workspace(
    person: SlackPerson, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> tuple[Team, Invitation | None]:
    """The workspace's team. A workspace not linked yet is linked only by an owner invitation
    naming this person to a team that has no workspace (`teams create --owner-slack`)."""
    team_id = await uow.repo.workspace_team(person.slack_team_id)
    invitation = None
    if team_id is None:
        email = people.confirmed_email(person)
        invitation = await uow.repo.unlinked_owner_invitation(
            person.slack_user_id, email, deps.now()
        )
        if invitation is None:
            raise NotClaimed(people.UNCLAIMED)
        team_id = invitation.team_id
        await uow.repo.link_workspace(person.slack_team_id, team_id, person.slack_team_name)
    team = await uow.repo.team(team_id)
    assert team is not None
    return team, invitation


async def _admit(
    person: SlackPerson, kind: SlackKind, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> Membership:
    team, invitation = await _workspace(person, uow, deps)
    email = people.confirmed_email(person)
    invitation = invitation or await uow.repo.pending_invitation(
        team.team_id, person.slack_user_id, email, deps.now()
    )
    role = people.admit(
        Admission(
            kind=kind,
            join_policy=team.join_policy,
            guest_policy=team.guest_policy,
            invited_role=invitation.role if invitation else None,
            removed=await uow.repo.was_removed(team.team_id, person.slack_user_id, person.email),
            has_owner=await uow.repo.count_owners(team.team_id) > 0,
        )
    )
    user_id = await slack_person(person, uow)
    accepted = invitation is None or await uow.repo.accept_invitation(
        invitation.invitation_id, user_id, deps.now()
    )
    if not accepted:  # accepted on the web a moment ago, by whoever the email named
        raise Conflict("that invitation was just used; try again in a moment")
    via = "invitation" if invitation else "workspace"
    await join(uow, team.team_id, user_id, role, via)
    log.info(
        "slack user joined",
        extra={"team_id": str(team.team_id), "user_id": str(user_id), "role": role.value},
    )
    return Membership(team, user_id, role)


async def slack_person(person: SlackPerson, uow: IdentityUnitOfWork) -> UUID:
    """The user behind a Slack user: as linked, or a new person (never found by email: the
    profile's email is stored as contact information only)."""
    user_id = await uow.repo.slack_user(person.slack_team_id, person.slack_user_id)
    if user_id is not None:
        return user_id
    user_id = uuid4()
    first, last = split_name(person.display_name)
    await uow.repo.add_user(user_id, email=None, first_name=first, last_name=last)
    email = person.email.strip().lower()[:320] if person.email else None
    await uow.repo.link_slack_user(person.slack_team_id, person.slack_user_id, user_id, email)
    return user_id


async def join(uow: IdentityUnitOfWork, team_id: UUID, user_id: UUID, role: Role, via: str) -> None:
    """A newcomer joins a team (audited, and announced on the bus)."""
    await uow.repo.add_member(team_id, user_id, role)
    await _audit(
        uow, team_id, user_id, "member.joined", "user", str(user_id),
        {"role": role.value, "via": via},
    )  # fmt: skip
    await _member_changed(uow, team_id, user_id, role, None)
