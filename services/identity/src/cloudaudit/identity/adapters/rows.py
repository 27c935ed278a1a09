"""What the identity repository reads back: frozen rows of the identity tables (no SQLAlchemy
mappings leave the adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cloudaudit.common.events.identity import GuestPolicy, JoinPolicy, Role


@dataclass(frozen=True, kw_only=True)
class User:
    """A person (users). `password_hash` is None for people known only from Slack;
    `email_verified_at` is None until the person used a link mailed to their address."""

    user_id: UUID
    email: str | None
    first_name: str
    last_name: str
    phone: str | None
    password_hash: str | None
    created_at: datetime
    email_verified_at: datetime | None = None

    @property
    def web_account(self) -> bool:
        """Has a password: signed up on the web (a Slack-only person has none)."""
        return self.password_hash is not None


@dataclass(frozen=True, kw_only=True)
class Pruned:
    """What one housekeeping round deleted."""

    sessions: int
    tokens: int
    login_failures: int
    codes: int = 0

    @property
    def total(self) -> int:
        return self.sessions + self.tokens + self.login_failures + self.codes


@dataclass(frozen=True, kw_only=True)
class Team:
    team_id: UUID
    name: str
    created_at: datetime
    join_policy: JoinPolicy = JoinPolicy.INVITE
    guest_policy: GuestPolicy = GuestPolicy.REFUSE

    def __post_init__(self) -> None:  # the columns come back as strings
        object.__setattr__(self, "join_policy", JoinPolicy(self.join_policy))
        object.__setattr__(self, "guest_policy", GuestPolicy(self.guest_policy))


@dataclass(frozen=True, kw_only=True)
class Invitation:
    """A place in a team kept for a person (by Slack user id or by email) until they prove
    who they are; `accepted_at` once they did."""

    invitation_id: UUID
    team_id: UUID
    email: str | None
    slack_user_id: str | None
    role: Role
    invited_by: UUID | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: UUID | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))


@dataclass(frozen=True, kw_only=True)
class OneTimeCode:
    """A spent one-time code and what it was issued for (one_time_codes)."""

    code_digest: str
    purpose: str
    user_id: UUID | None
    slack_team_id: str | None
    slack_user_id: str | None
    team_id: UUID | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class TeamSummary(Team):
    """A team with its member count (the operator's list)."""

    members: int


@dataclass(frozen=True, kw_only=True)
class TeamMember:
    """A member of one team, with the Slack id they have in the team's workspace, if any."""

    user_id: UUID
    email: str | None
    first_name: str
    last_name: str
    role: Role
    joined_at: datetime
    slack_user_id: str | None


@dataclass(frozen=True, kw_only=True)
class Membership:
    """One team a person belongs to, and their role there."""

    team_id: UUID
    name: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True, kw_only=True)
class AuditRow:
    """One audit log entry (audit_logs)."""

    audit_id: UUID
    team_id: UUID | None
    user_id: UUID | None
    action: str
    entity_type: str
    entity_id: str | None
    details: dict[str, Any]
    source: str
    occurred_at: datetime
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class AuditPageRow(AuditRow):
    """An audit entry with who acted resolved: their name and Slack id in the team's workspace."""

    email: str | None
    first_name: str | None
    last_name: str | None
    slack_user_id: str | None


def display_name(
    user_id: UUID, email: str | None, first_name: str | None, last_name: str | None
) -> str:
    """What a person is called in a list: their name, else their email, else a short id."""
    name = f"{first_name or ''} {last_name or ''}".strip()
    return name or email or str(user_id)[:8]
