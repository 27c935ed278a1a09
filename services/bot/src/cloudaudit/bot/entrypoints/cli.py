"""The bot's commands: `cloudaudit slack-console` (CloudAudit as in Slack, from a terminal,
without Slack) and `cloudaudit keys` (the data key that encrypts stored Slack tokens)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudaudit.common.cli_support import Format, cli_settings, output_format, print_rows, run_cli

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


# -- `cloudaudit keys` --------------------------------------------------------------------------
keys_app = typer.Typer(
    help="The data key that encrypts the Slack tokens stored in OAuth mode: rotate, status.",
    no_args_is_help=True,
)
PROGRESS_EVERY_ROWS = 100
KEY_STATES = {
    "plaintext": "stored by an earlier version unencrypted: `cloudaudit keys rotate` seals them",
    "(newer format)": "sealed by a newer CloudAudit: upgrade this one to read them",
}


def _bot_settings() -> Any:
    from cloudaudit.bot.settings import BotSettings
    from cloudaudit.common.settings import SettingsError, load_settings

    try:
        settings = load_settings(BotSettings)
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings.register_secrets()
    return settings


def _key_errors() -> tuple[type[Exception], ...]:
    from cloudaudit.common.data_keys import DataKeyError

    return (DataKeyError,)


def _rotation_provider(settings: Any, new_key: bool) -> Any:
    """The keys rotation seals with; says which key is current (by id: never a key)."""
    from cloudaudit.common.data_keys import LocalKeyProvider, add_key_to_file, key_file

    if settings.data_key is not None:
        provider = LocalKeyProvider.from_value(settings.data_key.get_secret_value())
        typer.echo(
            f"Data key {provider.current().key_id!r}: the current (last) key of "
            "CLOUDAUDIT_DATA_KEY (it is set, so no key is generated: put a new key last in it, "
            "keeping the old one before it, and restart the bot before rotating)"
        )
        return provider
    if not new_key:
        provider = LocalKeyProvider.from_key_file(settings.state_dir)
        typer.echo(f"Data key {provider.current().key_id!r}: the current key of {provider.source}")
        return provider
    fresh = add_key_to_file(settings.state_dir)
    typer.echo(
        f"Data key {fresh.key_id!r}: new, added to {key_file(settings.state_dir)} as the current "
        "key (the older ones stay there, to read what they sealed)"
    )
    return LocalKeyProvider.from_key_file(settings.state_dir)


def _progress(table: str, done: int, total: int) -> None:
    if total > PROGRESS_EVERY_ROWS and (done % PROGRESS_EVERY_ROWS == 0 or done == total):
        typer.echo(f"  {table}: {done}/{total} rows")


async def _rotate(new_key: bool) -> None:
    from cloudaudit.bot.adapters.installation_store import TokenSealer
    from cloudaudit.bot.adapters.orm import SCHEMA
    from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
    from cloudaudit.bot.service.keys import rotate_tokens
    from cloudaudit.common.cli_support import database
    from cloudaudit.common.data_keys import DataCipher

    settings = _bot_settings()
    async with database(SCHEMA) as sessions:  # refuses before a key is made if it is down
        sealer = TokenSealer(DataCipher(_rotation_provider(settings, new_key)))
        rotated = await rotate_tokens(BotUnitOfWork(sessions), sealer, _progress)
    for table in rotated:
        typer.echo(
            f"  {table.table}: {_rows(table.resealed)} re-encrypted, {table.current} already current"
        )
    typer.echo(
        f"Re-encrypted {_rows(sum(t.resealed for t in rotated))}, "
        f"{sum(t.current for t in rotated)} already current, in one transaction, under data "
        f"key {sealer.provider.current().key_id!r}."
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


@keys_app.command("rotate")
def keys_rotate(
    no_new_key: Annotated[
        bool,
        typer.Option(
            "--no-new-key",
            help="Re-encrypt under the current key without generating one (after a failed "
            "run, or to seal tokens an earlier version stored in plaintext).",
        ),
    ] = False,
) -> None:
    """Re-encrypt every stored Slack token under a new data key, in one transaction.

    Embedded (no CLOUDAUDIT_DATA_KEY): a new key is added to <state dir>/keys/data.key and
    becomes the current one. With CLOUDAUDIT_DATA_KEY: its last key is the current one
    (add the new key last, keep the old one before it, restart the bot, then rotate; drop
    the old key once `cloudaudit keys status` shows it seals nothing). Prints counts, never a
    key or a token."""
    run_cli(_rotate(not no_new_key), _key_errors())


def _status_provider(settings: Any) -> Any:
    """The configured keys, or None when the embedded key file has not been made yet."""
    from cloudaudit.common.data_keys import LocalKeyProvider, key_file

    if settings.data_key is not None:
        return LocalKeyProvider.from_value(settings.data_key.get_secret_value())
    if not key_file(settings.state_dir).exists():
        return None
    return LocalKeyProvider.from_key_file(settings.state_dir)


def _key_state(key_id: str, provider: Any) -> str:
    if key_id in KEY_STATES:
        return KEY_STATES[key_id]
    if provider is None or key_id not in provider.key_ids():
        return "NOT HELD: these values cannot be read until this key is added back"
    return "current" if key_id == provider.current().key_id else "older key, still held"


@keys_app.command("status")
def keys_status(fmt: Format = "table") -> None:
    """The current data key's id and how many stored Slack credentials each key seals."""
    output = output_format(fmt)

    async def go() -> None:
        from cloudaudit.bot.adapters.orm import SCHEMA
        from cloudaudit.bot.adapters.unit_of_work import BotUnitOfWork
        from cloudaudit.bot.service.keys import key_usage
        from cloudaudit.common.cli_support import database

        settings = _bot_settings()
        provider = _status_provider(settings)
        async with database(SCHEMA) as sessions:
            usage = await key_usage(BotUnitOfWork(sessions), provider.key_ids() if provider else [])
        rows = [
            {"key_id": key_id, "values": count, "state": _key_state(key_id, provider)}
            for key_id, count in usage.items()
        ]
        current = provider.current().key_id if provider else None
        source = provider.source if provider else None
        if output == "json":
            typer.echo(json.dumps({"current_key_id": current, "source": source, "keys": rows}))
            return
        if provider is None:
            typer.echo("No data key yet: the bot makes one at its first start in OAuth mode.")
        else:
            typer.echo(f"Current data key {current!r}, from {source}")
        print_rows(rows, ("key_id", "values", "state"))

    run_cli(go(), _key_errors())


def register(app: typer.Typer) -> None:
    app.command("slack-console")(slack_console)
    app.add_typer(keys_app, name="keys")
