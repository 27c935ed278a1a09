"""Recommendation contracts (analytics owns them): created, decided, realised; list and decide."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from cloudaudit.common.events.base import ActorRequest, Event, Reply, Request
from cloudaudit.common.money import Money
from pydantic import Field

RECOMMENDATION_CREATED = "recommendation.v1.created.{aws_account_id}"
RECOMMENDATION_DECIDED = "recommendation.v1.decided"
RECOMMENDATION_REALIZED = "recommendation.v1.realized.{aws_account_id}"
RPC_RECOMMENDATIONS = "analytics.v1.rpc.recommendations"
RPC_DECIDE = "analytics.v1.rpc.decide"
RPC_REFRESH = "analytics.v1.rpc.refresh_recommendations"
RECOMMENDATION_REALIZED_ALL = "recommendation.v1.realized.*"
RECOMMENDATION_CREATED_ALL = "recommendation.v1.created.*"


class RecommendationStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    DISMISSED = "dismissed"
    SNOOZED = "snoozed"
    IMPLEMENTED = "implemented"
    EXPIRED = "expired"


class Decision(StrEnum):
    APPROVE = "approve"
    DISMISS = "dismiss"
    SNOOZE = "snooze"
    REOPEN = "reopen"


class RecommendationFact(Request):
    """One computed fact behind a recommendation, as shown (e.g. "Average CPU": "1.8%")."""

    name: str = Field(max_length=100)
    text: str = Field(max_length=500)


class RecommendationCreated(Event):
    recommendation_id: UUID
    account_id: UUID
    aws_account_id: str
    resource_id: str
    resource_type: str
    rec_type: str = Field(examples=["idle_ec2", "unattached_ebs", "gp2_to_gp3"])
    title: str
    description: str
    action: str
    estimated_monthly_savings: Money
    confidence: Decimal = Field(ge=0, le=1)
    text_source: str = Field(default="template", examples=["llm", "template"])
    facts: list[RecommendationFact] = Field(
        default_factory=list, description="The computed facts, each shown once on the card."
    )
    risks: list[str] = Field(default_factory=list, description="What to check before acting.")


class RecommendationDecided(Event):
    recommendation_id: UUID
    aws_account_id: str
    status: RecommendationStatus
    decision: Decision
    decided_by: UUID
    reason: str | None = None
    snoozed_until: date | None = None


class RecommendationRealized(Event):
    recommendation_id: UUID
    aws_account_id: str
    realized_monthly_savings: Money
    resource_id: str | None = None
    rec_type: str | None = None
    estimated_monthly_savings: Money | None = None
    evidence: str | None = Field(
        default=None, examples=["resource_deleted", "configuration_changed", "cost_dropped"]
    )


class RecommendationSummary(Request):
    recommendation_id: UUID
    aws_account_id: str
    resource_id: str
    rec_type: str
    title: str
    description: str
    estimated_monthly_savings: Money
    confidence: Decimal
    status: RecommendationStatus
    created_at: datetime
    resource_type: str | None = None
    action: str | None = None
    region: str | None = None
    text_source: str | None = None
    snoozed_until: date | None = None
    updated_at: datetime | None = None


class RecommendationsRequest(ActorRequest):
    status: RecommendationStatus | None = RecommendationStatus.OPEN
    limit: int = Field(default=20, ge=1, le=200)


class RecommendationsReply(Reply):
    recommendations: list[RecommendationSummary] = Field(default_factory=list)


class DecideRequest(ActorRequest):
    recommendation_id: UUID
    decision: Decision
    reason: str | None = Field(default=None, max_length=1000)
    snooze_days: int | None = Field(default=None, ge=1, le=365)


class DecideReply(Reply):
    status: RecommendationStatus | None = None
    snoozed_until: date | None = None


class RefreshRequest(ActorRequest):
    """Re-evaluate a team's accounts now (also done after every cost sync)."""

    account_id: UUID | None = Field(default=None, description="None: every account of the team.")


class RefreshReply(Reply):
    accounts: int = 0
    created: int = 0
    refreshed: int = 0
    expired: int = 0
    implemented: int = 0
    reopened: int = 0
    open_total: int = 0
    open_monthly_savings: Money = Field(default=Decimal(0))
    llm_texts: int = 0
    template_texts: int = 0
    cached_texts: int = 0
    problems: list[str] = Field(default_factory=list)
