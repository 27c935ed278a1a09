"""What the recommendation repository reads back: frozen rows (no mappings leave adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class RecommendationRow:
    """One recommendation as stored (recommendations); `status` is the lifecycle state."""

    recommendation_id: UUID
    team_id: UUID
    account_id: UUID
    aws_account_id: str
    resource_id: str
    resource_type: str
    region: str
    type: str
    title: str
    description: str
    action: str
    estimated_monthly_savings: Decimal
    confidence_score: Decimal
    status: int
    baseline_monthly_cost: Decimal
    fact_sheet: dict[str, Any]
    details: dict[str, Any]
    text_hash: str
    text_source: str
    text_fallback_reason: str | None
    snoozed_until: date | None
    decided_by: UUID | None
    decided_at: datetime | None
    realized_monthly_savings: Decimal | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, kw_only=True)
class CachedText:
    """A written recommendation text kept by its fact sheet's hash (recommendation_texts)."""

    text_hash: str
    model: str
    title: str
    description: str
    source: str
    fallback_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    created_at: datetime
