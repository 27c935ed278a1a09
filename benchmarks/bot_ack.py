"""Slash-command acknowledgement latency: 50 concurrent `/cloudaudit` commands, signed like
Slack's, into the bot's HTTP endpoint (budget: p99 under 300 ms; Slack's hard limit is 3 s).

The bot and identity run for real on the embedded NATS + PostgreSQL; the Web API is the local
Slack; ingest and analytics answers come from stand-ins on the bus (the measured part is the
acknowledgement, while the bot does the slow work of the same commands concurrently).

Run: .venv/bin/python benchmarks/bot_ack.py
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudaudit.bot.driver import SlackDriver
from cloudaudit.bot.entrypoints.app import BOT_KEY
from cloudaudit.bot.entrypoints.slack.app import TrackedLazyRunner
from cloudaudit.bot.localslack import DEFAULT_TOKEN, LocalSlack
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.events import account, anomaly, cost
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.runtime import Endpoints, build_runtime
from cloudaudit.common.service import discover_services

CONCURRENT = 50
ROUNDS = 6
BUDGET_P99_MS = 300.0
SIGNING_SECRET = "bench-signing-secret-0123456789"  # noqa: S105 - local benchmark only
COMMANDS = ["accounts", "spend 30d by service", "help", "anomalies", "spend 7d by region"]


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def ingest_and_analytics_stand_ins(nc: Any, prefix: str) -> None:
    """Answer the RPCs the commands' slow parts make, as ingest and analytics would."""

    async def spend(msg: Any) -> None:
        request = cost.SpendRequest.model_validate_json(msg.data)
        days = (request.end - request.start).days
        groups = [
            cost.SpendGroup(
                key=f"Service{i}",
                total=Decimal(10 * days),
                points=[
                    cost.SpendPoint(period=request.start + timedelta(days=d), amount=Decimal(10))
                    for d in range(days)
                ],
            )
            for i in range(8)
        ]
        await msg.respond(
            cost.SpendReply(total=Decimal(80 * days), groups=groups).model_dump_json().encode()
        )

    async def accounts(msg: Any) -> None:
        await msg.respond(account.AccountsReply().model_dump_json().encode())

    async def anomalies(msg: Any) -> None:
        await msg.respond(anomaly.AnomaliesReply().model_dump_json().encode())

    await nc.subscribe(f"{prefix}.{cost.RPC_SPEND}", cb=spend)
    await nc.subscribe(f"{prefix}.{account.RPC_ACCOUNTS}", cb=accounts)
    await nc.subscribe(f"{prefix}.{anomaly.RPC_ANOMALIES}", cb=anomalies)


async def main(endpoints: Endpoints) -> None:
    import nats
    from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

    specs = discover_services()
    for name in ("identity", "bot"):
        await upgrade(specs[name].migrations, endpoints.database_url, specs[name].schema)
    slack = LocalSlack(files_dir=Path(tempfile.mkdtemp(prefix="bench-slack-")))
    api_url = await slack.start()
    prefix = "benchack"
    settings = BotSettings(
        CLOUDAUDIT_BUS_PREFIX=prefix,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,  # type: ignore[call-arg]
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
    nc = await nats.connect(endpoints.nats_url)
    await ingest_and_analytics_stand_ins(nc, prefix)
    service = bot.http[BOT_KEY]
    assert service.endpoint is not None and service.app is not None
    await service.endpoint.ready.wait()
    runner = service.app.listener_runner.lazy_listener_runner
    assert isinstance(runner, TrackedLazyRunner)
    driver = SlackDriver(
        f"http://127.0.0.1:{service.endpoint.port}/slack/events", SIGNING_SECRET, slack
    )
    users = [f"UBENCH{i:03d}" for i in range(CONCURRENT)]
    people = SlackWorkspace(bus_ask(bot.broker, bot.names), driver.team_id)
    owner = await people.install(users[0])  # the app's installer; the others are invited
    for user in users[1:]:
        await people.invite(owner, user)
    # Warm-up: everyone has used the bot once (joined), charts' fonts are loaded.
    await asyncio.gather(*(driver.command("accounts", user=u) for u in users))
    await driver.command("spend 7d")
    await runner.drain(60)

    acks: list[float] = []
    failures = 0
    wall = time.perf_counter()
    for _ in range(ROUNDS):
        responses = await asyncio.gather(
            *(driver.command(COMMANDS[i % len(COMMANDS)], user=users[i]) for i in range(CONCURRENT))
        )
        failures += sum(r.status != 200 for r in responses)
        acks += [r.elapsed_s * 1000 for r in responses]
        await runner.drain(60)  # the slow halves of this burst finish before the next one
    wall = time.perf_counter() - wall
    answered = sum(1 for c in slack.calls if c.method == "response_url")

    p99 = pct(acks, 0.99)
    print(
        f"bot slash-command ack  {CONCURRENT} concurrent x {ROUNDS} rounds "
        f"({len(acks)} commands: {', '.join(COMMANDS)})"
    )
    print(
        f"  ack p50 {pct(acks, 0.5):6.1f} ms  p95 {pct(acks, 0.95):6.1f} ms  "
        f"p99 {p99:6.1f} ms  max {max(acks):6.1f} ms  mean {statistics.mean(acks):6.1f} ms"
    )
    print(
        f"  non-200 acks: {failures}   follow-up answers delivered: {answered}   wall {wall:.1f} s"
    )
    print(f"  budget p99 < {BUDGET_P99_MS:.0f} ms: {'OK' if p99 < BUDGET_P99_MS else 'OVER'}")
    await driver.close()
    await nc.close()
    await bot.stop()
    await identity.stop()
    await slack.stop()


if __name__ == "__main__":
    from _embedded import run_on_embedded_servers

    run_on_embedded_servers(main)
