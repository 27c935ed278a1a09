"""AWS for tests: moto's server on loopback, an account seeded through the real AWS API, and a
legacy CUR file for the same resources (what the cost report would say about them).

Shared by the inventory tests of ingest and the recommendation tests of analytics. History the
API cannot create (a launch or a snapshot 120 days ago, a stop 45 days ago) is set on moto's own
records: the fake AWS, never our code.
"""

from __future__ import annotations

import csv
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import boto3
from cloudaudit.common import clock

MOTO_ACCOUNT = "123456789012"
REGION = "us-east-1"


def start_moto() -> Any:
    """A moto server on a free loopback port (stop it with .stop())."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


def moto_server_url(server: Any) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def moto_session() -> Iterator[str]:
    """Body of a session-scoped `moto_url` fixture: start, yield the URL, stop."""
    server = start_moto()
    yield moto_server_url(server)
    server.stop()


def reset_moto(url: str) -> None:
    """Forget every resource of every account (a fresh AWS for the next test)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - loopback moto only


class SeededAccount:
    """Create resources through the real AWS API (moto), with the history a test needs."""

    def __init__(
        self,
        url: str,
        account_id: str = MOTO_ACCOUNT,
        region: str = REGION,
        instance_days_old: int = 30,
        root_volume_gib: int | None = None,
        metric_days: int = 14,
    ) -> None:
        self.url, self.account_id, self.region = url, account_id, region
        self.instance_days_old = instance_days_old
        self.root_volume_gib = root_volume_gib
        self.metric_days = metric_days
        self.session = boto3.Session(  # moto's dummy credentials
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
            region_name=region,
        )
        self.ec2 = self.session.client("ec2", endpoint_url=url)
        self.cloudwatch = self.session.client("cloudwatch", endpoint_url=url)
        self.now = clock.utcnow()  # metrics follow the product's clock, set by a test
        self._ami = next(
            image["ImageId"]
            for image in self.ec2.describe_images(Owners=["amazon"])["Images"]
            if image.get("Platform") != "windows"
        )  # the price table is Linux

    def _backend(self) -> Any:
        from moto.backends import get_backend

        return get_backend("ec2")[self.account_id][self.region]

    def instance(
        self, instance_type: str, days_old: int | None = None, state: str = "running"
    ) -> str:
        kwargs: dict[str, Any] = {}
        if self.root_volume_gib:
            kwargs["BlockDeviceMappings"] = [
                {
                    "DeviceName": "/dev/sda1",
                    "Ebs": {"VolumeSize": self.root_volume_gib, "VolumeType": "gp3"},
                }
            ]
        answer = self.ec2.run_instances(
            ImageId=self._ami, MinCount=1, MaxCount=1, InstanceType=instance_type, **kwargs
        )
        instance_id: str = answer["Instances"][0]["InstanceId"]
        age = self.instance_days_old if days_old is None else days_old
        self._backend().get_instance(instance_id).launch_time = self.now - timedelta(days=age)
        if state == "stopped":
            self.ec2.stop_instances(InstanceIds=[instance_id])
        return instance_id

    def stop(self, instance_id: str, days_ago: int) -> None:
        self.ec2.stop_instances(InstanceIds=[instance_id])
        self.stopped_since(instance_id, days_ago)

    def stopped_since(self, instance_id: str, days: int) -> None:
        when = (self.now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        self._backend().get_instance(instance_id)._reason = f"User initiated ({when} GMT)"

    def root_volume(self, instance_id: str) -> str:
        reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        mappings = reservations[0]["Instances"][0]["BlockDeviceMappings"]
        volume_id: str = mappings[0]["Ebs"]["VolumeId"]
        return volume_id

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
        volume_id: str = self.ec2.create_volume(**kwargs)["VolumeId"]
        self._backend().volumes[volume_id].create_time = self.now - timedelta(days=days_old)
        if attach_to:
            self.ec2.attach_volume(VolumeId=volume_id, InstanceId=attach_to, Device="/dev/sdf")
        return volume_id

    def snapshot(self, volume_id: str, days_old: int) -> str:
        snapshot_id: str = self.ec2.create_snapshot(VolumeId=volume_id)["SnapshotId"]
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
        snapshot_id: str = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        self._backend().snapshots[snapshot_id].start_time = self.now - timedelta(days=days_old)
        return snapshot_id

    def elastic_ip(self, associate_with: str | None = None) -> str:
        allocation_id: str = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
        if associate_with:
            self.ec2.associate_address(AllocationId=allocation_id, InstanceId=associate_with)
        return allocation_id

    def metrics(
        self,
        instance_id: str,
        cpu_percent: list[float],
        network_bytes_per_hour: float,
        days: int | None = None,
    ) -> None:
        """Hourly CPUUtilization/NetworkIn/NetworkOut up to the current hour (cpu values cycle)."""
        days = self.metric_days if days is None else days
        end = self.now.replace(minute=0, second=0, microsecond=0)
        dims = [{"Name": "InstanceId", "Value": instance_id}]
        data = []
        for hour in range(days * 24):
            ts = end - timedelta(hours=days * 24 - hour)
            data.append(
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": dims,
                    "Timestamp": ts,
                    "Value": cpu_percent[hour % len(cpu_percent)],
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


# -- the cost report of those resources --------------------------------------------------------
CUR_HEADER = (
    "bill/BillingPeriodStartDate",
    "bill/PayerAccountId",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/Operation",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/CurrencyCode",
    "lineItem/UnblendedCost",
    "product/ProductName",
    "product/region",
    "product/instanceType",
    "pricing/publicOnDemandCost",
    "pricing/unit",
    "savingsPlan/SavingsPlanEffectiveCost",
)
HOURS_PER_MONTH = Decimal(730)


@dataclass(frozen=True)
class CurLine:
    day: date
    line_item_type: str
    usage_type: str
    resource_id: str
    usage_amount: Decimal
    cost: Decimal
    on_demand_cost: Decimal | None = None
    effective_cost: Decimal | None = None
    instance_type: str = ""
    product: str = "AmazonEC2"


class CostReportFile:
    """A legacy CUR file with one line per resource per day (what the report says they cost)."""

    def __init__(self, account_id: str = MOTO_ACCOUNT, region: str = REGION) -> None:
        self.account_id, self.region = account_id, region
        self.lines: list[CurLine] = []

    def instance_hours(
        self,
        instance_id: str,
        instance_type: str,
        hourly: Decimal,
        days: list[date],
        covered_by_savings_plan: Decimal | None = None,
    ) -> None:
        """24 instance hours a day at `hourly` (on-demand), or covered by a Savings Plan at
        `covered_by_savings_plan` $/hour (on-demand cost kept as publicOnDemandCost)."""
        for day in days:
            hours, on_demand = Decimal(24), hourly * 24
            if covered_by_savings_plan is None:
                kind, usage, cost, effective = "Usage", "BoxUsage", on_demand, None
            else:
                kind, usage, cost = "SavingsPlanCoveredUsage", "BoxUsage", on_demand
                effective = covered_by_savings_plan * 24
            self.lines.append(
                CurLine(
                    day,
                    kind,
                    f"USE1-{usage}:{instance_type}",
                    instance_id,
                    hours,
                    cost,
                    on_demand,
                    effective,
                    instance_type,
                )
            )

    def volume_storage(
        self, volume_id: str, volume_type: str, size_gib: int, gb_month: Decimal, days: list[date]
    ) -> None:
        """A day of EBS storage: size x 24/730 GB-months at `gb_month` $/GB-month."""
        for day in days:
            quantity = Decimal(size_gib) * 24 / HOURS_PER_MONTH
            self.lines.append(
                CurLine(
                    day,
                    "Usage",
                    f"USE1-EBS:VolumeUsage.{volume_type}",
                    volume_id,
                    quantity.quantize(Decimal("0.0000001")),
                    (quantity * gb_month).quantize(Decimal("0.0000001")),
                )
            )

    def daily(
        self, resource_id: str, usage_type: str, cost_per_day: Decimal, days: list[date]
    ) -> None:
        """Any other charge of a resource (snapshot storage, idle public IPv4)."""
        for day in days:
            self.lines.append(
                CurLine(day, "Usage", usage_type, resource_id, Decimal(1), cost_per_day)
            )

    def write(self, path: Path) -> Path:
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(CUR_HEADER)
            for line in self.lines:
                start = datetime(line.day.year, line.day.month, line.day.day, tzinfo=UTC)
                writer.writerow(
                    (
                        start.replace(day=1).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        self.account_id,
                        self.account_id,
                        line.line_item_type,
                        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        line.product,
                        line.usage_type,
                        "RunInstances",
                        line.resource_id,
                        str(line.usage_amount),
                        "USD",
                        str(line.cost),
                        "Amazon Elastic Compute Cloud",
                        self.region,
                        line.instance_type,
                        "" if line.on_demand_cost is None else str(line.on_demand_cost),
                        "Hrs",
                        "" if line.effective_cost is None else str(line.effective_cost),
                    )
                )
        return path


def last_days(count: int, today: date | None = None) -> list[date]:
    """The `count` whole days before today (UTC), oldest first."""
    end = today or clock.today()
    return [end - timedelta(days=offset) for offset in range(count, 0, -1)]
