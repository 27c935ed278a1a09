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
    SlackUserRequest,
    TeamTokenReply,
    TeamTokenRequest,
)
from cloudaudit.identity.adapters.rows import AuditPageRow, AuditRow, TeamMember, display_name
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain import rules
from cloudaudit.identity.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from cloudaudit.identity.domain.passwords import normalise_email
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
        raise NotFound("team not found; ask an owner or admin to add you")
    return role


async def _member_changed(
    uow: IdentityUnitOfWork, team_id: UUID, user_id: UUID, role: Role | None, by: UUID | None
) -> None:
    await uow.emit(
        MEMBER_CHANGED, MemberChanged(team_id=team_id, user_id=user_id, role=role, changed_by=by)
    )


def _split_name(display: str | None) -> tuple[str, str]:
    first, _, last = (display or "").strip().partition(" ")
    return first[:100], last[:100]


# -- actor tokens ----------------------------------------------------------------------------
def _with_tokens(
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


async def slack_actor(
    request: SlackUserRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> SlackUserReply:
    """A Slack person (enrolled on first use) with actor tokens for the bot to act with."""
    reply = await enrol_slack_user(request, uow)
    assert reply.team_id is not None and reply.user_id is not None and reply.role is not None
    return _with_tokens(
        reply, deps, request.audiences, ActorSource.SLACK, reply.role, reply.team_id, reply.user_id
    )


async def team_token(
    request: TeamTokenRequest, uow: IdentityUnitOfWork, deps: IdentityDeps
) -> TeamTokenReply:
    """Read-only tokens for a team's scheduled work (digests): role viewer, no person."""
    async with uow:
        if await uow.repo.team(request.team_id) is None:
            raise NotFound("team not found")
    return _with_tokens(
        TeamTokenReply(), deps, request.audiences, ActorSource.SYSTEM, Role.VIEWER,
        request.team_id, None,
    )  # fmt: skip


# -- Slack -----------------------------------------------------------------------------------
async def _slack_link(
    request: SlackUserRequest, uow: IdentityUnitOfWork
) -> tuple[UUID | None, UUID | None, Role | None]:
    """(team, user, role) as linked now for this Slack workspace and person, None where not."""
    team_id = await uow.repo.workspace_team(request.slack_team_id)
    user_id = (
        await uow.repo.slack_user(request.slack_team_id, request.slack_user_id) if team_id else None
    )
    role = await uow.repo.role_of(team_id, user_id) if team_id and user_id else None
    return team_id, user_id, role


async def _workspace_team(request: SlackUserRequest, uow: IdentityUnitOfWork) -> UUID:
    """The workspace's team, created (and audited) on the workspace's first use."""
    team_id = uuid4()
    await uow.repo.add_team(team_id, request.slack_team_name or f"Slack {request.slack_team_id}")
    await uow.repo.link_workspace(request.slack_team_id, team_id, request.slack_team_name)
    await _audit(
        uow, team_id, None, "team.created", "team", str(team_id),
        {"via": "slack", "slack_team_id": request.slack_team_id},
    )  # fmt: skip
    return team_id


async def _slack_person(request: SlackUserRequest, uow: IdentityUnitOfWork) -> UUID:
    """The person behind a new Slack user: the user with that email if known, else a new one;
    linked to the Slack user either way."""
    email = request.email.lower() if request.email else None
    existing = await uow.repo.user_by_email(email) if email else None
    if existing is not None:
        user_id = existing.user_id
    else:
        user_id = uuid4()
        first, last = _split_name(request.display_name)
        await uow.repo.add_user(user_id, email=email, first_name=first, last_name=last)
    await uow.repo.link_slack_user(request.slack_team_id, request.slack_user_id, user_id)
    return user_id


async def _join_via_slack(
    uow: IdentityUnitOfWork, team_id: UUID, user_id: UUID, role: Role
) -> Role:
    """The person's role in the team: as it is if a member already, else `role`, joined now."""
    current = await uow.repo.role_of(team_id, user_id)
    if current is not None:
        return current
    await uow.repo.add_member(team_id, user_id, role)
    await _audit(
        uow, team_id, user_id, "member.joined", "user", str(user_id),
        {"role": role.value, "via": "slack"},
    )  # fmt: skip
    await _member_changed(uow, team_id, user_id, role, None)
    return role


async def enrol_slack_user(request: SlackUserRequest, uow: IdentityUnitOfWork) -> SlackUserReply:
    """Resolve a Slack user; the first person of a workspace becomes its team's owner."""
    async with uow:  # the common case first: no lock, so a busy workspace is not serialised
        team_id, user_id, role = await _slack_link(request, uow)
    if team_id and user_id and role:
        return SlackUserReply(user_id=user_id, team_id=team_id, role=role)
    async with uow:
        await uow.repo.lock_slack_workspace(request.slack_team_id)
        team_id, user_id, role = await _slack_link(request, uow)
        if team_id and user_id:
            return SlackUserReply(user_id=user_id, team_id=team_id, role=role)
        new_role = rules.role_for_new_workspace_user(team_id is not None)
        team_id = team_id or await _workspace_team(request, uow)
        user_id = await _slack_person(request, uow)
        role = await _join_via_slack(uow, team_id, user_id, new_role)
        await uow.commit()
    log.info(
        "slack user enrolled",
        extra={"team_id": str(team_id), "user_id": str(user_id), "role": role.value},
    )
    return SlackUserReply(user_id=user_id, team_id=team_id, role=role, enrolled=True)


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
            raise NotFound("team not found")
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


async def _new_member(uow: IdentityUnitOfWork, team_id: UUID, email: str) -> UUID:
    """The user with `email` (created if new), who must not be in the team yet."""
    user = await uow.repo.user_by_email(email)
    user_id = user.user_id if user else uuid4()
    if user is None:
        await uow.repo.add_user(user_id, email=email)
    if await uow.repo.role_of(team_id, user_id) is not None:
        raise Conflict(f"{email} is already a member of this team")
    return user_id


async def add_member(actor: Actor, email: str, role: Role, uow: IdentityUnitOfWork) -> UUID:
    """Add a person by email (creating the user if new): the operator, or an owner or admin."""
    email, team_id, by = normalise_email(email), actor.team_id, actor.user_id
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound("team not found")
        actor_role = await _current_role(actor, uow)
        await _authorize(uow, actor, actor_role, Action.MANAGE_MEMBERS)
        if actor_role is Role.ADMIN and role in (Role.OWNER, Role.ADMIN):
            raise Forbidden("only owners can grant the admin or owner role; ask an owner")
        user_id = await _new_member(uow, team_id, email)
        await uow.repo.add_member(team_id, user_id, role)
        await _audit(
            uow, team_id, by, "member.added", "user", str(user_id), {"role": role.value},
            source=actor.audit_source(SOURCE),
        )  # fmt: skip
        await _member_changed(uow, team_id, user_id, role, by)
        await uow.commit()
    return user_id


async def remove_member(actor: Actor, target: UUID, uow: IdentityUnitOfWork) -> None:
    """Members may leave; owners and admins remove others; a team always keeps one owner."""
    team_id, by = actor.team_id, actor.user_id
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound("team not found")
        current = await uow.repo.role_of(team_id, target)
        if current is None:
            raise NotFound("that person is not a member of this team")
        owners = await uow.repo.count_owners(team_id)
        actor_role = await _current_role(actor, uow)
        rules.check_removal(actor_role, current, owners, by == target)
        await uow.repo.remove_member(team_id, target)
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
