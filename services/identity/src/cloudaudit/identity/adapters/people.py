"""Persistence of who may be in a team: invitations, removals, one-time codes (link, claim),
join policies and the merge of two identities of one person. Part of the identity repository
(`IdentityRepository` inherits these queries)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cloudaudit.common.events.identity import GuestPolicy, JoinPolicy, Role
from cloudaudit.identity.adapters.orm import (
    code_failures,
    invitations,
    one_time_codes,
    slack_users,
    slack_workspaces,
    team_members,
    team_removals,
    teams,
    users,
)
from cloudaudit.identity.adapters.rows import Invitation, OneTimeCode
from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession


def _names(table: object, slack_user_id: str | None, email: str | None) -> ColumnElement[bool]:
    """Rows naming this Slack user id or this email (case-insensitively)."""
    clauses: list[ColumnElement[bool]] = []
    if slack_user_id:
        clauses.append(table.c.slack_user_id == slack_user_id)  # type: ignore[attr-defined]
    if email:
        clauses.append(func.lower(table.c.email) == email.lower())  # type: ignore[attr-defined]
    return or_(*clauses) if clauses else and_(False)  # type: ignore[arg-type]


class PeopleQueries:
    session: AsyncSession

    # join policy ------------------------------------------------------------------------------
    async def set_team_policy(
        self, team_id: UUID, join_policy: JoinPolicy, guest_policy: GuestPolicy
    ) -> None:
        await self.session.execute(
            update(teams)
            .where(teams.c.team_id == team_id)
            .values(join_policy=join_policy.value, guest_policy=guest_policy.value)
        )

    async def team_workspace(self, team_id: UUID) -> str | None:
        """The Slack workspace linked to a team, if any."""
        return (
            await self.session.execute(
                select(slack_workspaces.c.slack_team_id).where(
                    slack_workspaces.c.team_id == team_id
                )
            )
        ).scalar_one_or_none()

    # invitations -----------------------------------------------------------------------------
    async def add_invitation(self, invitation: Invitation) -> None:
        await self.session.execute(
            insert(invitations).values(
                invitation_id=invitation.invitation_id,
                team_id=invitation.team_id,
                email=invitation.email,
                slack_user_id=invitation.slack_user_id,
                role=invitation.role.value,
                invited_by=invitation.invited_by,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
            )
        )

    def _pending(self, now: datetime) -> ColumnElement[bool]:
        return and_(invitations.c.accepted_at.is_(None), invitations.c.expires_at > now)

    async def pending_invitation(
        self, team_id: UUID, slack_user_id: str | None, email: str | None, now: datetime
    ) -> Invitation | None:
        """The newest live invitation to a team naming this Slack user id or this email."""
        row = (
            (
                await self.session.execute(
                    select(invitations)
                    .where(
                        invitations.c.team_id == team_id,
                        self._pending(now),
                        _names(invitations, slack_user_id, email),
                    )
                    .order_by(
                        invitations.c.slack_user_id.is_(None), invitations.c.created_at.desc()
                    )
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return Invitation(**row) if row else None

    async def unlinked_owner_invitation(
        self, slack_user_id: str | None, email: str | None, now: datetime
    ) -> Invitation | None:
        """A live owner invitation naming this person to a team no Slack workspace is linked
        to yet (`cloudaudit teams create --owner-slack U...`): where they first appear, that
        workspace becomes the team's."""
        linked = select(slack_workspaces.c.team_id)
        row = (
            (
                await self.session.execute(
                    select(invitations)
                    .where(
                        invitations.c.role == Role.OWNER.value,
                        self._pending(now),
                        _names(invitations, slack_user_id, email),
                        invitations.c.team_id.not_in(linked),
                    )
                    .order_by(invitations.c.created_at)
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return Invitation(**row) if row else None

    async def invitations_for(self, email: str, now: datetime) -> list[Invitation]:
        """Live invitations by email, to any team (what a signed-in web user may accept)."""
        rows = await self.session.execute(
            select(invitations)
            .where(self._pending(now), func.lower(invitations.c.email) == email.lower())
            .order_by(invitations.c.created_at)
        )
        return [Invitation(**r) for r in rows.mappings()]

    async def team_invitations(self, team_id: UUID, now: datetime) -> list[Invitation]:
        rows = await self.session.execute(
            select(invitations)
            .where(invitations.c.team_id == team_id, self._pending(now))
            .order_by(invitations.c.created_at)
        )
        return [Invitation(**r) for r in rows.mappings()]

    async def invitation(self, invitation_id: UUID) -> Invitation | None:
        row = (
            (
                await self.session.execute(
                    select(invitations).where(invitations.c.invitation_id == invitation_id)
                )
            )
            .mappings()
            .first()
        )
        return Invitation(**row) if row else None

    async def accept_invitation(self, invitation_id: UUID, user_id: UUID, now: datetime) -> bool:
        """Spend a live invitation once, atomically: True for the one who got it."""
        spent = await self.session.execute(
            update(invitations)
            .where(invitations.c.invitation_id == invitation_id, self._pending(now))
            .values(accepted_at=now, accepted_by=user_id)
            .returning(invitations.c.invitation_id)
        )
        return spent.first() is not None

    async def revoke_invitations(
        self, team_id: UUID, slack_user_id: str | None, email: str | None
    ) -> None:
        """Live invitations naming a person removed from the team stop working."""
        await self.session.execute(
            delete(invitations).where(
                invitations.c.team_id == team_id,
                invitations.c.accepted_at.is_(None),
                _names(invitations, slack_user_id, email),
            )
        )

    # removals ---------------------------------------------------------------------------------
    async def add_removal(
        self,
        team_id: UUID,
        user_id: UUID,
        slack_user_ids: list[str],
        emails: list[str],
        by: UUID | None,
        now: datetime,
    ) -> None:
        """One row per Slack id and email the removed person had (at least one row)."""
        names = [(s, None) for s in slack_user_ids] + [(None, e) for e in emails]
        for slack_user_id, email in names or [(None, None)]:
            await self.session.execute(
                insert(team_removals).values(
                    team_id=team_id,
                    user_id=user_id,
                    slack_user_id=slack_user_id,
                    email=email,
                    removed_by=by,
                    removed_at=now,
                )
            )

    async def was_removed(
        self, team_id: UUID, slack_user_id: str | None, email: str | None
    ) -> bool:
        found = await self.session.execute(
            select(func.count()).where(
                team_removals.c.team_id == team_id,
                _names(team_removals, slack_user_id, email),
            )
        )
        return bool(found.scalar_one())

    async def clear_removals(
        self, team_id: UUID, slack_user_id: str | None, email: str | None
    ) -> None:
        """An invitation lets the person back: their removal no longer counts."""
        await self.session.execute(
            delete(team_removals).where(
                team_removals.c.team_id == team_id,
                _names(team_removals, slack_user_id, email),
            )
        )

    # one-time codes ---------------------------------------------------------------------------
    async def add_code(self, code: OneTimeCode) -> None:
        await self.session.execute(
            insert(one_time_codes).values(
                code_digest=code.code_digest,
                purpose=code.purpose,
                user_id=code.user_id,
                slack_team_id=code.slack_team_id,
                slack_user_id=code.slack_user_id,
                team_id=code.team_id,
                created_at=code.created_at,
                expires_at=code.expires_at,
            )
        )

    async def use_code(self, digest: str, purpose: str, now: datetime) -> OneTimeCode | None:
        """Spend a live code once, atomically; None if unknown, used, expired or for another
        purpose. Two uses racing: one gets it, the other None."""
        row = (
            (
                await self.session.execute(
                    update(one_time_codes)
                    .where(
                        one_time_codes.c.code_digest == digest,
                        one_time_codes.c.purpose == purpose,
                        one_time_codes.c.used_at.is_(None),
                        one_time_codes.c.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(*one_time_codes.c)
                )
            )
            .mappings()
            .first()
        )
        return OneTimeCode(**row) if row else None

    async def code_failures_since(self, subject: str, since: datetime) -> int:
        found = await self.session.execute(
            select(func.count()).where(
                code_failures.c.subject == subject, code_failures.c.failed_at >= since
            )
        )
        return int(found.scalar_one())

    async def add_code_failure(self, subject: str, now: datetime) -> None:
        await self.session.execute(insert(code_failures).values(subject=subject, failed_at=now))

    async def prune_codes(self, codes_before: datetime, failures_before: datetime) -> int:
        codes = await self.session.execute(
            delete(one_time_codes).where(
                (one_time_codes.c.expires_at < codes_before)
                | (one_time_codes.c.used_at < codes_before)
            )
        )
        failures = await self.session.execute(
            delete(code_failures).where(code_failures.c.failed_at < failures_before)
        )
        return int(codes.rowcount) + int(failures.rowcount)  # type: ignore[attr-defined]

    # one person, two identities ------------------------------------------------------------
    async def slack_ids_of(self, user_id: UUID, slack_team_id: str | None = None) -> list[str]:
        query = select(slack_users.c.slack_user_id).where(slack_users.c.user_id == user_id)
        if slack_team_id is not None:
            query = query.where(slack_users.c.slack_team_id == slack_team_id)
        return list((await self.session.execute(query)).scalars())

    async def slack_email(self, slack_team_id: str, slack_user_id: str) -> str | None:
        return (
            await self.session.execute(
                select(slack_users.c.email).where(
                    slack_users.c.slack_team_id == slack_team_id,
                    slack_users.c.slack_user_id == slack_user_id,
                )
            )
        ).scalar_one_or_none()

    async def memberships(self, user_id: UUID) -> dict[UUID, Role]:
        rows = await self.session.execute(
            select(team_members.c.team_id, team_members.c.role).where(
                team_members.c.user_id == user_id
            )
        )
        return {team_id: Role(role) for team_id, role in rows.all()}

    async def move_slack_links(self, from_user: UUID, to_user: UUID) -> None:
        await self.session.execute(
            update(slack_users).where(slack_users.c.user_id == from_user).values(user_id=to_user)
        )

    async def delete_user(self, user_id: UUID) -> None:
        """Its memberships, sessions and links go with it (ON DELETE CASCADE)."""
        await self.session.execute(delete(users).where(users.c.user_id == user_id))
