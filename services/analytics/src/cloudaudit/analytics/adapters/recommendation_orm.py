"""Recommendation tables of the analytics schema (seed table Recommendations, extended)."""

from cloudaudit.analytics.adapters.metadata import metadata
from cloudaudit.common.db import JSONType, MoneyColumn, UTCDateTime
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    text,
)

# Statuses that hold the (resource, type) slot: a dismissed recommendation is not re-created.
ACTIVE_STATUS_SQL = "status IN (0, 1, 2, 3)"

recommendations = Table(
    "recommendations",
    metadata,
    Column("recommendation_id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("aws_account_id", String(12), nullable=False),
    Column("resource_id", String(255), nullable=False),
    Column("resource_type", String(50), nullable=False),
    Column("region", String(32), nullable=False),
    Column("type", String(50), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("estimated_monthly_savings", MoneyColumn(), nullable=False),
    Column("confidence_score", Numeric(3, 2), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("baseline_monthly_cost", MoneyColumn(), nullable=False),
    Column("fact_sheet", JSONType, nullable=False),
    Column("details", JSONType, nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("text_source", String(16), nullable=False),
    Column("text_fallback_reason", String(50), nullable=True),
    Column("snoozed_until", Date, nullable=True),
    Column("decided_by", Uuid, nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("realized_monthly_savings", MoneyColumn(), nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    CheckConstraint("status BETWEEN 0 AND 5", name="status_known"),
    CheckConstraint("confidence_score BETWEEN 0 AND 1", name="confidence_unit"),
    Index("ix_recommendations_team_status", "team_id", "status"),
    Index(
        "uq_recommendations_active_resource_type",
        "team_id",
        "account_id",
        "resource_id",
        "type",
        unique=True,
        postgresql_where=text(ACTIVE_STATUS_SQL),
    ),
)

recommendation_decisions = Table(
    "recommendation_decisions",
    metadata,
    Column("decision_id", Uuid, primary_key=True),
    Column(
        "recommendation_id",
        Uuid,
        ForeignKey("analytics.recommendations.recommendation_id"),
        nullable=False,
        index=True,
    ),
    Column("team_id", Uuid, nullable=False),
    Column("decision", String(20), nullable=False),
    Column("from_status", SmallInteger, nullable=False),
    Column("to_status", SmallInteger, nullable=False),
    Column("user_id", Uuid, nullable=True),
    Column("reason", Text, nullable=True),
    Column("snoozed_until", Date, nullable=True),
    Column("decided_at", UTCDateTime, nullable=False),
)

# Text written for a fact sheet (by the LLM or a template), keyed by the sheet's hash.
recommendation_texts = Table(
    "recommendation_texts",
    metadata,
    Column("text_hash", String(64), primary_key=True),
    Column("model", String(100), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("fallback_reason", String(50), nullable=True),
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
)
