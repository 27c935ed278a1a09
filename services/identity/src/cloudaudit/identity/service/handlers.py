"""Identity handlers: one function per command or event; the only place transactions commit.

Bus handlers follow the one contract: `handle(cmd, uow[, deps]) -> Reply`, the verified actor
inside `cmd`; a `DomainError` raised here becomes the error reply at the entrypoint. The web
accounts (sign-up, log-in, sessions) live in `accounts`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from cloudaudit.common.actors import Actor, Command, authorize
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.audit import AuditRecorded
from cloudaudit.common.events.identity import (
    MEMBER_CHANGED,
    Action,
    ActorSource,
    Audience,
    AuditEntry,
    AuditLogReply,
    AuditLogRequest,
    ChangeRoleReply,
    ChangeRoleRequest,
    Member,
    MemberChanged,
    MembersReply,
    MembersRequest,
    Role,
    SlackUserReply,
    TeamTokenReply,
    TeamTokenRequest,
)
from cloudaudit.identity.adapters.rows import AuditPageRow, AuditRow, TeamMember, display_name
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain import rules
from cloudaudit.identity.domain.errors import InvalidInput, NotFound
from cloudaudit.identity.domain.people import TEAM_NOT_FOUND
from cloudaudit.identity.service.deps import IdentityDeps, UowFactory
from pydantic import SecretStr

__all__ = ["UowFactory"]

SOURCE = "identity"
R = TypeVar("R", SlackUserReply, TeamTokenReply)
log = logging.getLogger(__name__)


async def _audit(
    uow: IdentityUnitOfWork,
    team_id: UUID | None,
    user_id: UUID | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
    source: str = SOURCE,
) -> None:
    """Identity's own changes go straight into the audit log, in the same transaction
    (`source` is `cli` for the operator's)."""
    await uow.repo.append_audit(
        audit_id=uuid4(),
        team_id=team_id,
        user_id=user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        details=details or {},
        source=source,
        occurred_at=utcnow(),
    )


async def _append(uow: IdentityUnitOfWork, event: AuditRecorded) -> bool:
    """An audit event into the log, once (its event_id is the audit id). True if new."""
    return await uow.repo.append_audit(
        audit_id=event.event_id,
        team_id=event.team_id,
        user_id=event.user_id,
        action=event.action,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        details=event.details,
        source=event.source,
        occurred_at=event.occurred_at,
    )


class _AuditLogHere:
    """The port `cloudaudit.common.actors.authorize` audits a refusal through. Other services
    emit the audit event through their outbox; identity keeps the audit log, so the entry goes
    straight in, in the transaction of the refusal."""

    def __init__(self, uow: IdentityUnitOfWork) -> None:
        self._uow = uow

    async def emit(self, subject: str, event: Any) -> None:
        await _append(self._uow, event)

    async def commit(self) -> None:
        await self._uow.commit()


async def _authorize(uow: IdentityUnitOfWork, actor: Actor, role: Role, action: Action) -> None:
    """The common role table decides, from the member's role now (identity owns membership);
    a refusal is audited once in the team's log, then raised with the reason."""
    await authorize(_AuditLogHere(uow), replace(actor, role=role), action, source=SOURCE)


async def _current_role(actor: Actor, uow: IdentityUnitOfWork) -> Role:
    """Identity owns membership: the member's role now, not as the token remembers it. A person
    no longer in the team gets 'not found', like a stranger."""
    role = await uow.repo.role_of(actor.team_id, actor.user_id) if actor.user_id else actor.role
    if role is None:
        raise NotFound(TEAM_NOT_FOUND)
    return role


async def _member_changed(
    uow: IdentityUnitOfWork, team_id: UUID, user_id: UUID, role: Role | None, by: UUID | None
) -> None:
    await uow.emit(
        MEMBER_CHANGED, MemberChanged(team_id=team_id, user_id=user_id, role=role, changed_by=by)
    )


def split_name(display: str | None) -> tuple[str, str]:
    first, _, last = (display or "").strip().partition(" ")
    return first[:100], last[:100]


# -- actor tokens ----------------------------------------------------------------------------
def with_tokens(
    reply: R,
    deps: IdentityDeps,
    audiences: list[Audience],
    source: ActorSource,
    role: Role,
    team_id: UUID,
    user_id: UUID | None,
) -> R:
    """The reply with one signed actor token per audience (at most 5 minutes each)."""
    tokens: dict[Audience, SecretStr] = {}
    expires_at = None
    for audience in dict.fromkeys(audiences):
        token, expires_at = deps.issuer.issue(
            team_id=team_id, user_id=user_id, role=role, audience=audience, source=source
        )
        tokens[audience] = SecretStr(token)
    return reply.model_copy(update={"tokens": tokens, "tokens_expire_at": expires_at})


async def team_token(
    request: TeamTokenRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> TeamTokenReply:
    """Read-only tokens for a team's scheduled work (digests): role viewer, no person."""
    async with uow:
        if await uow.repo.team(request.team_id) is None:
            raise NotFound(TEAM_NOT_FOUND)
    return with_tokens(
        TeamTokenReply(), deps, request.audiences, ActorSource.SYSTEM, Role.VIEWER,
        request.team_id, None,
    )  # fmt: skip


# -- members ---------------------------------------------------------------------------------
def _member(row: TeamMember) -> Member:
    return Member(
        user_id=row.user_id,
        email=row.email,
        display_name=display_name(row.user_id, row.email, row.first_name, row.last_name),
        role=row.role,
        slack_user_id=row.slack_user_id,
    )


async def list_members(cmd: Command[MembersRequest], uow: IdentityUnitOfWork) -> MembersReply:
    """Only members of a team see who else is in it."""
    async with uow:
        await _current_role(cmd.actor, uow)
        rows = await uow.repo.members(cmd.actor.team_id)
    return MembersReply(members=[_member(row) for row in rows])


async def change_role(cmd: Command[ChangeRoleRequest], uow: IdentityUnitOfWork) -> ChangeRoleReply:
    """Promote or demote a member: owners and admins, under the rules of `rules`."""
    request, team_id, actor_id = cmd.request, cmd.actor.team_id, cmd.actor.user_id
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound(TEAM_NOT_FOUND)
        actor_role = await _current_role(cmd.actor, uow)
        current = await uow.repo.role_of(team_id, request.target_user_id)
        if current is None:
            raise NotFound("that person is not a member of this team")
        if current is request.role:
            return ChangeRoleReply(role=current)
        await _authorize(uow, cmd.actor, actor_role, Action.MANAGE_MEMBERS)
        owners = await uow.repo.count_owners(team_id)
        is_self = actor_id == request.target_user_id
        rules.check_role_change(actor_role, current, request.role, owners, is_self)
        await uow.repo.set_role(team_id, request.target_user_id, request.role)
        await _audit(
            uow, team_id, actor_id, "member.role_changed", "user", str(request.target_user_id),
            {"from": current.value, "to": request.role.value},
        )  # fmt: skip
        await _member_changed(uow, team_id, request.target_user_id, request.role, actor_id)
        await uow.commit()
    return ChangeRoleReply(role=request.role)


async def record_removal(
    uow: IdentityUnitOfWork, team_id: UUID, target: UUID, by: UUID | None
) -> None:
    """Remember who left, by every Slack id (in the team's workspace) and email they had, so
    they do not come back under the workspace join policy; their invitations end."""
    workspace = await uow.repo.team_workspace(team_id)
    slack_ids = await uow.repo.slack_ids_of(target, workspace) if workspace else []
    user = await uow.repo.user(target)
    emails = {user.email.lower()} if user and user.email else set()
    for slack_id in slack_ids:
        assert workspace is not None
        email = await uow.repo.slack_email(workspace, slack_id)
        emails |= {email.lower()} if email else set()
        await uow.repo.revoke_invitations(team_id, slack_id, None)
    for email in emails:
        await uow.repo.revoke_invitations(team_id, None, email)
    await uow.repo.add_removal(team_id, target, slack_ids, sorted(emails), by, utcnow())


async def remove_member(actor: Actor, target: UUID, uow: IdentityUnitOfWork) -> None:
    """Members may leave; owners and admins remove others; a team always keeps one owner.
    Removed people do not re-enrol from Slack until invited again."""
    team_id, by = actor.team_id, actor.user_id
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound(TEAM_NOT_FOUND)
        current = await uow.repo.role_of(team_id, target)
        if current is None:
            raise NotFound("that person is not a member of this team")
        owners = await uow.repo.count_owners(team_id)
        actor_role = await _current_role(actor, uow)
        rules.check_removal(actor_role, current, owners, by == target)
        await uow.repo.remove_member(team_id, target)
        await record_removal(uow, team_id, target, by)
        await _audit(
            uow, team_id, by, "member.removed", "user", str(target), {"role": current.value},
            source=actor.audit_source(SOURCE),
        )  # fmt: skip
        await _member_changed(uow, team_id, target, None, by)
        await uow.commit()


async def create_team(name: str, owner: UUID, uow: IdentityUnitOfWork) -> UUID:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("team name must be 1 to 200 characters")
    team_id = uuid4()
    async with uow:
        if await uow.repo.user(owner) is None:
            raise NotFound("user not found")
        await uow.repo.add_team(team_id, name)
        await uow.repo.add_member(team_id, owner, Role.OWNER)
        await _audit(uow, team_id, owner, "team.created", "team", str(team_id), {"name": name})
        await _member_changed(uow, team_id, owner, Role.OWNER, owner)
        await uow.commit()
    return team_id


# -- audit log --------------------------------------------------------------------------------
async def record_audit(event: AuditRecorded, uow: IdentityUnitOfWork) -> bool:
    """Append an audit event exactly once (event_id is the audit id)."""
    async with uow:
        inserted = await _append(uow, event)
        await uow.commit()
    return inserted


async def read_audit(
    actor: Actor, since: datetime | None, limit: int, uow: IdentityUnitOfWork
) -> list[AuditRow]:
    """A team's audit entries for the operator, or for the team's owners and admins."""
    async with uow:
        role = await _current_role(actor, uow)
        await _authorize(uow, actor, role, Action.READ_AUDIT)
        return await uow.repo.audit_entries(actor.team_id, since, min(max(limit, 1), 1000))


async def audit_log(cmd: Command[AuditLogRequest], uow: IdentityUnitOfWork) -> AuditLogReply:
    """A team's audit log for its owners and admins: newest first, a page at a time."""
    request = cmd.request
    async with uow:
        await _authorize(uow, cmd.actor, await _current_role(cmd.actor, uow), Action.READ_AUDIT)
        rows = await uow.repo.audit_page(cmd.actor.team_id, request.before, request.limit + 1)
    page = rows[: request.limit]
    return AuditLogReply(
        entries=[_audit_entry(row) for row in page],
        next_before=page[-1].occurred_at if len(rows) > request.limit else None,
    )


def _audit_entry(row: AuditPageRow) -> AuditEntry:
    return AuditEntry(
        audit_id=row.audit_id,
        occurred_at=row.occurred_at,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        user_id=row.user_id,
        user_name=(
            display_name(row.user_id, row.email, row.first_name, row.last_name)
            if row.user_id
            else None
        ),
        slack_user_id=row.slack_user_id,
        source=row.source,
        details=row.details or {},
    )
