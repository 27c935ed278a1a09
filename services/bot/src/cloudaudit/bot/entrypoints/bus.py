"""The bot on the bus: durable consumers for the events it turns into Slack messages. Each gets
the bot's deps (provided once at start) from FastStream, like every service's handlers."""

from __future__ import annotations

from typing import Annotated

from cloudaudit.bot.service import alerts, connect
from cloudaudit.bot.service.deps import Deps
from cloudaudit.common.bus import subscribe_durable
from cloudaudit.common.deps import ServiceDeps, provide
from cloudaudit.common.events.account import (
    ACCOUNT_CONNECTED,
    ACCOUNT_CONNECTION_FAILED,
    AccountConnected,
    AccountConnectionFailed,
)
from cloudaudit.common.events.anomaly import (
    ANOMALY_DETECTED,
    ANOMALY_UPDATED,
    AnomalyDetected,
    AnomalyUpdated,
)
from cloudaudit.common.events.recommendation import (
    RECOMMENDATION_CREATED,
    RECOMMENDATION_DECIDED,
    RECOMMENDATION_REALIZED,
    RecommendationCreated,
    RecommendationDecided,
    RecommendationRealized,
)
from cloudaudit.common.runtime import ServiceRuntime

ALL_ACCOUNTS = {"aws_account_id": "*"}


BotDeps = Annotated[Deps, ServiceDeps]


def register(runtime: ServiceRuntime, deps: Deps) -> None:
    broker, names = runtime.broker, runtime.names
    provide(broker, deps)

    @subscribe_durable(
        broker,
        names,
        ANOMALY_DETECTED.format(**ALL_ACCOUNTS),
        "bot-anomaly-detected",
        title="bot.anomaly_detected",
    )
    async def on_anomaly_detected(event: AnomalyDetected, deps: BotDeps) -> None:
        """Post the alert to the team's channel (once per anomaly)."""
        await alerts.on_anomaly_detected(event, deps)

    @subscribe_durable(
        broker,
        names,
        ANOMALY_UPDATED.format(**ALL_ACCOUNTS),
        "bot-anomaly-updated",
        title="bot.anomaly_updated",
    )
    async def on_anomaly_updated(event: AnomalyUpdated, deps: BotDeps) -> None:
        """Update the alert in place and reply in its thread."""
        await alerts.on_anomaly_updated(event, deps)

    @subscribe_durable(
        broker,
        names,
        RECOMMENDATION_CREATED.format(**ALL_ACCOUNTS),
        "bot-recommendation-created",
        title="bot.recommendation_created",
    )
    async def on_recommendation_created(event: RecommendationCreated, deps: BotDeps) -> None:
        """Post the recommendation with Approve / Dismiss / Snooze."""
        await alerts.on_recommendation_created(event, deps)

    @subscribe_durable(
        broker,
        names,
        RECOMMENDATION_DECIDED,
        "bot-recommendation-decided",
        title="bot.recommendation_decided",
    )
    async def on_recommendation_decided(event: RecommendationDecided, deps: BotDeps) -> None:
        """Show who decided, in place and in the thread."""
        await alerts.on_recommendation_decided(event, deps)

    @subscribe_durable(
        broker,
        names,
        RECOMMENDATION_REALIZED.format(**ALL_ACCOUNTS),
        "bot-recommendation-realized",
        title="bot.recommendation_realized",
    )
    async def on_recommendation_realized(event: RecommendationRealized, deps: BotDeps) -> None:
        """Reply in the thread with the savings measured on the bill."""
        await alerts.on_recommendation_realized(event, deps)

    @subscribe_durable(
        broker, names, ACCOUNT_CONNECTED, "bot-account-connected", title="bot.account_connected"
    )
    async def on_account_connected(event: AccountConnected, deps: BotDeps) -> None:
        """Tell the person who connected it (when ingest validated after replying)."""
        await connect.on_account_connected(event, deps)

    @subscribe_durable(
        broker,
        names,
        ACCOUNT_CONNECTION_FAILED,
        "bot-account-connection-failed",
        title="bot.account_connection_failed",
    )
    async def on_connection_failed(event: AccountConnectionFailed, deps: BotDeps) -> None:
        """Tell the person which step failed and how to fix it."""
        await connect.on_connection_failed(event, deps)
