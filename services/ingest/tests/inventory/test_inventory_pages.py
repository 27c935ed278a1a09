"""The inventory in pages (NATS max payload is 1 MB) and one AssumeRole for many inventories,
over real NATS + PostgreSQL against moto."""

from __future__ import annotations

import logging
from uuid import uuid4

import boto3
import pytest
from cloudaudit.common.bus import rpc
from cloudaudit.common.events.inventory import RPC_INVENTORY, InventoryReply, InventoryRequest
from cloudaudit.common.metrics import AWS_CALLS

TEAM = uuid4()
ACCOUNT = uuid4()


async def page(bus, cursor=None, team=TEAM) -> InventoryReply:
    return await rpc(
        bus.broker,
        bus.names,
        RPC_INVENTORY,
        InventoryRequest(team_id=team, cursor=cursor),
        InventoryReply,
        timeout=120,
    )


def one_account(aws, **extra):
    return [
        {
            "team_id": str(TEAM),
            "account_id": str(ACCOUNT),
            "aws_account_id": aws.account_id,
            "regions": ["us-east-1"],
            **extra,
        }
    ]


def ids_in_aws(aws) -> set[str]:
    """What moto holds in the account (its own AMIs' snapshots included: over a thousand)."""
    ec2 = aws.ec2
    found = {
        i["InstanceId"]
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    }
    found |= {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    found |= {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    return found | {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]}


def ids_in(replies: list[InventoryReply]) -> list[str]:
    return [
        resource
        for reply in replies
        for inv in reply.accounts
        for resource in (
            [i.instance_id for i in inv.instances]
            + [v.volume_id for v in inv.volumes]
            + [s.snapshot_id for s in inv.snapshots]
            + [a.allocation_id for a in inv.addresses]
        )
    ]


async def all_pages(bus) -> list[InventoryReply]:
    replies = [await page(bus)]
    while replies[-1].next_cursor is not None:
        replies.append(await page(bus, replies[-1].next_cursor))
        assert replies[-1].ok, replies[-1].error
    return replies


async def test_a_large_account_arrives_in_pages_with_every_resource_exactly_once(
    aws, start, make_inventory_settings, bus, monkeypatch
):
    instance = aws.instance("m5.large")
    volumes = {aws.volume(10 + n, "gp3") for n in range(24)}
    snapshots = {aws.snapshot(next(iter(volumes)), days_old=100 + n) for n in range(8)}
    addresses = {aws.elastic_ip() for _ in range(5)}
    monkeypatch.setenv("INGEST_INVENTORY_PAGE_ITEMS", "100")
    await start("ingest", make_inventory_settings(one_account(aws)))

    replies = await all_pages(bus)

    seen = ids_in(replies)
    expected = ids_in_aws(aws)
    assert {instance, aws.root_volume(instance)} | volumes | snapshots | addresses <= expected
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == expected
    assert len(replies) == -(-len(expected) // 100)  # 100 a page, the last one partial
    assert all(len(r.accounts) == 1 and r.accounts[0].account_id == ACCOUNT for r in replies)
    first = replies[0].accounts[0]
    assert first.complete and first.regions == ["us-east-1"]
    assert replies[-1].next_cursor is None


async def test_pages_stay_under_the_byte_budget(
    aws, start, make_inventory_settings, bus, monkeypatch
):
    volumes = {aws.volume(20, "gp2") for _ in range(90)}
    monkeypatch.setenv("INGEST_INVENTORY_PAGE_BYTES", str(16 * 1024))
    await start("ingest", make_inventory_settings(one_account(aws)))

    replies = await all_pages(bus)

    sizes = [len(r.model_dump_json()) for r in replies]
    seen = ids_in(replies)
    assert len(seen) == len(set(seen)) and set(seen) == ids_in_aws(aws) and volumes <= set(seen)
    assert len(replies) >= sum(sizes) // (16 * 1024)
    # The budget counts the facts; the envelope (ids, cursor, header) adds a little.
    assert max(sizes) < 16 * 1024 + 2048, sizes


async def test_a_cursor_that_is_not_ours_is_refused_with_the_fix(
    aws, start, make_inventory_settings, bus
):
    await start("ingest", make_inventory_settings(one_account(aws)))

    reply = await page(bus, cursor="not-a-cursor")

    assert not reply.ok and reply.error.code == "bad_cursor"
    assert "without a cursor" in reply.error.message


def assume_role_calls() -> float:
    return AWS_CALLS.labels("sts", "AssumeRole", "ok")._value.get()


@pytest.mark.slow
async def test_many_inventories_of_a_role_account_assume_the_role_once(
    aws, start, make_inventory_settings, bus, caplog
):
    customer = "777788889999"
    role_arn = f"arn:aws:iam::{customer}:role/CloudAuditReadOnly-{uuid4().hex[:8]}"
    external_id = f"ext-{uuid4().hex}"
    seeded = (
        boto3.Session()
        .client("sts", endpoint_url=aws.url)
        .assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    )
    their_volume = (
        boto3.Session(
            aws_access_key_id=seeded["AccessKeyId"],
            aws_secret_access_key=seeded["SecretAccessKey"],
            aws_session_token=seeded["SessionToken"],
            region_name="us-east-1",
        )
        .client("ec2", endpoint_url=aws.url)
        .create_volume(Size=30, VolumeType="gp2", AvailabilityZone="us-east-1a")["VolumeId"]
    )
    accounts = [
        {
            "team_id": str(TEAM),
            "account_id": str(ACCOUNT),
            "aws_account_id": customer,
            "role_arn": role_arn,
            "external_id": external_id,
        }
    ]
    await start("ingest", make_inventory_settings(accounts))
    before = assume_role_calls()
    caplog.set_level(logging.DEBUG, logger="cloudaudit")  # every product logger, verbose

    replies = [await page(bus) for _ in range(4)]

    assert all([v.volume_id for v in r.accounts[0].volumes] == [their_volume] for r in replies)
    assert assume_role_calls() - before == 1
    assert external_id not in caplog.text
