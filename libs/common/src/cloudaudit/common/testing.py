"""pytest plugin: real NATS (JetStream) and PostgreSQL for the whole session, isolated per test.

Where they come from, in order: NATS_URL / DATABASE_URL from the environment; testcontainers
when a Docker engine answers; otherwise the embedded servers from the wheels, in a temporary
state directory on free ports. Each test gets its own database (cloned from a template that
has every service's migrations applied) and its own subject/stream prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from cloudaudit.common.bus import BusNames, ensure_streams, make_broker
from cloudaudit.common.bus_connect import connect_nats
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.db_roles import ServiceRoles
from cloudaudit.common.embedded import EmbeddedInfrastructure, free_port
from cloudaudit.common.events.identity import ActorSource, Audience, Role
from cloudaudit.common.migrations import migrate_services
from cloudaudit.common.runtime import Endpoints, ServiceRuntime, build_runtime
from cloudaudit.common.service import discover_services
from cloudaudit.common.settings import CommonSettings
from pydantic import SecretStr
from sqlalchemy.engine import make_url

TEMPLATE_DB = f"ca_template_{os.getpid()}"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _servers() -> Iterator[Endpoints]:
    env_nats, env_db = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
    if env_nats and env_db:
        yield Endpoints(database_url=env_db, nats_url=env_nats)
        return
    if _docker_answers():
        from testcontainers.core.container import DockerContainer
        from testcontainers.postgres import PostgresContainer

        with (
            PostgresContainer("postgres:16-alpine", driver=None) as pg,
            DockerContainer("nats:2.10-alpine").with_command("-js").with_exposed_ports(4222) as js,
        ):
            url = f"nats://{js.get_container_host_ip()}:{js.get_exposed_port(4222)}"
            yield Endpoints(database_url=pg.get_connection_url(), nats_url=url)
        return
    state = Path(tempfile.mkdtemp(prefix="cloudaudit-test-"))
    infra = EmbeddedInfrastructure(state, free_port(), free_port())
    infra.nats.start()
    infra.postgres.start()
    try:
        yield Endpoints(database_url=infra.postgres.url, nats_url=infra.nats.url)
    finally:
        infra.nats.stop()
        infra.postgres.stop()
        shutil.rmtree(state, ignore_errors=True)


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str, database: str) -> str:
    return _with_database(url, database).replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Endpoints]:
    with _servers() as endpoints:
        yield endpoints


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def template_database(
    infrastructure: Endpoints, database_roles: ServiceRoles
) -> AsyncIterator[str]:
    """A database with every installed service's migrations applied, cloned for each test."""
    admin = await asyncpg.connect(_asyncpg_dsn(infrastructure.database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        url = _with_database(infrastructure.database_url, TEMPLATE_DB)
        # Grants live in the database, so every test's clone has them: the services under
        # test connect as their own roles, with the rights production gives them.
        await migrate_services(discover_services().values(), url, database_roles)
        yield TEMPLATE_DB
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(infrastructure: Endpoints, template_database: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(infrastructure.database_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield _with_database(infrastructure.database_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def bus_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(infrastructure: Endpoints, database_url: str, bus_prefix: str) -> CommonSettings:
    return CommonSettings(  # type: ignore[call-arg]
        DATABASE_URL=database_url,
        NATS_URL=infrastructure.nats_url,
        CLOUDAUDIT_BUS_PREFIX=bus_prefix,
        CLOUDAUDIT_MAX_DELIVERIES=3,
        CLOUDAUDIT_STATE_DIR=tempfile.gettempdir(),
    )


IssueToken = Callable[..., SecretStr]


def sign_actor_token(
    team_id: uuid.UUID,
    user_id: uuid.UUID | None,
    role: Role,
    audience: Audience,
    source: ActorSource = ActorSource.SLACK,
) -> SecretStr:
    """An actor token signed as identity would (with the session's key), for tests of a
    service without identity running: `sign_actor_token(team, user, Role.ADMIN,
    Audience.INGEST)`."""
    from cloudaudit.common.actors import ActorTokenIssuer

    issuer = ActorTokenIssuer(json.loads(os.environ[ACTOR_KEY_ENV[0]])["keys"])
    token, _ = issuer.issue(
        team_id=team_id, user_id=user_id, role=role, audience=audience, source=source
    )
    return SecretStr(token)


@pytest.fixture(scope="session")
def actor_token() -> IssueToken:
    """`sign_actor_token` as a fixture."""
    return sign_actor_token


@pytest.fixture(scope="session")
def database_roles() -> ServiceRoles:
    """The services' database roles for this test session, with passwords of its own."""
    return ServiceRoles(passwords={name: secrets.token_urlsafe(24) for name in discover_services()})


@pytest.fixture
def endpoints(
    infrastructure: Endpoints, database_url: str, database_roles: ServiceRoles
) -> Endpoints:
    """What the services under test connect to: each as its own database role."""
    return Endpoints(
        database_url=database_url,
        nats_url=infrastructure.nats_url,
        database_roles=database_roles,
    )


StartService = Callable[..., Awaitable[ServiceRuntime]]


@pytest_asyncio.fixture(loop_scope="session")
async def start_service(
    settings: CommonSettings, endpoints: Endpoints
) -> AsyncIterator[StartService]:
    """Start a service in-process against the real servers: `await start_service("identity")`."""
    started: list[ServiceRuntime] = []

    async def start(
        name: str,
        service_settings: CommonSettings | None = None,
        configure: Callable[[ServiceRuntime], None] | None = None,
    ) -> ServiceRuntime:
        spec = discover_services()[name]
        runtime = build_runtime(
            spec, service_settings or settings, endpoints, http_port=0, api_port=0
        )
        if configure:
            configure(runtime)
        await runtime.start()
        started.append(runtime)
        return runtime

    yield start
    for runtime in reversed(started):
        await runtime.stop()


class BusClient:
    """What a test needs on the bus: publish, request, and collect what services publish."""

    def __init__(self, settings: CommonSettings, endpoints: Endpoints) -> None:
        self.names = BusNames(settings.bus_prefix)
        self.access = endpoints.bus_access
        self.broker = make_broker(
            endpoints.nats_url, self.names, "test", settings.max_deliveries, access=self.access
        )
        self.nc: Any = None
        self._subs: list[Any] = []

    async def start(self) -> None:
        await self.broker.connect()
        await ensure_streams(self.broker, self.names)
        await self.broker.start()
        self.nc = await connect_nats(
            self.broker.config.connection_state.connection.connected_url.geturl(), self.access
        )

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self.nc is not None:
            await self.nc.close()
        await self.broker.stop()

    async def collect(self, subject: str) -> asyncio.Queue[Any]:
        """Every core-NATS message on a subject (prefix added) from now on."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def on_message(msg: Any) -> None:
            await queue.put(msg)

        self._subs.append(await self.nc.subscribe(self.names.subject(subject), cb=on_message))
        await self.nc.flush()
        return queue

    async def stream_messages(self, stream: str, subject: str = ">") -> list[Any]:
        """All messages stored in a stream (optionally filtered), oldest first."""
        js = self.nc.jetstream()
        name = self.names.stream(stream)
        info = await js.stream_info(name)
        if not info.state.messages:
            return []
        sub = await js.pull_subscribe(self.names.subject(subject), stream=name)
        messages: list[Any] = []
        try:
            while len(messages) < info.state.messages:
                try:
                    batch = await sub.fetch(
                        min(256, info.state.messages - len(messages)), timeout=1
                    )
                except Exception:
                    break
                for msg in batch:
                    await msg.ack()
                messages.extend(batch)
        finally:
            await sub.unsubscribe()
        return messages


@pytest_asyncio.fixture(loop_scope="session")
async def bus(settings: CommonSettings, endpoints: Endpoints) -> AsyncIterator[BusClient]:
    client = BusClient(settings, endpoints)
    await client.start()
    yield client
    await client.stop()


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll until `check` returns a truthy value (the alternative to sleep in tests)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


# -- secrets never logged: everything the product logs during the run is scanned at the end ----
class _RawCapture(logging.Handler):
    """Keeps what was logged *before* redaction, so the scan checks what code tried to log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {record.exc_info[1]!r}"
        self.lines.append(f"{record.name}: {text} {extras}")


_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_capture = _RawCapture()
# Loggers of tests that log secrets on purpose, to prove redaction works.
SECRET_ALLOWLIST_LOGGERS = ("redaction-check.",)


_session_logs: Path | None = None  # created here when the session has none yet


ACTOR_KEY_ENV = ("CLOUDAUDIT_ACTOR_SIGNING_KEYS", "CLOUDAUDIT_ACTOR_PUBLIC_KEYS")


def _session_actor_keys() -> None:
    """One actor signing key for the session, in the environment every service (in-process or
    started as a process) reads, as production sets it; the embedded path (keys generated in
    the state directory) is what the end-to-end tests run, without these variables."""
    from cloudaudit.common.actors import new_signing_key, public_jwks

    if os.environ.get(ACTOR_KEY_ENV[0]):
        return
    keys = [new_signing_key()]
    os.environ[ACTOR_KEY_ENV[0]] = json.dumps({"keys": keys})
    os.environ[ACTOR_KEY_ENV[1]] = json.dumps(public_jwks(keys))


def pytest_configure(config: pytest.Config) -> None:
    global _session_logs
    from cloudaudit.common.logging import SESSION_LOG_DIR_ENV

    _session_actor_keys()
    # Each identity under test serves its embedded SMTP sink on a free port of its own (tests
    # read the mail from the sink's folder), never on the default port another run may hold.
    os.environ.setdefault("CLOUDAUDIT_EMBEDDED_SMTP_PORT", "0")

    root = logging.getLogger()
    root.addHandler(_capture)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # Every process a test starts inherits this: the services' log files are linked here and
    # the secrets they register are listed here, for the scan at the end of the session.
    if not os.environ.get(SESSION_LOG_DIR_ENV):
        _session_logs = Path(tempfile.mkdtemp(prefix="cloudaudit-session-logs-"))
        os.environ[SESSION_LOG_DIR_ENV] = str(_session_logs)


def keep_log_for_scan(name: str, text: str) -> Path | None:
    """Keep a process's captured output (stdout/stderr) for the session's secret scan."""
    from cloudaudit.common.logging import session_log_dir

    folder = session_log_dir()
    if folder is None or not text:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{uuid.uuid4().hex[:8]}.log"
    path.write_text(text, encoding="utf-8")
    return path


def log_file_lines(folder: Path) -> tuple[list[str], int]:
    """Every line of every log file under a folder (linked folders followed): (lines, files)."""
    from cloudaudit.common.logging import SESSION_SECRETS_DIR

    lines: list[str] = []
    files = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [
            d for d in dirnames if not (dirpath == str(folder) and d == SESSION_SECRETS_DIR)
        ]
        for filename in filenames:
            with contextlib.suppress(OSError):
                with open(os.path.join(dirpath, filename), encoding="utf-8", errors="replace") as f:
                    lines.extend(line.rstrip("\n") for line in f)
                files += 1
    return lines, files


def secrets_registered_by_processes(folder: Path) -> set[str]:
    """Secrets the service processes of this session registered (one per line)."""
    from cloudaudit.common.logging import SESSION_SECRETS_DIR

    found: set[str] = set()
    for ledger in (folder / SESSION_SECRETS_DIR).glob("*.txt"):
        with contextlib.suppress(OSError):
            found.update(line for line in ledger.read_text(encoding="utf-8").splitlines() if line)
    return found


def find_leaks(lines: list[str], secrets: set[str]) -> list[tuple[str, str]]:
    """(secret prefix, line) for every logged line that carries a secret."""
    return sorted(
        {
            (secret[:4] + "…", line[:160])
            for line in lines
            if not line.startswith(SECRET_ALLOWLIST_LOGGERS)
            for secret in secrets
            if len(secret) >= 8 and secret in line
        }
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from cloudaudit.common.logging import _secrets, session_log_dir

    secrets = set(_secrets)
    file_lines: list[str] = []
    files = 0
    folder = session_log_dir()
    if folder is not None and folder.is_dir():
        secrets |= secrets_registered_by_processes(folder)
        file_lines, files = log_file_lines(folder)
    leaks = find_leaks(_capture.lines, secrets) + find_leaks(file_lines, secrets)
    if _session_logs is not None:
        shutil.rmtree(_session_logs, ignore_errors=True)  # it lists secrets: never leave it
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if leaks:
        if reporter:
            reporter.write_line(
                f"SECRET SCAN FAILED: {len(leaks)} log lines carry a secret:", red=True
            )
            for prefix, line in leaks[:20]:
                reporter.write_line(f"  secret {prefix} in: {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line(
            f"secret scan: {len(_capture.lines)} log lines of this process and "
            f"{len(file_lines)} lines from {files} service log files checked against "
            f"{len(secrets)} registered secrets, none found"
        )


@pytest.fixture(autouse=True)
def _product_loggers_at_default_level() -> Iterator[None]:
    """Each test starts with the product's loggers at their defaults, whatever a library or
    an earlier test changed, so log assertions do not depend on test order."""
    product = logging.getLogger("cloudaudit")
    product.setLevel(logging.NOTSET)
    product.disabled = False
    yield


# Calendar edges every date-sensitive test runs at, so no real date can turn CI red: the 1st
# and 2nd of a month, 28 and 29 February of a leap year, New Year's Eve, and the days the clocks
# change (US 2027-03-14, EU 2027-03-28).
CALENDAR_EDGES: tuple[date, ...] = (
    date(2027, 3, 1),
    date(2027, 3, 2),
    date(2028, 2, 28),
    date(2028, 2, 29),
    date(2026, 12, 31),
    date(2027, 3, 14),
    date(2027, 3, 28),
)
# The date of every fixed_today test not marked calendar_edges: an ordinary mid-month Wednesday,
# so such a test's outcome depends neither on the real date nor on a calendar edge.
PINNED_TODAY = date(2027, 3, 10)
TODAY_OPTION = "--today"
CALENDAR_EDGES_MARK = "calendar_edges"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        TODAY_OPTION,
        default="",
        help="comma-separated ISO dates: run the calendar_edges tests at these dates instead of "
        "every edge, and every other fixed_today test at the first of them",
    )


def _chosen_dates(config: pytest.Config) -> tuple[date, ...]:
    raw = str(config.getoption(TODAY_OPTION) or "")
    return tuple(date.fromisoformat(part.strip()) for part in raw.split(",") if part.strip())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fixed_today" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        CALENDAR_EDGES_MARK
    ):
        dates = _chosen_dates(metafunc.config) or CALENDAR_EDGES
        metafunc.parametrize(
            "fixed_today", dates, ids=[d.isoformat() for d in dates], indirect=True
        )


@pytest.fixture
def fixed_today(request: pytest.FixtureRequest) -> Iterator[date]:
    """The whole product (services run in-process) lives on this date, from noon UTC, with time
    ticking on. A test marked `calendar_edges` runs once per edge (or per `--today` date);
    any other runs once, at PINNED_TODAY (or the first `--today` date), so its outcome never
    depends on the real date."""
    day: date = (
        getattr(request, "param", None) or (_chosen_dates(request.config) or (PINNED_TODAY,))[0]
    )
    with frozen_at(day):
        yield day


# -- the fast subset: `make test-fast` runs `-m "not slow"` --------------------------------------
# Whole-product runs (real processes, the demo tour, kills and restarts, benchmarks) are slow by
# where they live; a slow test elsewhere says so with @pytest.mark.slow.
SLOW_FOLDERS = ("tests/e2e/", "tests/reliability/", "tests/benchmarks/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)


# -- mail: what identity's embedded SMTP sink kept, read as a person reads their inbox ---------
class Mailbox:
    """The messages a service's embedded SMTP sink stored under `state_dir` (real SMTP went
    into it): `await Mailbox(state_dir).wait_for("ana@acme.test")`."""

    def __init__(self, state_dir: Path) -> None:
        from cloudaudit.common.mail_sink import mail_dir

        self.folder = mail_dir(state_dir)

    def messages(self, to: str | None = None) -> list[Any]:
        from cloudaudit.common.mail_sink import list_mail

        return [m for m in list_mail(self.folder) if to is None or m.to == to]

    async def wait_for(self, to: str, count: int = 1, timeout: float = 10.0) -> Any:
        """The `count`-th message to `to` (oldest first), once it has arrived."""

        async def arrived() -> Any:
            found = self.messages(to)
            return found[count - 1] if len(found) >= count else None

        return await eventually(arrived, timeout=timeout)

    @staticmethod
    def token_in(mail: Any) -> str:
        """The one-time token of the link in a mail."""
        import re

        found = re.search(r"[?&]token=([A-Za-z0-9_-]{20,})", mail.body)
        assert found, f"no link with a token in {mail.subject!r}"
        return found.group(1)
