"""Anomaly handlers, one module per feature: cost days in, feedback, planned spend, thresholds,
queries. Each handler is the only place its transaction commits."""

from cloudaudit.analytics.domain.planned_spend import PlanRejected
from cloudaudit.analytics.domain.series_replay import CHECKPOINT_EVERY_DAYS
from cloudaudit.analytics.service.anomalies.accounts import account_disconnected
from cloudaudit.analytics.service.anomalies.cost_days import DayOutcome, record_cost_day
from cloudaudit.analytics.service.anomalies.feedback import give_feedback
from cloudaudit.analytics.service.anomalies.plans import (
    PlanSpend,
    cancel_planned_spend,
    expect_spend,
    plan_spend,
    planned_spend,
)
from cloudaudit.analytics.service.anomalies.queries import anomaly_rows, list_anomalies, summary
from cloudaudit.analytics.service.anomalies.thresholds import team_settings

__all__ = [
    "CHECKPOINT_EVERY_DAYS",
    "DayOutcome",
    "PlanRejected",
    "PlanSpend",
    "account_disconnected",
    "anomaly_rows",
    "cancel_planned_spend",
    "expect_spend",
    "give_feedback",
    "list_anomalies",
    "plan_spend",
    "planned_spend",
    "record_cost_day",
    "summary",
    "team_settings",
]
