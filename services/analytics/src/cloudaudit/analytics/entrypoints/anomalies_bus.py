"""Bus handlers of analytics: anomalies (cost days in; listing, feedback, thresholds, plans).

Each responder verifies the actor token, calls one handler, and replies; FastStream injects the
rest: `Deps` (analytics' deps, provided once at start) and `Uow` (a fresh anomalies unit of work
per message).
"""

from __future__ import annotations

from typing import Annotated

from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.service import anomalies as handlers
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.common.actors import Command
from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.deps import ServiceDeps
from cloudaudit.common.errors import replies_with
from cloudaudit.common.events.account import ACCOUNT_DISCONNECTED, AccountDisconnected
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
from cloudaudit.common.runtime import ServiceRuntime
from faststream import Depends


def _new_unit_of_work(deps: AnalyticsDeps = ServiceDeps) -> AnomalyUnitOfWork:
    return deps.anomaly_uow()


Deps = Annotated[AnalyticsDeps, ServiceDeps]
Uow = Annotated[AnomalyUnitOfWork, Depends(_new_unit_of_work)]

DURABLE = "analytics-anomalies"
ACCOUNTS_DURABLE = "analytics-accounts-disconnected"
QUEUE = "analytics"


def register(runtime: ServiceRuntime, deps: AnalyticsDeps) -> None:
    broker, names = runtime.broker, runtime.names

    @subscribe_durable(broker, names, COST_DAY_RECORDED_ALL, DURABLE, title="analytics.cost_day")
    async def on_cost_day(event: CostDayRecorded, uow: Uow, deps: Deps) -> None:
        """Judge every cost series of the day; alert on material, recent anomalies."""
        # days of one account reach its models in the order they were published
        async with deps.account_locks[(event.team_id, event.account_id)]:
            await handlers.record_cost_day(event, uow, deps.settings, deps.now().date())

    @subscribe_durable(
        broker,
        names,
        ACCOUNT_DISCONNECTED,
        ACCOUNTS_DURABLE,
        title="analytics.account_disconnected",
    )
    async def on_account_disconnected(event: AccountDisconnected, uow: Uow, deps: Deps) -> None:
        """An account whose data its team deleted: forget its series, anomalies and savings."""
        async with deps.account_locks[(event.team_id, event.account_id)]:
            await handlers.account_disconnected(event, uow)

    @broker.subscriber(names.subject(RPC_ANOMALIES), queue=QUEUE, title="analytics.anomalies")
    @replies_with(AnomaliesReply)
    async def on_anomalies(request: AnomaliesRequest, uow: Uow, deps: Deps) -> AnomaliesReply:
        """The actor's team's anomalies, newest first."""
        return await handlers.list_anomalies(Command.verified(request, deps.verifier), uow)

    @broker.subscriber(
        names.subject(RPC_ANOMALY_FEEDBACK), queue=QUEUE, title="analytics.anomaly_feedback"
    )
    @replies_with(AnomalyFeedbackReply)
    async def on_feedback(
        request: AnomalyFeedbackRequest, uow: Uow, deps: Deps
    ) -> AnomalyFeedbackReply:
        """Useful / not useful / expected: changes the series' model at once, audited."""
        return await handlers.give_feedback(Command.verified(request, deps.verifier), uow)

    @broker.subscriber(names.subject(RPC_TEAM_SETTINGS), queue=QUEUE, title="analytics.settings")
    @replies_with(TeamSettingsReply)
    async def on_settings(request: TeamSettingsRequest, uow: Uow, deps: Deps) -> TeamSettingsReply:
        """Read or change the team's anomaly thresholds."""
        return await handlers.team_settings(
            Command.verified(request, deps.verifier), uow, deps.settings
        )

    @broker.subscriber(names.subject(RPC_EXPECT), queue=QUEUE, title="analytics.expect")
    @replies_with(ExpectSpendReply)
    async def on_expect(request: ExpectSpendRequest, uow: Uow, deps: Deps) -> ExpectSpendReply:
        """Declare planned spend so matching anomalies do not alert."""
        return await handlers.expect_spend(Command.verified(request, deps.verifier), uow)
