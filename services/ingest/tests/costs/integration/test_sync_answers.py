"""Cost Explorer answers as AWS may really give them, through moto into PostgreSQL: metrics the
answer lacks are "not available" (never 0) and Estimated days are marked in `spend`; days outside
the window asked for are clipped with a warning; a group answered twice is refused; and a sync
stopped by anything ends failed with its requests counted, never `syncing`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from cloudaudit.common.bus import rpc
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.db import make_engine
from cloudaudit.common.events.cost import (
    RPC_SPEND,
    Granularity,
    SpendGroupBy,
    SpendMetric,
    SpendReply,
    SpendRequest,
)
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import PINNED_TODAY, sign_actor_token
from cloudaudit.ingest.domain.errors import AwsUnavailable, SyncFailed
from cloudaudit.ingest.domain.spend import Dimension, Metric
from cloudaudit.ingest.service.sync import sync_account
from sqlalchemy import text

from .conftest import spent
from .test_sync import connected, day, group, page

TODAY = PINNED_TODAY
D1, D2 = TODAY - timedelta(days=2), TODAY - timedelta(days=1)
S3, KMS = "Amazon Simple Storage Service", "AWS Key Management Service"
EVERYTHING = (TODAY - timedelta(days=400), TODAY + timedelta(days=30))


@pytest.fixture(autouse=True)
def _clock_at_today():
    with frozen_at(TODAY):
        yield


def unblended_only(keys: list[str], amount: str) -> dict[str, Any]:
    """A group as an answer without AmortizedCost, BlendedCost and NetUnblendedCost has it."""
    return {
        "Keys": keys,
        "Metrics": {
            "UnblendedCost": {"Amount": amount, "Unit": "USD"},
            "UsageQuantity": {"Amount": "1", "Unit": "N/A"},
        },
    }


async def stored(deps, sql: str, **params: Any) -> list[Any]:
    async with deps.uow() as uow:
        return list((await uow.session.execute(text(sql), params)).all())


async def account_and_run(deps, account_id: UUID) -> tuple[Any, Any]:
    [account] = await stored(
        deps,
        "SELECT status, last_error FROM ingest.aws_accounts WHERE account_id = :a",
        a=account_id,
    )
    [run] = await stored(
        deps,
        "SELECT status, ce_requests, error, details FROM ingest.sync_runs "
        "WHERE account_id = :a AND kind = 'cost_explorer' ORDER BY started_at DESC LIMIT 1",
        a=account_id,
    )
    return account, run


# -- not available, estimated -----------------------------------------------------------------
async def test_metrics_the_answer_lacks_are_not_available_and_estimated_days_are_marked(
    deps, bus, customer, run_cli
):
    team_id, account_id = await connected(deps, customer)
    customer.queue_cost_and_usage(
        page(
            day(D1, [unblended_only([S3, "us-east-1"], "2.50")]),
            day(D2, [unblended_only([S3, "us-east-1"], "1.25")], estimated=True),
        ),
        page(
            day(D1, [unblended_only([S3, "USE1-TimedStorage-ByteHrs"], "2.50")]),
            day(D2, [unblended_only([S3, "USE1-TimedStorage-ByteHrs"], "1.25")], estimated=True),
        ),
    )

    await sync_account(deps, account_id)

    assert await stored(
        deps,
        "SELECT DISTINCT amortized_cost, blended_cost, net_unblended_cost FROM ingest.ce_costs",
    ) == [(None, None, None)]  # not 0
    for by in (Dimension.SERVICE, Dimension.USAGE_TYPE, Dimension.DAY):
        amortized = await spent(deps, team_id, *EVERYTHING, by, Metric.AMORTIZED)
        assert set(amortized.values()) == {None}, by
    assert await spent(deps, team_id, *EVERYTHING, Dimension.SERVICE) == {S3: Decimal("3.75")}

    window = ("--from", D1.isoformat(), "--to", TODAY.isoformat())
    team = str(team_id)
    as_json = await run_cli("spend", "--team", team, *window, "--by", "day", "--format", "json")
    body = json.loads(as_json.stdout)
    assert [(r["key"], r["amount"], r["estimated"]) for r in body["rows"]] == [
        (D1.isoformat(), "2.50", False),
        (D2.isoformat(), "1.25", True),
    ]
    assert (body["total"], body["estimated"]) == ("3.75", True)
    amortized_json = await run_cli(
        "spend", "--team", team, *window, "--metric", "amortized", "--format", "json"
    )
    body = json.loads(amortized_json.stdout)
    assert body["total"] is None and body["rows"] == [
        {"key": S3, "amount": None, "estimated": True}
    ]
    as_csv = await run_cli(
        "spend", "--team", team, *window, "--by", "usage_type", "--format", "csv"
    )
    assert as_csv.stdout.splitlines() == [
        "key,amount,estimated",
        "USE1-TimedStorage-ByteHrs,3.75,true",
        "total,3.75,true",
    ]
    amortized_csv = await run_cli(
        "spend", "--team", team, *window, "--metric", "amortized", "--format", "csv"
    )
    assert amortized_csv.stdout.splitlines()[1:] == [f"{S3},n/a,true", "total,n/a,true"]
    table = await run_cli("spend", "--team", team, *window, "--metric", "amortized")
    [line] = [ln for ln in table.stdout.splitlines() if ln.startswith(S3)]
    assert line.endswith("  n/a *") and "TOTAL" in table.stdout
    assert "* holds Estimated days" in table.stdout and "n/a: no cost there carries" in table.stdout

    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_SPEND,
        SpendRequest(
            actor_token=sign_actor_token(team_id, uuid4(), Role.VIEWER, Audience.INGEST),
            start=D1,
            end=TODAY,
            group_by=SpendGroupBy.SERVICE,
            granularity=Granularity.DAILY,
            metric=SpendMetric.AMORTIZED,
        ),
        SpendReply,
        30,
    )
    assert reply.ok and reply.not_available and reply.estimated
    [group_reply] = reply.groups
    assert group_reply.not_available and group_reply.estimated and group_reply.points == []


# -- days outside the window ------------------------------------------------------------------
async def test_days_outside_the_window_are_clipped_with_a_warning_and_groupings_agree(
    deps, bus, customer, caplog, run_cli
):
    team_id, account_id = await connected(deps, customer)
    before = TODAY - timedelta(days=120)  # the first sync asks for the 90 days before today
    customer.queue_cost_and_usage(
        page(
            day(before, [group([S3, "us-east-1"], "30.00")]),
            day(D1, [group([S3, "us-east-1"], "10.00"), group([KMS, "us-east-1"], "0.50")]),
            day(D2, [group([S3, "us-east-1"], "11.00")], estimated=True),
            day(TODAY, [group([S3, "us-east-1"], "4.00")], estimated=True),  # not over yet
        ),
        page(
            day(D1, [group([S3, "TimedStorage"], "10.00"), group([KMS, "KMS-Requests"], "0.50")]),
            day(D2, [group([S3, "TimedStorage"], "11.00")], estimated=True),
            day(TODAY, [group([S3, "TimedStorage"], "4.00")], estimated=True),
        ),
    )

    with caplog.at_level(logging.WARNING, logger="cloudaudit.ingest.service.sync"):
        outcome = await sync_account(deps, account_id)

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"2 day(s) outside the window ({before}..{TODAY})" in w and "service_region" in w
        for w in warnings
    ), warnings
    assert any(f"1 day(s) outside the window ({TODAY})" in w for w in warnings), warnings
    assert outcome.clipped == {
        "service_region": f"2 day(s) outside the window ({before}..{TODAY})",
        "service_usage_type": f"1 day(s) outside the window ({TODAY})",
    }
    by_service = await spent(deps, team_id, *EVERYTHING, Dimension.SERVICE)
    by_usage_type = await spent(deps, team_id, *EVERYTHING, Dimension.USAGE_TYPE)
    assert by_service == {S3: Decimal("21.00"), KMS: Decimal("0.50")}
    assert sum(by_usage_type.values()) == sum(by_service.values())
    assert (
        await stored(
            deps,
            "SELECT usage_date FROM ingest.ce_costs WHERE usage_date < :s OR usage_date >= :e",
            s=outcome.start,
            e=outcome.end,
        )
        == []
    )  # never stored
    _, run = await account_and_run(deps, account_id)
    details = run.details if isinstance(run.details, dict) else json.loads(run.details)
    assert details["clipped_days"]["service_region"] == [str(before), str(TODAY)]

    # The next sync restates the last days and is answered today again: it used to collide
    # with the day the first one stored (UniqueViolationError, the account left `syncing`).
    customer.queue_cost_and_usage(
        page(
            day(D1, [group([S3, "us-east-1"], "10.00"), group([KMS, "us-east-1"], "0.50")]),
            day(D2, [group([S3, "us-east-1"], "12.00")]),
            day(TODAY, [group([S3, "us-east-1"], "5.00")], estimated=True),
        ),
        page(
            day(D1, [group([S3, "TimedStorage"], "10.00"), group([KMS, "KMS-Requests"], "0.50")]),
            day(D2, [group([S3, "TimedStorage"], "12.00")]),
            day(TODAY, [group([S3, "TimedStorage"], "5.00")], estimated=True),
        ),
    )
    again = await run_cli("sync-costs", "--team", str(team_id))

    assert again.exit_code == 0, again.output
    assert (
        f"warning: Cost Explorer answered 1 day(s) outside the window ({TODAY}) for "
        "service_region: left out, not stored" in again.stdout
    )
    account, run = await account_and_run(deps, account_id)
    assert (account.status, run.status) == ("connected", "succeeded")
    assert await spent(deps, team_id, *EVERYTHING, Dimension.SERVICE) == {
        S3: Decimal("22.00"),
        KMS: Decimal("0.50"),
    }
    assert sum((await spent(deps, team_id, *EVERYTHING, Dimension.USAGE_TYPE)).values()) == (
        Decimal("22.50")
    )


# -- refused answers, failed syncs ------------------------------------------------------------
async def test_a_group_answered_twice_is_refused_and_the_sync_ends_failed_not_syncing(
    deps, bus, customer
):
    _, account_id = await connected(deps, customer)
    customer.queue_cost_and_usage(
        page(day(D1, [group([S3, "us-east-1"], "10.00")]), token="p2"),
        page(day(D1, [group([S3, "us-east-1"], "10.00")])),  # the same group again
    )

    with pytest.raises(AwsUnavailable) as refused:
        await sync_account(deps, account_id)

    message = refused.value.message
    assert f"answered {D1} twice (group {S3} / us-east-1 appears twice" in message
    assert "nothing of this sync was stored" in message
    account, run = await account_and_run(deps, account_id)
    assert (account.status, account.last_error) == ("failed", message)
    assert (run.status, run.ce_requests, run.error) == ("failed", 2, message)
    assert await stored(deps, "SELECT 1 FROM ingest.ce_costs") == []


async def test_a_sync_the_database_stops_ends_failed_with_its_requests_and_the_next_one_works(
    deps, bus, customer, ingest_settings, run_cli
):
    team_id, account_id = await connected(deps, customer)
    customer.queue_cost_and_usage(
        page(day(D1, [group([S3, "us-east-1"], "10.00")])),
        page(day(D1, [group([S3, "TimedStorage"], "10.00")])),
    )
    # The database refuses the write (as a full disk or a lost connection would): a trigger,
    # made by the schema's owner, in this test's own database.
    owner = make_engine(ingest_settings.database_url.get_secret_value())
    async with owner.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION ingest.refuse_write() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; "
                "END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_write BEFORE INSERT ON ingest.ce_costs "
                "FOR EACH STATEMENT EXECUTE FUNCTION ingest.refuse_write()"
            )
        )
    try:
        with pytest.raises(SyncFailed) as stopped:
            await sync_account(deps, account_id)
        cli = await run_cli("sync-costs", "--team", str(team_id))
    finally:
        async with owner.begin() as conn:
            await conn.execute(text("DROP TRIGGER refuse_write ON ingest.ce_costs"))
        await owner.dispose()

    message = stopped.value.message
    assert f"the sync of {customer.account_id} stopped" in message
    assert "No space left on device" in message and "nothing of this sync was stored" in message
    # One red line for the person (the stack goes to the log, for whoever runs the service).
    assert cli.exit_code == 1 and isinstance(cli.exception, SystemExit)
    assert cli.output.splitlines()[-1].startswith(f"error: the sync of {customer.account_id}")
    account, run = await account_and_run(deps, account_id)
    assert (account.status, run.status, run.ce_requests) == ("failed", "failed", 2)
    assert account.last_error.startswith(f"the sync of {customer.account_id} stopped")
    assert {r.status for r in await stored(deps, "SELECT status FROM ingest.sync_runs")} <= {
        "failed",
        "succeeded",
    }  # nothing left running

    await sync_account(deps, account_id)  # the same answers, now stored

    account, run = await account_and_run(deps, account_id)
    assert (account.status, run.status) == ("connected", "succeeded")
    assert await spent(deps, team_id, *EVERYTHING, Dimension.SERVICE) == {S3: Decimal("10.00")}
