"""Anomaly tables: detector state per series, detected anomalies, team thresholds, planned spend."""

from cloudaudit.analytics.adapters.orm import metadata
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import JSONType, MoneyColumn, UTCDateTime
from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

# One row per cost series (account total or service x region of one connected account).
# model_version increases with every write: a writer that read version n updates only where
# the row is still at n, so two replicas never both apply a day to the same model.
detector_states = Table(
    "detector_states",
    metadata,
    Column("series_key", String(600), primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("aws_account_id", String(12), nullable=False),
    Column("service", String(200), nullable=True),  # None: the account total
    Column("region", String(50), nullable=True),
    Column("state", JSONType, nullable=False),
    # the state before the last learnt day: a restated last day is re-learnt from here
    Column("previous_state", JSONType, nullable=True),
    Column("last_usage_date", Date, nullable=True),
    Column("model_version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_detector_states_team_account", "team_id", "account_id"),
)

# Which revision of each account-day has been applied (redelivery and restatement guard).
cost_days = Table(
    "cost_days",
    metadata,
    Column("team_id", Uuid, primary_key=True),
    Column("account_id", Uuid, primary_key=True),
    Column("usage_date", Date, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("total_cost", MoneyColumn(), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False, default=utcnow),
)

cost_anomalies = Table(
    "cost_anomalies",
    metadata,
    Column("anomaly_id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("aws_account_id", String(12), nullable=False),
    Column("series_key", String(600), nullable=False),
    Column("service", String(200), nullable=True),
    Column("region", String(50), nullable=True),
    Column("daily_cost_id", Uuid, nullable=True),  # summary id carried in the cost event
    Column("usage_date", Date, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False, default=utcnow),
    Column("kind", String(20), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("expected_cost", MoneyColumn(), nullable=False),
    Column("actual_cost", MoneyColumn(), nullable=False),
    Column("impact", MoneyColumn(), nullable=False),
    Column("deviation_pct", Numeric(12, 2), nullable=False),
    Column("root_cause", JSONType, nullable=False),
    Column("episode_start", Date, nullable=False),
    Column("episode_end", Date, nullable=True),
    Column("model_version", Integer, nullable=False),
    Column("feedback", String(20), nullable=True),
    Column("alerted", Integer, nullable=False, default=1),  # 0: recorded as expected, not sent
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    UniqueConstraint("series_key", "episode_start", name="uq_cost_anomalies_series_episode"),
    Index("ix_cost_anomalies_team_status", "team_id", "status", "detected_at"),
)

anomaly_feedback = Table(
    "anomaly_feedback",
    metadata,
    Column("feedback_id", Uuid, primary_key=True),
    Column("anomaly_id", Uuid, ForeignKey("cost_anomalies.anomaly_id"), nullable=False),
    Column("team_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("feedback", String(20), nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

anomaly_team_settings = Table(
    "anomaly_team_settings",
    metadata,
    Column("team_id", Uuid, primary_key=True),
    Column("min_impact", MoneyColumn(), nullable=False),
    Column("min_impact_pct", Numeric(8, 2), nullable=False),
    Column("updated_by", Uuid, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
)

spend_expectations = Table(
    "spend_expectations",
    metadata,
    Column("expectation_id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("service", String(200), nullable=False),
    Column("amount", MoneyColumn(), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("created_by", Uuid, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_spend_expectations_team_period", "team_id", "start_date", "end_date"),
)
