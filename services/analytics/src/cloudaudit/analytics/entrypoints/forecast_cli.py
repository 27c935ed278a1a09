"""`cloudaudit forecast`: the steps after each series of a CSV (offline, deterministic)."""

from __future__ import annotations

from typing import Annotated

import typer
from cloudaudit.analytics.entrypoints.anomalies_cli import _open


def forecast(
    input_path: Annotated[
        str,
        typer.Option("--input", help="CSV series_id,timestamp,value[,...], or - for stdin"),
    ],
    output_path: Annotated[
        str,
        typer.Option(
            "--output",
            help="CSV series_id,timestamp,forecast,lower_80,upper_80,lower_95,upper_95, or -",
        ),
    ],
    horizon: Annotated[
        int, typer.Option(min=1, max=10_000, help="Steps to forecast after each series' last row")
    ] = 30,
) -> None:
    """Forecast each series of a CSV: expected value and 80 % / 95 % intervals per step."""
    from cloudaudit.analytics.adapters import forecast_csv
    from cloudaudit.analytics.domain.backtest import MalformedBacktestRow

    try:
        with _open(input_path, "r") as source, _open(output_path, "w") as sink:
            run = forecast_csv.run(source, sink, horizon)
    except MalformedBacktestRow as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"forecast: {run.points:,} points in {run.series:,} series, {horizon} steps each, "
        f"{run.seconds:.2f} s",
        err=True,
    )


def register(app: typer.Typer) -> None:
    app.command("forecast")(forecast)
