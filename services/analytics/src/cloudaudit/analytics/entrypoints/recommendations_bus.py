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
from cloudaudit.common.bus import rpc, subscribe_durable
from cloudaudit.common.events.account import ACCOUNT_SYNCED, AccountSynced
from cloudaudit.common.events.cost import COST_DAY_RECORDED_ALL, CostDayRecorded
from cloudaudit.common.events.identity import RPC_AUTHORIZE, AuthorizeReply, AuthorizeRequest
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
    broker, names = runtime.broker, runtime.names

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

    async def authorize(request: AuthorizeRequest) -> AuthorizeReply:
        return await rpc(broker, names, RPC_AUTHORIZE, request, AuthorizeReply)

    return handlers.RecommendationDeps(
        uow=lambda: RecommendationUnitOfWork(runtime.sessions, outbox, runtime.publish_outboxed),
        inventory=inventory,
        resource_costs=resource_costs,
        authorize=authorize,
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

    @broker.subscriber(
        names.subject(RPC_RECOMMENDATIONS), queue=QUEUE, title="analytics.recommendations"
    )
    async def on_list(request: RecommendationsRequest) -> RecommendationsReply:
        """A team's recommendations, largest savings first."""
        return await handlers.list_recommendations(request, deps.uow())

    @broker.subscriber(names.subject(RPC_DECIDE), queue=QUEUE, title="analytics.decide")
    async def on_decide(request: DecideRequest) -> DecideReply:
        """Approve, dismiss, snooze or reopen, if identity says this user may."""
        return await handlers.decide(request, deps)

    @broker.subscriber(
        names.subject(RPC_REFRESH), queue=QUEUE, title="analytics.refresh_recommendations"
    )
    async def on_refresh(request: RefreshRequest) -> RefreshReply:
        """Re-evaluate a team's accounts now."""
        return await handlers.refresh(request, deps)

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
            reply = await handlers.refresh(
                RefreshRequest(team_id=event.team_id, account_id=event.account_id), deps
            )
            if not reply.ok and reply.error and reply.error.code == "ingest_unavailable":
                raise RuntimeError(reply.error.message)  # retried with back-off

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
