"""Helpers for service CLI commands: settings, a database session, errors as one-line exits."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import typer
from cloudaudit.common.db import make_engine
from cloudaudit.common.infra import embedded_for, resolve_endpoints
from cloudaudit.common.logging import configure_logging, register_secret
from cloudaudit.common.settings import CommonSettings, SettingsError, load_settings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


def cli_settings(log_level: str | None = "WARNING") -> CommonSettings:
    """Settings for a command; a bad value is one red line and exit code 2.

    Commands log only warnings by default; `log_level=None` keeps the configured level
    (for commands that run services in the foreground)."""
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
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except errors as exc:
        typer.secho(f"error: {getattr(exc, 'message', str(exc))}", fg="red", err=True)
        raise typer.Exit(1) from None


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
