"""Read-only AWS calls behind the inventory: EC2 describes, CloudWatch metrics, AWS's findings.

Takes a boto3 Session (the assumed cross-account role), so whichever way ingest obtained the
credentials, the same reader works. Blocking (boto3): call it from a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from cloudaudit.common.events.inventory import (
    AddressFacts,
    InstanceFacts,
    OptimizerFinding,
    ReservedCapacity,
    SnapshotFacts,
    VolumeFacts,
)
from cloudaudit.common.metrics import count_aws_calls
from cloudaudit.ingest.domain.inventory import InstanceSeries, name_tag, state_changed_at

log = logging.getLogger(__name__)

# What a failed AWS call raises (an unparsable answer is not a BotoCoreError).
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)

# GetMetricData: at most 500 queries per call; we ask 4 per instance.
QUERIES_PER_CALL = 500
METRICS = (
    ("CPUUtilization", "Average", "cpu_average"),
    ("CPUUtilization", "Maximum", "cpu_maximum"),
    ("NetworkIn", "Sum", "network_in"),
    ("NetworkOut", "Sum", "network_out"),
)
HOUR_S = 3600
# Cost Optimization Hub and Compute Optimizer answer from one home region.
FINDINGS_REGION = "us-east-1"


@dataclass
class RegionInventory:
    instances: list[InstanceFacts] = field(default_factory=list)
    volumes: list[VolumeFacts] = field(default_factory=list)
    addresses: list[AddressFacts] = field(default_factory=list)
    snapshots: list[SnapshotFacts] = field(default_factory=list)
    reserved: list[ReservedCapacity] = field(default_factory=list)
    series: dict[str, InstanceSeries] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    complete: bool = True


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


class AwsInventoryReader:
    """Describe what runs in an account, region by region."""

    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str | None = None,
        timeout_s: float = 20.0,
        max_attempts: int = 5,
    ) -> None:
        self.session = session
        self.endpoint_url = endpoint_url
        self.config = Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            retries={"max_attempts": max_attempts, "mode": "adaptive"},
        )

    def client(self, service: str, region: str) -> Any:
        return count_aws_calls(
            self.session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=self.config
            )
        )

    # -- one region ----------------------------------------------------------------------------
    def region(self, region: str, metric_days: int, now: datetime) -> RegionInventory:
        result = RegionInventory()
        ec2 = self.client("ec2", region)
        steps = (
            ("instances", self._instances, True),
            ("volumes", self._volumes, True),
            ("addresses", self._addresses, True),
            ("snapshots", self._snapshots, True),
            ("reserved instances", self._reserved, False),
        )
        for what, step, needed in steps:
            try:
                step(ec2, region, result)
            except AWS_ERRORS as exc:
                # Without a full listing, a missing resource cannot be taken as deleted.
                result.complete = result.complete and not needed
                result.problems.append(
                    f"{region}: could not list {what} ({_error_text(exc)}); "
                    "check the role allows ec2:Describe*"
                )
        running = [i.instance_id for i in result.instances if i.state == "running"]
        if running:
            try:
                result.series = self._metrics(
                    self.client("cloudwatch", region), running, metric_days, now
                )
            except AWS_ERRORS as exc:
                result.problems.append(
                    f"{region}: no CloudWatch metrics ({_error_text(exc)}); "
                    "check the role allows cloudwatch:GetMetricData"
                )
        return result

    def _instances(self, ec2: Any, region: str, out: RegionInventory) -> None:
        for page in ec2.get_paginator("describe_instances").paginate():
            for reservation in page.get("Reservations", []):
                for item in reservation.get("Instances", []):
                    state = item.get("State", {}).get("Name", "unknown")
                    if state in ("terminated", "shutting-down"):
                        continue
                    out.instances.append(
                        InstanceFacts(
                            instance_id=item["InstanceId"],
                            region=region,
                            instance_type=item["InstanceType"],
                            state=state,
                            launch_time=_utc(item.get("LaunchTime")),
                            state_changed_at=state_changed_at(item.get("StateTransitionReason")),
                            platform="windows" if item.get("Platform") == "windows" else "linux",
                            tenancy=item.get("Placement", {}).get("Tenancy", "default"),
                            lifecycle=item.get("InstanceLifecycle") or "on-demand",
                            volume_ids=[
                                m["Ebs"]["VolumeId"]
                                for m in item.get("BlockDeviceMappings", [])
                                if "Ebs" in m and m["Ebs"].get("VolumeId")
                            ],
                            name=name_tag(item.get("Tags")),
                        )
                    )

    def _volumes(self, ec2: Any, region: str, out: RegionInventory) -> None:
        for page in ec2.get_paginator("describe_volumes").paginate():
            for item in page.get("Volumes", []):
                out.volumes.append(
                    VolumeFacts(
                        volume_id=item["VolumeId"],
                        region=region,
                        volume_type=item["VolumeType"],
                        size_gib=int(item["Size"]),
                        iops=item.get("Iops"),
                        throughput_mibps=item.get("Throughput"),
                        state=item["State"],
                        attached_instance_ids=[
                            a["InstanceId"]
                            for a in item.get("Attachments", [])
                            if a.get("InstanceId")
                        ],
                        create_time=_utc(item.get("CreateTime")),
                        name=name_tag(item.get("Tags")),
                    )
                )

    def _addresses(self, ec2: Any, region: str, out: RegionInventory) -> None:
        for item in ec2.describe_addresses().get("Addresses", []):
            if item.get("Domain", "vpc") != "vpc" and not item.get("AllocationId"):
                continue
            out.addresses.append(
                AddressFacts(
                    allocation_id=item.get("AllocationId") or item["PublicIp"],
                    region=region,
                    public_ip=item["PublicIp"],
                    associated=bool(item.get("AssociationId") or item.get("InstanceId")),
                    instance_id=item.get("InstanceId") or None,
                    network_interface_id=item.get("NetworkInterfaceId"),
                )
            )

    def _snapshots(self, ec2: Any, region: str, out: RegionInventory) -> None:
        ami_by_snapshot: dict[str, list[str]] = {}
        for image in ec2.describe_images(Owners=["self"]).get("Images", []):
            for mapping in image.get("BlockDeviceMappings", []):
                snapshot_id = mapping.get("Ebs", {}).get("SnapshotId")
                if snapshot_id:
                    ami_by_snapshot.setdefault(snapshot_id, []).append(image["ImageId"])
        for page in ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"]):
            for item in page.get("Snapshots", []):
                started = _utc(item.get("StartTime"))
                if started is None:
                    continue
                out.snapshots.append(
                    SnapshotFacts(
                        snapshot_id=item["SnapshotId"],
                        region=region,
                        volume_id=item.get("VolumeId"),
                        size_gib=int(item.get("VolumeSize", 0)),
                        start_time=started,
                        storage_tier=(item.get("StorageTier") or "standard").lower(),
                        ami_ids=sorted(ami_by_snapshot.get(item["SnapshotId"], [])),
                        description=(item.get("Description") or None),
                    )
                )

    def _reserved(self, ec2: Any, region: str, out: RegionInventory) -> None:
        answer = ec2.describe_reserved_instances(Filters=[{"Name": "state", "Values": ["active"]}])
        for item in answer.get("ReservedInstances", []):
            out.reserved.append(
                ReservedCapacity(
                    region=region,
                    instance_type=item["InstanceType"],
                    instance_count=int(item.get("InstanceCount", 1)),
                )
            )

    # -- CloudWatch ----------------------------------------------------------------------------
    def _metrics(
        self, cloudwatch: Any, instance_ids: list[str], metric_days: int, now: datetime
    ) -> dict[str, InstanceSeries]:
        end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=metric_days)
        series = {instance_id: InstanceSeries() for instance_id in instance_ids}
        queries = []
        for index, instance_id in enumerate(instance_ids):
            for metric_index, (metric, stat, _) in enumerate(METRICS):
                queries.append(
                    {
                        "Id": f"q{index}_{metric_index}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/EC2",
                                "MetricName": metric,
                                "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                            },
                            "Period": HOUR_S,
                            "Stat": stat,
                        },
                        "ReturnData": True,
                    }
                )
        for batch in _chunks(queries, QUERIES_PER_CALL):
            for result in self._metric_pages(cloudwatch, batch, start, end):
                index, metric_index = (int(p) for p in result["Id"][1:].split("_"))
                target = getattr(series[instance_ids[index]], METRICS[metric_index][2])
                for ts, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    target[_utc(ts)] = float(value)
        return series

    @staticmethod
    def _metric_pages(
        cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "MetricDataQueries": queries,
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                kwargs["NextToken"] = token
            answer = cloudwatch.get_metric_data(**kwargs)
            yield from answer.get("MetricDataResults", [])
            token = answer.get("NextToken")
            if not token:
                return

    # -- AWS's own findings (optional sources) -------------------------------------------------
    def findings(self, regions: Iterable[str]) -> tuple[list[OptimizerFinding], list[str]]:
        """Cost Optimization Hub, else Compute Optimizer; absent or not opted in -> a note."""
        problems: list[str] = []
        try:
            return self._cost_optimization_hub(), problems
        except AWS_ERRORS as exc:
            problems.append(
                "Cost Optimization Hub unavailable (" + _error_text(exc) + "); "
                "opt in from the AWS Billing console to add AWS's own findings"
            )
        findings: list[OptimizerFinding] = []
        for region in regions:
            try:
                findings.extend(self._compute_optimizer(region))
            except AWS_ERRORS as exc:
                problems.append(f"Compute Optimizer unavailable in {region} ({_error_text(exc)})")
        return findings, problems

    def _cost_optimization_hub(self) -> list[OptimizerFinding]:
        hub = self.client("cost-optimization-hub", FINDINGS_REGION)
        found: list[OptimizerFinding] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"maxResults": 100}
            if token:
                kwargs["nextToken"] = token
            answer = hub.list_recommendations(**kwargs)
            for item in answer.get("items", []):
                found.append(
                    OptimizerFinding(
                        source="cost_optimization_hub",
                        resource_id=item.get("resourceId", "?"),
                        resource_type=item.get("currentResourceType", "unknown"),
                        region=item.get("region", "global"),
                        action=item.get("actionType", "Review"),
                        current_summary=item.get("currentResourceSummary"),
                        recommended_summary=item.get("recommendedResourceSummary"),
                        estimated_monthly_savings=Decimal(
                            str(item.get("estimatedMonthlySavings", 0))
                        ),
                        currency=item.get("currencyCode", "USD"),
                    )
                )
            token = answer.get("nextToken")
            if not token:
                return found

    def _compute_optimizer(self, region: str) -> list[OptimizerFinding]:
        optimizer = self.client("compute-optimizer", region)
        found: list[OptimizerFinding] = []
        answer = optimizer.get_ec2_instance_recommendations()
        for item in answer.get("instanceRecommendations", []):
            options = item.get("recommendationOptions") or []
            if not options or item.get("finding") == "OPTIMIZED":
                continue
            best = options[0]
            value = best.get("savingsOpportunity", {}).get("estimatedMonthlySavings", {})
            found.append(
                OptimizerFinding(
                    source="compute_optimizer",
                    resource_id=item["instanceArn"].rsplit("/", 1)[-1],
                    resource_type="Ec2Instance",
                    region=region,
                    action="Rightsize",
                    current_summary=item.get("currentInstanceType"),
                    recommended_summary=best.get("instanceType"),
                    estimated_monthly_savings=Decimal(str(value.get("value", 0))),
                    currency=value.get("currency", "USD"),
                )
            )
        return found


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
