"""Anomaly event -> Slack alert: how long the bot takes from `anomaly.v1.detected` on JetStream
to the alert posted in the team's channel (its share of the "cost event -> Slack alert p95
under 1 s" budget), and that a replay of every event posts nothing twice.

The bot and identity run for real on the embedded NATS + PostgreSQL; Slack is the local Web API.

Run: .venv/bin/python benchmarks/bot_alert.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import date
from decimal import Decimal
from uuid import uuid4

from cloudaudit.bot.driver import SlackDriver
from cloudaudit.bot.entrypoints.app import BOT_KEY
from cloudaudit.bot.localslack import DEFAULT_TOKEN, LocalSlack
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.bus import BusNames, ensure_streams, make_broker, publish_event
from cloudaudit.common.events.anomaly import (
    ANOMALY_DETECTED,
    AnomalyDetected,
    AnomalyKind,
    RootCause,
    Severity,
)
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.runtime import Endpoints, build_runtime
from cloudaudit.common.service import discover_services
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

EVENTS = 200
RATE_PER_S = 50  # a burst of alerts across many accounts
BUDGET_P95_MS = 1000.0
SIGNING_SECRET = "bench-signing-secret-0123456789"  # noqa: S105 - local benchmark only
CHANNEL = "CBENCHALERTS"


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def main(endpoints: Endpoints) -> None:
    specs = discover_services()
    for name in ("identity", "bot"):
        await upgrade(specs[name].migrations, endpoints.database_url, specs[name].schema)
    slack = LocalSlack()
    api_url = await slack.start()
    prefix = "benchalert"
    settings = BotSettings(  # type: ignore[call-arg]
        CLOUDAUDIT_BUS_PREFIX=prefix,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_BOT_TOKEN=DEFAULT_TOKEN,
        SLACK_API_URL=api_url,
        BOT_HTTP_PORT=0,
        BOT_HTTP_HOST="127.0.0.1",
        CLOUDAUDIT_LOG_LEVEL="WARNING",
    )
    identity = build_runtime(specs["identity"], settings, endpoints, http_port=0)
    bot = build_runtime(specs["bot"], settings, endpoints, http_port=0)
    await identity.start()
    await bot.start()
    service = bot.http[BOT_KEY]
    assert service.endpoint is not None
    await service.endpoint.ready.wait()
    driver = SlackDriver(
        f"http://127.0.0.1:{service.endpoint.port}/slack/events", SIGNING_SECRET, slack
    )
    await SlackWorkspace(bus_ask(bot.broker, bot.names), driver.team_id).install("UOWNER")
    await driver.command("alerts here", user="UOWNER", channel=CHANNEL)
    while True:  # the owner (the app's installer) set the team's channel
        async with service.deps.uow() as uow:
            team = await uow.repo.team_by_slack(slack.workspaces["T0CLOUD"].team_id)
        if team and team.alert_channel_id == CHANNEL:
            break
        await asyncio.sleep(0.05)

    names = BusNames(prefix)
    publisher = make_broker(endpoints.nats_url, names, "bench", 3)
    await publisher.connect()
    await ensure_streams(publisher, names)
    sent_at: dict[str, float] = {}
    events = [
        AnomalyDetected(
            team_id=team.team_id,
            anomaly_id=uuid4(),
            account_id=uuid4(),
            aws_account_id=f"{i:012d}",
            service="AmazonEC2",
            region="us-east-1",
            usage_date=date(2026, 11, 24),
            kind=AnomalyKind.SPIKE,
            severity=Severity.HIGH,
            actual_cost=Decimal("1000"),
            expected_cost=Decimal("300"),
            impact=Decimal("700"),
            impact_pct=Decimal("233"),
            root_causes=[
                RootCause(
                    dimension="usage_type", name="BoxUsage:p3.2xlarge", contribution=Decimal("700")
                )
            ],
        )
        for i in range(EVENTS)
    ]
    wall = time.perf_counter()
    for event in events:
        sent_at[str(event.anomaly_id)] = time.perf_counter()
        await publish_event(
            publisher, names, ANOMALY_DETECTED.format(aws_account_id=event.aws_account_id), event
        )
        await asyncio.sleep(1 / RATE_PER_S)
    posted_at: dict[str, float] = {}
    deadline = time.perf_counter() + 60
    while len(posted_at) < EVENTS and time.perf_counter() < deadline:
        for message in slack.channel_messages(CHANNEL):
            for block in message.blocks:
                block_id = block.get("block_id", "")
                if block_id.startswith("anomaly:"):
                    posted_at[block_id[8:]] = message.at  # the local Slack's receive time
        await asyncio.sleep(0.01)
    wall = time.perf_counter() - wall
    latencies = [(posted_at[k] - sent_at[k]) * 1000 for k in posted_at]

    # Replay every event under new message ids (as after a redelivery): nothing may post twice.
    js = publisher.config.connection_state.stream
    for event in events:
        await js.publish(
            names.subject(ANOMALY_DETECTED.format(aws_account_id=event.aws_account_id)),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": f"r-{event.event_id}"},
        )
    consumer = await js.consumer_info(names.stream("ANOMALY"), "bot-anomaly-detected")
    while consumer.num_pending or consumer.num_ack_pending:
        await asyncio.sleep(0.05)
        consumer = await js.consumer_info(names.stream("ANOMALY"), "bot-anomaly-detected")
    alerts = [
        m for m in slack.channel_messages(CHANNEL) if "Cost anomaly" in m.text + str(m.blocks)
    ]

    p95 = pct(latencies, 0.95)
    print(f"bot anomaly event -> Slack alert  {EVENTS} events at {RATE_PER_S}/s")
    print(
        f"  posted {len(latencies)}/{EVENTS}  p50 {pct(latencies, 0.5):6.1f} ms  "
        f"p95 {p95:6.1f} ms  p99 {pct(latencies, 0.99):6.1f} ms  "
        f"mean {statistics.mean(latencies):6.1f} ms  wall {wall:.1f} s"
    )
    print(
        f"  after replaying all {EVENTS} events: {len(alerts)} alerts in the channel "
        f"({'exactly once' if len(alerts) == EVENTS else 'DUPLICATES OR LOSSES'})"
    )
    print(
        f"  bot share of the budget, p95 < {BUDGET_P95_MS:.0f} ms: "
        f"{'OK' if p95 < BUDGET_P95_MS and len(latencies) == EVENTS else 'OVER'}"
    )
    await publisher.stop()
    await driver.close()
    await bot.stop()
    await identity.stop()
    await slack.stop()


if __name__ == "__main__":
    from _embedded import run_on_embedded_servers

    run_on_embedded_servers(main)
