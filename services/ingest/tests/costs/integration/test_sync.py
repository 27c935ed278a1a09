"""Cost Explorer sync against moto: paging, `Total: {}`, zero-group days, estimated days
restated without double counting, request metering, throttling, the per-account lock, the
schedule and the on-demand request over the bus."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from cloudaudit.common.actors import Actor, Command
from cloudaudit.common.bus import rpc
from cloudaudit.common.clock import frozen_at
from cloudaudit.common.events.account import (
    RPC_SYNC,
    AccountsRequest,
    AccountStatus,
    ConnectAccountRequest,
    ConnectStep,
    ExternalIdRequest,
    SyncReply,
    SyncRequest,
)
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import PINNED_TODAY, eventually
from cloudaudit.ingest.domain.cost_explorer import METRICS
from cloudaudit.ingest.domain.errors import PermissionMissing, RoleNotAssumable, SyncInProgress
from cloudaudit.ingest.domain.spend import Dimension
from cloudaudit.ingest.service import accounts
from cloudaudit.ingest.service.sync import start_due_syncs, sync_account
from sqlalchemy import text

from .conftest import spent

# A known 'today', set on the clock for every test here: the sync window, the days Cost
# Explorer answers and the restated estimated days are counted back from it.
TODAY = PINNED_TODAY
D1, D2, D3 = (TODAY - timedelta(days=n) for n in (3, 2, 1))
WINDOW = (TODAY - timedelta(days=10), TODAY)


@pytest.fixture(autouse=True)
def _clock_at_today():
    with frozen_at(TODAY):
        yield


def group(keys: list[str], amount: str) -> dict[str, Any]:
    return {"Keys": keys, "Metrics": {m: {"Amount": amount, "Unit": "USD"} for m in METRICS}}


def day(when: date, groups: list[dict[str, Any]], estimated: bool = False) -> dict[str, Any]:
    return {
        "TimePeriod": {"Start": when.isoformat(), "End": (when + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": groups,
        "Estimated": estimated,
    }


def page(*days: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"ResultsByTime": list(days), "DimensionValueAttributes": []}
    if token:
        answer["NextPageToken"] = token
    return answer


async def connected(deps, customer) -> tuple[UUID, UUID]:
    team_id = uuid4()
    ids = await accounts.external_id(deps, Command(ExternalIdRequest(), Actor.operator(team_id)))
    reply = await accounts.connect_account(
        deps,
        Command(
            ConnectAccountRequest(role_arn=customer.create_role(ids.external_id)),
            Actor.operator(team_id),
        ),
    )
    assert reply.ok, reply.error
    return team_id, reply.account_id


def first_sync_answers(customer) -> None:
    customer.queue_cost_and_usage(
        # SERVICE x REGION, two pages; the second continues day 2's groups.
        page(
            day(
                D1,
                [
                    group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "10.00"),
                    group(["Amazon Simple Storage Service", "us-east-1"], "1.5"),
                ],
            ),
            day(
                D2,
                [group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "8.00")],
                estimated=True,
            ),
            token="page-2",
        ),
        page(
            day(D2, [group(["Amazon Simple Storage Service", "NoRegion"], "0.25")], estimated=True),
            day(D3, [], estimated=True),
        ),
        # SERVICE x USAGE_TYPE, one page.
        page(
            day(
                D1,
                [
                    group(
                        ["Amazon Elastic Compute Cloud - Compute", "USE1-BoxUsage:m5.large"],
                        "10.00",
                    ),
                    group(["Amazon Simple Storage Service", "USE1-TimedStorage-ByteHrs"], "1.5"),
                ],
            ),
            day(
                D2,
                [
                    group(
                        ["Amazon Elastic Compute Cloud - Compute", "USE1-BoxUsage:m5.large"], "8.00"
                    ),
                    group(["Amazon Simple Storage Service", "USE1-Requests-Tier1"], "0.25"),
                ],
                estimated=True,
            ),
            day(D3, [], estimated=True),
        ),
    )


async def day_events(bus) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in await bus.stream_messages("COST", "cost.v1.daily.>")]


async def count_at_least(coro, count: int) -> list[dict[str, Any]] | None:
    found = await coro
    return found if len(found) >= count else None


async def test_first_sync_follows_pages_and_sums_groups_when_total_is_empty(deps, bus, customer):
    team_id, account_id = await connected(deps, customer)
    first_sync_answers(customer)

    outcome = await sync_account(deps, account_id)

    assert outcome.ce_requests == 3
    assert (outcome.start, outcome.end) == (TODAY - timedelta(days=90), TODAY)
    assert await spent(deps, team_id, *WINDOW, Dimension.SERVICE) == {
        "Amazon Elastic Compute Cloud - Compute": Decimal("18.00"),
        "Amazon Simple Storage Service": Decimal("1.75"),
    }
    assert await spent(deps, team_id, *WINDOW, Dimension.REGION) == {
        "us-east-1": Decimal("19.5"),
        "global": Decimal("0.25"),
    }
    assert await spent(deps, team_id, *WINDOW, Dimension.USAGE_TYPE) == {
        "USE1-BoxUsage:m5.large": Decimal("18.00"),
        "USE1-TimedStorage-ByteHrs": Decimal("1.5"),
        "USE1-Requests-Tier1": Decimal("0.25"),
    }
    events = await eventually(lambda: count_at_least(day_events(bus), 3))
    by_day = {e["usage_date"]: e for e in events}
    assert Decimal(by_day[D1.isoformat()]["total_unblended_cost"]) == Decimal("11.5")
    assert by_day[D2.isoformat()]["is_estimated"] is True
    assert Decimal(by_day[D2.isoformat()]["total_unblended_cost"]) == Decimal("8.25")
    assert (
        by_day[D3.isoformat()]["lines"] == []
        and by_day[D3.isoformat()]["total_unblended_cost"] == "0"
    )
    ec2 = next(
        line
        for line in by_day[D1.isoformat()]["lines"]
        if line["service"].startswith("Amazon Elastic")
    )
    assert ec2["top_usage_types"] == [{"name": "USE1-BoxUsage:m5.large", "cost": "10"}]
    assert all(e["source"] == "cost_explorer" for e in events)


async def test_restated_days_are_replaced_not_added_and_only_changed_days_republished(
    deps, bus, customer
):
    team_id, account_id = await connected(deps, customer)
    first_sync_answers(customer)
    await sync_account(deps, account_id)
    await eventually(lambda: count_at_least(day_events(bus), 3))
    customer.queue_cost_and_usage(
        page(
            day(
                D1,
                [
                    group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "10.00"),
                    group(["Amazon Simple Storage Service", "us-east-1"], "1.5"),
                ],
            ),
            day(
                D2,
                [
                    group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "9.00"),
                    group(["Amazon Simple Storage Service", "NoRegion"], "0.25"),
                ],
            ),
            day(
                D3,
                [group(["Amazon Elastic Compute Cloud - Compute", "us-east-1"], "2.00")],
                estimated=True,
            ),
        ),
        page(
            day(
                D1,
                [
                    group(
                        ["Amazon Elastic Compute Cloud - Compute", "USE1-BoxUsage:m5.large"],
                        "10.00",
                    ),
                    group(["Amazon Simple Storage Service", "USE1-TimedStorage-ByteHrs"], "1.5"),
                ],
            ),
            day(
                D2,
                [
                    group(
                        ["Amazon Elastic Compute Cloud - Compute", "USE1-BoxUsage:m5.large"], "9.00"
                    ),
                    group(["Amazon Simple Storage Service", "USE1-Requests-Tier1"], "0.25"),
                ],
            ),
            day(
                D3,
                [
                    group(
                        ["Amazon Elastic Compute Cloud - Compute", "USE1-BoxUsage:m5.large"], "2.00"
                    )
                ],
                estimated=True,
            ),
        ),
    )

    outcome = await sync_account(deps, account_id)

    assert outcome.start == D1 and outcome.ce_requests == 2  # from the oldest estimated day back
    assert await spent(deps, team_id, *WINDOW, Dimension.SERVICE) == {
        "Amazon Elastic Compute Cloud - Compute": Decimal("21.00"),
        "Amazon Simple Storage Service": Decimal("1.75"),
    }
    events = await eventually(lambda: count_at_least(day_events(bus), 5))
    latest = {e["usage_date"]: e for e in events}
    assert len(events) == 5  # day 1 did not change: not published again
    assert (
        latest[D2.isoformat()]["revision"] == 2 and latest[D2.isoformat()]["is_estimated"] is False
    )
    assert (
        latest[D3.isoformat()]["revision"] == 2
        and latest[D3.isoformat()]["total_unblended_cost"] == "2"
    )


async def test_requests_are_metered_and_throttling_is_retried_not_billed(
    deps, bus, customer, fault_proxy
):
    team_id, account_id = await connected(deps, customer)
    first_sync_answers(customer)
    fault_proxy.fail("GetCostAndUsage", "ThrottlingException", times=2, message="Rate exceeded")

    outcome = await sync_account(deps, account_id)

    assert (outcome.ce_requests, outcome.throttled_retries) == (3, 2)
    listed = (
        await accounts.list_accounts(deps, Command(AccountsRequest(), Actor.operator(team_id)))
    ).accounts[0]
    assert listed.ce_requests_this_month == 4  # the connect check and three sync pages
    assert listed.ce_cost_this_month == Decimal("0.04")
    assert listed.status is AccountStatus.CONNECTED and listed.last_sync_at is not None


async def test_one_sync_per_account_at_a_time(deps, bus, customer):
    _, account_id = await connected(deps, customer)

    async with deps.leases.account_sync(account_id) as locked:
        assert locked
        with pytest.raises(SyncInProgress):
            await sync_account(deps, account_id)
    first_sync_answers(customer)
    assert (await sync_account(deps, account_id)).ce_requests == 3  # free again


async def test_a_trust_policy_changed_after_connecting_marks_the_account_failed(
    deps, bus, customer
):
    team_id, account_id = await connected(deps, customer)
    customer.client("iam").update_assume_role_policy(
        RoleName="CloudAuditReadOnly",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": customer.principal_arn},
                        "Action": "sts:AssumeRole",
                        "Condition": {
                            "StringEquals": {"sts:ExternalId": "rotated-by-the-customer"}
                        },
                    }
                ],
            }
        ),
    )
    fresh = dataclasses.replace(deps, aws=type(deps.aws)(deps.settings))  # no cached credentials

    with pytest.raises(RoleNotAssumable):
        await sync_account(fresh, account_id)

    listed = (
        await accounts.list_accounts(deps, Command(AccountsRequest(), Actor.operator(team_id)))
    ).accounts[0]
    assert listed.status is AccountStatus.FAILED
    assert listed.last_error_step is ConnectStep.ASSUME_ROLE


async def test_cost_explorer_permission_removed_is_a_typed_failure(deps, bus, customer):
    team_id, account_id = await connected(deps, customer)
    customer.client("iam").put_role_policy(
        RoleName="CloudAuditReadOnly",
        PolicyName="CloudAuditReadOnly",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
            }
        ),
    )

    with pytest.raises(PermissionMissing, match="ce:GetCostAndUsage"):
        await sync_account(deps, account_id)

    listed = (
        await accounts.list_accounts(deps, Command(AccountsRequest(), Actor.operator(team_id)))
    ).accounts[0]
    assert (
        listed.status is AccountStatus.FAILED and listed.last_error_step is ConnectStep.PERMISSIONS
    )


async def test_sync_on_demand_over_the_bus_announces_completion(
    service, bus, deps, customer, actor_token
):
    team_id, account_id = await connected(deps, customer)
    first_sync_answers(customer)

    reply = await rpc(
        bus.broker,
        bus.names,
        RPC_SYNC,
        SyncRequest(actor_token=actor_token(team_id, uuid4(), Role.ADMIN, Audience.INGEST)),
        SyncReply,
        30,
    )

    assert reply.started == [account_id]
    synced = await eventually(lambda: _synced(bus), timeout=30)
    assert synced[0]["account_id"] == str(account_id) and synced[0]["ce_requests"] == 3


async def _synced(bus) -> list[dict[str, Any]]:
    return [json.loads(m.data) for m in await bus.stream_messages("ACCOUNT", "account.v1.synced")]


async def test_scheduler_claims_due_accounts_once(deps, bus, customer):
    _, account_id = await connected(deps, customer)  # connecting makes the first sync due now
    first_sync_answers(customer)
    assert await start_due_syncs(deps) == 1
    assert await start_due_syncs(deps) == 0  # already claimed: pushed to the next interval
    await deps.syncs.drain()

    async with deps.uow() as uow:
        row = (
            await uow.session.execute(
                text(
                    "SELECT last_sync_at, next_sync_at, last_synced_day FROM ingest.aws_accounts "
                    "WHERE account_id = :a"
                ),
                {"a": account_id},
            )
        ).one()
    assert row.last_synced_day == TODAY - timedelta(days=1)
    assert row.next_sync_at - row.last_sync_at >= timedelta(
        minutes=deps.settings.sync_interval_minutes
    )


async def test_concurrent_sync_requests_run_one_sync(deps, bus, customer):
    _, account_id = await connected(deps, customer)
    first_sync_answers(customer)

    results = await asyncio.gather(
        sync_account(deps, account_id), sync_account(deps, account_id), return_exceptions=True
    )

    assert sorted(type(r).__name__ for r in results) == ["SyncInProgress", "SyncOutcome"]
