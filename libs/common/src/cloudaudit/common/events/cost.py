"""Cost contracts: per-day cost summaries on the bus, and the spend query (ingest owns them).

Line items never travel over the bus: ingest stores them in bulk and publishes one
CostDayRecorded per (account, day) with per-service/region lines and what is behind them.

v1 (`cost.v1.daily.<aws_account_id>`) is AWS's: its subject holds the 12-digit AWS id. v2
(`cost.v2.batch.<account_id>`) is every provider's: its subject holds CloudAudit's account id
only (provider ids such as OCIDs hold dots and never go into a subject), and one event carries
every period an import or sync changed for one account, days now and hours later, each
period in one currency.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal
from uuid import UUID

from cloudaudit.common.events.base import ActorRequest, Event, Reply, Request, UtcDateTime
from cloudaudit.common.money import Money
from pydantic import Field

COST_DAY_RECORDED = "cost.v1.daily.{aws_account_id}"
COST_DAY_RECORDED_ALL = "cost.v1.daily.*"
COST_BATCH_RECORDED = "cost.v2.batch.{account_id}"
COST_BATCH_RECORDED_ALL = "cost.v2.batch.*"
RPC_SPEND = "ingest.v1.rpc.spend"


class CostDriver(Request):
    """One usage type, region or resource behind a line, with its cost that day."""

    name: str
    cost: Money


class CostLine(Request):
    """One service in one region on one day (the unit the anomaly detector models)."""

    summary_id: UUID = Field(description="daily_cost_summaries id; anomalies refer to it.")
    service: str
    region: str = Field(description="'global' for services without a region.")
    unblended_cost: Money
    amortized_cost: Money | None = None
    usage_quantity: Money | None = None
    top_usage_types: list[CostDriver] = Field(default_factory=list)
    top_resources: list[CostDriver] = Field(default_factory=list)


class CostDayRecorded(Event):
    """All cost of one account on one day. Re-published (new event_id, higher revision) when
    AWS restates the day; consumers keep the latest revision per (account, day)."""

    account_id: UUID
    aws_account_id: str = Field(pattern=r"^\d{12}$")
    usage_date: date
    currency: str = "USD"
    total_unblended_cost: Money
    lines: list[CostLine]
    is_estimated: bool = Field(default=False, description="AWS may still restate this day.")
    revision: int = Field(default=1, ge=1)
    source: str = Field(default="cost_explorer", examples=["cost_explorer", "cur", "focus"])
    backfill: bool = Field(default=False, description="Part of a historical import (warm-up).")


class CostPeriod(Request):
    """One changed period of one account, in one currency: a UTC day (or, later, an hour)."""

    start: UtcDateTime
    end: UtcDateTime = Field(description="Exclusive.")
    currency: str = Field(min_length=3, max_length=8, examples=["USD", "EUR"])
    total_unblended_cost: Money
    lines: list[CostLine] = Field(default_factory=list)
    is_estimated: bool = False
    revision: int = Field(default=1, ge=1)
    backfill: bool = Field(default=False, description="Part of a historical import (warm-up).")


class CostBatchRecorded(Event):
    """Every period one import or sync changed for one account of any provider."""

    account_id: UUID = Field(description="CloudAudit's account id (the subject's last token).")
    provider: str = Field(examples=["aws", "azure", "gcp", "oci"])
    provider_account_id: str = Field(
        max_length=255,
        description="The provider's own id, opaque: 12 digits, a GUID, an OCID with dots.",
    )
    batch_id: UUID = Field(description="The import or sync run that changed these periods.")
    source: str = Field(examples=["cost_explorer", "cur", "focus"])
    granularity: Literal["day", "hour"] = "day"
    periods: list[CostPeriod]


class SpendGroupBy(StrEnum):
    NONE = "none"
    SERVICE = "service"
    REGION = "region"
    USAGE_TYPE = "usage_type"
    ACCOUNT = "account"
    TAG = "tag"
    RESOURCE = "resource"
    DAY = "day"
    MONTH = "month"
    PROVIDER = "provider"
    CURRENCY = "currency"


class Granularity(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"
    NONE = "none"  # totals per group only, no points


class SpendMetric(StrEnum):
    """Which cost: FOCUS BilledCost is unblended, EffectiveCost amortized, ListCost public
    on-demand. Public on-demand cost exists only in imported reports, not in Cost Explorer."""

    UNBLENDED = "unblended"
    BLENDED = "blended"
    AMORTIZED = "amortized"
    PUBLIC_ON_DEMAND = "public_on_demand"


class SpendRequest(ActorRequest):
    """Spend of the actor's team (account_ids must be the team's own)."""

    start: date
    end: date = Field(description="Exclusive.")
    group_by: SpendGroupBy = SpendGroupBy.SERVICE
    tag_key: str | None = Field(default=None, max_length=128)
    granularity: Granularity = Granularity.DAILY
    account_ids: list[UUID] | None = None
    top: int = Field(default=10, ge=1, le=100, description="Groups beyond this are 'Other'.")
    metric: SpendMetric = SpendMetric.UNBLENDED


class SpendPoint(Request):
    period: date
    amount: Money


class SpendGroup(Request):
    key: str
    total: Money
    points: list[SpendPoint] = Field(default_factory=list)
    estimated: bool = Field(
        default=False, description="A day in it is Estimated: AWS may still change it."
    )
    not_available: bool = Field(
        default=False,
        description="No line in it carries the metric (total is then 0 and means nothing; "
        "points without the metric are left out).",
    )


class SpendReply(Reply):
    currency: str = "USD"
    total: Money = Field(default=0)
    groups: list[SpendGroup] = Field(default_factory=list)
    start: date | None = None
    end: date | None = None
    metric: SpendMetric | None = None
    estimated: bool = Field(default=False, description="A day in the answer is Estimated.")
    not_available: bool = Field(default=False, description="No line carries the metric.")
