"""Identity contracts: roles, actions, and the request/reply API other services call."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from cloudaudit.common.events.base import Event, Reply, Request
from pydantic import Field

RPC_SLACK_USER = "identity.v1.rpc.slack_user"
RPC_AUTHORIZE = "identity.v1.rpc.authorize"
RPC_MEMBERS = "identity.v1.rpc.members"
RPC_CHANGE_ROLE = "identity.v1.rpc.change_role"
MEMBER_CHANGED = "identity.v1.member.changed"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


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


class SlackUserReply(Reply):
    user_id: UUID | None = None
    team_id: UUID | None = None
    role: Role | None = None
    enrolled: bool = False


class AuthorizeRequest(Request):
    team_id: UUID
    user_id: UUID
    action: Action


class AuthorizeReply(Reply):
    allowed: bool = False
    role: Role | None = None
    reason: str | None = None


class MembersRequest(Request):
    team_id: UUID
    requested_by: UUID


class Member(Request):
    user_id: UUID
    email: str | None
    display_name: str
    role: Role
    slack_user_id: str | None = None


class MembersReply(Reply):
    members: list[Member] = Field(default_factory=list)


class ChangeRoleRequest(Request):
    team_id: UUID
    actor_user_id: UUID
    target_user_id: UUID
    role: Role


class ChangeRoleReply(Reply):
    role: Role | None = None


class MemberChanged(Event):
    """A member joined, left or changed role."""

    user_id: UUID
    role: Role | None = Field(description="New role; None when the member was removed.")
    changed_by: UUID | None = None
