"""What the anomaly repository reads back: frozen rows of the anomaly tables (no SQLAlchemy
mappings leave the adapters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class SeriesState:
    """One series' stored model (detector_states); `model_version` as read (0: not yet)."""

    series_key: str
    team_id: UUID
    account_id: UUID
    aws_account_id: str
    service: str | None
    region: str | None
    state: dict[str, Any]
    previous_state: dict[str, Any] | None
    last_usage_date: date | None
    model_version: int = 0


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A series' model right after learning `usage_date` (detector_checkpoints)."""

    series_key: str
    usage_date: date
    team_id: UUID
    account_id: UUID
    state: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class AnomalyRow:
    """A recorded anomaly (cost_anomalies)."""

    anomaly_id: UUID
    team_id: UUID
    account_id: UUID
    aws_account_id: str
    series_key: str
    service: str | None
    region: str | None
    daily_cost_id: UUID | None
    usage_date: date
    detected_at: datetime
    kind: str
    severity: str
    status: str
    expected_cost: Decimal
    actual_cost: Decimal
    impact: Decimal
    deviation_pct: Decimal
    root_cause: list[dict[str, Any]]
    episode_start: date
    episode_end: date | None
    model_version: int
    feedback: str | None
    alerted: int
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class TeamThresholds:
    """A team's saved anomaly thresholds (anomaly_team_settings)."""

    min_impact: Decimal
    min_impact_pct: Decimal


@dataclass(frozen=True, kw_only=True)
class ExpectationRow:
    """Planned spend (spend_expectations); `aws_account_id`: the account it is limited to."""

    expectation_id: UUID
    team_id: UUID
    service: str | None
    account_id: UUID | None
    amount: Decimal
    start_date: date
    end_date: date
    note: str | None
    created_by: UUID | None
    created_at: datetime
    cancelled_at: datetime | None
    cancelled_by: UUID | None
    aws_account_id: str | None = None
