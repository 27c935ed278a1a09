"""The hosts of the multi-host run: a 3-node NATS JetStream cluster with per-service users, a
PostgreSQL primary with a synchronous streaming replica, and the services, two replicas each,
every one in its own network namespace and reachable only by its address."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudaudit.common.bus_credentials import OPERATOR, SERVICES, BusCredentials
from cloudaudit.common.db_roles import DatabaseCredentials, ServiceRoles
from cloudaudit.common.logging import register_secret

from tests.cluster.netns import Host, PrivateNetwork, Proc

NATS_CLIENT_PORT = 4222
NATS_ROUTE_PORT = 6222
NATS_MONITOR_PORT = 8222
NATS_CLUSTER = "cloudaudit"
ROUTE_USER = "route"
POSTGRES_PORT = 5432
DATABASE = "cloudaudit"
SUPERUSER = "postgres"
PG_SYSTEM_USER = "pgserver"  # postgres refuses to run as root (the wheel's own user)
PG_MAX_CONNECTIONS = 300
# Octets of each host on the bridge (the hub, where the test driver runs, is .1).
NATS_OCTETS = (11, 12, 13)
PG_OCTETS = {"pg-primary": 21, "pg-replica": 22}
SERVICE_OCTETS = {
    ("identity", "a"): 31,
    ("identity", "b"): 32,
    ("ingest", "a"): 33,
    ("ingest", "b"): 34,
    ("analytics", "a"): 35,
    ("analytics", "b"): 36,
    ("bot", "a"): 37,
    ("bot", "b"): 38,
}
# Each service's internal health/metrics port (the defaults of its ServiceSpec), and the
# bot's Slack endpoint.
HEALTH_PORTS = {"identity": 8081, "ingest": 8082, "analytics": 8083, "bot": 8084}
IDENTITY_API_PORT = 8080
BOT_HTTP_PORT = 3000
MIB = 1024 * 1024


# -- NATS ---------------------------------------------------------------------------------------
def cluster_block(address: str, peers: list[str], route_password: str) -> dict[str, Any]:
    """nats-server `cluster` block of the node at `address`: routes to every other node,
    authenticated. The one place that renders it, so the shared helper (with route TLS) can
    replace it once it lands."""
    return {
        "name": NATS_CLUSTER,
        "listen": f"{address}:{NATS_ROUTE_PORT}",
        "authorization": {"user": ROUTE_USER, "password": route_password, "timeout": 2},
        "routes": [
            f"nats-route://{ROUTE_USER}:{route_password}@{peer}:{NATS_ROUTE_PORT}"
            for peer in peers
            if peer != address
        ],
    }


@dataclass
class NatsNode:
    index: int
    host: Host
    config: Path
    proc: Proc | None = None

    @property
    def server_name(self) -> str:
        return f"nats-{self.index}"

    @property
    def client_url(self) -> str:
        return f"nats://{self.host.address}:{NATS_CLIENT_PORT}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host.address}:{NATS_MONITOR_PORT}"


@dataclass
class NatsCluster:
    """Three JetStream nodes admitting only the product's users (one per service and the
    operator, with the bus catalogue's permissions for `prefix`)."""

    net: PrivateNetwork
    root: Path
    prefix: str
    nodes: list[NatsNode] = field(default_factory=list)

    def build(self) -> None:
        credentials = BusCredentials(self.root)
        auth_file = self.root / "authorization.json"
        credentials.write_server_config(auth_file, self.prefix)
        authorization = json.loads(auth_file.read_text(encoding="utf-8"))
        route_password = secrets.token_urlsafe(24)
        register_secret(route_password)
        hosts = [self.net.add_host(f"nats-{i}", octet) for i, octet in enumerate(NATS_OCTETS, 1)]
        peers = [host.address for host in hosts]
        for index, host in enumerate(hosts, 1):
            store = self.root / f"nats-{index}" / "jetstream"
            store.mkdir(parents=True, exist_ok=True)
            config = {
                **authorization,
                "server_name": f"nats-{index}",
                "listen": f"{host.address}:{NATS_CLIENT_PORT}",
                "http": f"{host.address}:{NATS_MONITOR_PORT}",
                "jetstream": {
                    "store_dir": str(store),
                    "max_memory_store": 64 * MIB,
                    "max_file_store": 1024 * MIB,
                },
                "cluster": cluster_block(host.address, peers, route_password),
            }
            path = self.root / f"nats-{index}.conf"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(config, handle, indent=2)
            self.nodes.append(NatsNode(index, host, path))

    def start(self, node: NatsNode) -> None:
        from cloudaudit.common.embedded import EmbeddedNats

        node.proc = self.net.spawn(
            node.host, node.server_name, [EmbeddedNats.binary(), "-c", str(node.config)]
        )

    def url_for(self, user: str) -> str:
        """Every node's client URL with `user`'s credentials (clients fail over between them)."""
        servers = ",".join(node.client_url for node in self.nodes)
        return BusCredentials(self.root).url_for(servers, user)

    @property
    def operator_url(self) -> str:
        return self.url_for(OPERATOR)


# -- PostgreSQL ---------------------------------------------------------------------------------
def _pg_bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def prepare_pg_user(directory: Path) -> None:
    """What PostgreSQL's own user needs: the wheel's binaries and `directory` reachable."""
    import stat

    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(PG_SYSTEM_USER)
    directory.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(directory)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(
        POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH
    )
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    _chown(directory)


def _chown(path: Path) -> None:
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    os.chown(path, entry.pw_uid, entry.pw_gid)


HBA = f"""# tests/cluster: the server's own socket without a password, the bridge with SCRAM.
local all all trust
host all all {{subnet}}.0/24 scram-sha-256
host replication {SUPERUSER} {{subnet}}.0/24 scram-sha-256
"""


@dataclass
class PgNode:
    name: str
    host: Host
    root: Path
    proc: Proc | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        return self.root / "run"

    def prepare(self) -> None:
        for path in (self.root, self.sockets):
            path.mkdir(parents=True, exist_ok=True)
            _chown(path)


@dataclass
class PostgresPair:
    """A primary and a synchronous streaming replica (every commit is on both before it
    returns), each in its own host; `promote` makes the replica the primary."""

    net: PrivateNetwork
    root: Path
    superuser_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    primary: PgNode = field(init=False)
    replica: PgNode = field(init=False)

    def __post_init__(self) -> None:
        register_secret(self.superuser_password)
        prepare_pg_user(self.root)
        nodes = [
            PgNode(name, self.net.add_host(name, octet), self.root / name)
            for name, octet in PG_OCTETS.items()
        ]
        self.primary, self.replica = nodes
        for node in nodes:
            node.prepare()

    def init_primary(self, subnet: str) -> None:
        pwfile = self.root / "superuser.pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.superuser_password)
        _chown(pwfile)
        try:
            self.net.run(
                self.primary.host,
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.primary.data),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=utf8",
                ],
                user=PG_SYSTEM_USER,
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        hba = self.primary.data / "pg_hba.conf"
        hba.write_text(HBA.format(subnet=subnet), encoding="utf-8")
        _chown(hba)

    def start(self, node: PgNode, synchronous: bool) -> None:
        """The postmaster in the foreground (our child). The synchronous standby setting is
        given on the command line only, so the base backup does not copy it: a promoted replica
        must not wait for a standby it does not have."""
        argv = [
            _pg_bin("postgres"),
            "-D",
            str(node.data),
            "-p",
            str(POSTGRES_PORT),
            "-k",
            str(node.sockets),
            "-c",
            f"listen_addresses={node.host.address}",
            "-c",
            f"max_connections={PG_MAX_CONNECTIONS}",
            "-c",
            "hot_standby=on",
        ]
        if synchronous:
            argv += ["-c", "synchronous_standby_names=*", "-c", "synchronous_commit=on"]
        node.proc = self.net.spawn(
            node.host, node.name, argv, user=PG_SYSTEM_USER, stop_signal=signal.SIGINT
        )

    def base_backup(self) -> None:
        """The replica's data directory from the primary, over the network, with the
        standby signal and the connection to the primary written by `-R`."""
        env = {**os.environ, "PGPASSWORD": self.superuser_password}
        self.net.run(
            self.replica.host,
            [
                _pg_bin("pg_basebackup"),
                "-h",
                self.primary.host.address,
                "-p",
                str(POSTGRES_PORT),
                "-U",
                SUPERUSER,
                "-D",
                str(self.replica.data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-d",
                "application_name=pg-replica",
            ],
            env=env,
            user=PG_SYSTEM_USER,
            timeout=120,
        )

    def stop_immediate(self, node: PgNode) -> None:
        """`pg_ctl stop -m immediate`: a crash, nothing flushed, every client cut off."""
        self.net.run(
            node.host,
            [_pg_bin("pg_ctl"), "-D", str(node.data), "-m", "immediate", "-w", "stop"],
            user=PG_SYSTEM_USER,
        )
        if node.proc is not None:
            node.proc.popen.wait(30)

    def promote(self, node: PgNode) -> None:
        self.net.run(
            node.host,
            [_pg_bin("pg_ctl"), "-D", str(node.data), "-w", "-t", "60", "promote"],
            user=PG_SYSTEM_USER,
            timeout=90,
        )

    def owner_url(self, database: str = DATABASE) -> str:
        """The superuser's URL over both hosts: connections go to whichever takes writes.
        SQLAlchemy cannot parse `@h1:5432,h2:5432` (make_url reads one port), so the hosts go
        in the query (`?host=h1:5432&host=h2:5432`), which SQLAlchemy's asyncpg dialect and
        asyncpg turn into the same multi-host connection."""
        hosts = "&".join(
            f"host={node.host.address}:{POSTGRES_PORT}" for node in (self.primary, self.replica)
        )
        return (
            f"postgresql://{SUPERUSER}:{self.superuser_password}@/{database}"
            f"?{hosts}&target_session_attrs=read-write"
        )

    def asyncpg_dsn(self, database: str = DATABASE) -> str:
        """The same, in the form asyncpg itself reads (the test driver's own queries)."""
        hosts = ",".join(
            f"{node.host.address}:{POSTGRES_PORT}" for node in (self.primary, self.replica)
        )
        return (
            f"postgresql://{SUPERUSER}:{self.superuser_password}@{hosts}/{database}"
            "?target_session_attrs=read-write"
        )


# -- services -----------------------------------------------------------------------------------
@dataclass
class Replica:
    service: str
    replica: str
    host: Host
    env: dict[str, str]
    proc: Proc | None = None

    @property
    def name(self) -> str:
        return f"{self.service}-{self.replica}"

    @property
    def health_url(self) -> str:
        return f"http://{self.host.address}:{HEALTH_PORTS[self.service]}"

    @property
    def slack_events_url(self) -> str:
        return f"http://{self.host.address}:{BOT_HTTP_PORT}/slack/events"


# Variables of the test session that must not reach a service: each gets only its own.
_NOT_INHERITED = ("AWS_", "SLACK_", "OPENAI_", "NATS_", "DATABASE_", "CLOUDAUDIT_")
_INHERITED_CLOUDAUDIT = ("CLOUDAUDIT_SESSION_LOG_DIR",)


@dataclass
class Fleet:
    """Two replicas of every service, each in its own host, as `cloudaudit run <service>`
    processes that know the others only by address (NATS_URL, DATABASE_URL)."""

    net: PrivateNetwork
    root: Path
    nats: NatsCluster
    database_url_for: dict[str, str]
    prefix: str
    extra_env: dict[str, dict[str, str]]  # by service ("*" for all)
    replicas: dict[str, Replica] = field(default_factory=dict)

    def build(self) -> None:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(_NOT_INHERITED) or k in _INHERITED_CLOUDAUDIT
        }
        for (service, replica), octet in SERVICE_OCTETS.items():
            host = self.net.add_host(f"{service}-{replica}", octet)
            state = self.root / f"{service}-{replica}"
            state.mkdir(parents=True, exist_ok=True)
            env = {
                **base,
                "DATABASE_URL": self.database_url_for[service],
                "NATS_URL": self.nats.url_for(service),
                "CLOUDAUDIT_BUS_PREFIX": self.prefix,
                "CLOUDAUDIT_HTTP_HOST": host.address,
                "CLOUDAUDIT_CREATE_STREAMS": "false",
                "CLOUDAUDIT_STREAM_REPLICAS": "3",
                "CLOUDAUDIT_STATE_DIR": str(state),
                "CLOUDAUDIT_LOG_FORMAT": "json",
                "CLOUDAUDIT_LOG_LEVEL": "INFO",
                "IDENTITY_HTTP_PORT": str(HEALTH_PORTS["identity"]),
                "IDENTITY_API_PORT": str(IDENTITY_API_PORT),
                "INGEST_HTTP_PORT": str(HEALTH_PORTS["ingest"]),
                "ANALYTICS_HTTP_PORT": str(HEALTH_PORTS["analytics"]),
                "BOT_HEALTH_PORT": str(HEALTH_PORTS["bot"]),
                "BOT_HTTP_PORT": str(BOT_HTTP_PORT),
                **self.extra_env.get("*", {}),
                **self.extra_env.get(service, {}),
            }
            self.replicas[f"{service}-{replica}"] = Replica(service, replica, host, env)

    def start(self, replica: Replica) -> None:
        replica.proc = self.net.spawn(
            replica.host,
            replica.name,
            [sys.executable, "-m", "cloudaudit.common", "run", replica.service, "--no-migrate"],
            env=replica.env,
            tier=1,
        )

    def of(self, service: str) -> list[Replica]:
        return [r for r in self.replicas.values() if r.service == service]


def database_credentials(directory: Path) -> ServiceRoles:
    """Every service role's password, as an operator's CLOUDAUDIT_DB_CREDENTIALS_DIR holds them."""
    passwords = DatabaseCredentials(directory).ensure(SERVICES)
    for password in passwords.values():
        register_secret(password)
    return ServiceRoles(passwords=passwords)
