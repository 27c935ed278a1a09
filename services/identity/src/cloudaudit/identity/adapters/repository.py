"""Identity persistence: queries over the identity schema only; rows come back as the frozen
dataclasses of `rows`."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from cloudaudit.common.events.identity import Role
from cloudaudit.identity.adapters.orm import (
    audit_logs,
    email_tokens,
    login_failures,
    sessions,
    slack_users,
    slack_workspaces,
    team_members,
    teams,
    users,
)
from cloudaudit.identity.adapters.people import PeopleQueries
from cloudaudit.identity.adapters.rows import (
    AuditPageRow,
    AuditRow,
    Membership,
    Pruned,
    Team,
    TeamMember,
    TeamSummary,
    User,
)
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


class IdentityRepository(PeopleQueries):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # users -----------------------------------------------------------------------------------
    async def add_user(self, user_id: UUID, **fields: Any) -> None:
        await self.session.execute(insert(users).values(user_id=user_id, **fields))

    async def update_user(self, user_id: UUID, **fields: Any) -> None:
        await self.session.execute(update(users).where(users.c.user_id == user_id).values(**fields))

    async def user(self, user_id: UUID) -> User | None:
        row = (
            (await self.session.execute(select(users).where(users.c.user_id == user_id)))
            .mappings()
            .first()
        )
        return User(**row) if row else None

    async def user_by_email(self, email: str) -> User | None:
        row = (
            (
                await self.session.execute(
                    select(users).where(func.lower(users.c.email) == email.lower())
                )
            )
            .mappings()
            .first()
        )
        return User(**row) if row else None

    async def list_users(self) -> list[User]:
        rows = await self.session.execute(select(users).order_by(users.c.created_at))
        return [User(**r) for r in rows.mappings()]

    # teams and members -----------------------------------------------------------------------
    async def add_team(self, team_id: UUID, name: str, **fields: Any) -> None:
        await self.session.execute(insert(teams).values(team_id=team_id, name=name, **fields))

    async def team(self, team_id: UUID) -> Team | None:
        row = (
            (await self.session.execute(select(teams).where(teams.c.team_id == team_id)))
            .mappings()
            .first()
        )
        return Team(**row) if row else None

    async def teams_named(self, name: str) -> list[Team]:
        """Teams whose name is `name`: exact matches if any, else case-insensitive ones."""
        rows = (
            await self.session.execute(
                select(teams)
                .where(func.lower(teams.c.name) == name.lower())
                .order_by(teams.c.created_at)
            )
        ).mappings()
        found = [Team(**r) for r in rows]
        exact = [t for t in found if t.name == name]
        return exact or found

    async def lock_team(self, team_id: UUID) -> bool:
        """Serialise membership changes of one team (the last-owner rule needs it)."""
        row = await self.session.execute(
            select(teams.c.team_id).where(teams.c.team_id == team_id).with_for_update()
        )
        return row.first() is not None

    async def list_teams(self) -> list[TeamSummary]:
        counts = (
            select(team_members.c.team_id, func.count().label("members"))
            .group_by(team_members.c.team_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(teams, func.coalesce(counts.c.members, 0).label("members"))
            .outerjoin(counts, counts.c.team_id == teams.c.team_id)
            .order_by(teams.c.created_at)
        )
        return [TeamSummary(**r) for r in rows.mappings()]

    async def add_member(self, team_id: UUID, user_id: UUID, role: Role) -> None:
        await self.session.execute(
            insert(team_members).values(team_id=team_id, user_id=user_id, role=role.value)
        )

    async def role_of(self, team_id: UUID, user_id: UUID) -> Role | None:
        value = (
            await self.session.execute(
                select(team_members.c.role).where(
                    team_members.c.team_id == team_id, team_members.c.user_id == user_id
                )
            )
        ).scalar_one_or_none()
        return Role(value) if value else None

    async def set_role(self, team_id: UUID, user_id: UUID, role: Role) -> None:
        await self.session.execute(
            update(team_members)
            .where(team_members.c.team_id == team_id, team_members.c.user_id == user_id)
            .values(role=role.value)
        )

    async def remove_member(self, team_id: UUID, user_id: UUID) -> None:
        await self.session.execute(
            delete(team_members).where(
                team_members.c.team_id == team_id, team_members.c.user_id == user_id
            )
        )

    async def count_owners(self, team_id: UUID) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count()).where(
                        team_members.c.team_id == team_id, team_members.c.role == Role.OWNER.value
                    )
                )
            ).scalar_one()
        )

    async def members(self, team_id: UUID) -> list[TeamMember]:
        rows = await self.session.execute(
            select(
                users.c.user_id,
                func.coalesce(users.c.email, slack_users.c.email).label("email"),
                users.c.first_name,
                users.c.last_name,
                team_members.c.role,
                team_members.c.joined_at,
                slack_users.c.slack_user_id,
            )
            .join(team_members, team_members.c.user_id == users.c.user_id)
            .outerjoin(slack_workspaces, slack_workspaces.c.team_id == team_members.c.team_id)
            .outerjoin(
                slack_users,
                (slack_users.c.user_id == users.c.user_id)
                & (slack_users.c.slack_team_id == slack_workspaces.c.slack_team_id),
            )
            .where(team_members.c.team_id == team_id)
            .order_by(team_members.c.joined_at)
        )
        return [TeamMember(**{**r, "role": Role(r["role"])}) for r in rows.mappings()]

    async def teams_of(self, user_id: UUID) -> list[Membership]:
        rows = await self.session.execute(
            select(teams.c.team_id, teams.c.name, team_members.c.role, team_members.c.joined_at)
            .join(team_members, team_members.c.team_id == teams.c.team_id)
            .where(team_members.c.user_id == user_id)
            .order_by(team_members.c.joined_at)
        )
        return [Membership(**{**r, "role": Role(r["role"])}) for r in rows.mappings()]

    # slack links -----------------------------------------------------------------------------
    async def lock_slack_workspace(self, slack_team_id: str) -> None:
        """Two people using the app at once for the first time must not both become owners."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"slack-ws:{slack_team_id}"}
        )

    async def workspace_team(self, slack_team_id: str) -> UUID | None:
        return (
            await self.session.execute(
                select(slack_workspaces.c.team_id).where(
                    slack_workspaces.c.slack_team_id == slack_team_id
                )
            )
        ).scalar_one_or_none()

    async def link_workspace(self, slack_team_id: str, team_id: UUID, name: str | None) -> None:
        await self.session.execute(
            insert(slack_workspaces).values(slack_team_id=slack_team_id, team_id=team_id, name=name)
        )

    async def slack_user(self, slack_team_id: str, slack_user_id: str) -> UUID | None:
        return (
            await self.session.execute(
                select(slack_users.c.user_id).where(
                    slack_users.c.slack_team_id == slack_team_id,
                    slack_users.c.slack_user_id == slack_user_id,
                )
            )
        ).scalar_one_or_none()

    async def link_slack_user(
        self, slack_team_id: str, slack_user_id: str, user_id: UUID, email: str | None = None
    ) -> None:
        """`email`: the Slack profile's, kept as contact information only."""
        await self.session.execute(
            insert(slack_users).values(
                slack_team_id=slack_team_id,
                slack_user_id=slack_user_id,
                user_id=user_id,
                email=email,
            )
        )

    async def relink_slack_user(
        self, slack_team_id: str, slack_user_id: str, user_id: UUID
    ) -> None:
        await self.session.execute(
            update(slack_users)
            .where(
                slack_users.c.slack_team_id == slack_team_id,
                slack_users.c.slack_user_id == slack_user_id,
            )
            .values(user_id=user_id)
        )

    # audit -----------------------------------------------------------------------------------
    async def append_audit(self, **entry: Any) -> bool:
        """Insert once per audit_id; a redelivered event changes nothing. True if inserted."""
        result = await self.session.execute(
            pg_insert(audit_logs)
            .values(**entry)
            .on_conflict_do_nothing(index_elements=["audit_id"])
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def audit_older_than(self, cutoff: datetime) -> int:
        """How many entries were written before `cutoff` (what a prune would remove)."""
        query = select(func.count()).select_from(audit_logs).where(audit_logs.c.created_at < cutoff)
        return int((await self.session.execute(query)).scalar_one())

    async def prune_audit(self, cutoff: datetime) -> int:
        """Delete entries written before `cutoff`: the retention job, the one change the
        append-only trigger allows, and only to the schema's owner (the identity service's role
        has no DELETE on the table). The cut-off holds for this transaction alone."""
        await self.session.execute(
            select(func.set_config("cloudaudit.audit_retention_before", cutoff.isoformat(), True))
        )
        result = await self.session.execute(
            audit_logs.delete().where(audit_logs.c.created_at < cutoff)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def audit_entries(
        self, team_id: UUID, since: datetime | None, limit: int
    ) -> list[AuditRow]:
        query = select(audit_logs).where(audit_logs.c.team_id == team_id)
        if since is not None:
            query = query.where(audit_logs.c.occurred_at >= since)
        rows = await self.session.execute(
            query.order_by(audit_logs.c.occurred_at.desc(), audit_logs.c.created_at.desc()).limit(
                limit
            )
        )
        return [AuditRow(**r) for r in rows.mappings()]

    async def audit_page(
        self, team_id: UUID, before: datetime | None, limit: int
    ) -> list[AuditPageRow]:
        """A team's entries, newest first, with who acted (name and Slack id in the team's
        workspace) resolved here, in identity, where people live."""
        workspace_user = (
            select(slack_users.c.user_id, func.min(slack_users.c.slack_user_id).label("slack_id"))
            .join(slack_workspaces, slack_workspaces.c.slack_team_id == slack_users.c.slack_team_id)
            .where(slack_workspaces.c.team_id == team_id)
            .group_by(slack_users.c.user_id)
            .subquery()
        )
        query = (
            select(
                audit_logs,
                users.c.email,
                users.c.first_name,
                users.c.last_name,
                workspace_user.c.slack_id.label("slack_user_id"),
            )
            .outerjoin(users, users.c.user_id == audit_logs.c.user_id)
            .outerjoin(workspace_user, workspace_user.c.user_id == audit_logs.c.user_id)
            .where(audit_logs.c.team_id == team_id)
        )
        if before is not None:
            query = query.where(audit_logs.c.occurred_at < before)
        rows = await self.session.execute(
            query.order_by(audit_logs.c.occurred_at.desc(), audit_logs.c.created_at.desc()).limit(
                limit
            )
        )
        return [AuditPageRow(**r) for r in rows.mappings()]

    # sessions and log-in protection ----------------------------------------------------------
    async def add_session(self, digest: str, user_id: UUID, expires_at: datetime) -> None:
        await self.session.execute(
            insert(sessions).values(token_digest=digest, user_id=user_id, expires_at=expires_at)
        )

    async def session_user(self, digest: str, now: datetime) -> UUID | None:
        return (
            await self.session.execute(
                select(sessions.c.user_id).where(
                    sessions.c.token_digest == digest, sessions.c.expires_at > now
                )
            )
        ).scalar_one_or_none()

    async def delete_session(self, digest: str) -> None:
        await self.session.execute(delete(sessions).where(sessions.c.token_digest == digest))

    async def delete_sessions(self, user_id: UUID, keep_digest: str | None = None) -> int:
        """End every session of a user (but the one `keep_digest` names); returns how many."""
        query = delete(sessions).where(sessions.c.user_id == user_id)
        if keep_digest is not None:
            query = query.where(sessions.c.token_digest != keep_digest)
        return int((await self.session.execute(query)).rowcount)  # type: ignore[attr-defined]

    # one-time emailed tokens -----------------------------------------------------------------
    async def add_token(
        self, digest: str, purpose: str, user_id: UUID, created_at: datetime, expires_at: datetime
    ) -> None:
        await self.session.execute(
            insert(email_tokens).values(
                token_digest=digest,
                purpose=purpose,
                user_id=user_id,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    async def tokens_since(self, user_id: UUID, purpose: str, since: datetime) -> int:
        """How many tokens of a purpose a user was sent since `since` (mail rate limit)."""
        found = await self.session.execute(
            select(func.count()).where(
                email_tokens.c.user_id == user_id,
                email_tokens.c.purpose == purpose,
                email_tokens.c.created_at >= since,
            )
        )
        return int(found.scalar_one())

    async def use_token(self, digest: str, purpose: str, now: datetime) -> UUID | None:
        """Spend a live token once, atomically: its user, or None (unknown, used, expired or
        for another purpose). Two uses racing: one gets the user, the other None."""
        spent = await self.session.execute(
            update(email_tokens)
            .where(
                email_tokens.c.token_digest == digest,
                email_tokens.c.purpose == purpose,
                email_tokens.c.used_at.is_(None),
                email_tokens.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(email_tokens.c.user_id)
        )
        return spent.scalar_one_or_none()

    async def retire_tokens(self, user_id: UUID, purpose: str, now: datetime) -> None:
        """The user's other live tokens of a purpose stop working (the proof is given)."""
        await self.session.execute(
            update(email_tokens)
            .where(
                email_tokens.c.user_id == user_id,
                email_tokens.c.purpose == purpose,
                email_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )

    async def prune(
        self, now: datetime, tokens_before: datetime, failures_before: datetime
    ) -> Pruned:
        """Delete expired sessions, tokens and one-time codes used or expired before
        `tokens_before`, and failed log-ins and wrong codes older than `failures_before`."""
        ended = await self.session.execute(delete(sessions).where(sessions.c.expires_at <= now))
        tokens = await self.session.execute(
            delete(email_tokens).where(
                (email_tokens.c.expires_at < tokens_before)
                | (email_tokens.c.used_at < tokens_before)
            )
        )
        failures = await self.session.execute(
            delete(login_failures).where(login_failures.c.failed_at < failures_before)
        )
        return Pruned(
            sessions=int(ended.rowcount),  # type: ignore[attr-defined]
            tokens=int(tokens.rowcount),  # type: ignore[attr-defined]
            login_failures=int(failures.rowcount),  # type: ignore[attr-defined]
            codes=await self.prune_codes(tokens_before, failures_before),
        )

    async def lock_login(self, email: str) -> None:
        """Serialise log-ins (and sign-ups, password changes) on one email until this
        transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"login:{email}"}
        )

    async def recent_failures(self, email: str, client: str, since: datetime) -> tuple[int, int]:
        by_email = await self.session.execute(
            select(func.count()).where(
                login_failures.c.email == email, login_failures.c.failed_at >= since
            )
        )
        by_client = await self.session.execute(
            select(func.count()).where(
                login_failures.c.client == client, login_failures.c.failed_at >= since
            )
        )
        return int(by_email.scalar_one()), int(by_client.scalar_one())

    async def add_failure(self, email: str, client: str) -> None:
        await self.session.execute(insert(login_failures).values(email=email, client=client))

    async def clear_failures(self, email: str) -> None:
        await self.session.execute(delete(login_failures).where(login_failures.c.email == email))
