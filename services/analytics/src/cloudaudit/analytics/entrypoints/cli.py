"""Analytics commands on the `cloudaudit` CLI: each capability registers its own."""

from __future__ import annotations

import typer
from cloudaudit.analytics.entrypoints import anomalies_cli, forecast_cli, recommendations_cli


def register(app: typer.Typer) -> None:
    anomalies_cli.register(app)
    recommendations_cli.register(app)
    forecast_cli.register(app)
