"""The hosts of the multi-host run: a 3-node NATS JetStream cluster with per-service users and
the services, two replicas each, every one in its own network namespace and reachable only by
its address (PostgreSQL is in postgres.py)."""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudaudit.common import bus_tls
from cloudaudit.common.bus_credentials import OPERATOR, SERVICES, BusCredentials
from cloudaudit.common.bus_tls import BusAccess, ClientTls, ServerTls
from cloudaudit.common.db_roles import DatabaseCredentials, ServiceRoles
from cloudaudit.common.dev_ca import DevCA
from cloudaudit.common.logging import register_secret

from tests.cluster.netns import Host, PrivateNetwork, Proc

NATS_CLIENT_PORT = 4222
NATS_ROUTE_PORT = 6222
NATS_MONITOR_PORT = 8222
NATS_CLUSTER = "cloudaudit"
ROUTE_USER = "route"
# Octets of each host on the bridge (the hub, where the test driver runs, is .1).
NATS_OCTETS = (11, 12, 13)
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
def cluster_block(
    address: str, peers: list[str], route_password: str, tls: ServerTls
) -> dict[str, Any]:
    """nats-server `cluster` block of the node at `address`: routes to every other node,
    authenticated by the route user and by mutual TLS (the product's `bus_tls.cluster_block`)."""
    return bus_tls.cluster_block(
        [f"{peer}:{NATS_ROUTE_PORT}" for peer in peers if peer != address],
        route_password,
        tls,
        listen=f"{address}:{NATS_ROUTE_PORT}",
        name=NATS_CLUSTER,
        route_user=ROUTE_USER,
    )


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
        return f"tls://{self.host.address}:{NATS_CLIENT_PORT}"

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
    ca_file: Path | None = None

    def build(self) -> None:
        credentials = BusCredentials(self.root)
        auth_file = self.root / "authorization.json"
        credentials.write_server_config(auth_file, self.prefix)
        authorization = json.loads(auth_file.read_text(encoding="utf-8"))
        route_password = secrets.token_urlsafe(24)
        register_secret(route_password)
        hosts = [self.net.add_host(f"nats-{i}", octet) for i, octet in enumerate(NATS_OCTETS, 1)]
        peers = [host.address for host in hosts]
        # One development CA; every node's certificate names every node's address (a client
        # that finds a node through the cluster checks it against the name it first used).
        ca = DevCA(self.root / "tls")
        ca.ensure()
        leaf = ca.issue("nats", peers)
        tls = ServerTls(leaf.cert_file, leaf.key_file, ca.ca_file)
        self.ca_file = ca.ca_file
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
                "tls": {
                    "cert_file": str(tls.cert_file),
                    "key_file": str(tls.key_file),
                    "ca_file": str(tls.ca_file),
                    "timeout": 5,
                },
                "cluster": cluster_block(host.address, peers, route_password, tls),
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

    @property
    def access(self) -> BusAccess:
        """How this harness's own clients connect: TLS verified against the cluster's CA."""
        return BusAccess(tls=ClientTls(ca_file=self.ca_file))


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
                "NATS_CA_FILE": str(self.nats.ca_file),
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
