"""PostgreSQL of the multi-host run: a primary and a synchronous streaming replica, each in its
own host, from the pgserver wheel's binaries, run as the wheel's own user (postgres refuses
root); `pg_ctl stop -m immediate` and `pg_ctl promote` for the failover."""

from __future__ import annotations

import os
import pwd
import secrets
import signal
from dataclasses import dataclass, field
from pathlib import Path

from cloudaudit.common.logging import register_secret

from tests.cluster.netns import Host, PrivateNetwork, Proc

POSTGRES_PORT = 5432
DATABASE = "cloudaudit"
SUPERUSER = "postgres"
PG_SYSTEM_USER = "pgserver"  # postgres refuses to run as root (the wheel's own user)
PG_MAX_CONNECTIONS = 300
PG_OCTETS = {"pg-primary": 21, "pg-replica": 22}


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
