"""Anomaly tables: detector state per series, its day values and checkpoints, detected
anomalies, team thresholds, planned spend."""

from cloudaudit.analytics.adapters.metadata import metadata
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
    # the state before the last learnt day (kept for operators; re-learning uses checkpoints)
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

# What each series cost on each account-day, as last recorded (a restatement overwrites it),
# with its drivers: a late or restated day is learnt by replaying the series from these.
# A row exists from the first day the series appeared; a later day without a row cost 0.
# `feedback` lists the user's feedback given while this was the series' last learnt day, so
# a replay applies it at the same point of the series.
series_days = Table(
    "series_days",
    metadata,
    Column("series_key", String(600), primary_key=True),
    Column("usage_date", Date, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("cost", MoneyColumn(), nullable=False),
    Column("summary_id", Uuid, nullable=True),
    Column("drivers", JSONType, nullable=False),  # driver key -> cost as a decimal string
    Column("feedback", JSONType, nullable=True),
    Index("ix_series_days_team_account_date", "team_id", "account_id", "usage_date"),
)

# The series' model (detector and driver baseline) right after learning `usage_date` and before
# that day's feedback; written every CHECKPOINT_EVERY_DAYS days and rewritten by each replay,
# so a replay starts from the last checkpoint before the day that changed.
detector_checkpoints = Table(
    "detector_checkpoints",
    metadata,
    Column("series_key", String(600), primary_key=True),
    Column("usage_date", Date, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("state", JSONType, nullable=False),
    Index("ix_detector_checkpoints_team_account", "team_id", "account_id", "usage_date"),
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
    Column("service", String(200), nullable=True),  # None: any service
    Column("account_id", Uuid, nullable=True),  # None: every account of the team
    Column("amount", MoneyColumn(), nullable=False),  # extra spend per day
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("note", Text, nullable=True),
    Column("created_by", Uuid, nullable=True),  # None: the command line
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("cancelled_by", Uuid, nullable=True),
    Index("ix_spend_expectations_team_period", "team_id", "start_date", "end_date"),
)
