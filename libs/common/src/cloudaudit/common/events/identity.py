"""Identity contracts: roles, actions, and the request/reply API other services call."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import UUID

from cloudaudit.common.events.base import (
    ActorRequest,
    ActorToken,
    Event,
    Reply,
    Request,
    UtcDateTime,
)
from pydantic import Field

RPC_SLACK_USER = "identity.v1.rpc.slack_user"
RPC_MEMBERS = "identity.v1.rpc.members"
RPC_TEAM_TOKEN = "identity.v1.rpc.team_token"  # noqa: S105 (a subject, not a secret)
RPC_CHANGE_ROLE = "identity.v1.rpc.change_role"
RPC_AUDIT_LOG = "identity.v1.rpc.audit_log"
AUDIT_LOG_MAX_LIMIT = 200
MEMBER_CHANGED = "identity.v1.member.changed"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Audience(StrEnum):
    """The service an actor token is meant for; every other service refuses it."""

    IDENTITY = "identity"
    INGEST = "ingest"
    ANALYTICS = "analytics"
    BOT = "bot"
    WEB = "web"


class ActorSource(StrEnum):
    """Where the person was verified (or `cli`: the operator at the command line)."""

    SLACK = "slack"
    WEB = "web"
    CLI = "cli"
    SYSTEM = "system"


SLACK_AUDIENCES = (Audience.IDENTITY, Audience.INGEST, Audience.ANALYTICS, Audience.BOT)


class Action(StrEnum):
    """What a user may ask CloudAudit to do; identity answers who may."""

    READ_SPEND = "spend.read"
    READ_AUDIT = "audit.read"
    CONNECT_ACCOUNT = "account.connect"
    MANAGE_MEMBERS = "team.manage_members"
    CHANGE_SETTINGS = "team.change_settings"
    APPROVE_RECOMMENDATION = "recommendation.approve"
    DISMISS_RECOMMENDATION = "recommendation.dismiss"
    SNOOZE_RECOMMENDATION = "recommendation.snooze"
    ANOMALY_FEEDBACK = "anomaly.feedback"
    CONFIGURE_ALERTS = "alerts.configure"


class SlackUserRequest(Request):
    """Resolve a Slack user to a CloudAudit user, team and role; enrol them on first use."""

    slack_team_id: str = Field(min_length=1, max_length=32)
    slack_user_id: str = Field(min_length=1, max_length=32)
    slack_team_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=200)
    audiences: list[Audience] = Field(
        default_factory=lambda: list(SLACK_AUDIENCES),
        description="Services the bot will call for this person: one actor token each.",
    )


class SlackUserReply(Reply):
    """Only the bot may ask (bus permissions): the tokens let it act for this person."""

    user_id: UUID | None = None
    team_id: UUID | None = None
    role: Role | None = None
    enrolled: bool = False
    tokens: dict[Audience, ActorToken] = Field(
        default_factory=dict, description="Actor token per audience (at most 5 minutes)."
    )
    tokens_expire_at: UtcDateTime | None = None


class TeamTokenRequest(Request):
    """Read-only actor tokens for a team's scheduled work (the bot's digests): role viewer,
    no person. Only the bot may ask (bus permissions)."""

    team_id: UUID
    audiences: list[Audience] = Field(default_factory=lambda: [Audience.INGEST, Audience.ANALYTICS])


class TeamTokenReply(Reply):
    tokens: dict[Audience, ActorToken] = Field(default_factory=dict)
    tokens_expire_at: UtcDateTime | None = None


class MembersRequest(ActorRequest):
    """Members of the actor's team."""


class Member(Request):
    user_id: UUID
    email: str | None
    display_name: str
    role: Role
    slack_user_id: str | None = None


class MembersReply(Reply):
    members: list[Member] = Field(default_factory=list)


class ChangeRoleRequest(ActorRequest):
    target_user_id: UUID
    role: Role


class ChangeRoleReply(Reply):
    role: Role | None = None


class MemberChanged(Event):
    """A member joined, left or changed role."""

    user_id: UUID
    role: Role | None = Field(description="New role; None when the member was removed.")
    changed_by: UUID | None = None


class AuditLogRequest(ActorRequest):
    """The latest audit entries of the actor's team, newest first (owners and admins)."""

    limit: int = Field(default=20, ge=1, le=AUDIT_LOG_MAX_LIMIT)
    before: UtcDateTime | None = Field(
        default=None, description="Next page: only entries that happened before this time."
    )


class AuditEntry(Request):
    audit_id: UUID
    occurred_at: UtcDateTime
    action: str
    entity_type: str
    entity_id: str | None = None
    user_id: UUID | None = Field(default=None, description="Who; None for the system.")
    user_name: str | None = None
    slack_user_id: str | None = None
    source: str
    details: dict[str, Any] = Field(default_factory=dict)


class AuditLogReply(Reply):
    entries: list[AuditEntry] = Field(default_factory=list)
    next_before: UtcDateTime | None = Field(
        default=None, description="Pass as `before` for the next page; None on the last page."
    )
