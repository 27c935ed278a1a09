"""Tables of the bot schema. Created only by the Alembic migrations beside them.

The bot owns Slack state only: installations (OAuth), the Slack side of each team (alert channel,
digest schedule, owner to warn), the refs of every message it posted (keyed by the event that
caused it, which is what makes posting exactly-once, with the intent committed before each post),
and Slack event ids already handled.
"""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    text,
)

from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import JSONType, UTCDateTime, outbox_table, service_metadata

SCHEMA = "bot"
metadata = service_metadata(SCHEMA)

outbox = outbox_table(metadata)

# Slack's own installation/state tables (slack_installations, slack_bots, slack_oauth_states) are
# created by the migration in exactly the shape slack_sdk's AsyncSQLAlchemy stores expect; the
# stores bring their own Table objects, so they are not declared here.
SLACK_INSTALLATIONS = "slack_installations"
SLACK_BOTS = "slack_bots"
SLACK_OAUTH_STATES = "slack_oauth_states"

DIGESTS_SQL = "digest IN ('off', 'daily', 'weekly')"

teams = Table(
    "teams",
    metadata,
    Column("team_id", Uuid, primary_key=True, comment="CloudAudit team (identity)."),
    Column("slack_team_id", String(32), nullable=False, unique=True),
    Column("slack_team_name", String(200), nullable=True),
    Column("alert_channel_id", String(32), nullable=True),
    Column(
        "owner_slack_user_id", String(32), nullable=True, comment="Who to DM when alerts bounce."
    ),
    Column("digest", String(10), nullable=False, server_default="off"),
    Column("digest_hour", SmallInteger, nullable=False, server_default=text("9")),
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    Column("last_digest_key", String(40), nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    CheckConstraint(DIGESTS_SQL, name="digest_known"),
    CheckConstraint("digest_hour BETWEEN 0 AND 23", name="digest_hour_range"),
)

STATUSES_SQL = "status IN ('posting', 'posted', 'undelivered')"

posted_messages = Table(
    "posted_messages",
    metadata,
    Column("event_id", Uuid, primary_key=True, comment="The event (or digest period) posted."),
    Column("team_id", Uuid, nullable=False),
    Column("subject_type", String(30), nullable=False),
    Column("subject_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False, comment="alert, thread, digest, notice"),
    Column("status", String(12), nullable=False, server_default="posting"),
    Column("channel_id", String(32), nullable=True),
    Column("ts", String(32), nullable=True),
    Column("thread_ts", String(32), nullable=True),
    Column("text", Text, nullable=False, server_default=""),
    Column("blocks", JSONType, nullable=False, server_default=text("'[]'::jsonb")),
    Column("error", String(200), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    # The posting intent, committed before Slack is called: when the current posting attempt
    # began (where a redelivery starts looking in the channel's history for a post it made) and
    # how many attempts committed an intent (another attempt than ours may have reached Slack).
    Column("posting_since", UTCDateTime, nullable=True),
    Column("intents", Integer, nullable=False, server_default=text("0")),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("posted_at", UTCDateTime, nullable=True),
    CheckConstraint(STATUSES_SQL, name="status_known"),
    # One alert message per anomaly/recommendation: later events update it and reply in its thread.
    Index(
        "uq_posted_messages_alert",
        "subject_type",
        "subject_id",
        unique=True,
        postgresql_where=text("kind = 'alert'"),
    ),
    Index("ix_posted_messages_team_status", "team_id", "status"),
)

slack_event_receipts = Table(
    "slack_event_receipts",
    metadata,
    Column("slack_event_id", String(64), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False, default=utcnow),
)

pending_connections = Table(
    "pending_connections",
    metadata,
    Column("team_id", Uuid, primary_key=True),
    Column("requested_by", Uuid, primary_key=True),
    Column("slack_user_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=True),
    Column("role_arn", String(2048), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False, default=utcnow),
)
