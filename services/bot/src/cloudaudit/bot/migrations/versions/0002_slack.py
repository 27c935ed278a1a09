"""bot schema: Slack installations and OAuth state, teams' alert settings, posted-message refs

Revision ID: 0002_bot_slack
Revises: 0001_bot
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_bot_slack"
down_revision = "0001_bot"
branch_labels = None
depends_on = None


def _slack_installations() -> None:
    # Exactly the shape of slack_sdk's SQLAlchemy installation store (it issues the queries);
    # its datetimes are naive UTC, hence timestamp without time zone here.
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("enterprise_url", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", sa.String(length=200), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("user_token", sa.String(length=200), nullable=True),
        sa.Column("user_scopes", sa.String(length=1000), nullable=True),
        sa.Column("user_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("incoming_webhook_url", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel_id", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_configuration_url", sa.String(length=200), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("token_type", sa.String(length=32), nullable=True),
        sa.Column("installed_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_installations")),
        schema="bot",
    )
    op.create_index(
        "slack_installations_idx",
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
        schema="bot",
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", sa.String(length=200), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("installed_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_bots")),
        schema="bot",
    )
    op.create_index(
        "slack_bots_idx",
        "slack_bots",
        ["client_id", "enterprise_id", "team_id", "installed_at"],
        schema="bot",
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_oauth_states")),
        schema="bot",
    )


def upgrade() -> None:
    _slack_installations()
    op.create_table(
        "teams",
        sa.Column("team_id", sa.Uuid(), nullable=False, comment="CloudAudit team (identity)."),
        sa.Column("slack_team_id", sa.String(length=32), nullable=False),
        sa.Column("slack_team_name", sa.String(length=200), nullable=True),
        sa.Column("alert_channel_id", sa.String(length=32), nullable=True),
        sa.Column(
            "owner_slack_user_id",
            sa.String(length=32),
            nullable=True,
            comment="Who to DM when alerts bounce.",
        ),
        sa.Column("digest", sa.String(length=10), server_default="off", nullable=False),
        sa.Column("digest_hour", sa.SmallInteger(), server_default=sa.text("9"), nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("last_digest_key", sa.String(length=40), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "digest IN ('off', 'daily', 'weekly')", name=op.f("ck_teams_digest_known")
        ),
        sa.CheckConstraint("digest_hour BETWEEN 0 AND 23", name=op.f("ck_teams_digest_hour_range")),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
        sa.UniqueConstraint("slack_team_id", name=op.f("uq_teams_slack_team_id")),
        schema="bot",
    )
    op.create_table(
        "posted_messages",
        sa.Column(
            "event_id", sa.Uuid(), nullable=False, comment="The event (or digest period) posted."
        ),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("subject_type", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column(
            "kind", sa.String(length=20), nullable=False, comment="alert, thread, digest, notice"
        ),
        sa.Column("status", sa.String(length=12), server_default="posting", nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "blocks",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('posting', 'posted', 'undelivered')",
            name=op.f("ck_posted_messages_status_known"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_posted_messages")),
        schema="bot",
    )
    op.create_index(
        "uq_posted_messages_alert",
        "posted_messages",
        ["subject_type", "subject_id"],
        unique=True,
        schema="bot",
        postgresql_where=sa.text("kind = 'alert'"),
    )
    op.create_index(
        "ix_posted_messages_team_status",
        "posted_messages",
        ["team_id", "status"],
        schema="bot",
    )
    op.create_table(
        "slack_event_receipts",
        sa.Column("slack_event_id", sa.String(length=64), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("slack_event_id", name=op.f("pk_slack_event_receipts")),
        schema="bot",
    )
    op.create_table(
        "pending_connections",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("role_arn", sa.String(length=2048), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("team_id", "requested_by", name=op.f("pk_pending_connections")),
        schema="bot",
    )


def downgrade() -> None:
    op.drop_table("pending_connections", schema="bot")
    op.drop_table("slack_event_receipts", schema="bot")
    op.drop_index("ix_posted_messages_team_status", table_name="posted_messages", schema="bot")
    op.drop_index("uq_posted_messages_alert", table_name="posted_messages", schema="bot")
    op.drop_table("posted_messages", schema="bot")
    op.drop_table("teams", schema="bot")
    op.drop_table("slack_oauth_states", schema="bot")
    op.drop_index("slack_bots_idx", table_name="slack_bots", schema="bot")
    op.drop_table("slack_bots", schema="bot")
    op.drop_index("slack_installations_idx", table_name="slack_installations", schema="bot")
    op.drop_table("slack_installations", schema="bot")
