"""Invitations and join policies: how people get into a team.

An invitation names a Slack user id or an email and waits until the person proves who they
are: the Slack user of that id, a Slack user whose Slack-confirmed email matches, or a signed-in
web user whose verified email matches. It never merges two accounts. Accepting it is the only
way into an `invite` team; an invitation also lifts a removal.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID, uuid4

from cloudaudit.common.actors import Actor, Command
from cloudaudit.common.events.identity import (
    Action,
    GuestPolicy,
    InviteReply,
    InviteRequest,
    JoinPolicy,
    Role,
)
from cloudaudit.identity.adapters.rows import Invitation, Team, User
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloudaudit.identity.domain.passwords import normalise_email
from cloudaudit.identity.domain.people import TEAM_NOT_FOUND
from cloudaudit.identity.service.deps import PeopleDeps
from cloudaudit.identity.service.handlers import SOURCE, _audit, _authorize, _current_role
from cloudaudit.identity.service.slack_people import join


def _who(slack_user_id: str | None, email: str | None) -> tuple[str | None, str | None]:
    if bool(slack_user_id) == bool(email):
        raise InvalidInput("invite one person: by Slack user id (U...) or by email, not both")
    return slack_user_id, normalise_email(email) if email else None


async def _already_member(
    uow: IdentityUnitOfWork, team_id: UUID, slack_user_id: str | None, email: str | None
) -> bool:
    workspace = await uow.repo.team_workspace(team_id)
    user_id = None
    if slack_user_id and workspace:
        user_id = await uow.repo.slack_user(workspace, slack_user_id)
    elif email:
        user = await uow.repo.user_by_email(email)
        user_id = user.user_id if user else None
    return user_id is not None and await uow.repo.role_of(team_id, user_id) is not None


async def invite(
    actor: Actor,
    slack_user_id: str | None,
    email: str | None,
    role: Role,
    uow: IdentityUnitOfWork,
    deps: PeopleDeps,
) -> Invitation:
    """Owners and admins (and the operator) invite; admins cannot invite owners or admins."""
    slack_user_id, email = _who(slack_user_id, email)
    team_id, by, now = actor.team_id, actor.user_id, deps.now()
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound(TEAM_NOT_FOUND)
        actor_role = await _current_role(actor, uow)
        await _authorize(uow, actor, actor_role, Action.MANAGE_MEMBERS)
        if actor_role is Role.ADMIN and role in (Role.OWNER, Role.ADMIN):
            raise Forbidden("only owners can grant the admin or owner role; ask an owner")
        named = slack_user_id or email
        if await _already_member(uow, team_id, slack_user_id, email):
            raise Conflict(f"{named} is already a member of this team")
        if await uow.repo.pending_invitation(team_id, slack_user_id, email, now):
            raise Conflict(
                f"{named} is invited already (`cloudaudit teams invitations` lists them)"
            )
        invitation = Invitation(
            invitation_id=uuid4(), team_id=team_id, email=email, slack_user_id=slack_user_id,
            role=role, invited_by=by, created_at=now, expires_at=now + deps.invitation_ttl,
        )  # fmt: skip
        await uow.repo.add_invitation(invitation)
        await uow.repo.clear_removals(team_id, slack_user_id, email)
        await _audit(
            uow, team_id, by, "member.invited", "invitation", str(invitation.invitation_id),
            {"role": role.value, "slack_user_id": slack_user_id, "email": email},
            source=actor.audit_source(SOURCE),
        )  # fmt: skip
        await uow.commit()
    return invitation


async def invite_from_slack(
    cmd: Command[InviteRequest], uow: IdentityUnitOfWork, deps: PeopleDeps
) -> InviteReply:
    request = cmd.request
    invitation = await invite(
        cmd.actor, request.slack_user_id, request.email, request.role, uow, deps
    )
    return InviteReply(invitation_id=invitation.invitation_id, expires_at=invitation.expires_at)


async def my_invitations(user: User, uow: IdentityUnitOfWork, deps: PeopleDeps) -> list[Invitation]:
    """Live invitations to the signed-in person's verified address."""
    if not user.email or user.email_verified_at is None:
        return []
    async with uow:
        return await uow.repo.invitations_for(user.email, deps.now())


async def accept_on_web(
    user: User, invitation_id: UUID, uow: IdentityUnitOfWork, deps: PeopleDeps
) -> Invitation:
    """A web user whose verified email an invitation names joins its team."""
    now = deps.now()
    async with uow:
        invitation = await uow.repo.invitation(invitation_id)
        named = invitation and invitation.email and user.email and user.email_verified_at
        if not named or invitation.email.lower() != user.email.lower():  # type: ignore[union-attr]
            raise NotFound("invitation not found")  # nothing about others' invitations leaks
        assert invitation is not None
        await uow.repo.lock_team(invitation.team_id)
        if await uow.repo.role_of(invitation.team_id, user.user_id) is not None:
            raise Conflict("you are a member of this team already")
        if not await uow.repo.accept_invitation(invitation_id, user.user_id, now):
            raise NotFound("invitation not found, used already or expired; ask for a new one")
        await join(uow, invitation.team_id, user.user_id, invitation.role, "invitation")
        await uow.commit()
    return invitation


async def team_invitations(
    actor: Actor, uow: IdentityUnitOfWork, deps: PeopleDeps
) -> list[Invitation]:
    async with uow:
        role = await _current_role(actor, uow)
        await _authorize(uow, actor, role, Action.MANAGE_MEMBERS)
        return await uow.repo.team_invitations(actor.team_id, deps.now())


async def set_policy(
    actor: Actor,
    join_policy: JoinPolicy | None,
    guest_policy: GuestPolicy | None,
    uow: IdentityUnitOfWork,
) -> Team:
    """Who may join from Slack: owners decide (and the operator)."""
    async with uow:
        team = (
            await uow.repo.team(actor.team_id) if await uow.repo.lock_team(actor.team_id) else None
        )
        if team is None:
            raise NotFound(TEAM_NOT_FOUND)
        if await _current_role(actor, uow) is not Role.OWNER:
            raise Forbidden("only owners can change who may join the team; ask an owner")
        if join_policy is None and guest_policy is None:
            return team  # asked what it is
        join_now = join_policy or team.join_policy
        guests_now = guest_policy or team.guest_policy
        await uow.repo.set_team_policy(team.team_id, join_now, guests_now)
        await _audit(
            uow, team.team_id, actor.user_id, "team.join_policy_set", "team", str(team.team_id),
            {"join_policy": join_now.value, "guest_policy": guests_now.value},
            source=actor.audit_source(SOURCE),
        )  # fmt: skip
        await uow.commit()
    return replace(team, join_policy=join_now, guest_policy=guests_now)
