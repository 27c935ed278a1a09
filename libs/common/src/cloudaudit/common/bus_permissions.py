"""NATS users and subject permissions per service, derived from the bus catalogue in events/."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cloudaudit.common.bus import STREAMS, BusNames
from cloudaudit.common.bus_credentials import OPERATOR
from cloudaudit.common.events import (
    account,
    anomaly,
    audit,
    cost,
    identity,
    inventory,
    recommendation,
    system,
    team,
)
from cloudaudit.common.events.dead_letter import DEAD_LETTER

INBOX = "_INBOX.>"
# How long a responder may answer a request it received (NATS allow_responses): longer than
# the longest request the product makes (a recommendations refresh reads AWS and may call the
# LLM; the bot waits up to 120 s), or the answer is refused and the asker times out.
RESPONSE_WINDOW = "5m"


@dataclass(frozen=True)
class ServiceBus:
    """What one service does on the bus, by unprefixed subject pattern."""

    publishes: tuple[str, ...]  # JetStream event subjects it writes
    consumes: tuple[str, ...]  # streams it reads through durable pull consumers
    serves: tuple[str, ...]  # RPC subjects it answers
    requests: tuple[str, ...]  # RPC subjects it asks


def _pattern(subject: str) -> str:
    """`cost.v1.daily.{aws_account_id}` -> `cost.v1.daily.*`."""
    return re.sub(r"\{[a-z_]+\}", "*", subject)


_IDENTITY_RPCS = (
    identity.RPC_SLACK_USER,
    identity.RPC_MEMBERS,
    identity.RPC_TEAM_TOKEN,
    identity.RPC_CHANGE_ROLE,
    identity.RPC_AUDIT_LOG,
    identity.RPC_SLACK_INSTALLED,
    identity.RPC_CLAIM,
    identity.RPC_LINK_CODE,
    identity.RPC_LINK_SLACK,
    identity.RPC_INVITE,
)
_INGEST_RPCS = (
    account.RPC_CONNECT,
    account.RPC_EXTERNAL_ID,
    account.RPC_ACCOUNTS,
    account.RPC_SYNC,
    account.RPC_DISCONNECT,
    cost.RPC_SPEND,
    inventory.RPC_INVENTORY,
    inventory.RPC_RESOURCE_COSTS,
)
_ANALYTICS_RPCS = (
    anomaly.RPC_ANOMALIES,
    anomaly.RPC_ANOMALY_FEEDBACK,
    anomaly.RPC_TEAM_SETTINGS,
    anomaly.RPC_EXPECT,
    recommendation.RPC_RECOMMENDATIONS,
    recommendation.RPC_DECIDE,
    recommendation.RPC_REFRESH,
)
_ANALYTICS_EVENTS = (
    anomaly.ANOMALY_DETECTED,
    anomaly.ANOMALY_UPDATED,
    recommendation.RECOMMENDATION_CREATED,
    recommendation.RECOMMENDATION_DECIDED,
    recommendation.RECOMMENDATION_REALIZED,
)

CATALOGUE: dict[str, ServiceBus] = {
    "identity": ServiceBus(
        publishes=(identity.MEMBER_CHANGED, team.TEAM_DELETED, audit.AUDIT_RECORDED),
        consumes=("AUDIT",),
        serves=(*_IDENTITY_RPCS, identity.RPC_WEB_SESSION),
        requests=(),
    ),
    "ingest": ServiceBus(
        publishes=(
            account.ACCOUNT_CONNECTED,
            account.ACCOUNT_CONNECTION_FAILED,
            account.ACCOUNT_SYNCED,
            account.ACCOUNT_DISCONNECTED,
            cost.COST_DAY_RECORDED,
            cost.COST_BATCH_RECORDED,
            audit.AUDIT_RECORDED,
        ),
        consumes=("IDENTITY",),  # a deleted team's data goes
        serves=_INGEST_RPCS,
        requests=(),
    ),
    "analytics": ServiceBus(
        publishes=(*_ANALYTICS_EVENTS, audit.AUDIT_RECORDED),
        consumes=("COST", "ACCOUNT", "IDENTITY"),
        serves=_ANALYTICS_RPCS,
        requests=(inventory.RPC_INVENTORY, inventory.RPC_RESOURCE_COSTS),
    ),
    "bot": ServiceBus(
        publishes=(audit.AUDIT_RECORDED,),
        consumes=("ANOMALY", "RECOMMENDATION", "ACCOUNT", "AUDIT", "IDENTITY"),
        serves=(),
        # Only the bot, the Slack edge, may ask identity who a Slack person is.
        requests=(*_IDENTITY_RPCS, *_INGEST_RPCS, *_ANALYTICS_RPCS),
    ),
    "web": ServiceBus(
        publishes=(),
        consumes=(),
        serves=(),
        # Only the web app, which reads the session cookie, may turn a session into tokens.
        requests=(
            identity.RPC_WEB_SESSION,
            identity.RPC_AUDIT_LOG,
            identity.RPC_MEMBERS,
            account.RPC_ACCOUNTS,
            account.RPC_EXTERNAL_ID,
            cost.RPC_SPEND,
            anomaly.RPC_ANOMALIES,
            recommendation.RPC_RECOMMENDATIONS,
            recommendation.RPC_DECIDE,
        ),
    ),
}


def _js_consumer_subjects(stream: str) -> list[str]:
    """JetStream API subjects a durable pull consumer on one stream needs (no stream changes).

    Publishing to a stream needs only the event subject: the stream's ack comes on `_INBOX`."""
    return [
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    ]


def permissions_for(service: str, names: BusNames) -> dict[str, Any]:
    """The nats-server `permissions` block of one service under a subject prefix."""
    bus = CATALOGUE[service]
    publish = {names.subject(_pattern(s)) for s in bus.publishes}
    publish.add(names.subject(_pattern(DEAD_LETTER).replace("*", ">")))
    publish.update(names.subject(s) for s in bus.requests)
    publish.add("$JS.API.INFO")
    for stream in bus.consumes:
        publish.update(_js_consumer_subjects(names.stream(stream)))
    subscribe = {names.subject(s) for s in bus.serves}
    subscribe.add(names.subject(system.RPC_HEALTH.format(service=service)))
    subscribe.add(INBOX)
    return {
        "publish": {"allow": sorted(publish)},
        "subscribe": {"allow": sorted(subscribe)},
        # A responder may answer on the requester's reply subject, once, within the window.
        "allow_responses": {"max": 1, "expires": RESPONSE_WINDOW},
    }


def operator_permissions(names: BusNames) -> dict[str, Any]:
    """The migrations/operator identity: the only one that creates or updates streams."""
    streams = [names.stream(s) for s in STREAMS]
    publish = ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST"]
    for stream in streams:
        publish += [
            f"$JS.API.STREAM.CREATE.{stream}",
            f"$JS.API.STREAM.UPDATE.{stream}",
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.MSG.GET.{stream}",
        ]
    # The operator CLI asks every service for its health, reads and deletes dead letters, and
    # replays one by publishing it again on its own subject.
    publish.append(names.subject(system.RPC_HEALTH.format(service="*")))
    publish.append(f"$JS.API.STREAM.MSG.DELETE.{names.stream('DLQ')}")
    publish.extend(
        sorted({names.subject(_pattern(s)) for bus in CATALOGUE.values() for s in bus.publishes})
    )
    return {"publish": {"allow": sorted(set(publish))}, "subscribe": {"allow": [INBOX]}}


def users(passwords: dict[str, str], names: BusNames) -> list[dict[str, Any]]:
    """nats-server `authorization.users` entries: one per service plus the operator."""
    entries = []
    for user, password in sorted(passwords.items()):
        perms = operator_permissions(names) if user == OPERATOR else permissions_for(user, names)
        entries.append({"user": user, "password": password, "permissions": perms})
    return entries


def render_authorization(passwords: dict[str, str], names: BusNames) -> str:
    """The `authorization { ... }` block of a nats-server config (JSON is valid NATS config)."""
    return "authorization: " + json.dumps({"users": users(passwords, names)}, indent=2) + "\n"
