"""The `cloudaudit` commands a new user types, and the spend request the bot sends: the same
code path, exact amounts."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from uuid import uuid4

from cloudaudit.common.bus import rpc
from cloudaudit.common.events.cost import (
    RPC_SPEND,
    Granularity,
    SpendGroupBy,
    SpendMetric,
    SpendReply,
    SpendRequest,
)
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import sign_actor_token
from cloudaudit.ingest.entrypoints.progress import ImportProgressBar
from cloudaudit.ingest.service.imports import ImportProgress, import_costs
from rich.console import Console

from ..oracle import DATA, cur2, legacy, totals


async def test_new_user_connects_imports_and_gets_exact_spend_from_the_cli(run_cli, customer):
    team = str(uuid4())

    shown = await run_cli("accounts", "external-id", "--team", team)
    assert shown.exit_code == 0, shown.output
    external_id = shown.output.split("ExternalId:", 1)[1].split()[0]
    assert "quickcreate" in shown.output
    role_arn = customer.create_role(external_id)

    connected = await run_cli("accounts", "connect", "--team", team, "--role-arn", role_arn)
    assert connected.exit_code == 0, connected.output
    assert f"connected AWS account {customer.account_id}" in connected.output

    imported = await run_cli(
        "import-costs",
        str(DATA / "cur2_2024_04.csv.gz"),
        str(DATA / "cur_legacy_2024_03.csv"),
        "--team",
        team,
    )
    assert imported.exit_code == 0, imported.output
    assert "loaded 21 rows, rejected 0" in imported.output

    answer = await run_cli(
        "spend",
        "--team",
        team,
        "--from",
        "2024-03-01",
        "--to",
        "2024-05-01",
        "--by",
        "service",
        "--metric",
        "amortized",
        "--format",
        "json",
    )
    assert answer.exit_code == 0, answer.output
    body = json.loads(answer.output)
    expected = totals(
        cur2("cur2_2024_04.csv.gz") + legacy("cur_legacy_2024_03.csv"),
        lambda i: i.service,
        lambda i: i.amortized,
    )
    assert body["team"] == team and body["metric"] == "amortized" and body["currency"] == "USD"
    assert (body["from"], body["to"]) == ("2024-03-01", "2024-05-01")
    assert {r["key"]: Decimal(r["amount"]) for r in body["rows"]} == expected
    assert Decimal(body["total"]) == sum(expected.values())
    assert all("E" not in r["amount"] for r in body["rows"])  # plain decimals, never floats

    by_day = await run_cli(
        "spend",
        "--team",
        team,
        "--from",
        "2024-04-01",
        "--to",
        "2024-04-03",
        "--by",
        "day",
        "--format",
        "csv",
    )
    april = totals(
        [i for i in cur2("cur2_2024_04.csv.gz") if i.day <= "2024-04-02"], lambda i: i.day
    )
    assert by_day.output.splitlines() == [
        "key,amount,estimated",
        f"2024-04-01,{april['2024-04-01']},false",
        f"2024-04-02,{april['2024-04-02']},false",
        f"total,{sum(april.values())},false",
    ]

    table = await run_cli(
        "spend",
        "--team",
        team,
        "--from",
        "2024-04-01",
        "--to",
        "2024-05-01",
        "--by",
        "tag:environment",
    )
    assert table.exit_code == 0 and "TAG:ENVIRONMENT" in table.output and "prod" in table.output

    listed = await run_cli("accounts", "list", "--team", team, "--format", "json")
    rows = {r["aws_account_id"]: r for r in json.loads(listed.output)}
    assert rows[customer.account_id]["status"] == "connected"
    assert rows["444455556666"]["status"] == "import_only"


async def test_user_mistakes_are_one_red_line_and_an_exit_code(run_cli, customer):
    team = str(uuid4())

    not_uuid = await run_cli("spend", "--team", "acme")
    not_report = await run_cli("import-costs", str(DATA / "not_a_report.csv"), "--team", team)
    bad_arn = await run_cli(
        "accounts", "connect", "--team", team, "--role-arn", "AKIAIOSFODNN7EXAMPLE"
    )
    bad_range = await run_cli("spend", "--team", team, "--from", "2024-05-01", "--to", "2024-04-01")
    bad_by = await run_cli("spend", "--team", team, "--by", "colour")

    assert not_uuid.exit_code == 1 and "no team is called 'acme'" in not_uuid.output
    assert not_report.exit_code == 1 and "not a cost report" in not_report.output
    assert bad_arn.exit_code == 1 and "[validate_arn]" in bad_arn.output
    assert "never takes access keys" in bad_arn.output
    assert bad_range.exit_code == 1 and "--to is exclusive" in bad_range.output
    assert bad_by.exit_code == 1 and "tag:KEY" in bad_by.output
    for result in (not_uuid, not_report, bad_arn, bad_range, bad_by):
        assert "Traceback" not in result.output


async def test_team_and_account_are_taken_by_name_and_small_wrongs_stay_fixed(
    run_cli, customer, ingest_settings
):
    created = await run_cli("teams", "create", "Acme Corp", "--owner", "ana@acme.test")
    assert created.exit_code == 0, created.output
    team = "Acme Corp"

    shown = await run_cli("accounts", "external-id", "--team", team, "--format", "json")
    assert shown.exit_code == 0, shown.output
    ids = json.loads(shown.stdout)
    assert set(ids) == {"team_id", "external_id", "principal_arn", "quick_create_url"}
    role_arn = customer.create_role(ids["external_id"])
    connected = await run_cli(
        "accounts", "connect", "--team", team, "--role-arn", role_arn, "--name", "Production"
    )
    assert connected.exit_code == 0, connected.output
    # The test env runs with INGEST_SCHEDULER=false: no "next tick" is promised.
    assert "next tick" not in connected.output
    assert "scheduler is off" in connected.output
    assert "cloudaudit sync-costs --team 'Acme Corp'" in connected.output

    synced = await run_cli(
        "sync-costs", "--team", team, "--account", "Production", "--format", "json"
    )
    assert synced.exit_code == 0, synced.output
    [outcome] = json.loads(synced.stdout)  # the in-process AWS stand-in logs to stderr
    assert outcome["aws_account_id"] == customer.account_id
    assert Decimal(outcome["ce_cost"]) == outcome["ce_requests"] * Decimal("0.01")

    keys = await run_cli("accounts", "tag-keys", "--team", team, " env ", "", "--format", "json")
    assert json.loads(keys.stdout) == {"tag_keys": ["env"]}  # what is stored, not what was typed
    assert (await run_cli("accounts", "tag-keys", "--team", team)).stdout.strip() == "env"

    imported = await run_cli("import-costs", str(DATA / "cur2_2024_04.csv.gz"), "--team", team)
    assert imported.exit_code == 0, imported.output
    april = ("--from", "2024-04-01", "--to", "2024-05-01")
    by_alias, by_aws_id = [
        json.loads(
            (
                await run_cli("spend", "--team", team, *april, "--account", a, "--format", "json")
            ).output
        )
        for a in ("production", customer.account_id)
    ]
    assert by_alias == by_aws_id
    unknown = await run_cli("spend", "--team", team, *april, "--account", "staging")
    assert unknown.exit_code == 1 and "'Production'" in unknown.output

    total_only = await run_cli("spend", "--team", team, *april, "--by", "none", "--format", "csv")
    lines = total_only.output.splitlines()
    assert lines[0] == "key,amount,estimated" and len(lines) == 2
    assert lines[1].startswith("total,")
    table = await run_cli("spend", "--team", team, *april, "--by", "none")
    assert table.output.upper().count("TOTAL") == 1

    # Connect runs are recorded in order: started, then finished.
    from cloudaudit.common.db import make_engine
    from sqlalchemy import text

    engine = make_engine(ingest_settings.database_url.get_secret_value())
    async with engine.connect() as conn:
        runs = (
            await conn.execute(
                text("SELECT started_at, finished_at FROM ingest.sync_runs WHERE kind='connect'")
            )
        ).all()
    await engine.dispose()
    assert runs and all(started <= finished for started, finished in runs)


async def test_spend_over_the_bus_answers_what_the_cli_answers(service, deps, bus):
    team_id = uuid4()
    await import_costs(deps, team_id, [str(DATA / "cur_legacy_2024_03.csv")])
    expected = legacy("cur_legacy_2024_03.csv")

    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_SPEND,
        SpendRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.VIEWER, Audience.INGEST),
            start=date(2024, 3, 1),
            end=date(2024, 4, 1),
            group_by=SpendGroupBy.REGION,
            granularity=Granularity.DAILY,
            top=1,
            metric=SpendMetric.UNBLENDED,
        ),
        SpendReply,
        30,
    )

    assert reply.ok, reply.error
    by_region = totals(expected, lambda i: i.region)
    biggest = max(by_region, key=by_region.get)
    assert [g.key for g in reply.groups] == [biggest, "Other"]
    assert reply.total == sum(by_region.values())
    assert reply.groups[0].total == by_region[biggest]
    assert {p.period.isoformat(): p.amount for p in reply.groups[0].points} == totals(
        [i for i in expected if i.region == biggest], lambda i: i.day
    )
    refused = await rpc(
        bus.broker,
        bus.names,
        RPC_SPEND,
        SpendRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.VIEWER, Audience.INGEST),
            start=date(2024, 3, 1),
            end=date(2024, 4, 1),
            group_by=SpendGroupBy.TAG,
        ),
        SpendReply,
        30,
    )
    assert not refused.ok and "tag key" in refused.error.message


def test_progress_bar_shows_bytes_rows_per_second_and_eta():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with ImportProgressBar(enabled=True, console=console) as bar:
        bar.update(ImportProgress("cur.csv.gz", 5_000_000, 10_000_000, 250_000, 3))
    text = out.getvalue()
    assert "250,000 rows" in text and "3 rejected" in text and "ETA" in text and "MB" in text
