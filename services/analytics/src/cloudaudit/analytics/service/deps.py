"""What analytics' handlers need besides the message, built once at start."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.adapters.llm import TextWriter
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.domain.recommendations.prices import DEFAULT_PRICES, PriceTable
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.inventory import (
    InventoryReply,
    InventoryRequest,
    ResourceCostsReply,
    ResourceCostsRequest,
)

Inventory = Callable[[InventoryRequest], Awaitable[InventoryReply]]
ResourceCosts = Callable[[ResourceCostsRequest], Awaitable[ResourceCostsReply]]


def _account_locks() -> defaultdict[tuple[UUID, UUID], asyncio.Lock]:
    return defaultdict(asyncio.Lock)


@dataclass(frozen=True, kw_only=True)
class AnalyticsDeps:
    """Analytics' settings (read once), its two unit-of-work factories (anomalies,
    recommendations), its actor-token verifier, the ports recommendations call (ingest's
    inventory and resource costs, the text writer, the price table) and the clock (the
    product's settable one, read at each call so a test's frozen date holds)."""

    settings: AnalyticsSettings
    anomaly_uow: Callable[[], AnomalyUnitOfWork]
    recommendation_uow: Callable[[], RecommendationUnitOfWork]
    verifier: ActorVerifier
    inventory: Inventory
    writer: TextWriter
    resource_costs: ResourceCosts | None = None
    prices: PriceTable = DEFAULT_PRICES
    now: Callable[[], datetime] = utcnow
    # A pulled batch of cost days is handled concurrently; days of one account must reach its
    # models in the order they were published (locks are granted first come, first served).
    account_locks: defaultdict[tuple[UUID, UUID], asyncio.Lock] = field(
        default_factory=_account_locks
    )
