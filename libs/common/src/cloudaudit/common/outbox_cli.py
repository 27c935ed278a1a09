"""`cloudaudit outbox list|replay`: events a service could not publish after repeated tries.

A parked row is one the bus refused for its own reason (too big, no stream for its subject); the
rows behind it were published. Replay gives parked rows a fresh set of attempts once the cause
is fixed. Import-light like every CLI module.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

import typer
from cloudaudit.common.cli_support import Format, output_format, run_cli

outbox_app = typer.Typer(
    help="Outbox: events a service stored but could not publish (parked after repeated failures).",
    no_args_is_help=True,
)
ServiceOption = Annotated[
    list[str] | None, typer.Option("--service", help="Only this service (repeatable).")
]


def _specs(services: list[str] | None) -> dict[str, Any]:
    from cloudaudit.common.service import discover_services

    specs = discover_services()
    unknown = sorted(set(services or []) - set(specs))
    if unknown:
        raise typer.BadParameter(f"unknown service {', '.join(unknown)}; one of {', '.join(specs)}")
    return {n: s for n, s in specs.items() if not services or n in services}


@outbox_app.command("list")
def list_(service: ServiceOption = None, fmt: Format = "table") -> None:
    """Parked outbox rows of every service: event id, subject, attempts, the last error."""
    output = output_format(fmt)
    specs = _specs(service)

    async def go() -> list[dict[str, Any]]:
        from cloudaudit.common.cli_support import database
        from cloudaudit.common.db import outbox_table, parked_rows, service_metadata

        found: list[dict[str, Any]] = []
        for name, spec in specs.items():
            table = outbox_table(service_metadata(spec.schema))
            async with database(spec.schema) as sessions:
                found += [dict(row, service=name) for row in await parked_rows(sessions, table)]
        return found

    rows = run_cli(go())
    if output == "json":
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        typer.echo("No parked outbox rows: every stored event was published or is on its way.")
        return
    for row in rows:
        typer.echo(
            f"{row['service']:<10} {row['event_id']}  {row['subject']}  "
            f"({row['attempts']} tries, parked {str(row['parked_at'])[:19]})\n"
            f"           {row['last_error']}"
        )
    typer.echo(f"{len(rows)} parked row(s). Fix the cause, then `cloudaudit outbox replay`.")


@outbox_app.command("replay")
def replay(
    event_ids: Annotated[
        list[str] | None, typer.Argument(help="Event ids from `outbox list` (default: all).")
    ] = None,
    service: ServiceOption = None,
) -> None:
    """Give parked rows a fresh set of attempts; the relay publishes them within seconds."""
    specs = _specs(service)
    try:
        ids = [UUID(value) for value in event_ids or []]
    except ValueError:
        raise typer.BadParameter("event ids are UUIDs, as `cloudaudit outbox list` shows") from None

    async def go() -> int:
        from cloudaudit.common.cli_support import database
        from cloudaudit.common.db import outbox_table, service_metadata, unpark

        total = 0
        for spec in specs.values():
            table = outbox_table(service_metadata(spec.schema))
            async with database(spec.schema) as sessions:
                total += await unpark(sessions, table, ids or None)
        return total

    typer.echo(f"{run_cli(go())} parked row(s) will be published again")
