"""What every recommendation handler is given: its unit of work and the ports it calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cloudaudit.analytics.adapters.llm import TextWriter
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.domain.recommendations.prices import PriceTable
from cloudaudit.common.events.inventory import (
    InventoryReply,
    InventoryRequest,
    ResourceCostsReply,
    ResourceCostsRequest,
)

SOURCE = "analytics"


@dataclass(frozen=True)
class RecommendationDeps:
    uow: Callable[[], RecommendationUnitOfWork]
    inventory: Callable[[InventoryRequest], Awaitable[InventoryReply]]
    writer: TextWriter
    prices: PriceTable
    metric_days: int = 14
    llm_concurrency: int = 4
    resource_costs: Callable[[ResourceCostsRequest], Awaitable[ResourceCostsReply]] | None = None
