"""Bus handlers of analytics: recommendations (list, decide, refresh; refresh after each sync).

FastStream injects `Deps` (analytics' deps, provided once at start) and, where a responder
reads in one transaction, `Uow` (a fresh recommendations unit of work per message).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from cloudaudit.analytics.adapters.llm import TemplateWriter
from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
from cloudaudit.analytics.service import recommendations as handlers
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.common.actors import Command
from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.deps import ServiceDeps
from cloudaudit.common.errors import DomainError, replies_with
from cloudaudit.common.events.account import ACCOUNT_SYNCED, AccountSynced
from cloudaudit.common.events.cost import COST_DAY_RECORDED_ALL, CostDayRecorded
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
from faststream import Depends

log = logging.getLogger(__name__)


def _new_unit_of_work(deps: AnalyticsDeps = ServiceDeps) -> RecommendationUnitOfWork:
    return deps.recommendation_uow()


Deps = Annotated[AnalyticsDeps, ServiceDeps]
Uow = Annotated[RecommendationUnitOfWork, Depends(_new_unit_of_work)]

QUEUE = "analytics"
SYNC_DURABLE = "analytics-recommendations-sync"
COST_DURABLE = "analytics-recommendations-cost"
NO_KEY_NOTE = (
    "recommendations: OPENAI_API_KEY is not set, so recommendation texts come from "
    "templates; set it (and OPENAI_BASE_URL / OPENAI_MODEL) for LLM-written texts"
)


def register(runtime: ServiceRuntime, deps: AnalyticsDeps) -> None:
    settings = deps.settings
    if isinstance(deps.writer, TemplateWriter):
        runtime.notes.append(NO_KEY_NOTE)
    broker, names = runtime.broker, runtime.names

    @broker.subscriber(
        names.subject(RPC_RECOMMENDATIONS), queue=QUEUE, title="analytics.recommendations"
    )
    @replies_with(RecommendationsReply)
    async def on_list(
        request: RecommendationsRequest, uow: Uow, deps: Deps
    ) -> RecommendationsReply:
        """The actor's team's recommendations, largest savings first."""
        return await handlers.list_recommendations(Command.verified(request, deps.verifier), uow)

    @broker.subscriber(names.subject(RPC_DECIDE), queue=QUEUE, title="analytics.decide")
    @replies_with(DecideReply)
    async def on_decide(request: DecideRequest, deps: Deps) -> DecideReply:
        """Approve, dismiss, snooze or reopen, if the role identity signed allows it."""
        return await handlers.decide(Command.verified(request, deps.verifier), deps)

    @broker.subscriber(
        names.subject(RPC_REFRESH), queue=QUEUE, title="analytics.refresh_recommendations"
    )
    @replies_with(RefreshReply)
    async def on_refresh(request: RefreshRequest, deps: Deps) -> RefreshReply:
        """Re-evaluate the actor's team's accounts now (owners and admins)."""
        return await handlers.refresh_now(Command.verified(request, deps.verifier), deps)

    if settings.refresh_on_sync:

        @subscribe_durable(
            broker,
            names,
            ACCOUNT_SYNCED,
            SYNC_DURABLE,
            title="analytics.recommendations_after_sync",
        )
        async def on_synced(event: AccountSynced, deps: Deps) -> None:
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
    async def on_cost_day(event: CostDayRecorded, deps: Deps) -> None:
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
