"""analytics schema: recommendations (seed table, status as integer), decisions, text cache

Revision ID: 0003_recommendations
Revises: 0001_analytics
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_recommendations"
down_revision = "0001_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("aws_account_id", sa.String(length=12), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("resource_type", sa.String(length=50), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("estimated_monthly_savings", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("confidence_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("baseline_monthly_cost", sa.Numeric(precision=20, scale=6), nullable=False),
        sa.Column("fact_sheet", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("text_source", sa.String(length=16), nullable=False),
        sa.Column("text_fallback_reason", sa.String(length=50), nullable=True),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("realized_monthly_savings", sa.Numeric(precision=20, scale=6), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status BETWEEN 0 AND 5", name=op.f("ck_recommendations_status_known")),
        sa.CheckConstraint(
            "confidence_score BETWEEN 0 AND 1", name=op.f("ck_recommendations_confidence_unit")
        ),
        sa.PrimaryKeyConstraint("recommendation_id", name=op.f("pk_recommendations")),
        schema="analytics",
    )
    op.create_index(
        "ix_recommendations_team_status",
        "recommendations",
        ["team_id", "status"],
        schema="analytics",
    )
    op.create_index(
        "uq_recommendations_active_resource_type",
        "recommendations",
        ["team_id", "account_id", "resource_id", "type"],
        unique=True,
        schema="analytics",
        postgresql_where=sa.text("status IN (0, 1, 2, 3)"),
    )
    op.create_table(
        "recommendation_decisions",
        sa.Column("decision_id", sa.Uuid(), nullable=False),
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.SmallInteger(), nullable=False),
        sa.Column("to_status", sa.SmallInteger(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["analytics.recommendations.recommendation_id"],
            name=op.f("fk_recommendation_decisions_recommendation_id_recommendations"),
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_recommendation_decisions")),
        schema="analytics",
    )
    op.create_index(
        op.f("ix_analytics_recommendation_decisions_recommendation_id"),
        "recommendation_decisions",
        ["recommendation_id"],
        schema="analytics",
    )
    op.create_table(
        "recommendation_texts",
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("fallback_reason", sa.String(length=50), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("text_hash", name=op.f("pk_recommendation_texts")),
        schema="analytics",
    )


def downgrade() -> None:
    op.drop_table("recommendation_texts", schema="analytics")
    op.drop_index(
        op.f("ix_analytics_recommendation_decisions_recommendation_id"),
        table_name="recommendation_decisions",
        schema="analytics",
    )
    op.drop_table("recommendation_decisions", schema="analytics")
    op.drop_index(
        "uq_recommendations_active_resource_type", table_name="recommendations", schema="analytics"
    )
    op.drop_index(
        "ix_recommendations_team_status", table_name="recommendations", schema="analytics"
    )
    op.drop_table("recommendations", schema="analytics")
