"""`cloudaudit backtest` (what the detector would have flagged on a CSV of series),
`cloudaudit anomalies` (what it has found) and `cloudaudit expect` (planned spend)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO
from uuid import UUID

import typer
from cloudaudit.common.cli_support import (
    Format,
    TeamOption,
    database,
    output_format,
    print_rows,
    resolve_team,
    run_cli,
    team_id,
)

SCHEMA = "analytics"  # cloudaudit.analytics.adapters.orm.SCHEMA, without importing SQLAlchemy
ANOMALY_COLUMNS = [
    "anomaly_id",
    "aws_account_id",
    "service",
    "region",
    "usage_date",
    "kind",
    "severity",
    "status",
    "impact",
    "deviation_pct",
]

if TYPE_CHECKING:
    from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@contextlib.contextmanager
def _open(path: str, mode: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdin if mode == "r" else sys.stdout
        return
    try:
        with open(path, mode, newline="", encoding="utf-8") as handle:
            yield handle
    except OSError as exc:
        from cloudaudit.analytics.domain.backtest import MalformedBacktestRow

        raise MalformedBacktestRow(f"cannot open {path}: {exc.strerror}") from None


def backtest(
    input_path: Annotated[
        str,
        typer.Option(
            "--input", help="CSV series_id,timestamp,value[,account,service,region], or - for stdin"
        ),
    ],
    output_path: Annotated[
        str,
        typer.Option("--output", help="CSV series_id,timestamp,score,is_anomaly, or - for stdout"),
    ],
    units: Annotated[
        str, typer.Option(help="usd (dollar thresholds) or raw (relative only)")
    ] = "usd",
    config: Annotated[Path | None, typer.Option(help="TOML/JSON detector settings")] = None,
    flags: Annotated[
        str,
        typer.Option(
            help="alerts: flag the step where a new alert would be posted; "
            "steps: flag every step of an alerted episode"
        ),
    ] = "alerts",
) -> None:
    """Replay series through the live anomaly detector (no look-ahead, deterministic)."""
    from cloudaudit.analytics.adapters import backtest_csv
    from cloudaudit.analytics.domain.backtest import MalformedBacktestRow

    if units not in ("usd", "raw"):
        raise typer.BadParameter("--units must be usd or raw")
    if flags not in ("alerts", "steps"):
        raise typer.BadParameter("--flags must be alerts or steps")
    try:
        detector_config, thresholds = backtest_csv.load_config(config, units)
        with _open(input_path, "r") as source, _open(output_path, "w") as sink:
            run = backtest_csv.run(source, sink, detector_config, thresholds, flags)
    except MalformedBacktestRow as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"backtest: {run.points:,} points in {run.series:,} series, "
        f"{run.seconds:.2f} s, {run.points_per_second:,.0f} points/s",
        err=True,
    )
    typer.echo(f"seconds={run.seconds:.6f}", err=True)


def anomalies(
    team: Annotated[str | None, typer.Option(help="Team name or id (default: every team)")] = None,
    status: Annotated[str | None, typer.Option(help="open, resolved, expected, dismissed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    fmt: Format = "table",
) -> None:
    """Detected cost anomalies, newest first."""
    from cloudaudit.analytics.service.anomalies import anomaly_rows

    output = output_format(fmt)

    async def go() -> None:
        team_id = await resolve_team(team) if team else None
        async with database(SCHEMA) as sessions:
            rows = await anomaly_rows(team_id, status, limit, _uow(sessions))
        print_rows([asdict(r) for r in rows], ANOMALY_COLUMNS, output)

    run_cli(go())


# -- planned spend ----------------------------------------------------------------------------
expect_app = typer.Typer(
    help="Planned spend: known increases that are recorded as expected instead of alerting.",
    no_args_is_help=True,
)
PLAN_COLUMNS = [
    "expectation_id",
    "service",
    "aws_account_id",
    "amount_per_day",
    "start_date",
    "end_date",
    "note",
    "status",
]


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{option} must be a date like 2026-12-01, not {value!r}"
        ) from None


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value.strip().removeprefix("$").replace(",", ""))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise typer.BadParameter(f"--amount must be a number of dollars like 500, not {value!r}")
    if amount <= 0:
        raise typer.BadParameter(
            f"--amount must be more than 0 (extra dollars per day), not {value}"
        )
    return amount


def _uow(sessions: async_sessionmaker[AsyncSession]) -> AnomalyUnitOfWork:
    from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
    from cloudaudit.analytics.adapters.orm import outbox

    # audit events wait in the outbox; the running analytics service publishes them
    return AnomalyUnitOfWork(sessions, outbox)


@expect_app.command("add")
def expect_add(
    team: TeamOption,
    amount: Annotated[str, typer.Option(help="Extra spend per day, in USD (e.g. 500)")],
    start: Annotated[str, typer.Option("--from", help="First day, e.g. 2026-12-01")],
    end: Annotated[str, typer.Option("--to", help="Last day (inclusive), e.g. 2026-12-31")],
    service: Annotated[
        str | None, typer.Option(help='AWS service, e.g. "Amazon EC2" (default: any service)')
    ] = None,
    account: Annotated[
        str | None,
        typer.Option(help="AWS account id or CloudAudit account id (default: every account)"),
    ] = None,
    note: Annotated[str | None, typer.Option(help="Why, for whoever reads the alert log")] = None,
    fmt: Format = "table",
) -> None:
    """Plan spend: anomalies it explains are recorded as expected and not alerted."""
    # imported here: the detector's libraries are slow to load for every other command
    from cloudaudit.analytics.service.anomalies import PlanRejected, PlanSpend, plan_spend
    from cloudaudit.common.money import format_usd

    command = PlanSpend(
        team_id=team_id(team),
        amount=_amount(amount),
        start=_day(start, "--from"),
        end=_day(end, "--to"),
        service=service.strip() or None if service else None,
        account=account,
        note=note,
        source="cli",
    )
    output = output_format(fmt)

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            expectation_id = await plan_spend(command, _uow(sessions), team_must_exist=True)
        if output == "json":
            typer.echo(json.dumps({"expectation_id": str(expectation_id)}))
            return
        where = command.service or "any service"
        scope = f"account {command.account}" if command.account else "every account"
        typer.echo(
            f"planned spend {expectation_id}: {format_usd(command.amount)} a day more on {where} "
            f"in {scope}, {command.start} to {command.end}"
        )

    run_cli(go(), (PlanRejected,))


@expect_app.command("list")
def expect_list(
    team: TeamOption,
    fmt: Format = "table",
    show_all: Annotated[bool, typer.Option("--all", help="Include cancelled plans")] = False,
) -> None:
    """A team's planned spend, earliest first."""
    from cloudaudit.analytics.service.anomalies import PlanRejected, planned_spend
    from cloudaudit.common.money import format_usd

    output = output_format(fmt)

    async def go() -> None:
        wanted = await resolve_team(team)
        async with database(SCHEMA) as sessions:
            rows = await planned_spend(wanted, _uow(sessions), include_cancelled=show_all)
        print_rows(
            [
                {
                    **asdict(r),
                    "amount_per_day": str(r.amount) if output == "json" else format_usd(r.amount),
                    "status": "cancelled" if r.cancelled_at else "active",
                }
                for r in rows
            ],
            PLAN_COLUMNS,
            output,
        )

    run_cli(go(), (PlanRejected,))


@expect_app.command("cancel")
def expect_cancel(
    expectation_id: Annotated[str, typer.Argument(help="Id from `cloudaudit expect list`")],
) -> None:
    """Withdraw planned spend: from now on what it covered alerts again."""
    from cloudaudit.analytics.service.anomalies import PlanRejected, cancel_planned_spend
    from cloudaudit.common.money import format_usd

    try:
        wanted = UUID(expectation_id)
    except ValueError:
        raise typer.BadParameter(
            f"the id must be a planned-spend id from `cloudaudit expect list`, not {expectation_id!r}"
        ) from None

    async def go() -> None:
        async with database(SCHEMA) as sessions:
            row = await cancel_planned_spend(wanted, _uow(sessions), source="cli")
        typer.echo(
            f"cancelled planned spend {wanted}: {format_usd(row.amount)} a day on "
            f"{row.service or 'any service'}, {row.start_date} to {row.end_date}"
        )

    run_cli(go(), (PlanRejected,))


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
    app.command("anomalies")(anomalies)
    app.add_typer(expect_app, name="expect")
