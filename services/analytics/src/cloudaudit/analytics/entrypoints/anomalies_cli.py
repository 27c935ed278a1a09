"""`cloudaudit backtest` (what the detector would have flagged on a CSV of series) and
`cloudaudit anomalies` (what it has found)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, TextIO

import typer
from cloudaudit.analytics.adapters import backtest_csv
from cloudaudit.analytics.domain.backtest import MalformedBacktestRow


@contextlib.contextmanager
def _open(path: str, mode: str) -> Iterator[TextIO]:
    if path == "-":
        yield sys.stdin if mode == "r" else sys.stdout
        return
    try:
        with open(path, mode, newline="", encoding="utf-8") as handle:
            yield handle
    except OSError as exc:
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
) -> None:
    """Replay series through the live anomaly detector (no look-ahead, deterministic)."""
    if units not in ("usd", "raw"):
        raise typer.BadParameter("--units must be usd or raw")
    try:
        detector_config, thresholds = backtest_csv.load_config(config, units)
        with _open(input_path, "r") as source, _open(output_path, "w") as sink:
            run = backtest_csv.run(source, sink, detector_config, thresholds)
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
    team: Annotated[str | None, typer.Option(help="Team id (default: every team)")] = None,
    status: Annotated[str | None, typer.Option(help="open, resolved, expected, dismissed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Detected cost anomalies, newest first."""
    from uuid import UUID

    from cloudaudit.analytics.adapters.anomaly_repository import AnomalyRepository
    from cloudaudit.analytics.adapters.orm import SCHEMA
    from cloudaudit.common.cli_support import database, print_rows, run_cli

    try:
        team_id = UUID(team) if team else None
    except ValueError:
        raise typer.BadParameter("--team must be a team id (a UUID)") from None

    async def go() -> None:
        async with database(SCHEMA) as sessions, sessions() as session:
            rows = await AnomalyRepository(session).anomalies(team_id, status, limit)
        print_rows(
            rows,
            [
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
            ],
            fmt,
        )

    run_cli(go())


def register(app: typer.Typer) -> None:
    app.command("backtest")(backtest)
    app.command("anomalies")(anomalies)
