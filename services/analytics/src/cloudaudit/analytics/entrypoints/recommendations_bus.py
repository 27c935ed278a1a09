"""Bus handlers of analytics: recommendations (list, decide, refresh; refresh after each sync)."""

from __future__ import annotations

import asyncio
import logging

from cloudaudit.analytics.adapters.llm import TemplateWriter, text_writer
from cloudaudit.analytics.adapters.orm import outbox
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.domain.recommendations.prices import DEFAULT_PRICES
from cloudaudit.analytics.recommendation_settings import RecommendationSettings
from cloudaudit.analytics.service import recommendations as handlers
from cloudaudit.common.actors import ActorVerifier, Command
from cloudaudit.common.bus import BusNames, rpc, subscribe_durable
from cloudaudit.common.db import Publisher
from cloudaudit.common.errors import DomainError, replies_with
from cloudaudit.common.events.account import ACCOUNT_SYNCED, AccountSynced
from cloudaudit.common.events.cost import COST_DAY_RECORDED_ALL, CostDayRecorded
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.events.inventory import (
    RPC_INVENTORY,
    RPC_RESOURCE_COSTS,
    InventoryReply,
    InventoryRequest,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.common.events.recommendation import (
    RPC_DECIDE,
    RPC_RECOMMENDATIONS,
    RPC_REFRESH,
    DecideReply,
    DecideRequest,
    RecommendationsReply,
    RecommendationsRequest,
    RefreshReply,
    RefreshRequest,
)
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import load_settings
from faststream.nats import NatsBroker
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

QUEUE = "analytics"
SYNC_DURABLE = "analytics-recommendations-sync"
COST_DURABLE = "analytics-recommendations-cost"
NO_KEY_NOTE = (
    "recommendations: OPENAI_API_KEY is not set, so recommendation texts come from "
    "templates; set it (and OPENAI_BASE_URL / OPENAI_MODEL) for LLM-written texts"
)


def _settings(runtime: ServiceRuntime) -> RecommendationSettings:
    if isinstance(runtime.settings, RecommendationSettings):
        return runtime.settings
    return load_settings(RecommendationSettings)


def build_deps(
    runtime: ServiceRuntime, settings: RecommendationSettings
) -> handlers.RecommendationDeps:
    return recommendation_deps(
        runtime.broker, runtime.names, runtime.sessions, runtime.publish_outboxed, settings
    )


def recommendation_deps(
    broker: NatsBroker,
    names: BusNames,
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher | None,
    settings: RecommendationSettings,
) -> handlers.RecommendationDeps:
    """The recommendation handlers' ports: the service's, or the operator CLI's (no publisher:
    its events wait in the outbox for the service's relay)."""

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

    return handlers.RecommendationDeps(
        uow=lambda: RecommendationUnitOfWork(sessions, outbox, publisher),
        inventory=inventory,
        resource_costs=resource_costs,
        writer=text_writer(settings),
        prices=DEFAULT_PRICES,
        metric_days=settings.metric_days,
        llm_concurrency=settings.llm_concurrency,
    )


def register(runtime: ServiceRuntime) -> None:
    settings = _settings(runtime)
    deps = build_deps(runtime, settings)
    if isinstance(deps.writer, TemplateWriter):
        runtime.notes.append(NO_KEY_NOTE)
    broker, names = runtime.broker, runtime.names
    verifier = ActorVerifier.for_service(runtime.settings, Audience.ANALYTICS)

    @broker.subscriber(
        names.subject(RPC_RECOMMENDATIONS), queue=QUEUE, title="analytics.recommendations"
    )
    @replies_with(RecommendationsReply)
    async def on_list(request: RecommendationsRequest) -> RecommendationsReply:
        """The actor's team's recommendations, largest savings first."""
        return await handlers.list_recommendations(Command.verified(request, verifier), deps.uow())

    @broker.subscriber(names.subject(RPC_DECIDE), queue=QUEUE, title="analytics.decide")
    @replies_with(DecideReply)
    async def on_decide(request: DecideRequest) -> DecideReply:
        """Approve, dismiss, snooze or reopen, if the role identity signed allows it."""
        return await handlers.decide(Command.verified(request, verifier), deps)

    @broker.subscriber(
        names.subject(RPC_REFRESH), queue=QUEUE, title="analytics.refresh_recommendations"
    )
    @replies_with(RefreshReply)
    async def on_refresh(request: RefreshRequest) -> RefreshReply:
        """Re-evaluate the actor's team's accounts now (owners and admins)."""
        return await handlers.refresh_now(Command.verified(request, verifier), deps)

    if settings.refresh_on_sync:

        @subscribe_durable(
            broker,
            names,
            ACCOUNT_SYNCED,
            SYNC_DURABLE,
            title="analytics.recommendations_after_sync",
        )
        async def on_synced(event: AccountSynced) -> None:
            """Fresh cost data: re-evaluate that account (idempotent: refresh, not re-create)."""
            try:  # system work, for the team the event names
                await handlers.refresh(event.team_id, event.account_id, deps)
            except DomainError as exc:
                if exc.code == "ingest_unavailable":
                    raise RuntimeError(exc.message) from None  # retried with back-off
                log.warning(
                    "recommendations not refreshed after a sync",
                    extra={"team_id": str(event.team_id), "code": exc.code},
                )

    @subscribe_durable(
        broker,
        names,
        COST_DAY_RECORDED_ALL,
        COST_DURABLE,
        title="analytics.recommendations_cost_watch",
    )
    async def on_cost_day(event: CostDayRecorded) -> None:
        """An approved recommendation is implemented once its resource's cost drops."""
        await handlers.watch_costs(event, deps)

    if settings.verify_interval_s > 0:

        async def verify_loop() -> None:
            while True:
                await asyncio.sleep(settings.verify_interval_s)
                try:
                    await handlers.verify_approved(deps)
                except Exception as exc:  # the loop must survive; the next round retries
                    log.warning(
                        "verifying approved recommendations failed",
                        extra={"error": f"{type(exc).__name__}: {exc}"[:300]},
                    )

        runtime.background(verify_loop)
