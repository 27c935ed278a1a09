"""`cloudaudit dlq list|show|replay|purge`: look at what failed for good, and put it back.

Import-light like every CLI module: the bus client loads inside the command that runs.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer
from cloudaudit.common.cli_support import Format, cli_settings, output_format, run_cli

if TYPE_CHECKING:
    from cloudaudit.common.bus import BusNames
    from cloudaudit.common.dlq import DeadLetterEntry, DeadLetterFilter
    from nats.js import JetStreamContext

dlq_app = typer.Typer(
    help="Dead letters: messages that failed for good, with their error; replay them once the "
    "cause is fixed.",
    no_args_is_help=True,
)

SubjectOption = Annotated[
    str | None,
    typer.Option("--subject", help="Only these original subjects (prefix, e.g. cost.v1)."),
]
OlderOption = Annotated[
    str | None,
    typer.Option("--older-than", help="Only dead letters older than this (30m, 6h, 2d)."),
]
ErrorOption = Annotated[
    str | None,
    typer.Option("--error", help="Only these errors (text in the error type or message)."),
]
IdsArgument = Annotated[list[int] | None, typer.Argument(help="Ids from `dlq list`.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every dead letter the filters match.")]
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(value: str | None, option: str = "--older-than") -> timedelta | None:
    if value is None:
        return None
    match = _DURATION.match(value)
    if not match:
        raise typer.BadParameter(f"{option} must look like 30m, 6h or 2d, not {value!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _filter(subject: str | None, older_than: str | None, error: str | None) -> DeadLetterFilter:
    from cloudaudit.common.dlq import DeadLetterFilter

    return DeadLetterFilter(subject=subject, older_than=parse_age(older_than), error=error)


@contextlib.asynccontextmanager
async def _jetstream() -> AsyncIterator[tuple[JetStreamContext, BusNames]]:
    from cloudaudit.common.bus import BusNames
    from cloudaudit.common.bus_connect import connect_nats
    from cloudaudit.common.bus_tls import BusTlsError
    from cloudaudit.common.infra import resolve_endpoints

    settings = cli_settings()
    try:
        endpoints, _ = resolve_endpoints(settings, start=False)
        nc = await connect_nats(
            endpoints.nats_url,
            endpoints.bus_access,
            connect_timeout=3,
            max_reconnect_attempts=0,
        )
    except BusTlsError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(3) from None
    except Exception:
        typer.secho(
            "error: cannot reach CloudAudit's NATS. Start it with `cloudaudit up`, or set "
            "NATS_URL to the bus the services use.",
            fg="red",
            err=True,
        )
        raise typer.Exit(3) from None
    try:
        yield nc.jetstream(), BusNames(settings.bus_prefix)
    finally:
        await nc.close()


@dlq_app.command("list")
def list_(
    subject: SubjectOption = None,
    older_than: OlderOption = None,
    error: ErrorOption = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 100,
    fmt: Format = "table",
) -> None:
    """Dead letters, oldest first: id, subject, when, how often tried, the error."""
    output = output_format(fmt)
    where = _filter(subject, older_than, error)

    async def go() -> list[dict[str, Any]]:
        from cloudaudit.common.dlq import dead_letters

        async with _jetstream() as (js, names):
            return [e.summary() async for e in dead_letters(js, names, where, limit)]

    rows = run_cli(go())
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No dead letters" + (" match" if subject or older_than or error else "") + ".")
        return
    for row in rows:
        typer.echo(
            f"#{row['seq']:<6} {row['failed_at'][:19]}  {row['subject']}  "
            f"({row['deliveries']} tries, {row['consumer']})\n        {row['error_type']}: "
            f"{row['error']}"
        )
    typer.echo(
        f"{len(rows)} dead letter(s). `cloudaudit dlq show ID` for the body, "
        "`cloudaudit dlq replay ID` once the cause is fixed."
    )


@dlq_app.command("show")
def show(seq: Annotated[int, typer.Argument(help="The id `dlq list` shows (#N).")]) -> None:
    """One dead letter in full: its error and the original message body."""

    async def go() -> dict[str, Any]:
        from cloudaudit.common.dlq import dead_letter

        async with _jetstream() as (js, names):
            try:
                entry = await dead_letter(js, names, seq)
            except LookupError as exc:
                typer.secho(f"error: {exc}", fg="red", err=True)
                raise typer.Exit(1) from None
            return dict(entry.summary(), error=entry.record.error, payload=entry.record.payload)

    found = run_cli(go())
    payload = found.pop("payload")
    with contextlib.suppress(ValueError):
        payload = json.loads(payload)
    typer.echo(json.dumps(dict(found, payload=payload), indent=2))


@dlq_app.command("replay")
def replay(
    seqs: IdsArgument = None,
    all_: AllOption = False,
    subject: SubjectOption = None,
    older_than: OlderOption = None,
    error: ErrorOption = None,
) -> None:
    """Publish dead letters again to their original subject (same event id, new message id)
    and remove them from the DLQ."""
    if not seqs and not all_:
        raise typer.BadParameter("give the ids to replay (from `cloudaudit dlq list`), or --all")
    where = _filter(subject, older_than, error)
    replayed = run_cli(_replay(seqs or [], all_, where), errors=(LookupError,))
    typer.echo(f"replayed {replayed} dead letter(s)")


async def _replay(seqs: list[int], all_: bool, where: DeadLetterFilter) -> int:
    from cloudaudit.common import dlq

    done = 0
    async with _jetstream() as (js, names):
        for entry in await _chosen(js, names, seqs, all_, where):
            await dlq.replay(js, names, entry)
            typer.echo(f"#{entry.seq} -> {entry.record.original_subject}")
            done += 1
    return done


async def _chosen(
    js: JetStreamContext, names: BusNames, seqs: list[int], all_: bool, where: DeadLetterFilter
) -> list[DeadLetterEntry]:
    """The dead letters a command acts on: every match of the filters, or the ids given."""
    from cloudaudit.common import dlq

    if all_:
        return [e async for e in dlq.dead_letters(js, names, where)]
    return [await dlq.dead_letter(js, names, seq) for seq in seqs]


@dlq_app.command("purge")
def purge(
    seqs: IdsArgument = None,
    all_: AllOption = False,
    subject: SubjectOption = None,
    older_than: OlderOption = None,
    error: ErrorOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete dead letters for good (they are gone from the DLQ; nothing is replayed)."""
    if not seqs and not all_:
        raise typer.BadParameter("give the ids to purge (from `cloudaudit dlq list`), or --all")
    if not yes:
        typer.confirm("Delete these dead letters for good?", abort=True)
    where = _filter(subject, older_than, error)

    async def go() -> int:
        from cloudaudit.common import dlq

        async with _jetstream() as (js, names):
            entries = await _chosen(js, names, seqs or [], all_, where)
            for entry in entries:
                await dlq.purge(js, names, entry)
            return len(entries)

    typer.echo(f"purged {run_cli(go(), errors=(LookupError,))} dead letter(s)")
