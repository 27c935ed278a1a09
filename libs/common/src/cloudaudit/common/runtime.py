"""One service process: bus, database, health/metrics HTTP, background loops, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cloudaudit.common import __version__
from cloudaudit.common.bus import (
    DUPLICATE_WINDOW_S,
    BusNames,
    ensure_streams,
    make_broker,
    publish_raw,
    subscribe_durable,
)
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import (
    delete_team_rows,
    make_engine,
    outbox_lag_s,
    prune_outbox,
    relay_outbox,
)
from cloudaudit.common.events.system import RPC_HEALTH, HealthReply
from cloudaudit.common.events.team import TEAM_DELETED, TeamDeleted
from cloudaudit.common.infra import Endpoints
from cloudaudit.common.metrics import EVENT_LOOP_LAG_SECONDS, OUTBOX_LAG_SECONDS
from cloudaudit.common.service import ServiceSpec
from cloudaudit.common.settings import CommonSettings
from faststream.nats import NatsBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)
LOOP_LAG_TICK_S = 0.1

BUS_WATCH_INTERVAL_S = 1.0
OUTBOX_RELAY_INTERVAL_S = 2.0
OUTBOX_PRUNE_EVERY_S = 10 * 60


HealthCheck = Callable[[], Awaitable[str]]


@dataclass
class ServiceRuntime:
    """Everything a service's build() needs; tests build one in-process against real servers."""

    spec: ServiceSpec
    settings: CommonSettings
    endpoints: Endpoints
    http_port: int
    http_host: str = "127.0.0.1"
    api_port: int | None = None
    names: BusNames = field(init=False)
    broker: NatsBroker = field(init=False)
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    http: web.Application = field(init=False)  # internal: /healthz, /readyz, /metrics
    api: web.Application = field(init=False)  # public (identity's), served on api_port
    started_at: Any = field(init=False)
    notes: list[str] = field(default_factory=list)
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    _background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    _on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _api_runner: web.AppRunner | None = None
    _outbox: Any = None
    bound_port: int | None = None
    bound_api_port: int | None = None
    # Why the service stopped serving on its own (the bus connection closed for good), if it did.
    failure: str | None = None
    _stop: asyncio.Event | None = None

    def __post_init__(self) -> None:
        self.names = BusNames(self.settings.bus_prefix)
        self.broker = make_broker(
            self.endpoints.nats_url,
            self.names,
            self.spec.name,
            self.settings.max_deliveries,
            self.settings.transient_retry_for_s,
            access=self.endpoints.bus_access,
        )
        self.engine = make_engine(self.endpoints.database_url, schema=self.spec.schema)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.http = web.Application(client_max_size=1024 * 1024)
        self.http.router.add_get("/healthz", self._healthz)
        self.http.router.add_get("/readyz", self._readyz)
        self.http.router.add_get("/metrics", self._metrics)
        self.api = web.Application(client_max_size=1024 * 1024)
        self.started_at = utcnow()
        self.health_checks["database"] = self._check_database
        self.health_checks["nats"] = self._check_nats
        self.broker.subscriber(
            self.names.subject(RPC_HEALTH.format(service=self.spec.name)),
            include_in_schema=False,
        )(self._health_rpc)

    # -- registration (called from a service's build) -----------------------------------------
    def background(self, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._background.append(loop)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(hook)

    def document_publisher(self, subject: str, model: type[Any], description: str) -> None:
        """Declare an event this service publishes, so the AsyncAPI document lists it."""
        self.broker.publisher(
            self.names.subject(subject),
            schema=model,
            title=f"{self.spec.name}:{subject}",
            description=description,
        )

    def use_outbox(self, table: Any) -> None:
        """Relay events a crash left unpublished in this service's outbox; not ready while
        the oldest of them waits longer than CLOUDAUDIT_OUTBOX_MAX_LAG_S."""
        self._outbox = table
        self.background(self._relay_loop)
        self.health_checks["outbox"] = self._check_outbox

    def forget_deleted_teams(self, metadata: Any) -> None:
        """When identity announces a team deleted (its offboarding period over), delete every
        row of that team in this service's schema (`delete_team_rows`)."""

        @subscribe_durable(
            self.broker,
            self.names,
            TEAM_DELETED,
            f"{self.spec.name}-team-deleted",
            title=f"{self.spec.name}.team_deleted",
        )
        async def on_team_deleted(event: TeamDeleted) -> None:
            """Delete the team's rows here (idempotent)."""
            counts = await delete_team_rows(self.sessions, metadata, event.team_id)
            log.info(
                "team data deleted",
                extra={"team_id": str(event.team_id), "rows": sum(counts.values())},
            )

    async def publish_outboxed(self, subject: str, event_id: str, payload: dict[str, Any]) -> None:
        await publish_raw(self.broker, self.names, subject, event_id, payload)

    async def _watch_loop_lag(self) -> None:
        """How late the event loop wakes from a 100 ms sleep: the wait every message, request
        and probe of this service shares (`cloudaudit_event_loop_lag_seconds`)."""
        clock = asyncio.get_running_loop().time
        lag = EVENT_LOOP_LAG_SECONDS.labels(self.spec.name)
        while True:
            due = clock() + LOOP_LAG_TICK_S
            await asyncio.sleep(LOOP_LAG_TICK_S)
            lag.observe(max(0.0, clock() - due))

    # -- health --------------------------------------------------------------------------------
    async def _check_database(self) -> str:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "ok"

    async def _check_outbox(self) -> str:
        lag = await outbox_lag_s(self.sessions, self._outbox)
        OUTBOX_LAG_SECONDS.labels(self.spec.name).set(lag)
        limit = self.settings.outbox_max_lag_s
        if lag > limit:
            return (
                f"stalled: the oldest unpublished event is {lag:.0f}s old (limit {limit:g}s, "
                "CLOUDAUDIT_OUTBOX_MAX_LAG_S); check NATS and `cloudaudit outbox list`"
            )
        return "ok"

    async def _check_nats(self) -> str:
        connected = self.broker.config.connection_state.connection.is_connected
        return "ok" if connected else "disconnected"

    async def health(self) -> HealthReply:
        checks: dict[str, str] = {}
        for name, check in self.health_checks.items():
            try:
                checks[name] = await asyncio.wait_for(check(), timeout=2.0)
            except Exception as exc:
                checks[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
        return HealthReply(
            service=self.spec.name,
            healthy=all(v == "ok" for v in checks.values()),
            version=__version__,
            started_at=self.started_at,
            checks=checks,
            notes=self.notes,
        )

    async def _health_rpc(self, body: dict[str, Any] | None = None) -> HealthReply:
        return await self.health()

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.failure is not None:  # alive but useless: let the orchestrator restart it
            return web.json_response(
                {"service": self.spec.name, "status": "failed", "reason": self.failure},
                status=503,
            )
        return web.json_response({"service": self.spec.name, "status": "alive"})

    async def _watch_bus(self) -> None:
        """The NATS client stops reconnecting for good after some errors: an authorization
        violation while reconnecting (credentials revoked, or a rotation finished that this
        process could not follow), or a protocol error. The connection is then closed, not
        reconnecting, and the process would live on doing nothing. It stops instead, with a
        non-zero exit, so its supervisor (Kubernetes, compose, `cloudaudit up`) starts it again
        with the credentials on disk; /healthz answers 503 meanwhile."""
        while True:
            await asyncio.sleep(BUS_WATCH_INTERVAL_S)
            connection = self.broker.config.connection_state.connection
            if not connection.is_closed:
                continue
            error = connection.last_error
            cause = f"{type(error).__name__}: {error}"[:200] if error else "closed"
            self.failure = (
                f"the bus connection was closed for good ({cause}); check this service's "
                "NATS credentials (`cloudaudit creds status`) and restart it"
            )
            log.error(
                "bus connection closed for good; stopping so the supervisor restarts this service",
                extra={"service": self.spec.name, "error": cause},
            )
            if self._stop is not None:
                self._stop.set()
            return

    async def _readyz(self, request: web.Request) -> web.Response:
        reply = await self.health()
        return web.json_response(
            reply.model_dump(mode="json"), status=200 if reply.healthy else 503
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    # -- lifecycle -----------------------------------------------------------------------------
    async def _relay_loop(self) -> None:
        pruned_at = time.monotonic()
        while True:
            try:
                sent = await relay_outbox(self.sessions, self._outbox, self.publish_outboxed)
                if sent:
                    log.info("outbox relay published events", extra={"count": sent})
                if time.monotonic() - pruned_at > OUTBOX_PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    await prune_outbox(self.sessions, self._outbox, DUPLICATE_WINDOW_S)
            except Exception as exc:
                log.warning("outbox relay failed; will retry", extra={"error": str(exc)[:300]})
            await asyncio.sleep(OUTBOX_RELAY_INTERVAL_S)

    async def start(self) -> None:
        t0 = time.monotonic()
        await self.broker.connect()
        if self.settings.create_streams and not self.endpoints.locked:
            await ensure_streams(self.broker, self.names, self.settings.stream_replicas)
        await self.broker.start()
        self._runner, self.bound_port = await self._serve(self.http, self.http_port)
        if self.api_port is not None and self.api.router.routes():
            self._api_runner, self.bound_api_port = await self._serve(self.api, self.api_port)
        for loop in (*self._background, self._watch_loop_lag, self._watch_bus):
            self._tasks.append(asyncio.create_task(loop()))
        log.info(
            "service started",
            extra={
                "service": self.spec.name,
                "http_port": self.bound_port,
                "api_port": self.bound_api_port,
                "http_host": self.http_host,
                "startup_ms": round((time.monotonic() - t0) * 1000),
            },
        )

    async def _serve(self, app: web.Application, port: int) -> tuple[web.AppRunner, int]:
        """Serve `app` on the runtime's bind host; returns its runner and the bound port."""
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.http_host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        return runner, sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for hook in self._on_stop:
            with contextlib.suppress(Exception):
                await hook()
        try:
            await self.broker.stop()
        except Exception as exc:
            # The bus went away first (a NATS node restarting or gone): nothing is left to
            # drain, and the HTTP listeners and the database pool must still be closed.
            log.warning(
                "bus connection not closed cleanly", extra={"error": f"{type(exc).__name__}"}
            )
        for runner in (self._api_runner, self._runner):
            if runner is not None:
                await runner.cleanup()
        await self.engine.dispose()
        log.info("service stopped", extra={"service": self.spec.name})

    async def serve_forever(self) -> bool:
        """Serve until SIGINT/SIGTERM (True) or until the service cannot go on (False, with
        `failure` saying why)."""
        stop = self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await self.stop()
        return self.failure is None


def build_runtime(
    spec: ServiceSpec,
    settings: CommonSettings,
    endpoints: Endpoints,
    http_port: int | None = None,
    api_port: int | None = None,
) -> ServiceRuntime:
    """A service's runtime; HTTP binds `settings.http_host`. Ports of 0 pick free ones (tests)."""
    runtime = ServiceRuntime(
        spec=spec,
        settings=settings,
        endpoints=endpoints.for_service(spec.name),
        http_port=spec.default_http_port if http_port is None else http_port,
        http_host=settings.http_host,
        api_port=settings.api_port_for(spec.name) if api_port is None else api_port,
    )
    spec.load(spec.build)(runtime)
    return runtime
