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
