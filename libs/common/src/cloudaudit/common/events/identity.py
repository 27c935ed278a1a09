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
RPC_SLACK_INSTALLED = "identity.v1.rpc.slack_installed"
RPC_CLAIM = "identity.v1.rpc.claim"
RPC_LINK_CODE = "identity.v1.rpc.link_code"
RPC_LINK_SLACK = "identity.v1.rpc.link_slack"
RPC_INVITE = "identity.v1.rpc.invite"
RPC_WEB_SESSION = "identity.v1.rpc.web_session"
# A Slack workspace id (T...). Enterprise Grid org ids (E...) and a missing team (the string
# "None" an org-wide install once became) are refused: CloudAudit's tenant is a workspace.
SLACK_TEAM_ID_PATTERN = r"^T[A-Za-z0-9_-]{1,31}$"
SLACK_USER_ID_PATTERN = r"^[UW][A-Za-z0-9_-]{1,31}$"
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


class SlackPerson(Request):
    """A Slack person as the bot saw them: who (verified by Slack's request signature) and what
    Slack's users.info said about their account. Identity refuses a person whose account type
    is missing (it never assumes a full member): `is_restricted`, `is_ultra_restricted`,
    `is_stranger` and `user_team_id` must all be given."""

    slack_team_id: str = Field(min_length=2, max_length=32, pattern=SLACK_TEAM_ID_PATTERN)
    slack_user_id: str = Field(min_length=2, max_length=32, pattern=SLACK_USER_ID_PATTERN)
    slack_team_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(
        default=None, max_length=320, description="Profile email: contact info, never an identity."
    )
    email_confirmed: bool = Field(
        default=False,
        description="Slack says the person confirmed the email (users.info is_email_confirmed); "
        "only then may it match an invitation by email.",
    )
    display_name: str | None = Field(default=None, max_length=200)
    is_restricted: bool | None = Field(default=None, description="A multi-channel guest.")
    is_ultra_restricted: bool | None = Field(default=None, description="A single-channel guest.")
    is_stranger: bool | None = Field(
        default=None, description="Slack's flag for a user of an external organisation."
    )
    user_team_id: str | None = Field(
        default=None,
        max_length=32,
        description="The person's home workspace (users.info team_id); another workspace's id "
        "means a Slack Connect external user.",
    )

    @classmethod
    def full_member(cls, slack_team_id: str, slack_user_id: str, **fields: Any) -> Any:
        """An ordinary full member of the workspace (tests, the demo, benchmarks)."""
        values: dict[str, Any] = {
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_stranger": False,
            "user_team_id": slack_team_id,
            **fields,
        }
        return cls(slack_team_id=slack_team_id, slack_user_id=slack_user_id, **values)


class SlackUserRequest(SlackPerson):
    """Resolve a Slack user to a CloudAudit user, team and role. A person joins a team only by
    invitation, or under the team's `workspace` join policy; never by email alone."""

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


class JoinPolicy(StrEnum):
    """Who may join a team from its Slack workspace."""

    INVITE = "invite"  # only people invited (by Slack id or by email)
    WORKSPACE = "workspace"  # also any full member of the linked workspace, as a viewer


class GuestPolicy(StrEnum):
    """Slack guests (multi- and single-channel): refused, or admitted read-only."""

    REFUSE = "refuse"
    VIEWER = "viewer"


class SlackInstalledRequest(Request):
    """The bot completed an OAuth install: Slack authenticated the installer (the OAuth v2
    `authed_user`), who becomes the workspace team's first owner if it has none. Only the bot
    may ask (bus permissions)."""

    slack_team_id: str = Field(min_length=2, max_length=32, pattern=SLACK_TEAM_ID_PATTERN)
    slack_team_name: str | None = Field(default=None, max_length=200)
    installer_slack_user_id: str = Field(min_length=2, max_length=32, pattern=SLACK_USER_ID_PATTERN)
    installer_name: str | None = Field(default=None, max_length=200)
    installer_email: str | None = Field(
        default=None, max_length=320, description="Contact information only, never an identity."
    )


class SlackInstalledReply(Reply):
    team_id: UUID | None = None
    owner_user_id: UUID | None = None
    became_owner: bool = Field(
        default=False, description="False when the team had an owner already (a reinstall)."
    )


class ClaimRequest(SlackPerson):
    """`/cloudaudit claim CODE`: the operator's one-time claim code makes this Slack person the
    first owner of the workspace's team (single-workspace token mode)."""

    code: ActorToken = Field(description="The claim code `cloudaudit teams claim-code` printed.")


class ClaimReply(Reply):
    team_id: UUID | None = None
    user_id: UUID | None = None
    role: Role | None = None


class LinkCodeRequest(SlackPerson):
    """`/cloudaudit link`: a one-time code for this Slack person, which the signed-in web user
    enters (POST /api/v1/link/slack) to make the two one person."""


class LinkCodeReply(Reply):
    code: ActorToken | None = None
    expires_at: UtcDateTime | None = None


class LinkSlackRequest(SlackPerson):
    """`/cloudaudit link CODE`: the code a signed-in web user got (POST /api/v1/link/slack/code)
    links this Slack person to that web user."""

    code: ActorToken


class LinkReply(Reply):
    user_id: UUID | None = None


class InviteRequest(ActorRequest):
    """Invite a person to the actor's team, by Slack user id or by email (owners and admins).
    The invitation waits until the person proves who they are: the Slack user of that id, a
    Slack user whose Slack-confirmed email matches, or a web user with that verified email."""

    slack_user_id: str | None = Field(
        default=None, min_length=2, max_length=32, pattern=SLACK_USER_ID_PATTERN
    )
    email: str | None = Field(default=None, max_length=320)
    role: Role = Role.MEMBER


class InviteReply(Reply):
    invitation_id: UUID | None = None
    expires_at: UtcDateTime | None = None


class WebSessionRequest(Request):
    """Who holds a web session, their teams, and actor tokens for one of them. Only the web
    app may ask (bus permissions): it read the session token from the person's cookie."""

    session_token: ActorToken = Field(description="The bearer token identity's log-in issued.")
    team_id: UUID | None = Field(
        default=None, description="The team to act in; none: the person's first team."
    )
    audiences: list[Audience] = Field(
        default_factory=lambda: [
            Audience.WEB,
            Audience.IDENTITY,
            Audience.INGEST,
            Audience.ANALYTICS,
        ]
    )


class WebTeam(Request):
    team_id: UUID
    name: str
    role: Role


class WebSessionReply(Reply):
    user_id: UUID | None = None
    email: str | None = None
    teams: list[WebTeam] = Field(default_factory=list)
    team_id: UUID | None = None
    role: Role | None = None
    tokens: dict[Audience, ActorToken] = Field(
        default_factory=dict, description="Actor token per audience (at most 5 minutes)."
    )
    tokens_expire_at: UtcDateTime | None = None
