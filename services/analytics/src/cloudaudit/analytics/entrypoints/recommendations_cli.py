"""`cloudaudit recommendations`: list a team's savings recommendations, or refresh them now."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from cloudaudit.common.cli_support import (
    Format,
    cli_settings,
    database,
    output_format,
    print_rows,
    run_cli,
    team_id,
)

SCHEMA = "analytics"  # cloudaudit.analytics.adapters.orm.SCHEMA, without importing SQLAlchemy
# RecommendationStatus's values, spelled here so `--help` does not import the event models
STATUSES = "open, approved, dismissed, snoozed, implemented, expired"
REFRESH_TIMEOUT_S = 300.0
COLUMNS = [
    "recommendation_id",
    "type",
    "resource",
    "monthly_savings",
    "confidence",
    "status",
    "title",
]

app = typer.Typer(
    help="Savings recommendations: what to change in AWS, and what it saves.", no_args_is_help=False
)
Team = Annotated[
    str | None, typer.Option("--team", help="Team name or id (see `cloudaudit teams list`)")
]


class CliError(Exception):
    """A mistake the user can fix; shown as one line."""


def _team(value: str | None) -> Any:
    if not value:
        raise typer.BadParameter("--team is required (a team name or id: `cloudaudit teams list`)")
    return team_id(value)


def _status(value: str) -> Any:
    from cloudaudit.common.events.recommendation import RecommendationStatus

    if value == "all":
        return None
    try:
        return RecommendationStatus(value.lower())
    except ValueError:
        raise typer.BadParameter(f"--status must be one of {STATUSES} or all") from None


@app.callback(invoke_without_command=True)
def recommendations(
    ctx: typer.Context,
    team: Team = None,
    status: Annotated[str, typer.Option("--status", help=f"{STATUSES} or all")] = "open",
    fmt: Format = "table",
    limit: Annotated[int, typer.Option(help="At most this many, largest savings first")] = 50,
) -> None:
    """A team's recommendations, largest monthly savings first."""
    if ctx.invoked_subcommand is not None:
        return
    from cloudaudit.analytics.adapters.recommendation_repository import RecommendationUnitOfWork
    from cloudaudit.analytics.service.recommendations import list_recommendations
    from cloudaudit.common.actors import Actor, Command
    from cloudaudit.common.events.recommendation import RecommendationsRequest
    from cloudaudit.common.money import format_usd

    output = output_format(fmt)
    request = RecommendationsRequest(status=_status(status), limit=min(max(limit, 1), 200))
    operator = Actor.operator(_team(team))

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            reply = await list_recommendations(
                Command(request, operator), RecommendationUnitOfWork(sessions)
            )
        rows: list[dict[str, Any]] = []
        for rec in reply.recommendations:
            row = rec.model_dump(mode="json")
            row.update(
                type=rec.rec_type,
                resource=rec.resource_id,
                monthly_savings=str(rec.estimated_monthly_savings)
                if output == "json"
                else format_usd(rec.estimated_monthly_savings),
                confidence=str(rec.confidence),
                status=rec.status.value,
            )
            rows.append(row)
        if output == "json":
            typer.echo(json.dumps(rows, indent=2))
        else:
            print_rows(rows, COLUMNS, "table")

    run_cli(go())


@app.command("refresh")
def refresh(team: Team = None, fmt: Format = "table") -> None:
    """Re-evaluate the team's AWS accounts now, as the operator (needs the services running:
    `cloudaudit up`; ingest answers the inventory)."""
    from cloudaudit.analytics.entrypoints.app import analytics_deps
    from cloudaudit.analytics.service.recommendations import refresh as refresh_recommendations
    from cloudaudit.analytics.settings import AnalyticsSettings
    from cloudaudit.common.bus import BusNames, BusUnavailable, make_broker
    from cloudaudit.common.deps import service_settings
    from cloudaudit.common.errors import DomainError
    from cloudaudit.common.infra import resolve_endpoints
    from cloudaudit.common.money import format_usd

    output = output_format(fmt)
    team_id = _team(team)

    async def go() -> None:
        settings = service_settings(cli_settings(), AnalyticsSettings)
        endpoints, _ = resolve_endpoints(settings, start=False)
        names = BusNames(settings.bus_prefix)
        # the refresh runs analytics' own code here, so it asks ingest as analytics does
        broker = make_broker(
            endpoints.nats_url_for("analytics"), names, "cli", 1, access=endpoints.bus_access
        )
        try:
            await broker.connect()
            async with database(SCHEMA) as sessions:
                deps = analytics_deps(broker, names, sessions, None, settings)
                reply = await refresh_recommendations(team_id, None, deps)
        except DomainError as exc:
            raise CliError(f"{exc.code}: {exc.message}") from None
        except BusUnavailable as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            from cloudaudit.common.settings import masked_url

            raise CliError(
                f"cannot reach NATS at {masked_url(endpoints.nats_url)} ({exc}); start "
                "CloudAudit with `cloudaudit up`"
            ) from None
        finally:
            await broker.stop()
        if not reply.ok:
            assert reply.error is not None
            raise CliError(f"{reply.error.code}: {reply.error.message}")
        if output == "json":
            typer.echo(reply.model_dump_json(indent=2))
            return
        typer.echo(
            f"accounts {reply.accounts}: {reply.created} new, {reply.refreshed} refreshed, "
            f"{reply.implemented} implemented, {reply.expired} expired; "
            f"{reply.open_total} open worth {format_usd(reply.open_monthly_savings)} a month "
            f"(texts: {reply.llm_texts} LLM, {reply.template_texts} template, "
            f"{reply.cached_texts} cached)"
        )
        for problem in reply.problems:
            typer.secho(f"note: {problem}", fg="yellow")

    run_cli(go(), (CliError,))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="recommendations")
