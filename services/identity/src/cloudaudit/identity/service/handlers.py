"""Identity handlers: one function per command or event; the only place transactions commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from cloudaudit.common.actors import ActorTokenIssuer, Command
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
from cloudaudit.identity.adapters.unit_of_work import IdentityUnitOfWork
from cloudaudit.identity.domain import rules
from cloudaudit.identity.domain.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from cloudaudit.identity.domain.passwords import (
    check_password_strength,
    hash_password,
    new_session_token,
    normalise_email,
    token_digest,
    verify_password,
)
from pydantic import SecretStr

UowFactory = Callable[[], IdentityUnitOfWork]
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
    source: str = "identity",
) -> None:
    """Identity's own changes go straight into the audit log, in the same transaction
    (`source` is `cli` for the operator's)."""
    now = utcnow()
    await uow.repo.append_audit(
        audit_id=uuid4(),
        team_id=team_id,
        user_id=user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        details=details or {},
        source=source,
        occurred_at=now,
    )


async def _member_changed(
    uow: IdentityUnitOfWork, team_id: UUID, user_id: UUID, role: Role | None, by: UUID | None
) -> None:
    await uow.emit(
        MEMBER_CHANGED, MemberChanged(team_id=team_id, user_id=user_id, role=role, changed_by=by)
    )


def _display_name(row: dict[str, Any]) -> str:
    name = f"{row.get('first_name') or ''} {row.get('last_name') or ''}".strip()
    return name or row.get("email") or str(row["user_id"])[:8]


def _split_name(display_name: str | None) -> tuple[str, str]:
    first, _, last = (display_name or "").strip().partition(" ")
    return first[:100], last[:100]


# -- actor tokens ----------------------------------------------------------------------------
def _with_tokens(
    reply: R,
    issuer: ActorTokenIssuer,
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
        token, expires_at = issuer.issue(
            team_id=team_id, user_id=user_id, role=role, audience=audience, source=source
        )
        tokens[audience] = SecretStr(token)
    return reply.model_copy(update={"tokens": tokens, "tokens_expire_at": expires_at})


async def slack_actor(
    request: SlackUserRequest, uow: IdentityUnitOfWork, issuer: ActorTokenIssuer
) -> SlackUserReply:
    """A Slack person (enrolled on first use) with actor tokens for the bot to act with."""
    reply = await enrol_slack_user(request, uow)
    assert reply.team_id is not None and reply.user_id is not None and reply.role is not None
    return _with_tokens(
        reply,
        issuer,
        request.audiences,
        ActorSource.SLACK,
        reply.role,
        reply.team_id,
        reply.user_id,
    )


async def team_token(
    request: TeamTokenRequest, uow: IdentityUnitOfWork, issuer: ActorTokenIssuer
) -> TeamTokenReply:
    """Read-only tokens for a team's scheduled work (digests): role viewer, no person."""
    async with uow:
        if await uow.repo.team(request.team_id) is None:
            raise NotFound("team not found")
    return _with_tokens(
        TeamTokenReply(),
        issuer,
        request.audiences,
        ActorSource.SYSTEM,
        Role.VIEWER,
        request.team_id,
        None,
    )


async def _current_role(cmd: Command[Any], uow: IdentityUnitOfWork) -> Role:
    """Identity owns membership: the member's role now, not as the token remembers it. A person
    no longer in the team gets 'not found', like a stranger."""
    role = (
        await uow.repo.role_of(cmd.actor.team_id, cmd.actor.user_id)
        if cmd.actor.user_id
        else cmd.actor.role
    )
    if role is None:
        raise NotFound("team not found; ask an owner or admin to add you")
    return role


async def _refuse_if(
    cmd: Command[Any], uow: IdentityUnitOfWork, action: Action, role: Role
) -> None:
    """Refused attempts are audited once, in the team's log, then refused with the reason."""
    reason = rules.denial_reason(action, role)
    if reason is None:
        return
    await _audit(
        uow,
        cmd.actor.team_id,
        cmd.actor.user_id,
        "authorization.refused",
        "action",
        action.value,
        {"action": action.value, "role": role.value, "reason": reason},
    )
    await uow.commit()
    raise Forbidden(reason)


# -- Slack -----------------------------------------------------------------------------------
async def _known_slack_user(
    request: SlackUserRequest, uow: IdentityUnitOfWork
) -> SlackUserReply | None:
    async with uow:
        team_id = await uow.repo.workspace_team(request.slack_team_id)
        user_id = (
            await uow.repo.slack_user(request.slack_team_id, request.slack_user_id)
            if team_id
            else None
        )
        role = await uow.repo.role_of(team_id, user_id) if team_id and user_id else None
    if team_id and user_id and role:
        return SlackUserReply(user_id=user_id, team_id=team_id, role=role)
    return None


async def enrol_slack_user(request: SlackUserRequest, uow: IdentityUnitOfWork) -> SlackUserReply:
    """Resolve a Slack user; the first person of a workspace becomes its team's owner."""
    known = await _known_slack_user(request, uow)
    if known is not None:  # the common case: no lock, so a busy workspace is not serialised
        return known
    async with uow:
        await uow.repo.lock_slack_workspace(request.slack_team_id)
        team_id = await uow.repo.workspace_team(request.slack_team_id)
        user_id = (
            await uow.repo.slack_user(request.slack_team_id, request.slack_user_id)
            if team_id
            else None
        )
        if team_id and user_id:
            role = await uow.repo.role_of(team_id, user_id)
            return SlackUserReply(user_id=user_id, team_id=team_id, role=role)
        role = rules.role_for_new_workspace_user(team_id is not None)
        if team_id is None:
            team_id = uuid4()
            await uow.repo.add_team(
                team_id, request.slack_team_name or f"Slack {request.slack_team_id}"
            )
            await uow.repo.link_workspace(request.slack_team_id, team_id, request.slack_team_name)
            await _audit(
                uow,
                team_id,
                None,
                "team.created",
                "team",
                str(team_id),
                {"via": "slack", "slack_team_id": request.slack_team_id},
            )
        email = request.email.lower() if request.email else None
        existing = await uow.repo.user_by_email(email) if email else None
        if existing:
            user_id = existing["user_id"]
        else:
            user_id = uuid4()
            first, last = _split_name(request.display_name)
            await uow.repo.add_user(user_id, email=email, first_name=first, last_name=last)
        await uow.repo.link_slack_user(request.slack_team_id, request.slack_user_id, user_id)
        current = await uow.repo.role_of(team_id, user_id)
        if current is None:
            await uow.repo.add_member(team_id, user_id, role)
            await _audit(
                uow,
                team_id,
                user_id,
                "member.joined",
                "user",
                str(user_id),
                {"role": role.value, "via": "slack"},
            )
            await _member_changed(uow, team_id, user_id, role, None)
        await uow.commit()
    log.info(
        "slack user enrolled",
        extra={"team_id": str(team_id), "user_id": str(user_id), "role": (current or role).value},
    )
    return SlackUserReply(user_id=user_id, team_id=team_id, role=current or role, enrolled=True)


# -- members ---------------------------------------------------------------------------------
async def list_members(cmd: Command[MembersRequest], uow: IdentityUnitOfWork) -> MembersReply:
    """Only members of a team see who else is in it."""
    async with uow:
        await _current_role(cmd, uow)
        rows = await uow.repo.members(cmd.actor.team_id)
    return MembersReply(
        members=[
            Member(
                user_id=r["user_id"],
                email=r["email"],
                display_name=_display_name(r),
                role=Role(r["role"]),
                slack_user_id=r["slack_user_id"],
            )
            for r in rows
        ]
    )


async def change_role(cmd: Command[ChangeRoleRequest], uow: IdentityUnitOfWork) -> ChangeRoleReply:
    request, team_id, actor_id = cmd.request, cmd.actor.team_id, cmd.actor.user_id
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound("team not found")
        actor_role = await _current_role(cmd, uow)
        current = await uow.repo.role_of(team_id, request.target_user_id)
        if current is None:
            raise NotFound("that person is not a member of this team")
        if current is request.role:
            return ChangeRoleReply(role=current)
        await _refuse_if(cmd, uow, Action.MANAGE_MEMBERS, actor_role)
        rules.check_role_change(
            actor_role,
            current,
            request.role,
            await uow.repo.count_owners(team_id),
            actor_id == request.target_user_id,
        )
        await uow.repo.set_role(team_id, request.target_user_id, request.role)
        await _audit(
            uow,
            team_id,
            actor_id,
            "member.role_changed",
            "user",
            str(request.target_user_id),
            {"from": current.value, "to": request.role.value},
        )
        await _member_changed(uow, team_id, request.target_user_id, request.role, actor_id)
        await uow.commit()
    return ChangeRoleReply(role=request.role)


async def add_member(
    team_id: UUID, actor: UUID | None, email: str, role: Role, uow: IdentityUnitOfWork
) -> UUID:
    """Add a person by email (creating the user if new). actor None = operator CLI."""
    email = normalise_email(email)
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound("team not found")
        if actor is not None:
            actor_role = await uow.repo.role_of(team_id, actor)
            reason = rules.denial_reason(Action.MANAGE_MEMBERS, actor_role)
            if reason:
                raise Forbidden(reason)
            if actor_role is Role.ADMIN and role in (Role.OWNER, Role.ADMIN):
                raise Forbidden("only owners can grant the admin or owner role; ask an owner")
        user = await uow.repo.user_by_email(email)
        user_id = user["user_id"] if user else uuid4()
        if user is None:
            await uow.repo.add_user(user_id, email=email)
        if await uow.repo.role_of(team_id, user_id) is not None:
            raise Conflict(f"{email} is already a member of this team")
        await uow.repo.add_member(team_id, user_id, role)
        await _audit(
            uow,
            team_id,
            actor,
            "member.added",
            "user",
            str(user_id),
            {"role": role.value},
            source="identity" if actor else ActorSource.CLI.value,
        )
        await _member_changed(uow, team_id, user_id, role, actor)
        await uow.commit()
    return user_id


async def remove_member(
    team_id: UUID, actor: UUID | None, target: UUID, uow: IdentityUnitOfWork
) -> None:
    async with uow:
        if not await uow.repo.lock_team(team_id):
            raise NotFound("team not found")
        current = await uow.repo.role_of(team_id, target)
        if current is None:
            raise NotFound("that person is not a member of this team")
        owners = await uow.repo.count_owners(team_id)
        if actor is None:  # operator CLI: still never leaves a team ownerless
            rules.check_removal(Role.OWNER, current, owners, False)
        else:
            rules.check_removal(
                await uow.repo.role_of(team_id, actor), current, owners, actor == target
            )
        await uow.repo.remove_member(team_id, target)
        await _audit(
            uow,
            team_id,
            actor,
            "member.removed",
            "user",
            str(target),
            {"role": current.value},
            source="identity" if actor else ActorSource.CLI.value,
        )
        await _member_changed(uow, team_id, target, None, actor)
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
        inserted = await uow.repo.append_audit(
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
        await uow.commit()
    return inserted


async def read_audit(
    team_id: UUID,
    requested_by: UUID | None,
    since: datetime | None,
    limit: int,
    uow: IdentityUnitOfWork,
) -> list[dict[str, Any]]:
    """requested_by None = operator CLI; otherwise only owners/admins of that team."""
    async with uow:
        if requested_by is not None:
            reason = rules.denial_reason(
                Action.READ_AUDIT, await uow.repo.role_of(team_id, requested_by)
            )
            if reason:
                raise Forbidden(reason)
        return await uow.repo.audit_entries(team_id, since, min(max(limit, 1), 1000))


async def audit_log(cmd: Command[AuditLogRequest], uow: IdentityUnitOfWork) -> AuditLogReply:
    """A team's audit log for its owners and admins: newest first, a page at a time."""
    request = cmd.request
    async with uow:
        await _refuse_if(cmd, uow, Action.READ_AUDIT, await _current_role(cmd, uow))
        rows = await uow.repo.audit_page(cmd.actor.team_id, request.before, request.limit + 1)
    page = rows[: request.limit]
    return AuditLogReply(
        entries=[_audit_entry(row) for row in page],
        next_before=page[-1]["occurred_at"] if len(rows) > request.limit else None,
    )


def _audit_entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        audit_id=row["audit_id"],
        occurred_at=row["occurred_at"],
        action=row["action"],
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        user_id=row["user_id"],
        user_name=_display_name(row) if row["user_id"] else None,
        slack_user_id=row["slack_user_id"],
        source=row["source"],
        details=row["details"] or {},
    )


# -- web accounts -----------------------------------------------------------------------------
async def sign_up(
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    phone: str | None,
    uow: IdentityUnitOfWork,
) -> UUID:
    email = normalise_email(email)
    check_password_strength(password)
    user_id = uuid4()
    async with uow:
        existing = await uow.repo.user_by_email(email)
        if existing and existing["password_hash"]:
            raise Conflict("an account with this email already exists; log in instead")
        if existing:  # known from Slack: claim the account by setting a password
            user_id = existing["user_id"]
            await uow.repo.update_user(
                user_id,
                password_hash=hash_password(password),
                first_name=first_name[:100],
                last_name=last_name[:100],
                phone=phone,
            )
        else:
            await uow.repo.add_user(
                user_id,
                email=email,
                password_hash=hash_password(password),
                first_name=first_name[:100],
                last_name=last_name[:100],
                phone=phone,
            )
        await _audit(uow, None, user_id, "user.signed_up", "user", str(user_id), {})
        await uow.commit()
    log.info("user signed up", extra={"user_id": str(user_id)})
    return user_id


async def log_in(
    email: str,
    password: str,
    client: str,
    ttl: timedelta,
    max_failures: int,
    window: timedelta,
    uow: IdentityUnitOfWork,
) -> tuple[str, datetime, UUID]:
    """Returns (token, expires_at, user_id). Failures are counted per email and per client."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        raise InvalidCredentials("email or password is incorrect") from None
    now = utcnow()
    async with uow:
        by_email, by_client = await uow.repo.recent_failures(email, client, now - window)
        if by_email >= max_failures or by_client >= max_failures * 4:
            log.warning("log-in refused: too many failures", extra={"client": client})
            raise TooManyAttempts(
                f"too many failed log-ins; wait {int(window.total_seconds() // 60)} minutes and try again"
            )
        user = await uow.repo.user_by_email(email)
        if not verify_password(user["password_hash"] if user else None, password):
            await uow.repo.add_failure(email, client)
            await uow.commit()
            log.info("log-in failed", extra={"client": client, "known_user": user is not None})
            raise InvalidCredentials("email or password is incorrect")
        assert user is not None
        token = new_session_token()
        expires_at = now + ttl
        await uow.repo.add_session(token_digest(token), user["user_id"], expires_at)
        await uow.repo.clear_failures(email)
        await uow.commit()
    log.info("log-in succeeded", extra={"user_id": str(user["user_id"]), "client": client})
    return token, expires_at, user["user_id"]


async def session_user(token: str, uow: IdentityUnitOfWork) -> dict[str, Any]:
    async with uow:
        user_id = await uow.repo.session_user(token_digest(token), utcnow())
        user = await uow.repo.user(user_id) if user_id else None
    if user is None:
        raise InvalidCredentials("session expired or invalid; log in again")
    return user


async def log_out(token: str, uow: IdentityUnitOfWork) -> None:
    async with uow:
        await uow.repo.delete_session(token_digest(token))
        await uow.commit()


async def teams_of(user_id: UUID, uow: IdentityUnitOfWork) -> list[dict[str, Any]]:
    async with uow:
        return await uow.repo.teams_of(user_id)


async def members_for(
    team_id: UUID, requested_by: UUID, uow: IdentityUnitOfWork
) -> list[dict[str, Any]]:
    async with uow:
        if await uow.repo.role_of(team_id, requested_by) is None:
            raise NotFound("team not found")  # not a member: do not reveal that the team exists
        return await uow.repo.members(team_id)
