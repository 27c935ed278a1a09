"""Helpers for the bot tests: Slack users of one team, stand-ins for other services' RPCs,
the running bot with a driver that signs requests like Slack."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from cloudaudit.bot.driver import SlackDriver
from cloudaudit.bot.entrypoints.app import BOT_KEY, BotService
from cloudaudit.bot.localslack import DEFAULT_TOKEN, LocalSlack
from cloudaudit.bot.settings import BotSettings
from cloudaudit.common.actors import Actor, ActorVerifier, Command
from cloudaudit.common.errors import DomainError
from cloudaudit.common.events import cost, identity
from cloudaudit.common.events.identity import Audience
from cloudaudit.common.runtime import ServiceRuntime
from cloudaudit.common.settings import CommonSettings
from cloudaudit.common.testing import BusClient, eventually
from cloudaudit.common.testing_people import SlackWorkspace, bus_ask

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
# The key the OAuth-mode bot seals Slack tokens with, set as production sets it (the embedded
# key file is tested on its own, in a state directory of the test's).
DATA_KEY = "test:" + base64.b64encode(os.urandom(32)).decode()
OWNER, ADMIN, MEMBER, VIEWER = "UOWNER", "UADMIN", "UMEMBER", "UVIEWER"
ALERTS = "CALERTS"
AWS_ACCOUNT = "123456789012"


class StandIn:
    """Answers one service's RPCs on the bus with contract models, recording each request.

    Used only for the parts of ingest and analytics the bot needs answers from; the replies
    are whatever a test sets, so the bot's rendering of each is checked exactly. Like the real
    service, it verifies the actor token (signature, expiry, audience) and refuses by role
    where a request names the action it needs; `actors` keeps who verifiably asked."""

    def __init__(self, bus: BusClient, name: str) -> None:
        self.bus = bus
        self.name = name
        self.verifier = ActorVerifier(
            Audience(name), json.loads(os.environ["CLOUDAUDIT_ACTOR_PUBLIC_KEYS"])
        )
        self.requests: dict[str, list[BaseModel]] = defaultdict(list)
        self.actors: dict[str, list[Actor]] = defaultdict(list)
        self.replies: dict[str, Callable[[Any], BaseModel]] = {}
        self.actions: dict[str, Callable[[Any], identity.Action | None]] = {}
        self.follow_ups: dict[str, Callable[[Any, Actor], Awaitable[None]]] = {}
        self._subs: list[Any] = []

    async def answer(
        self,
        subject: str,
        request_type: type[BaseModel],
        reply: BaseModel | Callable[[Any], BaseModel],
        action: identity.Action | Callable[[Any], identity.Action | None] | None = None,
        then: Callable[[Any, Actor], Awaitable[None]] | None = None,
    ) -> None:
        """`then`: what the real service does after a change (publish the event that follows)."""
        self.replies[subject] = reply if callable(reply) else (lambda _req, r=reply: r)
        self.actions[subject] = action if callable(action) else (lambda _req, a=action: a)
        if then is not None:
            self.follow_ups[subject] = then
        if any(s.subject == self.bus.names.subject(subject) for s in self._subs):
            return

        async def on_request(msg: Any) -> None:
            request = request_type.model_validate_json(msg.data)
            self.requests[subject].append(request)
            await msg.respond(await self._respond(subject, request))

        sub = await self.bus.nc.subscribe(self.bus.names.subject(subject), cb=on_request)
        self._subs.append(sub)
        await self.bus.nc.flush()

    async def _respond(self, subject: str, request: Any) -> bytes:
        try:
            actor = Command.verified(request, self.verifier).actor
            self.actors[subject].append(actor)
            needed = self.actions[subject](request)
            if needed is not None:
                actor.require(needed)
        except DomainError as exc:
            return json.dumps(
                {"ok": False, "error": {"code": exc.code, "message": exc.message}}
            ).encode()
        answer = self.replies[subject](request)
        if subject in self.follow_ups:
            await self.follow_ups[subject](request, actor)
        return answer.model_dump_json().encode()


def spend_reply(start: date, end: date) -> cost.SpendReply:
    days = [date.fromordinal(d) for d in range(start.toordinal(), end.toordinal())]

    def group(key: str, per_day: str) -> cost.SpendGroup:
        amount = Decimal(per_day)
        return cost.SpendGroup(
            key=key,
            total=amount * len(days),
            points=[cost.SpendPoint(period=d, amount=amount) for d in days],
        )

    groups = [group("AmazonEC2", "120.50"), group("AmazonRDS", "40.25"), group("AmazonS3", "3.10")]
    return cost.SpendReply(
        total=sum((g.total for g in groups), Decimal(0)), groups=groups, start=start, end=end
    )


def make_bot_settings(settings: CommonSettings, slack: LocalSlack, **overrides: Any) -> BotSettings:
    values: dict[str, Any] = {
        **settings.model_dump(),
        "signing_secret": SIGNING_SECRET,
        "bot_token": DEFAULT_TOKEN,
        "data_key": DATA_KEY,
        "api_url": slack.api_url,
        "http_port": 0,
        "http_host": "127.0.0.1",
        "digest_check_interval_s": 0.2,
        "max_retry_after_s": 5,
    }
    values.update(overrides)
    return BotSettings(**values)


@dataclass
class Harness:
    runtime: ServiceRuntime
    service: BotService
    driver: SlackDriver
    slack: LocalSlack
    bus: BusClient
    users: dict[str, identity.SlackUserReply] = field(default_factory=dict)
    database_url: str | None = None

    @property
    def deps(self):
        return self.service.deps

    @property
    def people(self) -> SlackWorkspace:
        return SlackWorkspace(bus_ask(self.bus.broker, self.bus.names), self.driver.team_id)

    async def enrol(self, slack_user: str) -> identity.SlackUserReply:
        """Resolve a Slack user through identity, exactly as the bot does on each contact."""
        reply = await self.people.person(slack_user)
        self.users[slack_user] = reply
        return reply

    async def team(self, owner: str = OWNER) -> dict[str, identity.SlackUserReply]:
        """Owner (the app's installer), admin, member and viewer of one workspace team (the
        others invited by the owner with their roles)."""
        owner_reply = await self.people.install(owner)
        self.users[owner] = owner_reply
        for slack_user, role in (
            (ADMIN, identity.Role.ADMIN),
            (MEMBER, identity.Role.MEMBER),
            (VIEWER, identity.Role.VIEWER),
        ):
            self.users[slack_user] = await self.people.add(owner_reply, slack_user, role)
        # The owner has used the bot, so it knows the workspace and whom to warn.
        await self.driver.command("help", user=owner)

        async def known() -> bool:
            async with self.deps.uow() as uow:
                team = await uow.repo.team(self.team_id)
            return bool(team and team.owner_slack_user_id == owner)

        await eventually(known)
        return self.users

    async def operator(self, *args: str) -> str:
        """A `cloudaudit` command as the operator types it (the identity CLI included), in a
        thread: the CLI runs its own event loop."""
        return await asyncio.to_thread(self._operator, *args)

    def _operator(self, *args: str) -> str:
        from typer.testing import CliRunner

        from cloudaudit.common.cli import _register_service_commands, app

        if not any(getattr(c, "name", None) == "teams" for c in app.registered_groups):
            _register_service_commands()
        env = {
            "DATABASE_URL": self.database_url or "",
            "NATS_URL": self.runtime.settings.nats_url_value(),
        }
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    async def claim_code(self) -> str:
        """The code `cloudaudit teams claim-code` prints for the first owner."""
        printed = await self.operator("teams", "claim-code")
        line = next(line for line in printed.splitlines() if "/cloudaudit claim " in line)
        return line.rsplit(" ", 1)[-1]

    @property
    def team_id(self) -> UUID:
        reply = self.users[OWNER]
        assert reply.team_id is not None
        return reply.team_id

    async def set_alert_channel(self, channel: str = ALERTS) -> None:
        """`/cloudaudit alerts here`, waited for to the end: its answer comes after it has
        re-posted the kept alerts, so no test races that work with its own."""

        def answers() -> int:
            return sum(
                m.via == "response_url" and m.text.startswith("Alerts now go to")
                for m in self.slack.channel_messages(channel)
            )

        before = answers()
        response = await self.driver.command("alerts here", user=OWNER, channel=channel)
        assert response.status == 200

        async def channel_set() -> bool:
            async with self.deps.uow() as uow:
                team = await uow.repo.team(self.team_id)
            return bool(team and team.alert_channel_id == channel)

        async def answered() -> bool:
            return answers() > before

        await eventually(channel_set)
        await eventually(answered)


async def start_bot(
    start_service: Any, settings: BotSettings, slack: LocalSlack, bus: BusClient
) -> Harness:
    runtime = await start_service("bot", service_settings=settings)
    service = runtime.http[BOT_KEY]
    assert service.endpoint is not None
    await asyncio.wait_for(service.endpoint.ready.wait(), 10)
    driver = SlackDriver(
        f"http://127.0.0.1:{service.endpoint.port}/slack/events", SIGNING_SECRET, slack
    )
    return Harness(runtime, service, driver, slack, bus)


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    """Every visible string in a message (for assertions on what a person reads)."""
    return json.dumps(blocks, ensure_ascii=False)


def visible(message: Any) -> str:
    return message.text + " " + blocks_text(message.blocks)


async def reply_to(slack: LocalSlack, user: str, contains: str) -> Any:
    """Wait for a message only `user` sees (ephemeral, response_url or DM) containing a text."""

    async def found() -> Any:
        for message in reversed(slack.messages):
            private = message.ephemeral_for == user or message.channel == "D" + user
            if private and contains in visible(message):
                return message
        return None

    return await eventually(found)


async def channel_message(
    slack: LocalSlack, channel: str, contains: str, timeout: float = 10.0
) -> Any:
    async def found() -> Any:
        for message in reversed(slack.messages):
            if (
                message.channel == channel
                and message.ephemeral_for is None
                and contains in visible(message)
            ):
                return message
        return None

    return await eventually(found, timeout=timeout)


async def audits(bus: BusClient, action: str | None = None) -> list[Any]:
    """Audit events the bot published (JetStream AUDIT stream)."""
    from cloudaudit.common.events.audit import AuditRecorded

    records = [
        AuditRecorded.model_validate_json(m.data) for m in await bus.stream_messages("AUDIT")
    ]
    return [r for r in records if r.source == "bot" and (action is None or r.action == action)]


async def audited(bus: BusClient, action: str) -> Any:
    async def found() -> Any:
        records = await audits(bus, action)
        return records[-1] if records else None

    return await eventually(found)


async def consumed(bus: BusClient, stream: str, durable: str, count: int) -> None:
    """Wait until a durable consumer has acknowledged `count` messages (handled, committed)."""
    js = bus.nc.jetstream()

    async def done() -> bool:
        try:
            info = await js.consumer_info(bus.names.stream(stream), durable)
        except Exception:
            return False
        return info.ack_floor.consumer_seq >= count and info.num_ack_pending == 0

    await eventually(done)


def anomaly_detected(team_id: UUID, **overrides: Any) -> Any:
    from uuid import uuid4

    from cloudaudit.common.events.anomaly import (
        AnomalyDetected,
        AnomalyKind,
        RootCause,
        Severity,
    )

    values: dict[str, Any] = {
        "team_id": team_id,
        "anomaly_id": uuid4(),
        "account_id": uuid4(),
        "aws_account_id": AWS_ACCOUNT,
        "service": "AmazonEC2",
        "region": "us-east-1",
        "usage_date": date(2026, 11, 24),
        "kind": AnomalyKind.SPIKE,
        "severity": Severity.HIGH,
        "actual_cost": Decimal("1112.40"),
        "expected_cost": Decimal("300.00"),
        "impact": Decimal("812.40"),
        "impact_pct": Decimal("270.8"),
        "root_causes": [
            RootCause(
                dimension="usage_type", name="BoxUsage:p3.2xlarge", contribution=Decimal("760.00")
            ),
            RootCause(dimension="resource", name="i-0abc123def", contribution=Decimal("52.40")),
        ],
    }
    values.update(overrides)
    return AnomalyDetected(**values)


def recommendation_created(team_id: UUID, **overrides: Any) -> Any:
    from uuid import uuid4

    from cloudaudit.common.events.recommendation import RecommendationCreated

    values: dict[str, Any] = {
        "team_id": team_id,
        "recommendation_id": uuid4(),
        "account_id": uuid4(),
        "aws_account_id": AWS_ACCOUNT,
        "resource_id": "i-0idle42",
        "resource_type": "ec2_instance",
        "rec_type": "idle_ec2",
        "title": "Stop idle m5.xlarge i-0idle42",
        "description": "CPU stayed under 2% for 14 days; it costs $140.16 a month.",
        "action": "Stop the instance, or terminate it after a snapshot.",
        "estimated_monthly_savings": Decimal("140.16"),
        "confidence": Decimal("0.92"),
        "text_source": "llm",
    }
    values.update(overrides)
    return RecommendationCreated(**values)


SNAPSHOTS = Path(__file__).parent / "unit" / "snapshots"


def assert_snapshot(name: str, payload: Any) -> None:
    """Compare Block Kit with its reviewed snapshot (UPDATE_SNAPSHOTS=1 rewrites them)."""
    import os

    rendered = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path.name}; run with UPDATE_SNAPSHOTS=1 and review it"
    assert rendered == path.read_text(encoding="utf-8"), f"{name} changed; review the diff"
