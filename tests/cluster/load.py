"""Load through the cluster, with faults: daily costs of 100 accounts (the accounts of
`benchmarks/pipeline_load.py`) through analytics and the bot, then rounds of live days with
real jumps; some rounds kill a NATS node, a replica of every service, or the PostgreSQL
primary halfway through. Measures cost event -> Slack alert per round."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg
from cloudaudit.bot.driver import SlackDriver, SlackResponse
from cloudaudit.common.bus import make_broker, publish_event
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

from benchmarks.pipeline_load import CHANNEL, OWNER, Account, pct, posted
from tests.cluster.stack import SIGNING_SECRET, ClusterStack, say, until

SLACK_TEAM = "TCLUSTER"
AUDIT_TEAM = "TCLAUDIT"  # a second workspace whose owner keeps changing its alert channel
AUDIT_OWNER = "UAUDITOWNER"
LIVE_RATE_PER_S = 25.0
SPIKES_PER_ROUND = 10
JUMP = Decimal(900)  # dollars of new EC2 instances on a spiking day: a real jump
PUBLISH_CONCURRENCY = 64
PUBLISH_RETRY_S = 60.0
PUBLISH_RETRY_PAUSE_S = 0.2
HISTORY_TIMEOUT_S = 240.0
ROUND_ALERT_TIMEOUT_S = 90.0
AUDIT_EVERY_S = 1.0
ENROL_TIMEOUT_S = 30.0


def alert_posts(slack: Any) -> Counter[str]:
    """anomaly id -> how many times the bot posted its alert to the channel: every top-level
    chat.postMessage Slack received, with the blocks it was sent with (the day after a jump
    updates the alert in place, with other blocks)."""
    found: Counter[str] = Counter()
    for call in slack.calls_to("chat.postMessage"):
        if call.args.get("channel") != CHANNEL or call.args.get("thread_ts"):
            continue
        for block in call.args.get("blocks") or []:
            block_id = str(block.get("block_id", ""))
            if block_id.startswith("anomaly:"):
                found[block_id.removeprefix("anomaly:")] += 1
                break
    return found


def first_history_day(today: date, history_days: int, live_days: int) -> date:
    """The live rounds run on the most recent days (analytics alerts only on recent days; its
    window is set to cover them, stack.ALERT_WINDOW_DAYS) that hold no 1st of a month: a jump
    on the 1st is read as a month-start fee, not an anomaly."""
    last = today
    while any((last - timedelta(days=i)).day == 1 for i in range(live_days)):
        last -= timedelta(days=1)
    return last - timedelta(days=history_days + live_days - 1)


class SlackEdge:
    """Slack's side of the bot: signed requests to whichever bot replica answers (as a load
    balancer in front of the two would), in turn."""

    def __init__(self, stack: ClusterStack) -> None:
        self.stack = stack
        self.replicas = stack.fleet.of("bot")
        self.drivers: dict[tuple[str, str], SlackDriver] = {}
        self.turn = 0

    def _driver(self, replica: Any, team: str) -> SlackDriver:
        key = (replica.name, team)
        if key not in self.drivers:
            self.drivers[key] = SlackDriver(
                replica.slack_events_url, SIGNING_SECRET, self.stack.slack, team_id=team
            )
        return self.drivers[key]

    async def command(self, text: str, user: str, channel: str, team: str) -> SlackResponse | None:
        self.turn += 1
        order = self.replicas[self.turn % 2 :] + self.replicas[: self.turn % 2]
        for replica in order:
            if replica.proc is None or not replica.proc.alive:
                continue
            try:
                return await self._driver(replica, team).command(text, user=user, channel=channel)
            except (aiohttp.ClientError, OSError):
                continue  # that replica just died: the next one takes it
        return None

    async def close(self) -> None:
        for driver in self.drivers.values():
            await driver.close()


@dataclass
class Round:
    name: str
    phase: str  # before, during, after
    fault: Callable[[], Awaitable[dict[str, Any]]] | None = None
    recover: Callable[[], Awaitable[None]] | None = None


@dataclass
class Load:
    stack: ClusterStack
    accounts_n: int
    days: int
    live_days: int
    accounts: list[Account] = field(default_factory=list)
    team_id: UUID | None = None
    audit_team_id: UUID | None = None
    first: date = field(default_factory=lambda: utcnow().date())
    spiked: dict[tuple[UUID, date], float] = field(default_factory=dict)  # -> sent at
    rounds: list[dict[str, Any]] = field(default_factory=list)
    audit_commands: list[tuple[str, int | None]] = field(default_factory=list)
    publish_retries: int = 0
    broker: Any = None
    edge: SlackEdge | None = None

    # -- database (as the migrations role, over the host list) ---------------------------------
    async def rows(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.stack.pg.asyncpg_dsn(), timeout=5)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def value(self, query: str, *args: Any) -> Any:
        found = await self.rows(query, *args)
        return found[0][0] if found else None

    # -- set-up ----------------------------------------------------------------------------------
    async def start(self) -> None:
        # Cost events come from ingest: published with ingest's own bus user.
        self.broker = make_broker(
            self.stack.nats.url_for("ingest"),
            self.stack.names,
            "load",
            3,
            access=self.stack.nats.access,
        )
        await self.broker.connect()
        self.edge = SlackEdge(self.stack)
        self.team_id = await self.enrol(SLACK_TEAM, OWNER, CHANNEL)
        self.audit_team_id = await self.enrol(AUDIT_TEAM, AUDIT_OWNER, "CAUD0000")
        self.first = first_history_day(utcnow().date(), self.days, self.live_days)
        self.accounts = [Account(n, self.team_id) for n in range(self.accounts_n)]

    async def enrol(self, slack_team: str, owner: str, channel: str) -> UUID:
        """The owner's `/cloudaudit alerts here`: the team exists, alerts go to `channel`."""
        assert self.edge is not None
        # The app installed by `owner` (the OAuth installer owns the team), as the bot tells
        # identity; then the owner's first command.
        bot = make_broker(
            self.stack.nats.url_for("bot"), self.stack.names, "installer", 3,
            access=self.stack.nats.access,
        )  # fmt: skip
        await bot.connect()
        # One bot token answers users.info for every workspace here: it is told the owner's
        # home workspace, or the owner would look like a Slack Connect user of another one.
        self.stack.slack.set_user(owner, home_team=slack_team)
        try:
            await SlackWorkspace(bus_ask(bot, self.stack.names), slack_team).install(owner)
        finally:
            await bot.stop()
        response = await self.edge.command("alerts here", owner, channel, slack_team)
        assert response is not None and response.status == 200, response

        async def enrolled() -> UUID | None:
            team_id = await self.value(
                "SELECT team_id FROM identity.slack_workspaces WHERE slack_team_id=$1", slack_team
            )
            if team_id is None:
                return None
            found = await self.value(
                "SELECT alert_channel_id FROM bot.teams WHERE team_id=$1", team_id
            )
            return team_id if found == channel else None

        return await until(enrolled, ENROL_TIMEOUT_S, f"{slack_team} enrolled")

    async def stop(self) -> None:
        if self.edge is not None:
            await self.edge.close()
        if self.broker is not None:
            await self.broker.stop()

    # -- publishing ------------------------------------------------------------------------------
    async def publish(self, event: CostDayRecorded) -> None:
        """Publish and wait for the stream's ack; retried with the same event id (JetStream's
        duplicate window drops a copy) while a node or a stream leader is away."""
        subject = COST_DAY_RECORDED.format(aws_account_id=event.aws_account_id)
        deadline = time.monotonic() + PUBLISH_RETRY_S
        while True:
            try:
                await publish_event(self.broker, self.stack.names, subject, event)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                self.publish_retries += 1
                await asyncio.sleep(PUBLISH_RETRY_PAUSE_S)

    async def learnt(self) -> int:
        return int(
            await self.value(
                "SELECT count(*) FROM analytics.cost_days WHERE team_id=$1", self.team_id
            )
        )

    async def history(self) -> dict[str, Any]:
        started = time.perf_counter()
        semaphore = asyncio.Semaphore(PUBLISH_CONCURRENCY)

        async def one(event: CostDayRecorded) -> None:
            async with semaphore:
                await self.publish(event)

        for d in range(self.days):  # one day of every account after another, per account in order
            day = self.first + timedelta(days=d)
            await asyncio.gather(*(one(a.day(day)) for a in self.accounts))
        published_s = time.perf_counter() - started
        expected = self.accounts_n * self.days
        await until(lambda: self._learnt_at_least(expected), HISTORY_TIMEOUT_S, "history learnt")
        learnt_s = time.perf_counter() - started
        return {
            "events": expected,
            "published_s": round(published_s, 1),
            "learnt_s": round(learnt_s, 1),
            "events_per_s": round(expected / learnt_s, 1),
        }

    async def _learnt_at_least(self, expected: int) -> bool:
        return await self.learnt() >= expected

    # -- live rounds -----------------------------------------------------------------------------
    async def alerted(self, day: date) -> dict[UUID, str]:
        found = await self.rows(
            "SELECT account_id, anomaly_id FROM analytics.cost_anomalies "
            "WHERE team_id=$1 AND usage_date=$2 AND alerted=1",
            self.team_id,
            day,
        )
        return {r["account_id"]: str(r["anomaly_id"]) for r in found}

    async def live_round(self, index: int, round_: Round) -> dict[str, Any]:
        day = self.first + timedelta(days=self.days + index)
        spiking = range(index * SPIKES_PER_ROUND, (index + 1) * SPIKES_PER_ROUND)
        sent_at: dict[UUID, float] = {}
        fault: asyncio.Task[dict[str, Any]] | None = None
        retries_before = self.publish_retries
        started = time.perf_counter()
        for n, account in enumerate(self.accounts):
            if round_.fault is not None and n == len(self.accounts) // 2:
                fault = asyncio.create_task(round_.fault())
            spike = n in spiking
            event = account.day(day, extra=JUMP if spike else Decimal(0), backfill=False)
            if spike:
                sent_at[account.account_id] = time.perf_counter()
                self.spiked[(account.account_id, day)] = sent_at[account.account_id]
            await self.publish(event)
            await asyncio.sleep(1 / LIVE_RATE_PER_S)  # pacing the live days, not waiting
        fault_facts = await fault if fault is not None else {}
        wanted = set(sent_at)

        async def all_posted() -> dict[UUID, str] | None:
            anomalies = await self.alerted(day)
            seen = posted(self.stack.slack)
            if wanted <= anomalies.keys() and all(anomalies[a] in seen for a in wanted):
                return anomalies
            return None

        # One not posted in time is counted below as not alerted; the final checks say more.
        with contextlib.suppress(TimeoutError):
            await until(all_posted, ROUND_ALERT_TIMEOUT_S, f"alerts of round {round_.name}")
        anomalies, seen = await self.alerted(day), posted(self.stack.slack)
        latencies = [
            min(seen[anomalies[a]]) - sent_at[a]
            for a in wanted
            if a in anomalies and anomalies[a] in seen
        ]
        result = {
            "round": round_.name,
            "phase": round_.phase,
            "usage_date": day.isoformat(),
            "spikes": len(wanted),
            "alerted": len(latencies),
            "detected": len(wanted & anomalies.keys()),
            "alerted_elsewhere": len(anomalies.keys() - wanted),
            "p50_ms": round(pct(latencies, 0.5) * 1000) if latencies else None,
            "p95_ms": round(pct(latencies, 0.95) * 1000) if latencies else None,
            "max_ms": round(max(latencies) * 1000) if latencies else None,
            "publish_retries": self.publish_retries - retries_before,
            "round_s": round(time.perf_counter() - started, 1),
            "fault": fault_facts,
        }
        if round_.recover is not None:
            recovered = time.perf_counter()
            await round_.recover()
            result["recovery_s"] = round(time.perf_counter() - recovered, 1)
        self.rounds.append(result)
        return result

    # -- audit traffic ---------------------------------------------------------------------------
    async def audit_traffic(self, stop: asyncio.Event) -> None:
        """The second team's owner moves its alert channel every second: each change is one
        audit entry (bot outbox -> AUDIT stream -> identity's audit log), through every fault."""
        assert self.edge is not None
        n = 0
        while not stop.is_set():
            n += 1
            channel = f"CAUD{n:04d}"
            response = await self.edge.command("alerts here", AUDIT_OWNER, channel, AUDIT_TEAM)
            self.audit_commands.append((channel, response.status if response else None))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), AUDIT_EVERY_S)


def build_rounds(stack: ClusterStack, load: Load) -> list[Round]:
    from tests.cluster.faults import Faults

    faults = Faults(stack)
    return [
        Round("steady", "before"),
        Round("NATS node kill -9", "during", faults.kill_stream_leader, faults.restart_nats),
        Round("after NATS node kill", "after"),
        Round("service replicas kill -9", "during", faults.kill_replicas, faults.restart_replicas),
        Round("after replica kills", "after"),
        Round("PostgreSQL failover", "during", faults.fail_over, faults.services_ready),
        Round("after failover", "after"),
    ]


async def load_and_faults(
    stack: ClusterStack, report: dict[str, Any], args: argparse.Namespace
) -> None:
    from tests.cluster.verify import bus_counters, verify

    load = Load(stack, args.accounts, args.days, args.rounds)
    await load.start()
    try:
        say(f"load: {args.accounts} accounts x {args.days} days of history")
        report["history"] = await load.history()
        say(f"history: {report['history']}")
        stop = asyncio.Event()
        audit = asyncio.create_task(load.audit_traffic(stop))
        try:
            for index, round_ in enumerate(build_rounds(stack, load)[: args.rounds]):
                result = await load.live_round(index, round_)
                say(_round_line(result))
        finally:
            stop.set()
            await audit
        report["rounds"] = load.rounds
        report["publish_retries"] = load.publish_retries
        report["checks"] = await verify(stack, load)
        report["bus_counters"] = await bus_counters(stack)
        say(f"bus counters per replica: {report['bus_counters']}")
        for name, check in report["checks"].items():
            say(f"check {'OK ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
    finally:
        await load.stop()


def _round_line(r: dict[str, Any]) -> str:
    fault = f" fault {r['fault']}" if r["fault"] else ""
    return (
        f"{r['phase']:<6} {r['round']:<26} alerts {r['alerted']}/{r['spikes']} "
        f"(detected {r['detected']}, on other accounts {r['alerted_elsewhere']})  "
        f"p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  max {r['max_ms']} ms  "
        f"publish retries {r['publish_retries']}{fault}"
    )
