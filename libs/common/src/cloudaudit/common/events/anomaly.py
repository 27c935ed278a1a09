"""Anomaly contracts (analytics owns them): detections, their lifecycle, feedback, settings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from cloudaudit.common.events.base import ActorRequest, Event, Reply, Request
from cloudaudit.common.money import Money
from pydantic import Field

ANOMALY_DETECTED = "anomaly.v1.detected.{aws_account_id}"
ANOMALY_UPDATED = "anomaly.v1.updated.{aws_account_id}"
RPC_ANOMALIES = "analytics.v1.rpc.anomalies"
RPC_ANOMALY_FEEDBACK = "analytics.v1.rpc.anomaly_feedback"
RPC_TEAM_SETTINGS = "analytics.v1.rpc.settings"
RPC_EXPECT = "analytics.v1.rpc.expect"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AnomalyKind(StrEnum):
    SPIKE = "spike"
    LEVEL_SHIFT = "level_shift"
    LEAK = "leak"


class AnomalyStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    EXPECTED = "expected"
    DISMISSED = "dismissed"


class Feedback(StrEnum):
    USEFUL = "useful"
    NOT_USEFUL = "not_useful"
    EXPECTED = "expected"


class RootCause(Request):
    dimension: str = Field(examples=["usage_type", "region", "resource"])
    name: str
    contribution: Money = Field(description="Dollars of the excess this explains.")


class AnomalyDetected(Event):
    anomaly_id: UUID
    account_id: UUID
    aws_account_id: str
    daily_cost_id: UUID | None = Field(default=None, description="Summary id from the cost event.")
    service: str | None = Field(default=None, description="None for the account total.")
    region: str | None = None
    usage_date: date
    kind: AnomalyKind
    severity: Severity
    actual_cost: Money
    expected_cost: Money
    impact: Money = Field(description="Excess over expected, summed over the episode so far.")
    impact_pct: Decimal
    root_causes: list[RootCause] = Field(default_factory=list)
    console_url: str | None = None


class AnomalyUpdated(Event):
    anomaly_id: UUID
    aws_account_id: str
    status: AnomalyStatus
    impact: Money
    feedback: Feedback | None = None
    by_user: UUID | None = None
    note: str | None = None


class AnomalySummary(Request):
    anomaly_id: UUID
    aws_account_id: str
    service: str | None
    region: str | None
    usage_date: date
    detected_at: datetime
    kind: AnomalyKind
    severity: Severity
    status: AnomalyStatus
    impact: Money
    impact_pct: Decimal


class AnomaliesRequest(ActorRequest):
    status: AnomalyStatus | None = Field(default=AnomalyStatus.OPEN, description="None: all.")
    limit: int = Field(default=20, ge=1, le=200)


class AnomaliesReply(Reply):
    anomalies: list[AnomalySummary] = Field(default_factory=list)


class AnomalyFeedbackRequest(ActorRequest):
    anomaly_id: UUID
    feedback: Feedback
    note: str | None = Field(default=None, max_length=1000)


class AnomalyFeedbackReply(Reply):
    status: AnomalyStatus | None = None


class TeamSettingsRequest(ActorRequest):
    """Read (all None) or change the team's anomaly thresholds."""

    min_impact: Money | None = Field(default=None, ge=0)
    min_impact_pct: Decimal | None = Field(default=None, ge=0)


class TeamSettingsReply(Reply):
    min_impact: Money | None = None
    min_impact_pct: Decimal | None = None


class ExpectSpendRequest(ActorRequest):
    """Planned spend: a known increase that must not alert."""

    service: str = Field(max_length=200)
    amount: Money = Field(gt=0, description="Expected extra spend per day.")
    start: date
    end: date


class ExpectSpendReply(Reply):
    expectation_id: UUID | None = None
