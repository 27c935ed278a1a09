"""Database access: async engine per service, UTC/Decimal column types, outbox, unit of work."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Self
from uuid import UUID

from cloudaudit.common.clock import ensure_utc, utcnow
from cloudaudit.common.events.base import Event, caused_by_current
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
    delete,
    func,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Each service's tables live in its own schema; no cross-schema foreign keys."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz that refuses naive datetimes and always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else ensure_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else ensure_utc(value)


def MoneyColumn() -> Numeric[Decimal]:
    """numeric(20,6): dollars with sub-cent precision, never float."""
    return Numeric(20, 6, asdecimal=True)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def asyncpg_url(url: str) -> str:
    """Accept postgresql:// and postgres:// URLs; SQLAlchemy needs the asyncpg driver named."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class DatabaseTlsError(ValueError):
    """The URL's TLS options cannot be used; the message names the option and the fix."""


def split_tls(database_url: str) -> tuple[str, Any]:
    """The URL without libpq's TLS options (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`,
    which asyncpg does not take as keywords), and what asyncpg's `ssl` argument should be:
    None (asyncpg's default), False, a mode asyncpg knows, or an SSLContext. `verify-full`
    checks the server's certificate against `sslrootcert` (else the system's CAs) and its name
    against the host; `verify-ca` the certificate only; `require` encrypts without checking
    (as libpq, unless `sslrootcert` is given, which makes it `verify-ca`)."""
    parsed = make_url(database_url)
    query = dict(parsed.query)
    options: dict[str, Any] = {
        k: query.pop(k) for k in ("sslmode", "sslrootcert", "sslcert", "sslkey") if k in query
    }
    if not options:
        return database_url, None
    stripped = parsed.set(query=query).render_as_string(hide_password=False)
    mode = str(options.get("sslmode", "verify-full" if "sslrootcert" in options else "prefer"))
    if mode not in SSL_MODES:
        raise DatabaseTlsError(
            f"DATABASE_URL sslmode={mode!r}: use one of {', '.join(SSL_MODES)} "
            "(verify-full in production)"
        )
    if mode == "disable":
        return stripped, False
    if mode in ("allow", "prefer") or (mode == "require" and "sslrootcert" not in options):
        return stripped, mode
    return stripped, _tls_context(mode, options)


def _tls_context(mode: str, options: dict[str, Any]) -> Any:
    import ssl

    root = options.get("sslrootcert")
    for option in ("sslrootcert", "sslcert", "sslkey"):
        value = options.get(option)
        if value is not None and not Path(str(value)).is_file():
            raise DatabaseTlsError(
                f"DATABASE_URL {option}={value}: no such file; give the path of the PEM file "
                "(mounted into the container) or remove the option"
            )
    context = ssl.create_default_context(cafile=str(root) if root else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = mode == "verify-full"
    if "sslcert" in options:
        context.load_cert_chain(str(options["sslcert"]), options.get("sslkey"))
    return context


def make_engine(database_url: str, schema: str | None = None, **kwargs: Any) -> AsyncEngine:
    database_url, tls = split_tls(database_url)
    connect_args: dict[str, Any] = {"server_settings": {"timezone": "UTC"}}
    if tls is not None:
        connect_args["ssl"] = tls
    if schema:
        connect_args["server_settings"]["search_path"] = f"{schema},public"
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
        kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(asyncpg_url(database_url), connect_args=connect_args, **kwargs)


# SQLSTATEs of a server going away or not taking connections yet: class 08 (connection
# exception), 57P01 admin shutdown (fast stop), 57P02 crash shutdown, 57P03 cannot connect now
# (starting up / shutting down), 53300 too many connections.
# Trouble that passes by itself, never the message's fault: the connection (08), the server
# shutting down or starting (57P01-03), out of disk, memory or connections (class 53), the
# read-only window of a failover (25006), serialization failures and deadlocks (40001, 40P01),
# a statement timeout (57014).
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53", "25006", "40001", "40P01", "57014")


def is_transient_db_error(exc: BaseException) -> bool:
    """True when PostgreSQL could not do the work for a reason of its own (unreachable, full,
    failing over, deadlocked, timed out), so the same work succeeds once it passes: retry it,
    never treat it as bad input. Looks through SQLAlchemy's and asyncpg's wrappers (`orig`,
    `__cause__`, `__context__`)."""
    if isinstance(exc, ConnectionError):  # asyncpg connecting to a server that is not there
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(TRANSIENT_SQLSTATES):
            return True
        orig = getattr(current, "orig", None)
        pending.extend(
            [
                orig if isinstance(orig, BaseException) else None,
                current.__cause__,
                current.__context__,
            ]
        )
    return False


def outbox_table(metadata: MetaData) -> Table:
    """Events recorded in the same transaction as the change that caused them."""
    return Table(
        "outbox",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("subject", String(255), nullable=False),
        Column("payload", JSONType, nullable=False),
        Column("created_at", UTCDateTime, nullable=False, default=utcnow),
        Column("published_at", UTCDateTime, nullable=True, index=True),
        # A row that keeps failing (too big for the bus, a subject no stream captures) is
        # parked after OUTBOX_PARK_AFTER attempts so the rows behind it flow on.
        Column("attempts", Integer, nullable=False, default=0, server_default="0"),
        Column("last_error", Text, nullable=True),
        Column("parked_at", UTCDateTime, nullable=True),
    )


OUTBOX_PARK_AFTER = 10  # at one relay pass every 2 s: longer than a NATS node's failover


def add_outbox_parking(op: Any, schema: str) -> None:
    """The migration every service runs to give its outbox the parking columns above."""
    import sqlalchemy as sa

    op.add_column(
        "outbox",
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        schema=schema,
    )
    op.add_column("outbox", sa.Column("last_error", sa.Text(), nullable=True), schema=schema)
    op.add_column(
        "outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True), schema=schema
    )


def drop_outbox_parking(op: Any, schema: str) -> None:
    for column in ("parked_at", "last_error", "attempts"):
        op.drop_column("outbox", column, schema=schema)


Publisher = Callable[[str, str, dict[str, Any]], Any]  # (subject, event_id, payload) -> awaitable


class UnitOfWork:
    """One transaction per command or message: read, decide, write, record events, commit.

    Events recorded with `emit` are stored in the outbox inside the transaction and published
    after commit; if publishing fails (or the process dies) the outbox relay publishes them later.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._publisher = publisher
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self._committed = False
        self.session: AsyncSession

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._pending = []
        self._committed = False
        await self.session.begin()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def emit(self, subject: str, event: Event) -> None:
        if self._outbox is None:
            raise RuntimeError("this unit of work has no outbox table")
        event = caused_by_current(event)  # linked to the message being handled, if any
        payload = event.model_dump(mode="json")
        await self.session.execute(
            self._outbox.insert().values(
                event_id=event.event_id, subject=subject, payload=payload, created_at=utcnow()
            )
        )
        self._pending.append((subject, str(event.event_id), payload))

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True
        if self._pending and self._publisher is not None:
            await self._flush_pending()

    async def _flush_pending(self) -> None:
        assert self._outbox is not None
        published: list[UUID] = []
        for subject, event_id, payload in self._pending:
            try:
                await self._publisher(subject, event_id, payload)  # type: ignore[misc]
                published.append(UUID(event_id))
            except Exception as exc:  # the relay retries; the change itself is committed
                log.warning(
                    "event publish deferred to outbox relay",
                    extra={"subject": subject, "event_id": event_id, "error": str(exc)},
                )
                break
        if published:
            async with self._sessions() as session, session.begin():
                await session.execute(
                    update(self._outbox)
                    .where(self._outbox.c.event_id.in_(published))
                    .values(published_at=utcnow())
                )
        self._pending = []


async def relay_outbox(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Table,
    publisher: Publisher,
    batch: int = 100,
    park_after: int = OUTBOX_PARK_AFTER,
) -> int:
    """Publish events a crash or bus outage left behind, row by row, oldest first; safe across
    replicas (SKIP LOCKED). A row that fails is counted and the next one is tried; after
    `park_after` failures it is parked with its error (`cloudaudit outbox list`) instead of
    blocking everything behind it. With no connection to NATS at all every row would fail the
    same way: then the pass stops without counting, since the rows are not at fault, and keeps
    what it published."""
    from cloudaudit.common.bus import is_disconnected

    sent = 0
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                select(outbox.c.event_id, outbox.c.subject, outbox.c.payload, outbox.c.attempts)
                .where(outbox.c.published_at.is_(None), outbox.c.parked_at.is_(None))
                .order_by(outbox.c.created_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for event_id, subject, payload, attempts in rows:
            try:
                await publisher(subject, str(event_id), payload)
            except Exception as exc:
                if is_disconnected(exc):
                    log.warning("outbox relay paused: NATS is not connected")
                    break
                await _count_failure(session, outbox, event_id, attempts + 1, park_after, exc)
                continue
            await session.execute(
                update(outbox).where(outbox.c.event_id == event_id).values(published_at=utcnow())
            )
            sent += 1
    return sent


async def _count_failure(
    session: AsyncSession,
    outbox: Table,
    event_id: UUID,
    attempts: int,
    park_after: int,
    exc: Exception,
) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    parked = attempts >= park_after
    await session.execute(
        update(outbox)
        .where(outbox.c.event_id == event_id)
        .values(attempts=attempts, last_error=error, parked_at=utcnow() if parked else None)
    )
    if parked:
        from cloudaudit.common.metrics import OUTBOX_PARKED

        OUTBOX_PARKED.labels(outbox.schema or "-").inc()
    log.log(
        logging.ERROR if parked else logging.WARNING,
        "outbox row parked: it will not be retried until replayed"
        if parked
        else "outbox row failed to publish; the next rows go on",
        extra={"event_id": str(event_id), "attempts": attempts, "error": error[:300]},
    )


async def prune_outbox(
    sessions: async_sessionmaker[AsyncSession], outbox: Table, older_than_s: float
) -> int:
    """Delete published rows once JetStream's duplicate window has passed: after that a
    republish would no longer be deduplicated anyway, so the row has nothing left to prove."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    async with sessions() as session, session.begin():
        result = await session.execute(
            delete(outbox).where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def outbox_lag_s(sessions: async_sessionmaker[AsyncSession], outbox: Table) -> float:
    """Age in seconds of the oldest row waiting to be published (0: nothing waits)."""
    async with sessions() as session:
        oldest = (
            await session.execute(
                select(func.min(outbox.c.created_at)).where(
                    outbox.c.published_at.is_(None), outbox.c.parked_at.is_(None)
                )
            )
        ).scalar_one_or_none()
    return 0.0 if oldest is None else max(0.0, (utcnow() - ensure_utc(oldest)).total_seconds())


async def parked_rows(
    sessions: async_sessionmaker[AsyncSession], outbox: Table
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    outbox.c.event_id,
                    outbox.c.subject,
                    outbox.c.created_at,
                    outbox.c.attempts,
                    outbox.c.last_error,
                    outbox.c.parked_at,
                )
                .where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))
                .order_by(outbox.c.created_at)
            )
        ).all()
    return [dict(row._mapping) for row in rows]


async def unpark(
    sessions: async_sessionmaker[AsyncSession], outbox: Table, event_ids: list[UUID] | None
) -> int:
    """Give parked rows (all, or these) a fresh set of attempts once their cause is fixed."""
    query = update(outbox).where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))
    if event_ids:
        query = query.where(outbox.c.event_id.in_(event_ids))
    async with sessions() as session, session.begin():
        result = await session.execute(query.values(parked_at=None, attempts=0))
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_team_rows(
    sessions: async_sessionmaker[AsyncSession], metadata: MetaData, team_id: UUID
) -> dict[str, int]:
    """Delete one team's rows from every table of a service's schema that has a `team_id`
    column of CloudAudit's (a UUID), children before parents, in one transaction; returns how
    many went, by table. A table added later is covered without a change here."""
    counts: dict[str, int] = {}
    async with sessions() as session, session.begin():
        for table in reversed(metadata.sorted_tables):
            column = table.c.get("team_id")
            if column is None or not isinstance(column.type, Uuid):
                continue  # e.g. slack_sdk's tables, whose team_id is Slack's workspace id
            result = await session.execute(table.delete().where(column == team_id))
            if result.rowcount:  # type: ignore[attr-defined]
                counts[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
    return counts
