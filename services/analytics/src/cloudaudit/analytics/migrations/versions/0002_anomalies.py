"""analytics schema: anomaly detection (detector state, anomalies, thresholds, planned spend)

Revision ID: 0002_anomalies
Revises: 0001_analytics
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_anomalies"
down_revision = "0001_analytics"
branch_labels = None
depends_on = None

SCHEMA = "analytics"


def upgrade() -> None:
    op.create_table(
        "detector_states",
        sa.Column("series_key", sa.String(length=600), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("region", sa.String(length=50), nullable=True),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("previous_state", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("last_usage_date", sa.Date(), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("series_key", name=op.f("pk_detector_states")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_detector_states_team_account",
        "detector_states",
        ["team_id", "account_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "cost_days",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("total_cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "account_id", "usage_date", name=op.f("pk_cost_days")),
        schema=SCHEMA,
    )
    op.create_table(
        "cost_anomalies",
        sa.Column("anomaly_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("series_key", sa.String(length=600), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("region", sa.String(length=50), nullable=True),
        sa.Column("daily_cost_id", sa.Uuid(), nullable=True),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expected_cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("actual_cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("impact", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("deviation_pct", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("root_cause", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("episode_start", sa.Date(), nullable=False),
        sa.Column("episode_end", sa.Date(), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("feedback", sa.String(length=20), nullable=True),
        sa.Column("alerted", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("anomaly_id", name=op.f("pk_cost_anomalies")),
        sa.UniqueConstraint("series_key", "episode_start", name="uq_cost_anomalies_series_episode"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_cost_anomalies_team_status",
        "cost_anomalies",
        ["team_id", "status", "detected_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "anomaly_feedback",
        sa.Column("feedback_id", sa.Uuid(), nullable=False),
        sa.Column("anomaly_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("feedback", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["anomaly_id"],
            [f"{SCHEMA}.cost_anomalies.anomaly_id"],
            name=op.f("fk_anomaly_feedback_anomaly_id_cost_anomalies"),
        ),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_anomaly_feedback")),
        schema=SCHEMA,
    )
    op.create_table(
        "anomaly_team_settings",
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("min_impact", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("min_impact_pct", sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_anomaly_team_settings")),
        schema=SCHEMA,
    )
    op.create_table(
        "spend_expectations",
        sa.Column("expectation_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("expectation_id", name=op.f("pk_spend_expectations")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_spend_expectations_team_period",
        "spend_expectations",
        ["team_id", "start_date", "end_date"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_spend_expectations_team_period", table_name="spend_expectations", schema=SCHEMA
    )
    op.drop_table("spend_expectations", schema=SCHEMA)
    op.drop_table("anomaly_team_settings", schema=SCHEMA)
    op.drop_table("anomaly_feedback", schema=SCHEMA)
    op.drop_index("ix_cost_anomalies_team_status", table_name="cost_anomalies", schema=SCHEMA)
    op.drop_table("cost_anomalies", schema=SCHEMA)
    op.drop_table("cost_days", schema=SCHEMA)
    op.drop_index("ix_detector_states_team_account", table_name="detector_states", schema=SCHEMA)
    op.drop_table("detector_states", schema=SCHEMA)
