"""The product on the private network: NATS cluster, PostgreSQL pair, the stand-ins on the hub
(local Slack, local LLM) and two replicas of every service, started and probed in order."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import asyncpg
from aiohttp import web
from cloudaudit.common import bus_tls
from cloudaudit.common.actors import new_signing_key, public_jwks
from cloudaudit.common.bus import BusNames, ensure_streams, make_broker
from cloudaudit.common.bus_credentials import OPERATOR, BusCredentials
from cloudaudit.common.logging import register_secret
from cloudaudit.common.migrations import migrate_services
from cloudaudit.common.service import discover_services

from tests.cluster.netns import SUBNET, PrivateNetwork
from tests.cluster.postgres import DATABASE, PostgresPair
from tests.cluster.topology import Fleet, NatsCluster, NatsNode, Replica, database_credentials

T = TypeVar("T")
SIGNING_SECRET = "cluster-signing-secret-0123456789"
LLM_KEY = "sk-cluster-local-0000000000"
ALERT_WINDOW_DAYS = 16  # covers the live rounds, which may end up to a week before today
POLL_S = 0.2
PROBE_TIMEOUT_S = 2.0
NATS_READY_S = 60.0
PG_READY_S = 60.0
SERVICES_READY_S = 150.0


TRANSCRIPT: list[Path] = []  # where say() also writes (the run's scenario.log)


def say(line: str) -> None:
    """A line for the person watching, kept in the run's transcript too."""
    print(f"[cluster] {line}", flush=True)
    for path in TRANSCRIPT:
        with path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


async def until(check: Callable[[], Awaitable[T]], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; errors count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = await check()
            if result:
                return result
            last = result
        except Exception as exc:
            last = f"{type(exc).__name__}: {exc}"[:300]
        await asyncio.sleep(POLL_S)  # polling other processes: there is no event to wait on
    raise TimeoutError(f"{what}: not within {timeout:g}s (last: {last})")


async def http_get(url: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


@dataclass
class ClusterStack:
    net: PrivateNetwork
    root: Path
    prefix: str = "cluster"
    nats: NatsCluster = field(init=False)
    pg: PostgresPair = field(init=False)
    fleet: Fleet = field(init=False)
    slack: Any = None
    llm_url: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # what the start-up proved
    pg_root: Path | None = None
    _llm: web.AppRunner | None = None

    @property
    def names(self) -> BusNames:
        return BusNames(self.prefix)

    # -- NATS ---------------------------------------------------------------------------------
    async def start_nats(self) -> None:
        self.nats = NatsCluster(self.net, self.root / "nats", self.prefix)
        self.nats.build()
        for node in self.nats.nodes:
            self.nats.start(node)
        await self.nats_ready(self.nats.nodes)
        await until(self._create_streams, NATS_READY_S, "streams at replicas 3")
        self.facts["streams"] = await self.stream_replicas()
        self.facts["bus_refusals"] = await self.bus_refusals()

    async def nats_ready(self, nodes: list[NatsNode]) -> None:
        """Each node's /healthz: 200 once JetStream has its meta leader and is current."""

        async def healthy() -> bool:
            for node in nodes:
                status, _ = await http_get(f"{node.monitor_url}/healthz")
                if status != 200:
                    return False
            return True

        await until(healthy, NATS_READY_S, "NATS nodes healthy")

    async def _create_streams(self) -> bool:
        broker = make_broker(
            self.nats.operator_url, self.names, "operator", 1, access=self.nats.access
        )
        await broker.connect()
        try:
            await ensure_streams(broker, self.names, replicas=3)
        finally:
            await broker.stop()
        return True

    async def bus_refusals(self) -> dict[str, str]:
        """The cluster admits only its users, and a service user may not touch streams: what
        each attempt got back (empty when it was let through)."""
        import nats

        found: dict[str, str] = {}
        servers = [node.client_url for node in self.nats.nodes]
        try:
            context = bus_tls.client_context(self.nats.access.tls)
            client = await nats.connect(
                servers, allow_reconnect=False, connect_timeout=2, tls=context
            )
            await client.close()
            found["no credentials"] = ""
        except Exception as exc:
            found["no credentials"] = f"{type(exc).__name__}: {exc}"[:120]
        plaintext = [server.replace("tls://", "nats://") for server in servers]
        try:  # the operator's own password, but without TLS: the servers speak TLS only
            client = await nats.connect(
                BusCredentials(self.nats.root).url_for(",".join(plaintext), OPERATOR).split(","),
                allow_reconnect=False,
                connect_timeout=2,
            )
            await client.close()
            found["plaintext"] = ""
        except Exception as exc:
            found["plaintext"] = f"{type(exc).__name__}: {exc}"[:120]
        broker = make_broker(
            self.nats.url_for("bot"), self.names, "refused", 1, access=self.nats.access
        )
        await broker.connect()
        try:
            js = broker.config.connection_state.stream
            await js.add_stream(name=self.names.stream("ROGUE"), subjects=["rogue.>"])
            found["bot creates a stream"] = ""
        except Exception as exc:
            found["bot creates a stream"] = f"{type(exc).__name__}: {exc}"[:120]
        finally:
            await broker.stop()
        return found

    async def stream_info(self, stream: str) -> Any:
        broker = make_broker(
            self.nats.operator_url, self.names, "operator", 1, access=self.nats.access
        )
        await broker.connect()
        try:
            js = broker.config.connection_state.stream
            return await js.stream_info(self.names.stream(stream))
        finally:
            await broker.stop()

    async def stream_replicas(self) -> dict[str, dict[str, Any]]:
        from cloudaudit.common.bus import STREAMS

        found = {}
        for stream in STREAMS:
            info = await self.stream_info(stream)
            cluster = info.cluster
            found[stream] = {
                "replicas": info.config.num_replicas,
                "leader": cluster.leader if cluster else None,
                "peers": sorted(p.name for p in (cluster.replicas or [])) if cluster else [],
                "messages": info.state.messages,
            }
        return found

    # -- PostgreSQL ---------------------------------------------------------------------------
    async def start_postgres(self) -> None:
        # Not under pytest's tmp_path: every pytest session that starts resets
        # /tmp/pytest-of-root to 0700, and PostgreSQL's own user could no longer reach it.
        self.pg_root = Path(tempfile.mkdtemp(prefix="cloudaudit-cluster-pg-"))
        self.pg = PostgresPair(self.net, self.pg_root)
        await asyncio.to_thread(self.pg.init_primary, SUBNET)
        self.pg.start(self.pg.primary, synchronous=True)
        await until(self._primary_answers, PG_READY_S, "PostgreSQL primary up")
        await asyncio.to_thread(self.pg.base_backup)
        self.pg.start(self.pg.replica, synchronous=False)
        sync = await until(self._replica_synchronous, PG_READY_S, "replica streaming, sync")
        self.facts["replication"] = sync
        admin = await asyncpg.connect(self.pg.asyncpg_dsn("postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{DATABASE}"')  # committed on both nodes
        finally:
            await admin.close()

    async def _primary_answers(self) -> bool:
        conn = await asyncpg.connect(self.pg.asyncpg_dsn("postgres"), timeout=PROBE_TIMEOUT_S)
        await conn.close()
        return True

    async def _replica_synchronous(self) -> dict[str, str] | None:
        conn = await asyncpg.connect(self.pg.asyncpg_dsn("postgres"), timeout=PROBE_TIMEOUT_S)
        try:
            row = await conn.fetchrow(
                "SELECT application_name, client_addr::text AS client, state, sync_state "
                "FROM pg_stat_replication"
            )
        finally:
            await conn.close()
        if row and row["state"] == "streaming" and row["sync_state"] == "sync":
            return dict(row)
        return None

    async def migrate(self) -> dict[str, str]:
        """Every schema and service role, as the migrations role, over the host list; each
        service then connects as its own role."""
        roles = database_credentials(self.root / "secrets" / "db")
        owner = self.pg.owner_url()
        await migrate_services(discover_services().values(), owner, roles)
        urls = {service: roles.url_for(owner, service) for service in roles.passwords}
        for url in urls.values():
            register_secret(url)
        self.facts["roles_on_replica"] = await self._roles_on_replica(roles.prefix)
        return urls

    async def _roles_on_replica(self, prefix: str) -> list[str]:
        """The replica holds what the primary committed: the service roles, read on it."""
        replica = self.pg.replica.host.address
        dsn = (
            f"postgresql://postgres:{self.pg.superuser_password}@{replica}:5432/{DATABASE}"
            "?target_session_attrs=standby"
        )
        conn = await asyncpg.connect(dsn, timeout=PROBE_TIMEOUT_S)
        try:
            rows = await conn.fetch(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1", prefix + "%"
            )
        finally:
            await conn.close()
        return [r["rolname"] for r in rows]

    # -- stand-ins on the hub -----------------------------------------------------------------
    async def start_standins(self) -> None:
        from cloudaudit.bot.localslack import LocalSlack
        from cloudaudit.demo import llm_standin

        self.slack = LocalSlack(files_dir=self.root / "slack-files")
        await self.slack.start(host=self.net.hub)
        self._llm = web.AppRunner(llm_standin.make_app(), access_log=None)
        await self._llm.setup()
        site = web.TCPSite(self._llm, self.net.hub, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.llm_url = f"http://{self.net.hub}:{port}"

    def remove_data(self) -> None:
        """PostgreSQL's data directories (after every process is gone); logs stay."""
        if self.pg_root is not None:
            shutil.rmtree(self.pg_root, ignore_errors=True)

    async def stop_standins(self) -> None:
        if self._llm is not None:
            await self._llm.cleanup()
        if self.slack is not None:
            await self.slack.stop()

    # -- services -----------------------------------------------------------------------------
    async def start_services(self, database_urls: dict[str, str]) -> None:
        from cloudaudit.bot.localslack import DEFAULT_TOKEN

        for value in (SIGNING_SECRET, DEFAULT_TOKEN, LLM_KEY):
            register_secret(value)  # test values, but a log line carrying one is still a leak
        keys = [new_signing_key()]
        private, public = json.dumps({"keys": keys}), json.dumps(public_jwks(keys))
        register_secret(private)
        for key in keys:
            register_secret(str(key.get("d", "")))
        self.fleet = Fleet(
            self.net,
            self.root / "state",
            self.nats,
            database_urls,
            self.prefix,
            extra_env={
                "*": {"CLOUDAUDIT_ACTOR_PUBLIC_KEYS": public},
                "identity": {"CLOUDAUDIT_ACTOR_SIGNING_KEYS": private},
                "analytics": {
                    # Every live round's day alerts (they run a day apart, up to today).
                    "ANALYTICS_ANOMALY_ALERT_WINDOW_DAYS": str(ALERT_WINDOW_DAYS),
                    "OPENAI_BASE_URL": self.llm_url + "/v1",
                    "OPENAI_API_KEY": LLM_KEY,
                },
                "bot": {
                    "SLACK_API_URL": self.slack.api_url,
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                    "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
                },
                "ingest": {"AWS_REGION": "us-east-1", "INGEST_SCHEDULER": "false"},
            },
        )
        self.fleet.build()
        for replica in self.fleet.replicas.values():
            self.fleet.start(replica)
        await self.ready(list(self.fleet.replicas.values()))

    async def probe(self, replica: Replica) -> dict[str, Any]:
        """What Kubernetes asks: /healthz (alive) and /readyz (database, bus, outbox)."""
        alive, _ = await http_get(f"{replica.health_url}/healthz")
        ready, body = await http_get(f"{replica.health_url}/readyz")
        checks = body.get("checks", {}) if isinstance(body, dict) else {}
        return {"healthz": alive, "readyz": ready, "checks": checks}

    async def ready(self, replicas: list[Replica], timeout: float = SERVICES_READY_S) -> None:
        """Every replica answers 200 on /healthz and /readyz (one that exits fails at once)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for replica in replicas:
                if replica.proc is not None and not replica.proc.alive:
                    raise RuntimeError(f"{replica.name} exited; see {replica.proc.log}")
            try:
                probes = await asyncio.gather(*(self.probe(r) for r in replicas))
                if all(p["healthz"] == 200 and p["readyz"] == 200 for p in probes):
                    return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass  # not listening yet
            await asyncio.sleep(POLL_S)
        states = {r.name: await self._probe_or_error(r) for r in replicas}
        raise TimeoutError(f"replicas not ready within {timeout:g}s: {states}")

    async def _probe_or_error(self, replica: Replica) -> Any:
        try:
            return await self.probe(replica)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
