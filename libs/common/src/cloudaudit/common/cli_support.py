"""Helpers for service CLI commands: settings, a database session, errors as one-line exits,
`--team` / `--format` conventions.

Import-light on purpose: every `cloudaudit` invocation (even `--help`) imports this module and
every service's CLI module, so SQLAlchemy, FastStream, pydantic-settings and the services' own
code are imported inside the functions that need them, when a command actually runs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from uuid import UUID

import typer

if TYPE_CHECKING:
    from cloudaudit.common.settings import CommonSettings
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")

FORMATS = ("table", "json")
Format = Annotated[str, typer.Option("--format", help="table, or json (schema: docs/cli-json.md)")]
TeamOption = Annotated[
    str, typer.Option("--team", help="Team name or id (see `cloudaudit teams list`)")
]


def output_format(value: str, allowed: Sequence[str] = FORMATS) -> str:
    """The `--format` value, or a usage error naming the choices."""
    if value not in allowed:
        raise typer.BadParameter(f"--format must be {' or '.join(allowed)}, not {value!r}")
    return value


# -- `--team NAME|ID` -------------------------------------------------------------------------
class TeamNotFound(Exception):
    """`--team` matched no team, or more than one; the message lists what to type instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


TeamLookup = Callable[[str], Awaitable[UUID]]


def _team_lookup() -> TeamLookup | None:
    from cloudaudit.common.service import discover_services

    for spec in discover_services().values():
        if spec.team_lookup:
            lookup: TeamLookup = spec.load(spec.team_lookup)
            return lookup
    return None


async def resolve_team(value: str) -> UUID:
    """A team's id from its id or its name (exact, then case-insensitive).

    Teams belong to identity, so the lookup is identity's own (its ServiceSpec.team_lookup);
    a service's command never reads identity's tables itself."""
    text = value.strip()
    try:
        return UUID(text)
    except ValueError:
        pass
    if not text:
        raise TeamNotFound("--team is empty: give a team name or id (`cloudaudit teams list`)")
    lookup = _team_lookup()
    if lookup is None:
        raise TeamNotFound(
            f"{text!r} is not a team id, and team names need the identity service installed; "
            "give the team's UUID"
        )
    return await lookup(text)


def team_id(value: str) -> UUID:
    """`resolve_team` for a command that has no event loop of its own yet."""
    return run_cli(resolve_team(value))


def cli_settings(log_level: str | None = "WARNING") -> CommonSettings:
    """Settings for a command; a bad value is one red line and exit code 2.

    Commands log only warnings by default; `log_level=None` keeps the configured level
    (for commands that run services in the foreground)."""
    from cloudaudit.common.logging import configure_logging, register_secret
    from cloudaudit.common.settings import CommonSettings, SettingsError, load_settings

    try:
        settings = load_settings(CommonSettings)
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    if settings.database_url is not None:
        register_secret(settings.database_url.get_secret_value())
    configure_logging(log_level or settings.log_level, settings.log_format)
    return settings


@contextlib.asynccontextmanager
async def database(schema: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from cloudaudit.common.db import make_engine
    from cloudaudit.common.infra import embedded_for, resolve_endpoints
    from sqlalchemy.ext.asyncio import async_sessionmaker

    settings = cli_settings()
    if settings.database_url is None and not embedded_for(settings).postgres.running_pid():
        typer.secho(
            "error: CloudAudit's database is not running. Start it with `cloudaudit up` "
            "(or `cloudaudit infra start`), or set DATABASE_URL.",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)
    endpoints, _ = resolve_endpoints(settings, start=False)
    engine = make_engine(endpoints.database_url, schema=schema, pool_size=2, max_overflow=0)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


def run_cli(coro: Awaitable[T], errors: tuple[type[Exception], ...] = ()) -> T:
    """Run a command; a known (user) error is one red line and exit code 1, not a traceback."""
    import asyncio

    known: tuple[type[Exception], ...] = (TeamNotFound, *errors)
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except known as exc:
        typer.secho(f"error: {getattr(exc, 'message', str(exc))}", fg="red", err=True)
        raise typer.Exit(1) from None


# A spreadsheet runs a cell that starts with one of these as a formula (`=HYPERLINK(...)` in
# a tag value, say): OWASP's CSV-injection guidance is to prefix such a cell with a quote.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    """A data-derived text cell, safe to open in a spreadsheet (numbers we format are not text)."""
    return "'" + value if value.startswith(CSV_FORMULA_STARTS) else value


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return "" if value is None else str(value)


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str = "table") -> None:
    if fmt == "json":
        typer.echo(
            json.dumps([{c: r.get(c) for c in columns} for r in rows], default=str, indent=2)
        )
        return
    if not rows:
        typer.echo("(none)")
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        typer.echo("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)))


def parse_since(value: str | None) -> datetime | None:
    """'7d', '24h' or an ISO date/datetime (UTC)."""
    if not value:
        return None
    from datetime import UTC, timedelta

    from cloudaudit.common.clock import utcnow

    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[-1] in units and value[:-1].isdigit():
        return utcnow() - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("use 7d, 24h or an ISO date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
