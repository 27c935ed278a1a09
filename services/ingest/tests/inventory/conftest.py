"""AWS for inventory tests: moto's server on loopback, and a helper that seeds an account."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import boto3
import pytest
from cloudaudit.ingest.adapters.inventory_settings import InventorySettings
from moto.backends import get_backend
from moto.server import ThreadedMotoServer

MOTO_ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class SeededAccount:
    """Create resources through the real AWS API (moto), with the history a test needs."""

    def __init__(self, url: str, account_id: str = MOTO_ACCOUNT, region: str = REGION) -> None:
        self.url, self.account_id, self.region = url, account_id, region
        self.session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
        )
        self.ec2 = self.session.client("ec2", endpoint_url=url)
        self.cloudwatch = self.session.client("cloudwatch", endpoint_url=url)
        self.now = datetime.now(UTC)
        self._ami = next(
            image["ImageId"]
            for image in self.ec2.describe_images(Owners=["amazon"])["Images"]
            if image.get("Platform") != "windows"
        )  # the price table is Linux

    def _backend(self) -> Any:
        # History the API cannot create (a launch or snapshot 120 days ago) is set on moto's
        # own records: the fake AWS, not our code.
        return get_backend("ec2")[self.account_id][self.region]

    def instance(self, instance_type: str, days_old: int = 30, state: str = "running") -> str:
        answer = self.ec2.run_instances(
            ImageId=self._ami, MinCount=1, MaxCount=1, InstanceType=instance_type
        )
        instance_id = answer["Instances"][0]["InstanceId"]
        self._backend().get_instance(instance_id).launch_time = self.now - timedelta(days=days_old)
        if state == "stopped":
            self.ec2.stop_instances(InstanceIds=[instance_id])
        return instance_id

    def stopped_since(self, instance_id: str, days: int) -> None:
        when = (self.now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        self._backend().get_instance(instance_id)._reason = f"User initiated ({when} GMT)"

    def root_volume(self, instance_id: str) -> str:
        reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        mappings = reservations[0]["Instances"][0]["BlockDeviceMappings"]
        return mappings[0]["Ebs"]["VolumeId"]

    def volume(
        self,
        size_gib: int,
        volume_type: str = "gp2",
        attach_to: str | None = None,
        days_old: int = 30,
        iops: int | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "Size": size_gib,
            "VolumeType": volume_type,
            "AvailabilityZone": f"{self.region}a",
        }
        if iops:
            kwargs["Iops"] = iops
        volume_id = self.ec2.create_volume(**kwargs)["VolumeId"]
        self._backend().volumes[volume_id].create_time = self.now - timedelta(days=days_old)
        if attach_to:
            self.ec2.attach_volume(VolumeId=volume_id, InstanceId=attach_to, Device="/dev/sdf")
        return volume_id

    def snapshot(self, volume_id: str, days_old: int) -> str:
        snapshot_id = self.ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
        self._backend().snapshots[snapshot_id].start_time = self.now - timedelta(days=days_old)
        return snapshot_id

    def ami_snapshot(self, days_old: int) -> str:
        """A snapshot an AMI of ours uses (CreateImage from a then-terminated instance)."""
        instance_id = self.ec2.run_instances(ImageId=self._ami, MinCount=1, MaxCount=1)[
            "Instances"
        ][0]["InstanceId"]
        image_id = self.ec2.create_image(InstanceId=instance_id, Name=f"img-{uuid4().hex[:8]}")[
            "ImageId"
        ]
        self.ec2.terminate_instances(InstanceIds=[instance_id])
        image = self.ec2.describe_images(ImageIds=[image_id])["Images"][0]
        snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        self._backend().snapshots[snapshot_id].start_time = self.now - timedelta(days=days_old)
        return snapshot_id

    def elastic_ip(self, associate_with: str | None = None) -> str:
        allocation_id = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        if associate_with:
            self.ec2.associate_address(AllocationId=allocation_id, InstanceId=associate_with)
        return allocation_id

    def metrics(
        self,
        instance_id: str,
        cpu_percent: list[float],
        network_bytes_per_hour: float,
        days: int = 14,
    ) -> None:
        """Hourly CPUUtilization and network for the last `days` days (cpu values cycle)."""
        end = self.now.replace(minute=0, second=0, microsecond=0)
        data = []
        for hour in range(days * 24):
            ts = end - timedelta(hours=days * 24 - hour)
            dims = [{"Name": "InstanceId", "Value": instance_id}]
            cpu = cpu_percent[hour % len(cpu_percent)]
            data.append(
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dims,
                    "Timestamp": ts,
                    "Value": cpu,
                    "Unit": "Percent",
                }
            )
            for name in ("NetworkIn", "NetworkOut"):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": dims,
                        "Timestamp": ts,
                        "Value": network_bytes_per_hour / 2,
                        "Unit": "Bytes",
                    }
                )
        for start in range(0, len(data), 1000):
            self.cloudwatch.put_metric_data(
                Namespace="AWS/EC2", MetricData=data[start : start + 1000]
            )


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SeededAccount]:
    """A fresh moto account; ingest's own credentials point at it."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    yield SeededAccount(moto_url)


def inventory_settings(
    settings: Any, moto_url: str, accounts: list[dict[str, Any]], **overrides: Any
) -> InventorySettings:
    return InventorySettings(
        DATABASE_URL=settings.database_url.get_secret_value(),
        NATS_URL=settings.nats_url,
        CLOUDAUDIT_BUS_PREFIX=settings.bus_prefix,
        CLOUDAUDIT_MAX_DELIVERIES=3,
        CLOUDAUDIT_STATE_DIR=str(settings.state_dir),
        AWS_ENDPOINT_URL=moto_url,
        INGEST_INVENTORY_ACCOUNTS=json.dumps(accounts),
        INGEST_INVENTORY_AWS_MAX_ATTEMPTS=2,
        **overrides,
    )


@pytest.fixture
def make_inventory_settings(settings, moto_url):
    def make(accounts: list[dict[str, Any]], **overrides: Any) -> InventorySettings:
        return inventory_settings(settings, moto_url, accounts, **overrides)

    return make


@pytest.fixture
def start(start_service):
    """start_service, then a round trip to NATS so its subscriptions are live before requests."""

    async def go(name: str, settings: Any = None):
        runtime = await start_service(name, settings)
        await runtime.broker.config.connection_state.connection.flush()
        return runtime

    return go
