"""The whole product on one machine: real NATS + PostgreSQL, the four services as processes,
the local AWS stand-in with the simulated company, the local LLM and the local Slack.

Used by `cloudaudit demo` and by the end-to-end, crash and load tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from cloudaudit.common.bus import BusNames, BusUnavailable, create_streams, make_broker, rpc
from cloudaudit.common.clock import utcnow
from cloudaudit.common.embedded import free_port, port_open
from cloudaudit.common.events.system import RPC_HEALTH, HealthReply
from cloudaudit.common.logging import register_secret, share_logs_for_scan
from cloudaudit.common.migrations import migrate_services
from cloudaudit.common.runtime import Endpoints
from cloudaudit.common.service import discover_services
from cloudaudit.common.supervisor import LineSink, Supervisor
from cloudaudit.demo import llm_standin
from cloudaudit.demo.aws import enforce_iam, make_ids_stable, seed
from cloudaudit.demo.company import ResourceIds, Scenario

T = TypeVar("T")
SIGNING_SECRET = "demo-signing-secret-0123456789"  # noqa: S105 - only the local Slack knows it
HEALTH_TIMEOUT_S = 90
# What the stand-ins and the services share that must never appear in a log line.
SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")


class _LoopThread:
    """An asyncio loop in a thread, for the local stand-in servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


PORT_NAMES = ("identity", "identity_api", "ingest", "analytics", "bot_health", "bot_http")


def demo_ports(chosen: dict[str, int]) -> dict[str, int]:
    """The HTTP ports: the ones chosen (e.g. exported `INGEST_HTTP_PORT`), free ones for the rest."""
    return {name: chosen.get(name) or free_port() for name in PORT_NAMES}


def exported_ports(settings: Any) -> dict[str, int]:
    """The `*_HTTP_PORT` / `IDENTITY_API_PORT` / `BOT_HEALTH_PORT` values set in the environment
    (not defaults)."""
    fields = {
        "identity": "identity_http_port",
        "identity_api": "identity_api_port",
        "ingest": "ingest_http_port",
        "analytics": "analytics_http_port",
        "bot_health": "bot_health_port",
    }
    return {
        name: int(getattr(settings, field))
        for name, field in fields.items()
        if field in settings.model_fields_set
    }


@dataclass
class ProductStack:
    endpoints: Endpoints
    state_dir: Path
    bus_prefix: str = ""
    scenario: Scenario = field(default_factory=lambda: Scenario(end=utcnow().date()))
    sink: LineSink | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = ("identity", "ingest", "analytics", "bot")
    aws_url: str = ""
    llm_url: str = ""
    slack: Any = None
    ids: ResourceIds | None = None
    ports: dict[str, int] = field(default_factory=dict)
    # The demo checks IAM as AWS does (a role that does not exist is refused); tests that
    # drive the stand-in with their own keys leave it open.
    enforce_aws_iam: bool = False
    aws_keys: tuple[str, str] = ("cloudaudit-demo", "cloudaudit-demo-secret")
    supervisor: Supervisor | None = None
    _moto: Any = None
    _loop: _LoopThread | None = None
    _llm_runner: web.AppRunner | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, progress: Callable[[str], None] = lambda _: None) -> None:
        progress("applying migrations")
        self._migrate()
        progress("starting the AWS stand-in and seeding the simulated company")
        self._start_aws()
        progress("starting the local LLM and the local Slack")
        self._loop = _LoopThread()
        self.llm_url = self._loop.run(self._start_llm())
        self.slack = self._loop.run(self._start_slack())
        progress(f"starting {', '.join(self.services)} as separate processes")
        env = self.service_env()
        for name in SECRET_ENV:
            register_secret(env.get(name))
        self.supervisor = Supervisor(
            env,
            self.state_dir / "logs",
            self.sink,
            env_for=self.endpoints.service_env,
        )
        share_logs_for_scan(self.state_dir / "logs", "stack")
        specs = discover_services()
        for name in self.services:
            self.supervisor.start(specs[name])
        self.wait_healthy(list(self.services))

    def stop(self) -> None:
        if self.supervisor:
            self.supervisor.stop()
        if self._loop:
            with contextlib.suppress(Exception):
                self._loop.run(self._stop_standins(), timeout=10)
            self._loop.stop()
        if self._moto:
            self._moto.terminate()
            self._moto.wait(10)

    def restart(self, service: str) -> None:
        """Start a service again (after a crash test killed it)."""
        assert self.supervisor is not None
        self.supervisor.start(discover_services()[service])
        self.wait_healthy([service])

    # -- environment ----------------------------------------------------------------------------
    def urls(self) -> list[tuple[str, str]]:
        """Every address a person may open while the demo runs, as (what, URL)."""
        shown = [
            (f"{name} health", f"http://127.0.0.1:{self.ports[name]}/healthz")
            for name in ("identity", "ingest", "analytics")
            if name in self.services and name in self.ports
        ]
        if "identity" in self.services and "identity_api" in self.ports:
            shown.append(
                (
                    "identity API (sign-up, log-in)",
                    f"http://127.0.0.1:{self.ports['identity_api']}/api/v1",
                )
            )
        if self.slack is not None:
            shown.append(("local Slack Web API", str(self.slack.api_url)))
        if self.aws_url:
            shown.append(("AWS stand-in", self.aws_url))
        if self.llm_url:
            shown.append(("local LLM (OpenAI-compatible)", self.llm_url + "/v1"))
        return shown

    def service_env(self) -> dict[str, str]:
        self.ports = demo_ports(self.ports)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLACK_", "OPENAI_"))
        }
        env.update(
            {
                "DATABASE_URL": self.endpoints.database_url,
                "NATS_URL": self.endpoints.nats_url,
                "CLOUDAUDIT_BUS_PREFIX": self.bus_prefix,
                "CLOUDAUDIT_STATE_DIR": str(self.state_dir),
                "CLOUDAUDIT_LOG_FORMAT": env.get("CLOUDAUDIT_LOG_FORMAT", "json"),
                "IDENTITY_HTTP_PORT": str(self.ports["identity"]),
                "IDENTITY_API_PORT": str(self.ports["identity_api"]),
                "INGEST_HTTP_PORT": str(self.ports["ingest"]),
                "ANALYTICS_HTTP_PORT": str(self.ports["analytics"]),
                "BOT_HEALTH_PORT": str(self.ports["bot_health"]),
                "BOT_HTTP_PORT": str(self.ports["bot_http"]),
                "CLOUDAUDIT_HTTP_HOST": "127.0.0.1",
                # AWS: CloudAudit's own principal on the local stand-in.
                "AWS_ENDPOINT_URL": self.aws_url,
                "AWS_ACCESS_KEY_ID": self.aws_keys[0],
                "AWS_SECRET_ACCESS_KEY": self.aws_keys[1],
                "AWS_REGION": "us-east-1",
                "INGEST_INITIAL_SYNC_DAYS": str(self.scenario.days),
                # LLM and Slack stand-ins.
                "OPENAI_BASE_URL": self.llm_url + "/v1",
                "OPENAI_API_KEY": "sk-demo-local-0000000000",
                "SLACK_API_URL": self.slack.api_url if self.slack else "",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": _slack_token(),
            }
        )
        env.update(self.extra_env)
        return env

    # -- parts ----------------------------------------------------------------------------------
    def _migrate(self) -> None:
        async def go() -> None:
            await migrate_services(
                discover_services().values(),
                self.endpoints.database_url,
                self.endpoints.database_roles,
            )
            await create_streams(self.endpoints, BusNames(self.bus_prefix))

        asyncio.run(go())

    def _start_aws(self) -> None:
        """The AWS stand-in runs as its own process (like AWS, it is not part of CloudAudit)."""
        port = free_port()
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / "aws-standin.log").open("ab") as log_file:
            self._moto = subprocess.Popen(  # noqa: S603 - our interpreter, the stand-in module
                [sys.executable, "-m", "cloudaudit.demo.standin_server", "-p", str(port)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while not port_open(port):
            if self._moto.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the AWS stand-in did not start; see {logs / 'aws-standin.log'}"
                )
            time.sleep(0.1)
        self.aws_url = f"http://127.0.0.1:{port}"
        make_ids_stable(self.aws_url)
        self.ids = seed(self.aws_url, self.scenario)
        if self.enforce_aws_iam:
            self.aws_keys = enforce_iam(self.aws_url)

    async def _start_llm(self) -> str:
        self._llm_runner = web.AppRunner(llm_standin.make_app(), access_log=None)
        await self._llm_runner.setup()
        site = web.TCPSite(self._llm_runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def _start_slack(self) -> Any:
        from cloudaudit.bot.localslack import LocalSlack

        slack = LocalSlack(files_dir=self.state_dir / "slack-files")
        await slack.start()
        return slack

    async def _stop_standins(self) -> None:
        if self._llm_runner:
            await self._llm_runner.cleanup()
        if self.slack:
            await self.slack.stop()

    # -- bus access -----------------------------------------------------------------------------
    async def request(
        self,
        subject: str,
        request: Any,
        reply_type: type[T],
        timeout: float = 30,
        as_operator: bool = False,
    ) -> T:
        """Ask over the bus as the Slack edge does (the bot's bus user), or as the operator
        (health, what `cloudaudit status` asks)."""
        names = BusNames(self.bus_prefix)
        url = self.endpoints.nats_url if as_operator else self.endpoints.nats_url_for("bot")
        broker = make_broker(url, names, "demo", 3, access=self.endpoints.bus_access)
        await broker.connect()
        try:
            return await rpc(broker, names, subject, request, reply_type, timeout)  # type: ignore[type-var]
        finally:
            await broker.stop()

    def wait_healthy(self, services: list[str] | None = None) -> None:
        wanted = services or list(self.services)
        deadline = time.monotonic() + HEALTH_TIMEOUT_S

        async def healthy(name: str) -> bool:
            try:
                reply = await self.request(
                    RPC_HEALTH.format(service=name), {}, HealthReply, 2, as_operator=True
                )
                return reply.healthy
            except BusUnavailable:
                return False

        while time.monotonic() < deadline:
            if self.supervisor:
                dead = [n for n, _ in self.supervisor.exited() if n in wanted]
                if dead:
                    raise RuntimeError(f"{', '.join(dead)} exited; see {self.state_dir / 'logs'}")
            if all(asyncio.run(healthy(n)) for n in wanted):
                return
            time.sleep(0.3)  # polling separate processes; there is no event to wait on
        raise RuntimeError(
            f"services not healthy within {HEALTH_TIMEOUT_S}s; see {self.state_dir / 'logs'}"
        )


def _slack_token() -> str:
    from cloudaudit.bot.localslack import DEFAULT_TOKEN

    return DEFAULT_TOKEN
