"""`cloudaudit slack-console`: use CloudAudit as in Slack, from a terminal, without Slack."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudaudit.common.cli_support import cli_settings

CONSOLE_USER = "UCONSOLE"
CONSOLE_CHANNEL = "CCONSOLE"
BANNER = """CloudAudit Slack console: the real bot, a local Slack, your terminal.
Type /cloudaudit help · press a button by typing its number · quit to leave.
Alerts appear here as they are posted (run `/cloudaudit alerts here` first)."""


def _local_time_zone() -> str:
    with contextlib.suppress(Exception):
        link = Path("/etc/localtime").resolve()
        if "zoneinfo" in link.parts:
            return "/".join(link.parts[link.parts.index("zoneinfo") + 1 :])
    return "UTC"


async def _prompt(text: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, lambda: input(text))


async def _console(files_dir: Path | None, script: list[str], user: str, channel: str) -> None:
    # Imported here: the bot and Bolt are not loaded for every `cloudaudit` command.
    from cloudaudit.bot.console.session import ConsoleSession
    from cloudaudit.common.bus import BusNames, create_streams
    from cloudaudit.common.embedded import EmbeddedServerError
    from cloudaudit.common.infra import resolve_endpoints
    from cloudaudit.common.migrations import migrate_services
    from cloudaudit.common.service import discover_services

    settings = cli_settings()
    try:
        endpoints, _ = resolve_endpoints(settings, start=True)
    except EmbeddedServerError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None

    spec = discover_services()["bot"]
    await migrate_services([spec], endpoints.database_url, endpoints.database_roles)
    # the bot's own bus user may not create the streams it reads, when the bus is locked
    await create_streams(endpoints, BusNames(settings.bus_prefix), settings.stream_replicas)

    async def ask(block_id: str, label: str) -> str | None:
        answer = (await _prompt(f"  {label}: ")).strip()
        return answer or None

    session = ConsoleSession(
        settings,
        endpoints,
        files_dir or settings.state_dir / "slack-console",
        ask,
        user=user,
        channel=channel,
        time_zone=_local_time_zone(),
        show=typer.echo,
    )
    await session.start()
    typer.echo(BANNER)
    printer = asyncio.create_task(_print_alerts(session))
    try:
        lines = iter(script) if script else None
        while True:
            if lines is not None:
                line = next(lines, None)
                if line is None:
                    break
                typer.echo(f"> {line}")
            else:
                try:
                    line = await _prompt("> ")
                except EOFError:
                    break
            if line.strip() in ("quit", "exit"):
                break
            output = await session.run_line(line)
            if output:
                typer.echo(output)
    finally:
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
        await session.stop()


async def _print_alerts(session: Any) -> None:
    """Alerts and digests arrive on their own: print them as Slack would show them."""
    while True:
        await session.slack.activity.wait()
        session.slack.activity.clear()
        output = await session.arrivals()
        if output:
            typer.echo("\n" + output)
            sys.stdout.flush()


def slack_console(
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir", help="Where charts are saved (default: <state dir>/slack-console)."
        ),
    ] = None,
    command: Annotated[
        list[str] | None,
        typer.Option("--command", "-c", help="Run these lines instead of prompting (repeatable)."),
    ] = None,
    user: Annotated[str, typer.Option(help="Your Slack user id in the console.")] = CONSOLE_USER,
    channel: Annotated[str, typer.Option(help="The channel you type in.")] = CONSOLE_CHANNEL,
) -> None:
    """Use CloudAudit as in Slack, in this terminal (no Slack app or tokens needed).

    Start the other services first (`cloudaudit up`). The console runs the bot itself, so
    alerts and digests appear here."""
    asyncio.run(_console(files_dir, command or [], user, channel))


def register(app: typer.Typer) -> None:
    app.command("slack-console")(slack_console)
