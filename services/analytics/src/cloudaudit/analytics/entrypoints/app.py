"""Wire the analytics service: its deps (settings read once), anomaly detection and savings
recommendations on the bus."""

from __future__ import annotations

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.adapters.llm import text_writer
from cloudaudit.analytics.adapters.orm import outbox
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.entrypoints import anomalies_bus, recommendations_bus
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.actors import ActorVerifier
from cloudaudit.common.bus import BusNames, rpc
from cloudaudit.common.db import Publisher
from cloudaudit.common.deps import provide, service_settings
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.events.inventory import (
    RPC_INVENTORY,
    RPC_RESOURCE_COSTS,
    InventoryReply,
    InventoryRequest,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def build(runtime: ServiceRuntime) -> None:
    settings = service_settings(runtime.settings, AnalyticsSettings)
    deps = analytics_deps(
        runtime.broker, runtime.names, runtime.sessions, runtime.publish_outboxed, settings
    )
    runtime.use_outbox(outbox)
    runtime.forget_deleted_teams(outbox.metadata)  # every table of the schema with a team_id
    provide(runtime.broker, deps)
    anomalies_bus.register(runtime, deps)
    recommendations_bus.register(runtime, deps)


def analytics_deps(
    broker: NatsBroker,
    names: BusNames,
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher | None,
    settings: AnalyticsSettings,
) -> AnalyticsDeps:
    """The handlers' deps: the service's, or the operator CLI's (no publisher: its events wait
    in the outbox for the service's relay)."""

    async def inventory(request: InventoryRequest) -> InventoryReply:
        return await rpc(
            broker,
            names,
            RPC_INVENTORY,
            request,
            InventoryReply,
            timeout=settings.inventory_timeout_s,
        )

    async def resource_costs(request: ResourceCostsRequest) -> ResourceCostsReply:
        return await rpc(
            broker,
            names,
            RPC_RESOURCE_COSTS,
            request,
            ResourceCostsReply,
            timeout=settings.inventory_timeout_s,
        )

    return AnalyticsDeps(
        settings=settings,
        anomaly_uow=lambda: AnomalyUnitOfWork(sessions, outbox, publisher),
        recommendation_uow=lambda: RecommendationUnitOfWork(sessions, outbox, publisher),
        verifier=ActorVerifier.for_service(settings, Audience.ANALYTICS),
        inventory=inventory,
        resource_costs=resource_costs,
        writer=text_writer(settings),
    )
