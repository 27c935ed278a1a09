"""analytics schema: per-series day values and model checkpoints (late and restated days are
re-learnt by replay); planned spend per account, without a service, with a note, cancellable

Revision ID: 0004_anomaly_replay
Revises: 0002_anomalies
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_anomaly_replay"
down_revision = "0002_anomalies"
branch_labels = None
depends_on = None

SCHEMA = "analytics"


def upgrade() -> None:
    op.create_table(
        "series_days",
        sa.Column("series_key", sa.String(length=600), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("summary_id", sa.Uuid(), nullable=True),
        sa.Column("drivers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("feedback", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("series_key", "usage_date", name=op.f("pk_series_days")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_series_days_team_account_date",
        "series_days",
        ["team_id", "account_id", "usage_date"],
        schema=SCHEMA,
    )
    op.create_table(
        "detector_checkpoints",
        sa.Column("series_key", sa.String(length=600), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("series_key", "usage_date", name=op.f("pk_detector_checkpoints")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_detector_checkpoints_team_account",
        "detector_checkpoints",
        ["team_id", "account_id", "usage_date"],
        schema=SCHEMA,
    )
    op.alter_column(
        "spend_expectations",
        "service",
        existing_type=sa.String(length=200),
        nullable=True,
        schema=SCHEMA,
    )
    op.add_column(
        "spend_expectations", sa.Column("account_id", sa.Uuid(), nullable=True), schema=SCHEMA
    )
    op.add_column("spend_expectations", sa.Column("note", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column(
        "spend_expectations",
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )
    op.add_column(
        "spend_expectations", sa.Column("cancelled_by", sa.Uuid(), nullable=True), schema=SCHEMA
    )
    op.alter_column(
        "spend_expectations",
        "created_by",
        existing_type=sa.Uuid(),
        nullable=True,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.execute("DELETE FROM analytics.spend_expectations WHERE service IS NULL")
    op.execute(
        "UPDATE analytics.spend_expectations"
        " SET created_by = '00000000-0000-0000-0000-000000000000' WHERE created_by IS NULL"
    )
    op.alter_column(
        "spend_expectations",
        "created_by",
        existing_type=sa.Uuid(),
        nullable=False,
        schema=SCHEMA,
    )
    for column in ("cancelled_by", "cancelled_at", "note", "account_id"):
        op.drop_column("spend_expectations", column, schema=SCHEMA)
    op.alter_column(
        "spend_expectations",
        "service",
        existing_type=sa.String(length=200),
        nullable=False,
        schema=SCHEMA,
    )
    op.drop_index(
        "ix_detector_checkpoints_team_account", table_name="detector_checkpoints", schema=SCHEMA
    )
    op.drop_table("detector_checkpoints", schema=SCHEMA)
    op.drop_index("ix_series_days_team_account_date", table_name="series_days", schema=SCHEMA)
    op.drop_table("series_days", schema=SCHEMA)
