"""ingest.v1.rpc.inventory over real NATS + PostgreSQL, against AWS served by moto."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import boto3
import pytest
from cloudaudit.common.bus import rpc
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import asyncpg_url
from cloudaudit.common.events.inventory import RPC_INVENTORY, InventoryReply, InventoryRequest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

TEAM = uuid4()
ACCOUNT = uuid4()


@pytest.fixture
async def db(database_url):
    engine = create_async_engine(asyncpg_url(database_url))
    yield engine
    await engine.dispose()


async def ask(bus, team=TEAM, account=None, days=14) -> InventoryReply:
    return await rpc(
        bus.broker,
        bus.names,
        RPC_INVENTORY,
        InventoryRequest(team_id=team, account_id=account, metric_days=days),
        InventoryReply,
        timeout=60,
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


async def test_inventory_lists_instances_volumes_snapshots_addresses_with_utilisation(
    aws, start, make_inventory_settings, bus, db
):
    idle = aws.instance("m5.large", days_old=40)
    aws.metrics(idle, cpu_percent=[1.0, 2.0, 1.5, 3.0], network_bytes_per_hour=1000)
    stopped = aws.instance("t3.medium", state="stopped")
    aws.stopped_since(stopped, days=45)
    loose = aws.volume(100, "gp2", days_old=20)
    attached = aws.volume(50, "gp3", attach_to=idle)
    old = aws.snapshot(loose, days_old=120)
    imaged = aws.ami_snapshot(days_old=200)
    free_ip = aws.elastic_ip()
    used_ip = aws.elastic_ip(associate_with=idle)
    await start("ingest", make_inventory_settings(one_account(aws)))

    reply = await ask(bus)

    assert reply.ok, reply.error
    [inv] = reply.accounts
    assert inv.account_id == ACCOUNT and inv.aws_account_id == aws.account_id and inv.complete
    instances = {i.instance_id: i for i in inv.instances}
    assert instances[idle].instance_type == "m5.large" and instances[idle].state == "running"
    assert (aws.now - instances[idle].launch_time).days == 40
    usage = instances[idle].usage
    # 336 hourly averages cycling 1, 2, 1.5, 3: the 95th percentile (nearest rank) is 3.
    assert usage.hours_with_data == 14 * 24 and usage.cpu_p95_percent == Decimal("3.00")
    assert usage.cpu_average_percent == Decimal("1.88")
    assert usage.network_bytes_per_day == Decimal(24_000) and usage.days_with_data in (14, 15)
    assert instances[stopped].state == "stopped" and instances[stopped].usage is None
    assert (aws.now - instances[stopped].state_changed_at).days == 45
    volumes = {v.volume_id: v for v in inv.volumes}
    assert volumes[loose].state == "available" and volumes[loose].volume_type == "gp2"
    assert volumes[loose].size_gib == 100 and volumes[attached].attached_instance_ids == [idle]
    snapshots = {s.snapshot_id: s for s in inv.snapshots}
    assert snapshots[old].ami_ids == [] and (aws.now - snapshots[old].start_time).days == 120
    assert len(snapshots[imaged].ami_ids) == 1
    addresses = {a.allocation_id: a for a in inv.addresses}
    assert not addresses[free_ip].associated
    assert addresses[used_ip].associated and addresses[used_ip].instance_id == idle
    async with db.connect() as conn:
        stored = dict(
            (
                await conn.execute(
                    text(
                        "SELECT resource_id, resource_type FROM ingest.inventory_resources "
                        "WHERE account_id = :a AND gone_at IS NULL"
                    ),
                    {"a": ACCOUNT},
                )
            ).all()
        )
    assert stored[idle] == "ec2_instance" and stored[loose] == "ebs_volume"
    assert stored[old] == "ebs_snapshot" and stored[free_ip] == "elastic_ip"


async def test_a_deleted_resource_is_marked_gone_on_the_next_complete_inventory(
    aws, start, make_inventory_settings, bus, db
):
    keep = aws.volume(10, "gp3")
    drop = aws.volume(20, "gp2")
    await start("ingest", make_inventory_settings(one_account(aws)))
    assert {v.volume_id for v in (await ask(bus)).accounts[0].volumes} >= {keep, drop}

    aws.ec2.delete_volume(VolumeId=drop)
    second = await ask(bus)

    assert drop not in {v.volume_id for v in second.accounts[0].volumes}
    async with db.connect() as conn:
        gone = dict(
            (
                await conn.execute(
                    text(
                        "SELECT resource_id, gone_at IS NOT NULL FROM ingest.inventory_resources "
                        "WHERE account_id = :a"
                    ),
                    {"a": ACCOUNT},
                )
            ).all()
        )
    assert gone[drop] is True and gone[keep] is False


async def test_a_cross_account_role_sees_only_that_account(
    aws, start, make_inventory_settings, bus
):
    customer = "111122223333"
    role_arn = f"arn:aws:iam::{customer}:role/CloudAuditReadOnly"
    aws.volume(8, "gp2")  # in our own account: must not show up
    assumed = (
        boto3.Session()
        .client("sts", endpoint_url=aws.url)
        .assume_role(RoleArn=role_arn, RoleSessionName="seed", ExternalId="team-external-id")[
            "Credentials"
        ]
    )
    theirs = boto3.Session(
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
        region_name="us-east-1",
    )
    their_volume = theirs.client("ec2", endpoint_url=aws.url).create_volume(
        Size=30, VolumeType="gp2", AvailabilityZone="us-east-1a"
    )["VolumeId"]
    accounts = [
        {
            "team_id": str(TEAM),
            "account_id": str(ACCOUNT),
            "aws_account_id": customer,
            "role_arn": role_arn,
            "external_id": "team-external-id",
        }
    ]
    await start("ingest", make_inventory_settings(accounts))

    reply = await ask(bus)

    assert [v.volume_id for v in reply.accounts[0].volumes] == [their_volume]
    assert reply.accounts[0].aws_account_id == customer


async def test_an_account_of_another_team_is_not_found(aws, start, make_inventory_settings, bus):
    await start("ingest", make_inventory_settings(one_account(aws)))

    reply = await ask(bus, team=uuid4(), account=ACCOUNT)
    nothing = await ask(bus, team=uuid4())

    assert not reply.ok and reply.error.code == "not_found"
    assert nothing.ok and nothing.accounts == []


async def test_a_connected_account_is_read_through_its_role_with_the_team_external_id(
    aws, start, make_inventory_settings, bus, db
):
    customer = "444455556666"
    role_arn = f"arn:aws:iam::{customer}:role/CloudAuditReadOnly"
    async with db.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ingest.team_settings (team_id, external_id, tag_keys, created_at) "
                "VALUES (:t, 'ext-1234567890', '[]', :now)"
            ),
            {"t": TEAM, "now": utcnow()},
        )
        await conn.execute(
            text(
                "INSERT INTO ingest.aws_accounts (account_id, team_id, aws_account_id, account_name, "
                "role_arn, status, created_at, updated_at) VALUES (:a, :t, :aws, 'prod', :arn, "
                "'connected', :now, :now)"
            ),
            {"a": ACCOUNT, "t": TEAM, "aws": customer, "arn": role_arn, "now": utcnow()},
        )
    assumed = (
        boto3.Session()
        .client("sts", endpoint_url=aws.url)
        .assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    )
    theirs = boto3.Session(
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
        region_name="us-east-1",
    )
    address = theirs.client("ec2", endpoint_url=aws.url).allocate_address(Domain="vpc")
    await start("ingest", make_inventory_settings([]))

    reply = await ask(bus, account=ACCOUNT)

    [inv] = reply.accounts
    assert inv.aws_account_id == customer
    assert [a.allocation_id for a in inv.addresses] == [address["AllocationId"]]
