"""Identity tables (schema `identity`). Created only by the Alembic migrations beside them."""

from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import JSONType, UTCDateTime, outbox_table, service_metadata
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    Uuid,
    func,
)

SCHEMA = "identity"
metadata = service_metadata(SCHEMA)
ROLES_SQL = "role IN ('owner', 'admin', 'member', 'viewer')"
JOIN_POLICIES_SQL = "join_policy IN ('invite', 'workspace')"
GUEST_POLICIES_SQL = "guest_policy IN ('refuse', 'viewer')"
CODE_PURPOSES_SQL = "purpose IN ('link_slack', 'link_web', 'claim')"

users = Table(
    "users",
    metadata,
    Column("user_id", Uuid, primary_key=True),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("email", String(320), nullable=True),
    Column("password_hash", Text, nullable=True),
    Column("phone", String(40), nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # When the person proved they read this address (a verification or reset link). A web
    # account cannot log in before; Slack-only users (no password) keep NULL.
    Column("email_verified_at", UTCDateTime, nullable=True),
)
# Email is unique case-insensitively: Ana@x.com and ana@x.com are one person.
Index("uq_users_email_lower", func.lower(users.c.email), unique=True)

teams = Table(
    "teams",
    metadata,
    Column("team_id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # Who may join from the linked Slack workspace: 'invite' (only invited people) or
    # 'workspace' (any full member, as a viewer); guests refused, or admitted as viewers.
    Column("join_policy", String(20), nullable=False, server_default="invite"),
    Column("guest_policy", String(20), nullable=False, server_default="refuse"),
    CheckConstraint(JOIN_POLICIES_SQL, name="join_policy_known"),
    CheckConstraint(GUEST_POLICIES_SQL, name="guest_policy_known"),
)

team_members = Table(
    "team_members",
    metadata,
    Column(
        "team_id", Uuid, ForeignKey("identity.teams.team_id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "user_id", Uuid, ForeignKey("identity.users.user_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("role", String(10), nullable=False),
    Column("joined_at", UTCDateTime, nullable=False, default=utcnow),
    CheckConstraint(ROLES_SQL, name="role_known"),
    Index("ix_team_members_user", "user_id"),
)

slack_workspaces = Table(
    "slack_workspaces",
    metadata,
    Column("slack_team_id", String(32), primary_key=True),
    Column(
        "team_id",
        Uuid,
        ForeignKey("identity.teams.team_id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("name", String(200), nullable=True),
    Column("linked_at", UTCDateTime, nullable=False, default=utcnow),
)

slack_users = Table(
    "slack_users",
    metadata,
    Column(
        "slack_team_id",
        String(32),
        ForeignKey("identity.slack_workspaces.slack_team_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("slack_user_id", String(32), primary_key=True),
    Column(
        "user_id", Uuid, ForeignKey("identity.users.user_id", ondelete="CASCADE"), nullable=False
    ),
    Column("linked_at", UTCDateTime, nullable=False, default=utcnow),
    # The Slack profile's email: contact information only. It never names a user (users.email
    # stays empty for people known from Slack), so it can never merge two people.
    Column("email", String(320), nullable=True),
    Index("ix_slack_users_user", "user_id"),
)

# A place in a team kept for someone until they prove who they are: the Slack user of that
# id, a Slack user whose Slack-confirmed email matches, or a web user with that verified email.
invitations = Table(
    "invitations",
    metadata,
    Column("invitation_id", Uuid, primary_key=True),
    Column(
        "team_id", Uuid, ForeignKey("identity.teams.team_id", ondelete="CASCADE"), nullable=False
    ),
    Column("email", String(320), nullable=True),
    Column("slack_user_id", String(32), nullable=True),
    Column("role", String(10), nullable=False),
    Column("invited_by", Uuid, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("accepted_at", UTCDateTime, nullable=True),
    Column("accepted_by", Uuid, nullable=True),
    CheckConstraint(ROLES_SQL, name="role_known"),
    CheckConstraint("email IS NOT NULL OR slack_user_id IS NOT NULL", name="names_someone"),
    Index("ix_invitations_team", "team_id", "created_at"),
)

# Who was removed from a team: they do not come back under the 'workspace' join policy (by
# Slack id, nor by a second Slack account with the same email) until invited again.
team_removals = Table(
    "team_removals",
    metadata,
    Column("removal_id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "team_id", Uuid, ForeignKey("identity.teams.team_id", ondelete="CASCADE"), nullable=False
    ),
    Column("user_id", Uuid, nullable=True),
    Column("slack_user_id", String(32), nullable=True),
    Column("email", String(320), nullable=True),
    Column("removed_by", Uuid, nullable=True),
    Column("removed_at", UTCDateTime, nullable=False),
    Index("ix_team_removals_team", "team_id"),
)

# One-time codes a person types (link a Slack and a web identity, claim a workspace's team):
# only the SHA-256 digest is kept; each expires and is spent once.
one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("code_digest", String(64), primary_key=True),
    Column("purpose", String(20), nullable=False),
    Column("user_id", Uuid, ForeignKey("identity.users.user_id", ondelete="CASCADE")),
    Column("slack_team_id", String(32), nullable=True),
    Column("slack_user_id", String(32), nullable=True),
    Column("team_id", Uuid, ForeignKey("identity.teams.team_id", ondelete="CASCADE")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    CheckConstraint(CODE_PURPOSES_SQL, name="purpose_known"),
)

# Wrong codes typed, per person: a few per hour, so a code cannot be guessed.
code_failures = Table(
    "code_failures",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("subject", String(100), nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Index("ix_code_failures_subject", "subject", "failed_at"),
)

audit_logs = Table(
    "audit_logs",
    metadata,
    Column("audit_id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=True),
    Column("user_id", Uuid, nullable=True),
    Column("action", String(100), nullable=False),
    Column("entity_type", String(50), nullable=False),
    Column("entity_id", String(200), nullable=True),
    Column("details", JSONType, nullable=False),
    Column("source", String(50), nullable=False, server_default="identity"),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_audit_logs_team_created", "team_id", "created_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_digest", String(64), primary_key=True),
    Column(
        "user_id", Uuid, ForeignKey("identity.users.user_id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

# One-time tokens mailed to a person (verify an address, reset a password): only the SHA-256
# digest is kept, so a database leak hands out no live link.
email_tokens = Table(
    "email_tokens",
    metadata,
    Column("token_digest", String(64), primary_key=True),
    Column("purpose", String(20), nullable=False),
    Column(
        "user_id", Uuid, ForeignKey("identity.users.user_id", ondelete="CASCADE"), nullable=False
    ),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    CheckConstraint("purpose IN ('verify_email', 'reset_password')", name="purpose_known"),
    Index("ix_email_tokens_user_purpose", "user_id", "purpose", "created_at"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("client", String(100), nullable=False),
    Column("failed_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_login_failures_email", "email", "failed_at"),
    Index("ix_login_failures_client", "client", "failed_at"),
)

outbox = outbox_table(metadata)
