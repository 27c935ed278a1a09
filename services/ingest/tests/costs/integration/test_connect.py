"""Connecting an AWS account over the bus, against moto with IAM enforced: the happy path and
every failure, each naming its step and its fix."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import pytest
from cloudaudit.common.bus import rpc
from cloudaudit.common.events.account import (
    RPC_ACCOUNTS,
    RPC_CONNECT,
    RPC_EXTERNAL_ID,
    AccountsReply,
    AccountsRequest,
    AccountStatus,
    ConnectAccountReply,
    ConnectAccountRequest,
    ConnectStep,
    ExternalIdReply,
    ExternalIdRequest,
)
from cloudaudit.common.events.identity import Audience, Role
from cloudaudit.common.testing import eventually, sign_actor_token

RPC_TIMEOUT_S = 30.0
ADMIN = uuid4()


def admin_of(team_id: UUID):
    return sign_actor_token(team_id, ADMIN, Role.ADMIN, Audience.INGEST)


async def external_id_of(bus, team_id: UUID) -> ExternalIdReply:
    return await rpc(
        bus.broker,
        bus.names,
        RPC_EXTERNAL_ID,
        ExternalIdRequest(actor_token=admin_of(team_id)),
        ExternalIdReply,
        RPC_TIMEOUT_S,
    )


async def connect(bus, team_id: UUID, role_arn: str, **extra) -> ConnectAccountReply:
    request = ConnectAccountRequest(actor_token=admin_of(team_id), role_arn=role_arn, **extra)
    return await rpc(
        bus.broker, bus.names, RPC_CONNECT, request, ConnectAccountReply, RPC_TIMEOUT_S
    )


async def accounts_of(bus, team_id: UUID) -> AccountsReply:
    return await rpc(
        bus.broker,
        bus.names,
        RPC_ACCOUNTS,
        AccountsRequest(actor_token=admin_of(team_id)),
        AccountsReply,
        RPC_TIMEOUT_S,
    )


async def account_events(bus, kind: str) -> list[dict]:
    messages = await bus.stream_messages("ACCOUNT", f"account.v1.{kind}")
    return [json.loads(m.data) for m in messages]


@pytest.fixture
async def ingest(start_service, ingest_settings):
    return await start_service("ingest", ingest_settings)


async def test_connects_account_with_team_external_id_and_announces_it(ingest, bus, customer):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    assert ids.ok and ids.external_id and len(ids.external_id) >= 32
    assert ids.principal_arn == customer.principal_arn
    link = parse_qs(urlsplit(ids.quick_create_url).fragment.split("?", 1)[1])
    assert link["param_ExternalId"] == [ids.external_id]
    assert link["param_CloudAuditPrincipalArn"] == [customer.principal_arn]
    assert (await external_id_of(bus, team_id)).external_id == ids.external_id  # stable
    role_arn = customer.create_role(ids.external_id)

    reply = await connect(bus, team_id, role_arn, name="production")

    assert reply.ok, reply.error
    assert reply.aws_account_id == customer.account_id
    connected = await eventually(lambda: account_events(bus, "connected"))
    assert connected[0]["account_id"] == str(reply.account_id)
    assert connected[0]["aws_account_id"] == customer.account_id
    assert connected[0]["name"] == "production"
    listed = (await accounts_of(bus, team_id)).accounts
    assert [(a.aws_account_id, a.status, a.ce_requests_this_month) for a in listed] == [
        (customer.account_id, AccountStatus.CONNECTED, 1)
    ]
    assert str(listed[0].ce_cost_this_month) == "0.01"


async def test_malformed_arn_fails_at_validation_with_an_example(ingest, bus, customer):
    team_id = uuid4()
    reply = await connect(bus, team_id, f"arn:aws:iam::{customer.account_id}:user/alice")

    assert not reply.ok
    assert reply.failed_step is ConnectStep.VALIDATE_ARN
    assert (
        "not a role" in reply.error.message
        and "arn:aws:iam::123456789012:role/" in reply.error.message
    )
    failed = await eventually(lambda: account_events(bus, "connection_failed"))
    assert failed[0]["step"] == "validate_arn"
    assert (await accounts_of(bus, team_id)).accounts == []


async def test_wrong_external_id_is_refused_by_the_trust_policy(ingest, bus, customer):
    team_id = uuid4()
    await external_id_of(bus, team_id)
    role_arn = customer.create_role("another-teams-external-id")

    reply = await connect(bus, team_id, role_arn)

    assert reply.failed_step is ConnectStep.ASSUME_ROLE
    assert reply.error.code == "role_not_assumable"
    assert "sts:ExternalId" in reply.error.message and customer.principal_arn in reply.error.message
    account = (await accounts_of(bus, team_id)).accounts[0]
    assert account.status is AccountStatus.FAILED
    assert account.last_error_step is ConnectStep.ASSUME_ROLE


async def test_trust_policy_naming_another_principal_is_refused(ingest, bus, customer):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    role_arn = customer.create_role(
        ids.external_id, trusted=f"arn:aws:iam::{customer.account_id}:user/someone-else"
    )

    reply = await connect(bus, team_id, role_arn)

    assert reply.failed_step is ConnectStep.ASSUME_ROLE
    assert "trust policy" in reply.error.message


async def test_role_that_does_not_exist_is_refused_at_assume_role(ingest, bus, customer):
    team_id = uuid4()
    await external_id_of(bus, team_id)

    reply = await connect(bus, team_id, f"arn:aws:iam::{customer.account_id}:role/NoSuchRole")

    assert reply.failed_step is ConnectStep.ASSUME_ROLE
    assert "exists in account" in reply.error.message


async def test_missing_permission_is_named_with_what_needs_it(ingest, bus, customer):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    role_arn = customer.create_role(ids.external_id, without=("ec2:Describe*",))

    reply = await connect(bus, team_id, role_arn)

    assert reply.failed_step is ConnectStep.PERMISSIONS
    assert reply.error.code == "permission_missing"
    assert "ec2:DescribeInstances" in reply.error.message
    assert "resource inventory" in reply.error.message


async def test_export_bucket_read_access_is_checked_when_given(ingest, bus, customer):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    customer.bucket("cur-exports-ok", {})
    customer.bucket("cur-exports-other", {})
    role_arn = customer.create_role(ids.external_id, export_bucket="cur-exports-ok")

    denied = await connect(bus, team_id, role_arn, export_bucket="cur-exports-other")
    allowed = await connect(bus, team_id, role_arn, export_bucket="cur-exports-ok")

    assert denied.failed_step is ConnectStep.PERMISSIONS and "s3:ListBucket" in denied.error.message
    assert allowed.ok, allowed.error


async def test_cost_explorer_not_enabled_says_how_to_enable_it(ingest, bus, customer, fault_proxy):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    role_arn = customer.create_role(ids.external_id)
    fault_proxy.fail(
        "GetCostAndUsage",
        "DataUnavailableException",
        times=1,
        message="Data is not available. Please try to adjust the time period.",
    )

    reply = await connect(bus, team_id, role_arn)

    assert reply.failed_step is ConnectStep.COST_EXPLORER
    assert "Launch Cost Explorer" in reply.error.message


async def test_throttling_is_retried_with_backoff(ingest, bus, customer, fault_proxy):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    role_arn = customer.create_role(ids.external_id)
    fault_proxy.fail("GetCostAndUsage", "ThrottlingException", times=2, message="Rate exceeded")

    reply = await connect(bus, team_id, role_arn)

    assert reply.ok, reply.error
    assert fault_proxy.seen["GetCostAndUsage"] == 3


async def test_throttling_that_never_stops_fails_at_the_throttled_step(
    ingest, bus, customer, fault_proxy
):
    team_id = uuid4()
    ids = await external_id_of(bus, team_id)
    role_arn = customer.create_role(ids.external_id)
    fault_proxy.fail("AssumeRole", "Throttling", times=100, message="Rate exceeded")

    reply = await connect(bus, team_id, role_arn)

    assert reply.failed_step is ConnectStep.THROTTLED
    assert "try again in a few minutes" in reply.error.message
    assert fault_proxy.seen["AssumeRole"] == ingest.settings.ce_max_attempts


async def test_external_id_never_reaches_a_log_line(ingest, bus, customer, caplog):
    team_id = uuid4()
    with caplog.at_level(logging.INFO):
        ids = await external_id_of(bus, team_id)
        await connect(bus, team_id, customer.create_role("wrong"))
        await connect(bus, team_id, customer.create_role(ids.external_id, name="CloudAuditRO2"))
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "account connected" in logged
    assert ids.external_id not in logged


async def test_same_aws_account_connected_by_two_teams_is_two_accounts(ingest, bus, customer):
    team_a, team_b = uuid4(), uuid4()
    id_a = (await external_id_of(bus, team_a)).external_id
    id_b = (await external_id_of(bus, team_b)).external_id
    assert id_a != id_b
    reply_a = await connect(bus, team_a, customer.create_role(id_a, name="CloudAuditTeamA"))
    reply_b = await connect(bus, team_b, customer.create_role(id_b, name="CloudAuditTeamB"))

    assert reply_a.ok and reply_b.ok
    assert reply_a.account_id != reply_b.account_id
    assert [a.account_id for a in (await accounts_of(bus, team_a)).accounts] == [reply_a.account_id]
    assert [a.account_id for a in (await accounts_of(bus, team_b)).accounts] == [reply_b.account_id]
