"""A small simulated company on the local AWS stand-in: accounts, resources, metrics, CUR 2.0.

Prod runs steady EC2/RDS/S3; dev runs EC2 on weekdays only. The prod account has waste for the
recommendations (an idle instance, an unattached gp2 volume, an old snapshot, an unassociated
Elastic IP), an AWS Support fee on the 1st of each month (which must not alert) and a real
jump three days ago (new c5.4xlarge instances, which must).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

HOURS_PER_DAY = 24
CUR_PREFIX = "cur/cloudaudit-demo/data"
CUR_COLUMNS = [
    "identity_line_item_id",
    "bill_billing_period_start_date",
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_blended_cost",
    "line_item_net_unblended_cost",
    "pricing_public_on_demand_cost",
    "product_region_code",
    "product_servicecode",
    "product_instance_type",
    "resource_tags",
]
# On-demand prices (USD per hour / per GB-month), us-east-1, AWS price list as of 2026-11.
EC2_HOURLY = {
    "m5.large": Decimal("0.096"),
    "m5.xlarge": Decimal("0.192"),
    "t3.large": Decimal("0.0832"),
    "c5.4xlarge": Decimal("0.68"),
}
RDS_HOURLY = {"db.m5.large": Decimal("0.171")}
GP2_GB_MONTH = Decimal("0.10")
S3_GB_MONTH = Decimal("0.023")
EIP_IDLE_HOURLY = Decimal("0.005")
SUPPORT_MONTHLY = Decimal("100.00")
# The line items carry product codes (AmazonEC2, AWSSupportBusiness) and no product name, as
# CUR 2.0 fee rows do; ingest names a service as AWS names the product, so the demo's EC2 and
# Support spend reads as these in spend, anomalies and alerts.
EC2_SERVICE = "Amazon Elastic Compute Cloud"
SUPPORT_SERVICE = "AWS Support (Business)"


@dataclass(frozen=True)
class DemoAccount:
    aws_account_id: str
    name: str
    role_name: str = "CloudAuditReadOnly"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.aws_account_id}:role/{self.role_name}"


PROD = DemoAccount("210987654321", "acme-prod")
DEV = DemoAccount("310987654321", "acme-dev")
PAYER = "210987654321"
CUR_BUCKET = "acme-cost-exports"


@dataclass
class LineItem:
    account: str
    day: date
    product_code: str
    service_code: str
    usage_type: str
    operation: str
    resource_id: str
    region: str
    amount: Decimal
    rate: Decimal
    instance_type: str = ""
    line_type: str = "Usage"
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def cost(self) -> Decimal:
        return (self.amount * self.rate).quantize(Decimal("0.0000000001"))


@dataclass(frozen=True)
class Scenario:
    """The story the demo tells, with the dates that matter."""

    end: date  # exclusive: the last day of history is end - 1
    days: int = 90
    jump_days_ago: int = 3
    jump_instances: int = 6

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days)

    @property
    def jump_start(self) -> date:
        return self.end - timedelta(days=self.jump_days_ago)


def _ec2(
    account: str, day: date, instance_id: str, instance_type: str, hours: int, team: str
) -> LineItem:
    return LineItem(
        account,
        day,
        "AmazonEC2",
        "AmazonEC2",
        f"BoxUsage:{instance_type}",
        "RunInstances",
        instance_id,
        "us-east-1",
        Decimal(hours),
        EC2_HOURLY[instance_type],
        instance_type,
        tags={"team": team},
    )


@dataclass(frozen=True)
class ResourceIds:
    """Resource ids the line items refer to (the seeded AWS stand-in's, or synthetic ones)."""

    web: tuple[str, ...] = tuple(f"i-0prodweb{n:08d}" for n in range(4))
    idle: str = "i-0idle000000000a1"
    volume: str = "vol-0unattached0001"
    eip: str = "eipalloc-0idle00001"
    jump: tuple[str, ...] = tuple(f"i-0newbatch{n:07d}" for n in range(6))
    dev: tuple[str, ...] = tuple(f"i-0devbox{n:09d}" for n in range(3))


def line_items(scenario: Scenario, ids: ResourceIds | None = None) -> Iterator[LineItem]:
    """Every line item of both accounts, day by day."""
    ids = ids or ResourceIds()
    day = scenario.start
    while day < scenario.end:
        weekday = day.weekday() < 5
        for instance_id in ids.web:
            yield _ec2(PROD.aws_account_id, day, instance_id, "m5.large", 24, "web")
        yield _ec2(PROD.aws_account_id, day, ids.idle, "t3.large", 24, "batch")
        yield LineItem(
            PROD.aws_account_id,
            day,
            "AmazonRDS",
            "AmazonRDS",
            "InstanceUsage:db.m5.large",
            "CreateDBInstance",
            "arn:aws:rds:us-east-1:210987654321:db:orders",
            "us-east-1",
            Decimal(24),
            RDS_HOURLY["db.m5.large"],
            "db.m5.large",
            tags={"team": "web"},
        )
        yield LineItem(
            PROD.aws_account_id,
            day,
            "AmazonS3",
            "AmazonS3",
            "TimedStorage-ByteHrs",
            "StandardStorage",
            "acme-assets",
            "us-east-1",
            Decimal("2900") / 30,
            S3_GB_MONTH,
            tags={"team": "web"},
        )
        yield LineItem(
            PROD.aws_account_id,
            day,
            "AmazonEC2",
            "AmazonEC2",
            "EBS:VolumeUsage.gp2",
            "CreateVolume-Gp2",
            ids.volume,
            "us-east-1",
            Decimal(500) / 30,
            GP2_GB_MONTH,
            tags={"team": "batch"},
        )
        yield LineItem(
            PROD.aws_account_id,
            day,
            "AmazonEC2",
            "AmazonEC2",
            "ElasticIP:IdleAddress",
            "AssociateAddressVPC",
            ids.eip,
            "us-east-1",
            Decimal(24),
            EIP_IDLE_HOURLY,
        )
        if day.day == 1:
            yield LineItem(
                PROD.aws_account_id,
                day,
                "AWSSupportBusiness",
                "AWSSupportBusiness",
                "Dollar",
                "",
                "",
                "global",
                Decimal(1),
                SUPPORT_MONTHLY,
                line_type="Fee",
            )
        if day >= scenario.jump_start:
            for instance_id in ids.jump[: scenario.jump_instances]:
                yield _ec2(PROD.aws_account_id, day, instance_id, "c5.4xlarge", 24, "batch")
        if weekday:
            for instance_id in ids.dev:
                yield _ec2(DEV.aws_account_id, day, instance_id, "m5.xlarge", 10, "dev")
        day += timedelta(days=1)


def _iso(day: date, hours: int = 0) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def cur_rows(items: Iterator[LineItem]) -> Iterator[dict[str, Any]]:
    for n, item in enumerate(items):
        cost = format(item.cost, "f")
        yield {
            "identity_line_item_id": f"demo-{n:08d}",
            "bill_billing_period_start_date": _iso(item.day.replace(day=1)),
            "bill_payer_account_id": PAYER,
            "line_item_usage_account_id": item.account,
            "line_item_line_item_type": item.line_type,
            "line_item_usage_start_date": _iso(item.day),
            "line_item_usage_end_date": _iso(item.day, 24),
            "line_item_product_code": item.product_code,
            "line_item_usage_type": item.usage_type,
            "line_item_operation": item.operation,
            "line_item_resource_id": item.resource_id,
            "line_item_usage_amount": format(item.amount.quantize(Decimal("0.000001")), "f"),
            "line_item_unblended_rate": format(item.rate, "f"),
            "line_item_unblended_cost": cost,
            "line_item_blended_cost": cost,
            "line_item_net_unblended_cost": cost,
            "pricing_public_on_demand_cost": cost,
            "product_region_code": "" if item.region == "global" else item.region,
            "product_servicecode": item.service_code,
            "product_instance_type": item.instance_type,
            "resource_tags": json.dumps({f"user_{k}": v for k, v in item.tags.items()}),
        }


def cur_files(scenario: Scenario, ids: ResourceIds | None = None) -> dict[str, bytes]:
    """CUR 2.0 export files, one gzip CSV per billing month, keyed by S3 object key."""
    by_month: dict[str, list[dict[str, Any]]] = {}
    for row in cur_rows(line_items(scenario, ids)):
        by_month.setdefault(row["bill_billing_period_start_date"][:7], []).append(row)
    files: dict[str, bytes] = {}
    for month, rows in sorted(by_month.items()):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CUR_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        key = f"{CUR_PREFIX}/BILLING_PERIOD={month}/cloudaudit-demo-00001.csv.gz"
        files[key] = gzip.compress(buffer.getvalue().encode(), mtime=0)
    return files


def daily_totals(
    scenario: Scenario, ids: ResourceIds | None = None
) -> dict[tuple[str, date, str], Decimal]:
    """(account, day, product code) -> cost: what the import must reproduce exactly."""
    totals: dict[tuple[str, date, str], Decimal] = {}
    for item in line_items(scenario, ids):
        key = (item.account, item.day, item.product_code)
        totals[key] = totals.get(key, Decimal(0)) + item.cost
    return totals
