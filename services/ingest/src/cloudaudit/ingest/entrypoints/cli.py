"""`cloudaudit accounts`, `import-costs`, `sync-costs`, `spend`: ingest from the terminal.

The commands run the same service functions as the bus handlers, against the database
directly; the events they record wait in the outbox until the running service publishes them.
Import-light (see `cloudaudit.common.cli`): ingest's code loads inside the command that runs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer
from cloudaudit.common.cli_support import (
    Format,
    TeamOption,
    csv_text,
    database,
    output_format,
    print_rows,
    resolve_team,
    run_cli,
)

if TYPE_CHECKING:
    from cloudaudit.ingest.domain.spend import SpendAnswer
    from cloudaudit.ingest.service import imports, sync
    from cloudaudit.ingest.service.deps import IngestDeps

accounts_app = typer.Typer(help="AWS accounts connected by read-only role.", no_args_is_help=True)

Team = TeamOption
SCHEMA = "ingest"  # cloudaudit.ingest.adapters.orm.SCHEMA, without importing SQLAlchemy
CE_REQUEST_USD = Decimal("0.01")  # Cost Explorer API price per request (AWS pricing page)
ACCOUNT_COLUMNS = [
    "aws_account_id",
    "name",
    "status",
    "last_sync_at",
    "ce_requests_this_month",
    "ce_cost_this_month",
    "last_error_step",
    "last_error",
    "account_id",
]


def _ingest_errors() -> tuple[type[Exception], ...]:
    from cloudaudit.ingest.domain.errors import IngestError

    return (IngestError,)


async def resolve_account(deps: IngestDeps, team_id: UUID, reference: str) -> UUID:
    """`--account`: a CloudAudit account id, a 12-digit AWS account id or the account's alias
    (its name, case-insensitive), within the team; ambiguity lists the candidates."""
    from cloudaudit.ingest.domain.errors import NotFound

    wanted = reference.strip()
    async with deps.uow() as uow:
        rows = await uow.repo.accounts_of_team(team_id)
    for row in rows:
        if wanted in (str(row.account_id), row.aws_account_id):
            return UUID(str(row.account_id))
    named = [r for r in rows if (r.account_name or "").lower() == wanted.lower()]
    if len(named) == 1:
        return UUID(str(named[0].account_id))
    if named:
        listed = ", ".join(f"{r.aws_account_id} ({r.account_id})" for r in named)
        raise NotFound(f"{len(named)} accounts are called {wanted!r}: {listed}; give the AWS id")
    known = ", ".join(f"{r.aws_account_id} {r.account_name!r}" for r in rows) or "none yet"
    raise NotFound(
        f"the team has no account {wanted!r} (its accounts: {known}); "
        f"see `cloudaudit accounts list`"
    )


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option} must be a date like 2026-11-01") from None


@contextlib.asynccontextmanager
async def ingest() -> AsyncIterator[IngestDeps]:
    from cloudaudit.common.settings import SettingsError, load_settings
    from cloudaudit.ingest.entrypoints.app import ingest_deps
    from cloudaudit.ingest.settings import IngestSettings

    try:
        settings = load_settings(IngestSettings)
    except SettingsError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    async with database(SCHEMA) as sessions:
        engine = sessions.kw["bind"]
        yield ingest_deps(settings, engine)


# -- accounts ---------------------------------------------------------------------------------
@accounts_app.command("external-id")
def accounts_external_id(team: Team, fmt: Format = "table") -> None:
    """The team's ExternalId and the CloudFormation quick-create link (owners/admins only)."""
    output = output_format(fmt)

    async def go() -> None:
        from cloudaudit.common.actors import Actor, Command
        from cloudaudit.common.events.account import ExternalIdRequest
        from cloudaudit.ingest.service import accounts

        team_id = await resolve_team(team)
        async with ingest() as deps:
            reply = await accounts.external_id(
                deps, Command(ExternalIdRequest(), Actor.operator(team_id))
            )
        if output == "json":
            typer.echo(
                json.dumps(
                    {
                        "team_id": str(team_id),
                        "external_id": reply.external_id,
                        "principal_arn": reply.principal_arn,
                        "quick_create_url": reply.quick_create_url,
                    },
                    indent=2,
                )
            )
            return
        typer.echo(f"ExternalId:       {reply.external_id}")
        typer.echo(f"Trusted principal: {reply.principal_arn}")
        typer.echo(f"Quick-create link: {reply.quick_create_url}")
        typer.echo(
            "Create the stack, then: cloudaudit accounts connect --team TEAM --role-arn "
            "<RoleArn output>"
        )

    run_cli(go(), _ingest_errors())


@accounts_app.command("connect")
def accounts_connect(
    team: Team,
    role_arn: Annotated[str, typer.Option("--role-arn", help="ARN of the read-only role")],
    name: Annotated[str | None, typer.Option(help="A name for the account")] = None,
    export_bucket: Annotated[
        str | None,
        typer.Option(
            "--export-bucket", help="S3 bucket of the CUR / Data Exports (read access is checked)"
        ),
    ] = None,
) -> None:
    """Connect an AWS account: assume its role with the team's ExternalId, check permissions."""

    async def go() -> None:
        from cloudaudit.common.actors import Actor, Command
        from cloudaudit.common.events.account import ConnectAccountRequest
        from cloudaudit.ingest.domain.errors import IngestError
        from cloudaudit.ingest.service import accounts

        team_id = await resolve_team(team)
        async with ingest() as deps:
            scheduler_on = deps.settings.scheduler_enabled
            tick_s = deps.settings.scheduler_tick_s
            try:
                reply = await accounts.connect_account(
                    deps,
                    Command(
                        ConnectAccountRequest(
                            role_arn=role_arn, name=name, export_bucket=export_bucket
                        ),
                        Actor.operator(team_id),
                    ),
                )
            except IngestError as exc:
                failed = exc.details.get("failed_step")
                step = failed.value if failed else "connect"
                typer.secho(f"error: [{step}] {exc.message}", fg="red", err=True)
                raise typer.Exit(1) from None
        typer.secho(
            f"connected AWS account {reply.aws_account_id} ({reply.account_id})", fg="green"
        )
        sync_now = f"cloudaudit sync-costs --team {_quoted(team)}"
        if scheduler_on:
            typer.echo(
                f"Its first Cost Explorer sync starts within {tick_s:.0f} s if the ingest "
                f"service is running (`cloudaudit status`); to sync now: `{sync_now}`"
            )
        else:
            typer.echo(
                "The ingest scheduler is off (INGEST_SCHEDULER=false), so nothing syncs on "
                f"its own: run `{sync_now}`"
            )

    run_cli(go(), _ingest_errors())


@accounts_app.command("disconnect")
def accounts_disconnect(
    team: Team,
    account: Annotated[
        str, typer.Option("--account", help="CloudAudit id, 12-digit AWS id or name")
    ],
    delete_data: Annotated[
        bool,
        typer.Option(
            "--delete-data/--keep-data",
            help="Also delete its costs, summaries, resources, anomalies and recommendations "
            "(default: keep them readable; the account can be connected again).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before deleting data.")] = False,
) -> None:
    """Stop syncing an account (audited); its data is kept unless --delete-data."""
    if delete_data and not yes:
        typer.confirm(f"Delete every cost, summary and anomaly of {account}?", abort=True)

    async def go() -> None:
        from cloudaudit.common.actors import Actor, Command
        from cloudaudit.common.events.account import DisconnectAccountRequest
        from cloudaudit.ingest.service import accounts

        team_id = await resolve_team(team)
        async with ingest() as deps:
            account_id = await resolve_account(deps, team_id, account)
            reply = await accounts.disconnect_account(
                deps,
                Command(
                    DisconnectAccountRequest(account_id=account_id, delete_data=delete_data),
                    Actor.operator(team_id),
                ),
            )
        kept = (
            f"deleted its data ({reply.cost_rows_deleted} line items; analytics forgets its "
            "anomalies and recommendations once the ingest service's relay has published it)"
            if reply.data_deleted
            else "its data is kept; `cloudaudit accounts connect` resumes syncing"
        )
        typer.secho(
            f"disconnected AWS account {reply.aws_account_id} ({reply.name}): {kept}", fg="green"
        )

    run_cli(go(), _ingest_errors())


@accounts_app.command("list")
def accounts_list(team: Team, fmt: Format = "table") -> None:
    """The team's accounts, status, last error and this month's Cost Explorer API spend."""
    output = output_format(fmt)

    async def go() -> None:
        from cloudaudit.common.actors import Actor, Command
        from cloudaudit.common.events.account import AccountsRequest
        from cloudaudit.ingest.service import accounts

        team_id = await resolve_team(team)
        async with ingest() as deps:
            reply = await accounts.list_accounts(
                deps, Command(AccountsRequest(), Actor.operator(team_id))
            )
        rows = [a.model_dump(mode="json") for a in reply.accounts]
        print_rows(rows, ACCOUNT_COLUMNS, output)

    run_cli(go(), _ingest_errors())


@accounts_app.command("tag-keys")
def accounts_tag_keys(
    team: Team,
    keys: Annotated[
        list[str] | None, typer.Argument(help="Tag keys to sync from Cost Explorer")
    ] = None,
    fmt: Format = "table",
) -> None:
    """Show, or set, the cost allocation tag keys synced from Cost Explorer (one request each
    per sync page: $0.01 apiece)."""
    output = output_format(fmt)

    async def go() -> None:
        team_id = await resolve_team(team)
        async with ingest() as deps, deps.uow() as uow:
            if keys is not None:
                from cloudaudit.ingest.domain.connect import new_external_id

                await uow.repo.external_id(team_id, new_external_id())
                await uow.repo.set_tag_keys(team_id, sorted({k.strip() for k in keys if k.strip()}))
                await uow.commit()
            # What is stored (trimmed, without blanks), not what was typed.
            current = list(await uow.repo.tag_keys(team_id))
        if output == "json":
            typer.echo(json.dumps({"tag_keys": current}))
        else:
            typer.echo(", ".join(current) or "(none)")

    run_cli(go(), _ingest_errors())


# -- import and sync --------------------------------------------------------------------------
def import_costs(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="CSV, CSV.gz, Parquet files, directories, "
            "or s3://bucket/prefix (manifests followed)"
        ),
    ],
    team: Team,
    account: Annotated[
        str | None,
        typer.Option(
            "--account",
            help="Connected account whose role reads the S3 bucket (AWS id, alias or id)",
        ),
    ] = None,
    fmt: Format = "table",
) -> None:
    """Import CUR, CUR 2.0 / Data Exports or FOCUS files; a re-imported billing period
    replaces the old one. Bad rows are listed and skipped; good rows are kept. A file whose
    every row is rejected fails the whole import (exit 1, nothing kept) with the fix."""

    output = output_format(fmt)

    async def go() -> imports.ImportReport:
        from cloudaudit.ingest.entrypoints.progress import ImportProgressBar
        from cloudaudit.ingest.service import imports

        team_id = await resolve_team(team)
        async with ingest() as deps:
            account_ref = str(await resolve_account(deps, team_id, account)) if account else None
            with ImportProgressBar(enabled=sys.stderr.isatty()) as bar:
                return await imports.import_costs(deps, team_id, paths, account_ref, bar.update)

    report = run_cli(go(), _ingest_errors())
    if output == "json":
        typer.echo(
            json.dumps(
                {
                    "import_id": str(report.import_id),
                    "files": report.files,
                    "rows_read": report.rows_read,
                    "rows_loaded": report.rows_loaded,
                    "rows_rejected": report.rows_rejected,
                    "rows_other_providers": dict(report.other_providers),
                    "rows_by_provider": dict(report.providers),
                    "rows_by_file": {
                        name: {"read": r.read, "loaded": r.loaded, "rejected": r.rejected}
                        for name, r in report.by_file.items()
                    },
                    "periods": sorted([a, p.isoformat()] for a, p in report.periods),
                    "days_published": report.days_published,
                    "interrupted": [str(i) for i in report.interrupted],
                    "seconds": round(report.seconds, 3),
                    "load_seconds": round(report.load_seconds, 3),
                    "problems": [p.as_dict() for p in report.problems],
                },
                indent=2,
            )
        )
    else:
        _print_import_report(report)


def _print_import_report(report: imports.ImportReport) -> None:
    """Green when every row loaded; yellow when some were rejected (the good ones are kept)."""
    for name, kind in report.files.items():
        rows = report.by_file.get(name)
        counted = f"  ({rows.loaded:,} loaded, {rows.rejected:,} rejected)" if rows else ""
        typer.echo(f"{kind:<10} {name}{counted}")
    summary = (
        f"loaded {report.rows_loaded:,} rows, rejected {report.rows_rejected:,}"
        f" in {report.seconds:.1f} s ({report.rows_per_second:,.0f} rows/s); "
        f"{report.days_published} day(s) published"
    )
    if report.rows_rejected:
        summary += (
            "; the good rows are kept. Fix the rejected rows listed below and import the file "
            "again: its billing period is replaced, nothing is counted twice"
        )
    typer.secho(summary, fg="yellow" if report.rows_rejected else "green")
    if report.interrupted:
        typer.secho(
            f"marked {len(report.interrupted)} earlier import(s) interrupted: their process "
            "stopped before finishing (none of their rows were kept)",
            fg="yellow",
        )
    for provider, count in sorted(report.other_providers.items()):
        typer.echo(f"skipped {count:,} rows of provider {provider}")
    others = sorted(p for p in report.providers if p != "aws")
    if others:
        counted = ", ".join(f"{p} {report.providers[p]:,}" for p in others)
        typer.echo(
            f"rows of other clouds loaded ({counted}): their accounts are registered from the "
            "import (status import_only); CloudAudit has no live API for them yet, so their "
            "costs come from FOCUS imports only"
        )
    for problem in report.problems[:50]:
        typer.secho(f"  rejected {problem.describe()}", fg="yellow")
    if len(report.problems) > 50 or report.rows_rejected > len(report.problems):
        typer.echo(
            f"  ... {report.rows_rejected - min(50, len(report.problems)):,} more "
            f"(all kept with the import {report.import_id})"
        )


def sync_costs(
    team: Team,
    account: Annotated[
        str | None,
        typer.Option(
            "--account", help="AWS account id, alias or CloudAudit account id (default: all)"
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, max=365, help="Pull this many trailing days again"),
    ] = None,
    fmt: Format = "table",
) -> None:
    """Sync Cost Explorer now (daily costs by service/region and usage type)."""
    output = output_format(fmt)

    async def go() -> list[sync.SyncOutcome]:
        from cloudaudit.ingest.domain.errors import IngestError
        from cloudaudit.ingest.service import sync

        team_id = await resolve_team(team)
        async with ingest() as deps:
            if account:
                ids = [await resolve_account(deps, team_id, account)]
            else:
                async with deps.uow() as uow:
                    ids = [
                        r.account_id for r in await uow.repo.accounts_of_team(team_id) if r.role_arn
                    ]
            if not ids:
                raise IngestError(
                    "the team has no connected account; connect one first with "
                    "`cloudaudit accounts connect`"
                )
            return [await sync.sync_account(deps, account_id, days) for account_id in ids]

    outcomes = run_cli(go(), _ingest_errors())
    if output == "json":
        typer.echo(
            json.dumps(
                [
                    {
                        "account_id": str(o.account_id),
                        "aws_account_id": o.aws_account_id,
                        "from": o.start.isoformat(),
                        "to": o.end.isoformat(),
                        "rows": o.rows,
                        "days_changed": o.days_changed,
                        "ce_requests": o.ce_requests,
                        "ce_cost": str(o.ce_requests * CE_REQUEST_USD),
                        "clipped": o.clipped,
                    }
                    for o in outcomes
                ],
                indent=2,
            )
        )
        return
    for outcome in outcomes:
        typer.secho(
            f"{outcome.aws_account_id}: {outcome.start}..{outcome.end} "
            f"({outcome.rows} rows, {outcome.days_changed} day(s) changed, "
            f"{outcome.ce_requests} Cost Explorer request(s) = "
            f"${outcome.ce_requests * CE_REQUEST_USD})",
            fg="green",
        )
        for grouping, clipped in outcome.clipped.items():
            typer.secho(
                f"  warning: Cost Explorer answered {clipped} for {grouping}: left out, not stored",
                fg="yellow",
            )


# -- spend ------------------------------------------------------------------------------------
def spend_command(
    team: Team,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", help="AWS account id, alias or CloudAudit id (repeatable)"),
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day, inclusive")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, exclusive")] = None,
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="service|region|usage_type|account|provider|currency|resource|day|month|none|tag:KEY",
        ),
    ] = "service",
    metric: Annotated[
        str, typer.Option("--metric", help="unblended|blended|amortized|public_on_demand")
    ] = "unblended",
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """What the team spent, grouped, exact to the last decimal AWS reported."""
    output = output_format(fmt, ("table", "json", "csv"))
    first_day, last_day = _date(start, "--from"), _date(end, "--to")

    async def go() -> SpendAnswer:
        from cloudaudit.common.clock import utcnow
        from cloudaudit.ingest.domain.spend import (
            SpendQuery,
            default_range,
            parse_dimension,
            parse_metric,
        )
        from cloudaudit.ingest.service import spend

        team_id = await resolve_team(team)
        dimension, tag_key = parse_dimension(by)
        default_start, default_end = default_range(utcnow().date())
        async with ingest() as deps:
            account_ids = (
                tuple([await resolve_account(deps, team_id, a) for a in account])
                if account
                else None
            )
            return await spend.spend(
                deps,
                SpendQuery(
                    team_id=team_id,
                    start=first_day or default_start,
                    end=last_day or default_end,
                    dimension=dimension,
                    tag_key=tag_key,
                    metric=parse_metric(metric),
                    account_ids=account_ids,
                ),
            )

    answer = run_cli(go(), _ingest_errors())
    typer.echo(render_spend(answer, output), nl=False)


def _quoted(value: str) -> str:
    import shlex

    return shlex.quote(value)


ESTIMATED_MARK = "*"


def render_spend(answer: SpendAnswer, fmt: str) -> str:
    """Exact amounts; "not available" is n/a (JSON null), never 0; rows holding Estimated days
    are flagged (a column in CSV and JSON, a mark and a note in the table)."""
    from cloudaudit.ingest.domain.spend import Dimension, exact

    query = answer.query
    # Ungrouped (`--by none`), the one row *is* the total: print it once, as the total.
    rows = [] if query.dimension is Dimension.NONE else answer.rows
    if fmt == "json":
        return (
            json.dumps(
                {
                    "team": str(query.team_id),
                    "metric": query.metric.value,
                    "currency": answer.currency,
                    "from": query.start.isoformat(),
                    "to": query.end.isoformat(),
                    "total": _json_amount(answer.total),
                    "estimated": answer.estimated,
                    "rows": [
                        {"key": r.key, "amount": _json_amount(r.amount), "estimated": r.estimated}
                        for r in answer.rows
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    if fmt == "csv":
        out = io.StringIO()
        # RFC 4180 line ends: a CR inside a cell is then quoted too, so no cell breaks a row
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["key", "amount", "estimated"])
        # keys come from the bill (tag values, usage types): never a formula in a spreadsheet
        writer.writerows([csv_text(r.key), exact(r.amount), _flag(r.estimated)] for r in rows)
        writer.writerow(["total", exact(answer.total), _flag(answer.estimated)])
        return out.getvalue()
    return _spend_table(answer, rows)


def _json_amount(amount: Decimal | None) -> str | None:
    from cloudaudit.ingest.domain.spend import exact

    return None if amount is None else exact(amount)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _spend_table(answer: SpendAnswer, rows: list[Any]) -> str:
    from cloudaudit.ingest.domain.spend import exact

    query = answer.query
    label = query.dimension.value if query.tag_key is None else f"tag:{query.tag_key}"
    amounts = [exact(r.amount) + (f" {ESTIMATED_MARK}" if r.estimated else "") for r in rows]
    total = exact(answer.total) + (f" {ESTIMATED_MARK}" if answer.estimated else "")
    key_width = max([len(label), 5, *(len(r.key) for r in rows)])
    amount_width = max([len(query.metric.value) + 4, len(total), *(len(a) for a in amounts)])
    lines = [
        f"{query.start} .. {query.end} (exclusive), {query.metric.value} cost, {answer.currency}",
        f"{label.upper():<{key_width}}  {'AMOUNT':>{amount_width}}",
    ]
    lines += [
        f"{r.key:<{key_width}}  {a:>{amount_width}}" for r, a in zip(rows, amounts, strict=True)
    ]
    lines.append(f"{'TOTAL':<{key_width}}  {total:>{amount_width}}")
    if answer.estimated:
        lines.append(
            f"{ESTIMATED_MARK} holds Estimated days: AWS may still change them until the month "
            "closes"
        )
    if answer.total is None or any(r.amount is None for r in rows):
        lines.append(
            f"n/a: no cost there carries {query.metric.value} cost (Cost Explorer has no "
            "public on-demand cost, and answered some days without the metric)"
        )
    return "\n".join(lines) + "\n"


def register(app: Any) -> None:
    app.add_typer(accounts_app, name="accounts")
    app.command("import-costs")(import_costs)
    app.command("sync-costs")(sync_costs)
    app.command("spend")(spend_command)
