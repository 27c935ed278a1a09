"""Bus handlers of analytics: anomalies (cost days in; listing, feedback, thresholds, plans)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.adapters.orm import outbox
from cloudaudit.analytics.service import anomalies as handlers
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.actors import ActorVerifier, Command
from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.anomaly import (
    RPC_ANOMALIES,
    RPC_ANOMALY_FEEDBACK,
    RPC_EXPECT,
    RPC_TEAM_SETTINGS,
    AnomaliesReply,
    AnomaliesRequest,
    AnomalyFeedbackReply,
    AnomalyFeedbackRequest,
    ExpectSpendReply,
    ExpectSpendRequest,
    TeamSettingsReply,
    TeamSettingsRequest,
)
from cloudaudit.common.events.cost import COST_DAY_RECORDED_ALL, CostDayRecorded
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import load_settings

DURABLE = "analytics-anomalies"
QUEUE = "analytics"


def _settings(runtime: ServiceRuntime) -> AnalyticsSettings:
    if isinstance(runtime.settings, AnalyticsSettings):
        return runtime.settings
    # the runtime's common settings (bus prefix, URLs) win over the environment
    return load_settings(
        AnalyticsSettings,
        **{name: getattr(runtime.settings, name) for name in type(runtime.settings).model_fields},
    )


def register(runtime: ServiceRuntime) -> None:
    broker, names = runtime.broker, runtime.names
    settings = _settings(runtime)
    verifier = ActorVerifier.for_service(runtime.settings, Audience.ANALYTICS)

    def uow() -> AnomalyUnitOfWork:
        return AnomalyUnitOfWork(runtime.sessions, outbox, runtime.publish_outboxed)

    # A pulled batch is handled concurrently; days of one account must reach its models in
    # the order they were published (locks are granted first come, first served).
    account_locks: defaultdict[tuple[object, object], asyncio.Lock] = defaultdict(asyncio.Lock)

    @subscribe_durable(broker, names, COST_DAY_RECORDED_ALL, DURABLE, title="analytics.cost_day")
    async def on_cost_day(event: CostDayRecorded) -> None:
        """Judge every cost series of the day; alert on material, recent anomalies."""
        async with account_locks[(event.team_id, event.account_id)]:
            await handlers.record_cost_day(event, uow(), settings)

    @broker.subscriber(names.subject(RPC_ANOMALIES), queue=QUEUE, title="analytics.anomalies")
    @replies_with(AnomaliesReply)
    async def on_anomalies(request: AnomaliesRequest) -> AnomaliesReply:
        """The actor's team's anomalies, newest first."""
        return await handlers.list_anomalies(Command.verified(request, verifier), uow())

    @broker.subscriber(
        names.subject(RPC_ANOMALY_FEEDBACK), queue=QUEUE, title="analytics.anomaly_feedback"
    )
    @replies_with(AnomalyFeedbackReply)
    async def on_feedback(request: AnomalyFeedbackRequest) -> AnomalyFeedbackReply:
        """Useful / not useful / expected: changes the series' model at once, audited."""
        return await handlers.give_feedback(Command.verified(request, verifier), uow())

    @broker.subscriber(names.subject(RPC_TEAM_SETTINGS), queue=QUEUE, title="analytics.settings")
    @replies_with(TeamSettingsReply)
    async def on_settings(request: TeamSettingsRequest) -> TeamSettingsReply:
        """Read or change the team's anomaly thresholds."""
        return await handlers.team_settings(Command.verified(request, verifier), uow(), settings)

    @broker.subscriber(names.subject(RPC_EXPECT), queue=QUEUE, title="analytics.expect")
    @replies_with(ExpectSpendReply)
    async def on_expect(request: ExpectSpendRequest) -> ExpectSpendReply:
        """Declare planned spend so matching anomalies do not alert."""
        return await handlers.expect_spend(Command.verified(request, verifier), uow())
