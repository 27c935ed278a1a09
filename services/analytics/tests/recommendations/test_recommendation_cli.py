"""`cloudaudit recommendations` against the running services and the real database."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

from cloudaudit.common.cli import _register_service_commands, app
from typer.testing import CliRunner


def run(*args: str):
    _register_service_commands()
    return CliRunner().invoke(app, list(args))


async def test_refresh_then_list_as_json_and_table(
    aws, static_account, start, settings, monkeypatch
):
    team, account = uuid4(), uuid4()
    static_account(team, account)
    volume = aws.volume(250, "gp2")
    await start("ingest")
    await start("analytics")
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("NATS_URL", settings.nats_url_value())
    monkeypatch.setenv("CLOUDAUDIT_BUS_PREFIX", settings.bus_prefix)

    refreshed = await asyncio.to_thread(run, "recommendations", "refresh", "--team", str(team))
    as_json = await asyncio.to_thread(
        run, "recommendations", "--team", str(team), "--format", "json"
    )
    as_table = await asyncio.to_thread(run, "recommendations", "--team", str(team))
    none_approved = await asyncio.to_thread(
        run, "recommendations", "--team", str(team), "--status", "approved"
    )

    assert refreshed.exit_code == 0, refreshed.output
    assert "1 new" in refreshed.output and "worth $25.00 a month" in refreshed.output
    assert as_json.exit_code == 0, as_json.output
    [row] = json.loads(as_json.output)
    assert (row["type"], row["resource"], row["monthly_savings"], row["status"]) == (
        "unattached_ebs",
        volume,
        "25.00",
        "open",
    )  # 250 GiB x $0.10
    assert "$25.00" in as_table.output and "unattached_ebs" in as_table.output
    assert none_approved.exit_code == 0 and "(none)" in none_approved.output


def test_a_bad_team_or_status_is_one_line_not_a_traceback(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    bad_team = run("recommendations", "--team", "acme")
    bad_status = run("recommendations", "--team", str(uuid4()), "--status", "later")

    assert bad_team.exit_code == 1 and "no team is called 'acme'" in bad_team.output
    assert "Traceback" not in bad_team.output
    assert bad_status.exit_code == 2 and "--status must be one of" in bad_status.output
