"""The bus: broker factory, JetStream streams (declared here, once), reliable consumption, RPC.

Reliability contract for every JetStream consumer:
- a handler acks only after it returns, i.e. after its database transaction committed;
- a failure is retried with exponential back-off (NAK with delay);
- after `max_deliveries` attempts, or at once for a message that can never parse, the message
  is dead-lettered to `dlq.v1.<subject>` with its error, and terminated so the consumer moves on;
- a failure because NATS or PostgreSQL is unreachable or in trouble (restart, failover, disk
  full, deadlock, statement timeout) is the infrastructure's, not the message's: retried with
  capped back-off without counting towards `max_deliveries`, for up to
  `transient_retry_for_s` (1 hour by default) of the message's age, then dead-lettered with
  that reason;
- a handler that runs long tells JetStream it is still working (`in_progress`), so a slow AWS
  or LLM call is never redelivered to another worker while it runs;
- publishers set `Nats-Msg-Id` = event_id, so JetStream drops duplicates within its window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cloudaudit.common.bus_connect import GuardedBroker
from cloudaudit.common.bus_tls import BusAccess
from cloudaudit.common.clock import utcnow, wall_now
from cloudaudit.common.db import is_transient_db_error
from cloudaudit.common.events.base import Event, caused_by_current
from cloudaudit.common.events.dead_letter import DeadLetter
from cloudaudit.common.logging import bus_context
from cloudaudit.common.metrics import DEAD_LETTERS, HANDLER_SECONDS, MESSAGES, REDELIVERIES
from faststream import BaseMiddleware
from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from nats.errors import (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NoRespondersError,
    NoServersError,
    StaleConnectionError,
)
from nats.errors import TimeoutError as NatsTimeoutError

if TYPE_CHECKING:
    from cloudaudit.common.infra import Endpoints
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType
from nats.js.errors import BadRequestError, ServiceUnavailableError
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

# JetStream drops a re-published event_id inside this window (outbox relays retry well within it).
DUPLICATE_WINDOW_S = 2 * 60 * 60
ACK_WAIT_S = 60
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 60.0
RPC_TIMEOUT_S = 5.0
# Messages a consumer handles at once. Each fetch asks for one message so it returns the moment
# one arrives: nats-py's fetch(batch=n) on an idle consumer holds the first message until n have
# come or the timeout ends (a lone alert waited up to PULL_TIMEOUT_S); concurrency comes from
# workers instead.
CONSUMER_WORKERS = 16
MSG_ID_HEADER = "Nats-Msg-Id"
CORRELATION_HEADER = "Cloudaudit-Correlation-Id"
PULL_TIMEOUT_S = 5.0

# Streams and the subjects they capture. Request/reply subjects are always
# `<service>.v1.rpc.*`, a domain no stream captures, so a request is never swallowed by a stream.
STREAMS: dict[str, list[str]] = {
    "AUDIT": ["audit.v1.>"],
    "IDENTITY": ["identity.v1.member.>", "identity.v1.team.>"],
    "ACCOUNT": ["account.v1.>"],
    "COST": ["cost.v1.>", "cost.v2.>"],
    "ANOMALY": ["anomaly.v1.>"],
    "RECOMMENDATION": ["recommendation.v1.>"],
    "DLQ": ["dlq.v1.>"],
}
# Streams are bounded by age: events are kept long enough for a consumer that was down over a
# long weekend to catch up, dead letters long enough for someone to look at them. Size is
# bounded by the server's JetStream store limit, not per stream: JetStream reserves a stream's
# max_bytes up front, so per-stream sizes would exhaust a shared server's store.
EVENT_MAX_AGE_S = 14 * 24 * 60 * 60
DLQ_MAX_AGE_S = 30 * 24 * 60 * 60


def stream_for(subject: str) -> str:
    """The stream that captures an event subject (without prefix)."""
    domain = subject.split(".", 1)[0]
    for name, patterns in STREAMS.items():
        if any(p.split(".", 1)[0] == domain for p in patterns):
            return name
    raise ValueError(f"no JetStream stream captures subject {subject!r}; declare it in STREAMS")


@dataclass(frozen=True)
class BusNames:
    """Subjects and stream names under an optional deployment/test prefix."""

    prefix: str = ""

    def subject(self, subject: str) -> str:
        return f"{self.prefix}.{subject}" if self.prefix else subject

    def stream(self, name: str) -> str:
        return f"{self.prefix.upper().replace('-', '_')}_{name}" if self.prefix else name

    def jstream(self, name: str) -> JStream:
        return JStream(self.stream(name), declare=False)

    def unprefixed(self, subject: str) -> str:
        if self.prefix and subject.startswith(self.prefix + "."):
            return subject[len(self.prefix) + 1 :]
        return subject


class BusUnavailable(Exception):
    """A service did not answer; the message says which and what to check."""


# NATS or PostgreSQL away or in trouble is not the message's fault: a handler failing for that
# is retried at least this often until they are back, for up to TRANSIENT_RETRY_FOR_S.
TRANSIENT_RETRY_MAX_S = 5.0
TRANSIENT_RETRY_FOR_S = 60 * 60
# A running handler tells JetStream it is alive this often (well inside ACK_WAIT_S).
IN_PROGRESS_EVERY_S = ACK_WAIT_S / 4
_BUS_DOWN = (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NoServersError,
    StaleConnectionError,
    NatsTimeoutError,
    NoRespondersError,
    ServiceUnavailableError,
    BusUnavailable,
)


def is_transient(exc: BaseException) -> bool:
    """The failure is the infrastructure's (bus or database unreachable or in trouble), not
    the message's."""
    return is_transient_db_error(exc) or _caused_by(exc, _BUS_DOWN)


def _caused_by(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """`exc`, or what caused it (ten links at most), is one of `kinds`."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, kinds):
            return True
        current = current.__cause__ or current.__context__
    return False


_DISCONNECTED = (
    ConnectionClosedError,
    ConnectionReconnectingError,
    NoServersError,
    StaleConnectionError,
)


def is_disconnected(exc: BaseException) -> bool:
    """The client has no connection to NATS at all (as opposed to one subject failing)."""
    return _caused_by(exc, _DISCONNECTED)


def backoff_delay(deliveries: int) -> float:
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2 ** max(0, deliveries - 1))))


class ReliableConsumer:
    """Broker middleware factory: retries with back-off, then dead-letters with the error."""

    def __init__(
        self,
        names: BusNames,
        max_deliveries: int,
        transient_retry_for_s: float = TRANSIENT_RETRY_FOR_S,
    ) -> None:
        self.names = names
        self.max_deliveries = max_deliveries
        self.transient_retry_for_s = transient_retry_for_s
        self.broker: NatsBroker | None = None

    def __call__(self, msg: Any, /, *, context: Any) -> _ReliableScope:
        return _ReliableScope(msg, context=context, factory=self)


_POISON = (ValidationError, json.JSONDecodeError, UnicodeDecodeError)


class _ReliableScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: Any, factory: ReliableConsumer) -> None:
        super().__init__(msg, context=context)
        self.factory = factory

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        raw = msg.raw_message
        event_id, correlation_id = _message_ids(raw)
        with bus_context(self.factory.names.unprefixed(raw.subject), event_id, correlation_id):
            return await self._consume(call_next, msg, raw)

    async def _consume(self, call_next: Any, msg: Any, raw: Any) -> Any:
        try:
            metadata = raw.metadata
        except Exception:  # core NATS message (request/reply): no JetStream bookkeeping
            return await call_next(msg)
        subject = self.factory.names.unprefixed(raw.subject)
        deliveries = metadata.num_delivered or 1
        if deliveries > 1:
            REDELIVERIES.labels(subject).inc()
        started = time.perf_counter()
        heartbeat = asyncio.create_task(_keep_in_progress(raw))
        try:
            result = await call_next(msg)
            MESSAGES.labels(subject, "ok").inc()
            return result
        except (AckMessage, NackMessage, RejectMessage):
            raise
        except Exception as exc:
            MESSAGES.labels(subject, "error").inc()
            transient = is_transient(exc)
            delay = self._retry_in(metadata, deliveries, exc, transient)
            if delay is None:
                DEAD_LETTERS.labels(subject).inc()
                await self._dead_letter(raw, metadata, deliveries, exc)
                raise RejectMessage() from exc
            log.warning(
                "handler failed, will retry",
                extra={
                    "subject": raw.subject,
                    "deliveries": deliveries,
                    "retry_in_s": delay,
                    "transient": transient,
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                },
            )
            raise NackMessage(delay=delay) from exc
        finally:
            heartbeat.cancel()
            HANDLER_SECONDS.labels(subject).observe(time.perf_counter() - started)

    def _retry_in(
        self, metadata: Any, deliveries: int, exc: Exception, transient: bool
    ) -> float | None:
        """Seconds until the next attempt, or None to dead-letter now. A transient failure does
        not count towards max_deliveries: only the message's age ends its retries."""
        if transient:
            age_s = _age_s(metadata)
            if age_s is not None and age_s > self.factory.transient_retry_for_s:
                exc.add_note(
                    f"the database or bus stayed unavailable for {age_s:.0f}s, longer than "
                    f"CLOUDAUDIT_TRANSIENT_RETRY_FOR_S={self.factory.transient_retry_for_s:g}; "
                    "replay it with `cloudaudit dlq replay` once the cause is fixed"
                )
                return None
            return min(backoff_delay(deliveries), TRANSIENT_RETRY_MAX_S)
        if isinstance(exc, _POISON) or deliveries >= self.factory.max_deliveries:
            return None
        return backoff_delay(deliveries)

    async def _dead_letter(self, raw: Any, metadata: Any, deliveries: int, exc: Exception) -> None:
        broker = self.factory.broker
        names = self.factory.names
        original = names.unprefixed(raw.subject)
        record = DeadLetter(
            original_subject=original,
            consumer=str(metadata.consumer),
            deliveries=deliveries,
            error_type=type(exc).__name__,
            error="\n".join([str(exc), *getattr(exc, "__notes__", [])])[:4000],
            failed_at=utcnow(),
            payload=raw.data.decode("utf-8", errors="replace"),
            message_id=(raw.headers or {}).get(MSG_ID_HEADER),
        )
        log.error(
            "message dead-lettered",
            extra={
                "subject": original,
                "consumer": record.consumer,
                "deliveries": deliveries,
                "error": record.error[:500],
            },
        )
        if broker is not None:
            await broker.publish(
                record,
                names.subject(f"dlq.v1.{original}"),
                stream=names.stream("DLQ"),
            )


async def _keep_in_progress(raw: Any) -> None:
    """Reset the ack timer while the handler runs; JetStream would redeliver it otherwise."""
    while True:
        await asyncio.sleep(IN_PROGRESS_EVERY_S)
        with contextlib.suppress(Exception):  # the handler's own ack or nak decides the outcome
            await raw.in_progress()


def _age_s(metadata: Any) -> float | None:
    """How long ago the stream received the message (None if it does not say)."""
    stamped = getattr(metadata, "timestamp", None)
    if stamped is None:
        return None
    return (wall_now() - stamped).total_seconds()


def _message_ids(raw: Any) -> tuple[str | None, str | None]:
    """(event_id, correlation_id) of a message, for its log lines; never fails. Our publishers
    put both in headers; only a message without them has its body read."""
    headers = getattr(raw, "headers", None) or {}
    event_id = headers.get(MSG_ID_HEADER)
    if event_id:
        return _text(event_id), _text(headers.get(CORRELATION_HEADER))
    correlation_id = None
    try:
        body = json.loads(raw.data) if raw.data and raw.data[:1] == b"{" else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        event_id = event_id or _text(body.get("event_id"))
        correlation_id = _text(body.get("correlation_id"))
    return event_id, correlation_id


def _text(value: object) -> str | None:
    return value[:64] if isinstance(value, str) and value else None


def make_broker(
    nats_url: str,
    names: BusNames,
    service: str,
    max_deliveries: int,
    transient_retry_for_s: float = TRANSIENT_RETRY_FOR_S,
    access: BusAccess | None = None,
) -> NatsBroker:
    """The broker of one process. `access` (`Endpoints.bus_access`) gives TLS (the server's
    certificate verified against NATS_CA_FILE, no plaintext fallback) and the directory its
    rotated credentials are re-read from at each reconnection."""
    reliable = ReliableConsumer(names, max_deliveries, transient_retry_for_s)
    broker = GuardedBroker(
        nats_url,
        access or BusAccess(),
        name=f"cloudaudit-{service}",
        middlewares=[reliable],
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        graceful_timeout=10.0,
        logger=logging.getLogger(f"cloudaudit.{service}.bus"),
        log_level=logging.DEBUG,
        description=f"CloudAudit {service} service",
    )
    reliable.broker = broker
    return broker


async def ensure_streams(broker: NatsBroker, names: BusNames, replicas: int = 1) -> None:
    """Create or update every stream (idempotent; safe from many replicas at once)."""
    js = broker.config.connection_state.stream
    for name, subjects in STREAMS.items():
        kwargs: dict[str, Any] = {
            "name": names.stream(name),
            "subjects": [names.subject(s) for s in subjects],
            "storage": StorageType.FILE,
            "duplicate_window": DUPLICATE_WINDOW_S,
            "num_replicas": replicas,
            "max_age": DLQ_MAX_AGE_S if name == "DLQ" else EVENT_MAX_AGE_S,
        }
        try:
            await js.add_stream(**kwargs)
        except BadRequestError:
            await js.update_stream(**kwargs)


async def create_streams(endpoints: Endpoints, names: BusNames, replicas: int = 1) -> bool:
    """On a locked-down bus, where only the operator may manage streams: every stream created
    or updated as the operator, before a service starts (`cloudaudit migrate`, `up`, `run`,
    the demo, the Slack console). Elsewhere each service does it at start; returns whether
    this call did."""
    if not endpoints.locked:
        return False
    broker = make_broker(endpoints.nats_url, names, "operator", 1, access=endpoints.bus_access)
    await broker.connect()
    try:
        await ensure_streams(broker, names, replicas)
    finally:
        await broker.stop()
    return True


def durable_config(durable: str, deliver_all: bool = True) -> ConsumerConfig:
    """Consumer settings every JetStream subscriber uses. Our middleware owns redelivery limits."""
    return ConsumerConfig(
        durable_name=durable,
        ack_wait=ACK_WAIT_S,
        max_deliver=-1,
        deliver_policy=DeliverPolicy.ALL if deliver_all else DeliverPolicy.NEW,
    )


def subscribe_durable(
    broker: NatsBroker, names: BusNames, subject: str, durable: str, **kwargs: Any
) -> Any:
    """Decorator: a durable JetStream consumer shared by all replicas of a service."""
    return broker.subscriber(
        names.subject(subject),
        stream=names.jstream(stream_for(subject)),
        durable=durable,
        config=durable_config(durable),
        deliver_policy=DeliverPolicy.ALL,
        # A pull consumer: every replica of the service fetches from the same durable.
        pull_sub=PullSub(batch_size=1, timeout=PULL_TIMEOUT_S),
        max_workers=CONSUMER_WORKERS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        **kwargs,
    )


async def publish_event(broker: NatsBroker, names: BusNames, subject: str, event: Event) -> None:
    """Publish to JetStream and wait for the stream's ack; event_id dedupes re-publishes.

    Published while handling another event, it is linked to it (causation/correlation ids)."""
    event = caused_by_current(event)
    await broker.publish(
        event,
        names.subject(subject),
        stream=names.stream(stream_for(subject)),
        headers=_headers(str(event.event_id), event.correlation_id),
    )


async def publish_raw(
    broker: NatsBroker, names: BusNames, subject: str, event_id: str, payload: dict[str, Any]
) -> None:
    """Publish an already-serialised event (from an outbox row)."""
    await broker.publish(
        payload,
        names.subject(subject),
        stream=names.stream(stream_for(subject)),
        headers=_headers(event_id, payload.get("correlation_id")),
    )


def _headers(event_id: str, correlation_id: object) -> dict[str, str]:
    """JetStream dedupes on the event id; both ids let a consumer log them without parsing."""
    headers = {MSG_ID_HEADER: event_id}
    if correlation_id:
        headers[CORRELATION_HEADER] = str(correlation_id)
    return headers


R = TypeVar("R", bound=BaseModel)


async def rpc(
    broker: NatsBroker,
    names: BusNames,
    subject: str,
    request: BaseModel,
    reply_type: type[R],
    timeout: float = RPC_TIMEOUT_S,
) -> R:
    """Request/reply over core NATS with a typed answer."""
    service = subject.split(".", 1)[0]
    try:
        response = await broker.request(request, names.subject(subject), timeout=timeout)
    except (NoRespondersError, NatsTimeoutError, TimeoutError) as exc:
        raise BusUnavailable(
            f"the {service} service did not answer on {subject} within {timeout:g}s; "
            "check that it is running (`cloudaudit status`)"
        ) from exc
    return reply_type.model_validate_json(response.body)
