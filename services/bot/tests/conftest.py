"""Bot test fixtures: the real bot and identity services on real NATS + PostgreSQL, a local
Slack Web API recording every call, and stand-ins answering for ingest and analytics."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))  # bot_support, shared by the test modules

from bot_support import (
    ADMIN,
    AWS_ACCOUNT,
    MEMBER,
    OWNER,
    VIEWER,
    Harness,
    StandIn,
    make_bot_settings,
    spend_reply,
    start_bot,
)

from cloudaudit.bot.entrypoints.slack.listeners import INTERNAL_ERROR
from cloudaudit.bot.localslack import LocalSlack
from cloudaudit.common.bus import publish_event
from cloudaudit.common.events import account, anomaly, cost, recommendation
from cloudaudit.common.events.identity import Action
from cloudaudit.common.settings import CommonSettings
from cloudaudit.common.testing import BusClient


@pytest.fixture
def ingest_accounts() -> list[account.AccountSummary]:
    return [
        account.AccountSummary(
            account_id=uuid4(),
            aws_account_id=AWS_ACCOUNT,
            name="production",
            status=account.AccountStatus.CONNECTED,
            ce_requests_this_month=12,
            ce_cost_this_month=Decimal("0.12"),
        )
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def ingest(bus: BusClient, ingest_accounts: list[account.AccountSummary]) -> StandIn:
    """Ingest's stand-in: spend, accounts, ExternalId and connect."""
    stand_in = StandIn(bus, "ingest")
    await stand_in.answer(cost.RPC_SPEND, cost.SpendRequest, lambda r: spend_reply(r.start, r.end))
    await stand_in.answer(
        account.RPC_ACCOUNTS,
        account.AccountsRequest,
        account.AccountsReply(accounts=ingest_accounts),
    )
    await stand_in.answer(
        account.RPC_EXTERNAL_ID,
        account.ExternalIdRequest,
        account.ExternalIdReply(
            external_id="ca-ext-7f3a9c",
            principal_arn="arn:aws:iam::999999999999:root",
            quick_create_url="https://console.aws.amazon.com/cloudformation/home"
            "#/stacks/quickcreate?stackName=CloudAudit",
        ),
        Action.CONNECT_ACCOUNT,
    )
    return stand_in


DECISION_STATUS = {
    recommendation.Decision.APPROVE: recommendation.RecommendationStatus.APPROVED,
    recommendation.Decision.DISMISS: recommendation.RecommendationStatus.DISMISSED,
    recommendation.Decision.SNOOZE: recommendation.RecommendationStatus.SNOOZED,
    recommendation.Decision.REOPEN: recommendation.RecommendationStatus.OPEN,
}
DECISION_ACTIONS = {
    recommendation.Decision.APPROVE: Action.APPROVE_RECOMMENDATION,
    recommendation.Decision.DISMISS: Action.DISMISS_RECOMMENDATION,
    recommendation.Decision.SNOOZE: Action.SNOOZE_RECOMMENDATION,
    recommendation.Decision.REOPEN: Action.APPROVE_RECOMMENDATION,
}


@pytest_asyncio.fixture(loop_scope="session")
async def analytics(bus: BusClient) -> StandIn:
    """Analytics' stand-in: anomalies, feedback, settings, expectations, recommendations, decide."""
    stand_in = StandIn(bus, "analytics")
    await stand_in.answer(
        anomaly.RPC_ANOMALIES, anomaly.AnomaliesRequest, anomaly.AnomaliesReply(anomalies=[])
    )
    await stand_in.answer(
        anomaly.RPC_ANOMALY_FEEDBACK,
        anomaly.AnomalyFeedbackRequest,
        lambda r: anomaly.AnomalyFeedbackReply(
            status=anomaly.AnomalyStatus.EXPECTED
            if r.feedback is anomaly.Feedback.EXPECTED
            else anomaly.AnomalyStatus.OPEN
        ),
        Action.ANOMALY_FEEDBACK,
        then=lambda r, who: publish_event(
            bus.broker,
            bus.names,
            anomaly.ANOMALY_UPDATED.format(aws_account_id=AWS_ACCOUNT),
            anomaly.AnomalyUpdated(
                team_id=who.team_id,
                anomaly_id=r.anomaly_id,
                aws_account_id=AWS_ACCOUNT,
                status=anomaly.AnomalyStatus.EXPECTED
                if r.feedback is anomaly.Feedback.EXPECTED
                else anomaly.AnomalyStatus.OPEN,
                impact=Decimal("812.40"),
                feedback=r.feedback,
                by_user=who.user_id,
                note=r.note,
            ),
        ),
    )
    await stand_in.answer(
        anomaly.RPC_TEAM_SETTINGS,
        anomaly.TeamSettingsRequest,
        lambda r: anomaly.TeamSettingsReply(
            min_impact=r.min_impact or Decimal("25"),
            min_impact_pct=r.min_impact_pct or Decimal("20"),
        ),
        lambda r: Action.CHANGE_SETTINGS if r.min_impact or r.min_impact_pct else None,
    )
    await stand_in.answer(
        anomaly.RPC_EXPECT,
        anomaly.ExpectSpendRequest,
        anomaly.ExpectSpendReply(expectation_id=uuid4()),
        Action.CHANGE_SETTINGS,
    )
    await stand_in.answer(
        recommendation.RPC_RECOMMENDATIONS,
        recommendation.RecommendationsRequest,
        recommendation.RecommendationsReply(recommendations=[]),
    )
    await stand_in.answer(
        recommendation.RPC_DECIDE,
        recommendation.DecideRequest,
        lambda r: recommendation.DecideReply(
            status={
                recommendation.Decision.APPROVE: recommendation.RecommendationStatus.APPROVED,
                recommendation.Decision.DISMISS: recommendation.RecommendationStatus.DISMISSED,
                recommendation.Decision.SNOOZE: recommendation.RecommendationStatus.SNOOZED,
            }.get(r.decision, recommendation.RecommendationStatus.OPEN),
            snoozed_until=date(2026, 12, 1) if r.snooze_days else None,
        ),
        lambda r: DECISION_ACTIONS[r.decision],
        then=lambda r, who: publish_event(
            bus.broker,
            bus.names,
            recommendation.RECOMMENDATION_DECIDED,
            recommendation.RecommendationDecided(
                team_id=who.team_id,
                recommendation_id=r.recommendation_id,
                aws_account_id=AWS_ACCOUNT,
                status=DECISION_STATUS[r.decision],
                decision=r.decision,
                decided_by=who.user_id,
                reason=r.reason,
                snoozed_until=date(2026, 12, 1) if r.snooze_days else None,
            ),
        ),
    )
    return stand_in


@pytest_asyncio.fixture(loop_scope="session")
async def local_slack(tmp_path) -> AsyncIterator[LocalSlack]:
    slack = LocalSlack(files_dir=tmp_path / "slack-files")
    await slack.start()
    slack.set_user(OWNER, name="Olivia Owner", email="olivia@example.com", tz="Europe/Berlin")
    slack.set_user(ADMIN, name="Adam Admin", email="adam@example.com")
    slack.set_user(MEMBER, name="Mia Member", email="mia@example.com")
    slack.set_user(VIEWER, name="Victor Viewer", email="victor@example.com")
    yield slack
    await slack.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def bot(
    local_slack: LocalSlack,
    bus: BusClient,
    start_service: Any,
    settings: CommonSettings,
    database_url: str,
) -> AsyncIterator[Harness]:
    """identity (real) + bot (real, HTTP mode with a bot token) against the local Slack."""
    await start_service("identity")
    harness = await start_bot(
        start_service, make_bot_settings(settings, local_slack), local_slack, bus
    )
    harness.database_url = database_url
    yield harness
    await harness.driver.close()
    # Whatever a test did, no one was ever shown the internal-error apology.
    await harness.service.app.listener_runner.lazy_listener_runner.drain()
    apologies = [m.text for m in local_slack.messages if INTERNAL_ERROR in m.text]
    assert apologies == [], "a listener failed; see the log above"
