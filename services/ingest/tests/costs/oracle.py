"""An independent reading of the sample cost files (csv module + Decimal, row by row), so tests
compare what ingest stored and answers with totals computed another way."""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

DATA = Path(__file__).parent / "data"


@dataclass
class Line:
    account: str
    day: str
    service: str
    region: str
    usage_type: str
    resource: str | None
    kind: str
    unblended: Decimal
    amortized: Decimal
    public_on_demand: Decimal | None
    tags: dict[str, str] = field(default_factory=dict)


# The names AWS writes for the product codes of the sample files (legacy CUR's
# product/ProductName): what a line with only a code is called, written out here again.
CODE_NAMES = {
    "AmazonEC2": "Amazon Elastic Compute Cloud",
    "AmazonS3": "Amazon Simple Storage Service",
    "AmazonRDS": "Amazon Relational Database Service",
    "AmazonDynamoDB": "Amazon DynamoDB",
    "AmazonCloudWatch": "AmazonCloudWatch",
    "AWSDataTransfer": "AWS Data Transfer",
    "ComputeSavingsPlans": "Savings Plans for AWS Compute usage",
}


def _cur2_service(row: dict[str, str]) -> str:
    """The name in the `product` map, else the code's name."""
    product = json.loads(row["product"]) if _value(row, "product") else {}
    code = _value(row, "product_servicecode") or row["line_item_product_code"]
    return product.get("product_name") or CODE_NAMES.get(code, code)


def _value(row: dict[str, str], column: str) -> str | None:
    raw = row.get(column)
    return None if raw in (None, "", "NULL") else raw


def _money(row: dict[str, str], column: str) -> Decimal | None:
    raw = _value(row, column)
    return None if raw is None else Decimal(raw)


def reference_amortized(
    kind: str,
    unblended: Decimal,
    sp_effective: Decimal | None,
    sp_total: Decimal | None,
    sp_used: Decimal | None,
    ri_effective: Decimal | None,
    ri_upfront: Decimal | None,
    ri_recurring: Decimal | None,
    reservation_arn: str | None,
) -> Decimal:
    """AWS's amortization by line item type, written out plainly."""
    if kind == "SavingsPlanCoveredUsage":
        return unblended if sp_effective is None else sp_effective
    if kind == "SavingsPlanRecurringFee":
        return (sp_total or 0) - (sp_used or 0)
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "DiscountedUsage":
        return unblended if ri_effective is None else ri_effective
    if kind == "RIFee":
        return (ri_upfront or 0) + (ri_recurring or 0)
    if kind == "Fee" and reservation_arn:
        return Decimal(0)
    return unblended


def _rows(path: Path) -> Iterable[dict[str, str]]:
    opener: Callable[..., object] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:  # type: ignore[operator]
        yield from csv.DictReader(handle)  # type: ignore[arg-type]


def legacy(name: str) -> list[Line]:
    lines = []
    for row in _rows(DATA / name):
        unblended = Decimal(row["lineItem/UnblendedCost"])
        kind = row["lineItem/LineItemType"]
        tags = {
            k.split("/", 1)[1]: v
            for k, v in row.items()
            if k.startswith("resourceTags/") and _value(row, k) is not None
        }
        lines.append(
            Line(
                account=row["lineItem/UsageAccountId"],
                day=row["lineItem/UsageStartDate"][:10],
                service=_value(row, "product/ProductName")
                or CODE_NAMES.get(row["lineItem/ProductCode"], row["lineItem/ProductCode"]),
                region=_value(row, "product/region") or "global",
                usage_type=_value(row, "lineItem/UsageType") or "(none)",
                resource=_value(row, "lineItem/ResourceId"),
                kind=kind,
                unblended=unblended,
                amortized=reference_amortized(
                    kind,
                    unblended,
                    _money(row, "savingsPlan/SavingsPlanEffectiveCost"),
                    _money(row, "savingsPlan/TotalCommitmentToDate"),
                    _money(row, "savingsPlan/UsedCommitment"),
                    _money(row, "reservation/EffectiveCost"),
                    _money(row, "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod"),
                    _money(row, "reservation/UnusedRecurringFee"),
                    _value(row, "reservation/ReservationARN"),
                ),
                public_on_demand=_money(row, "pricing/publicOnDemandCost"),
                tags=tags,
            )
        )
    return lines


def cur2(name: str) -> list[Line]:
    lines = []
    for row in _rows(DATA / name):
        unblended = Decimal(row["line_item_unblended_cost"])
        kind = row["line_item_line_item_type"]
        if "resource_tags" in row:
            tags = json.loads(row["resource_tags"]) if _value(row, "resource_tags") else {}
        else:
            tags = {
                k[len("resource_tags_") :]: v
                for k, v in row.items()
                if k.startswith("resource_tags_") and _value(row, k) is not None
            }
        lines.append(
            Line(
                account=row["line_item_usage_account_id"],
                day=row["line_item_usage_start_date"][:10],
                service=_cur2_service(row),
                region=_value(row, "product_region_code") or "global",
                usage_type=_value(row, "line_item_usage_type") or "(none)",
                resource=_value(row, "line_item_resource_id"),
                kind=kind,
                unblended=unblended,
                amortized=reference_amortized(
                    kind,
                    unblended,
                    _money(row, "savings_plan_savings_plan_effective_cost"),
                    _money(row, "savings_plan_total_commitment_to_date"),
                    _money(row, "savings_plan_used_commitment"),
                    _money(row, "reservation_effective_cost"),
                    _money(row, "reservation_unused_amortized_upfront_fee_for_billing_period"),
                    _money(row, "reservation_unused_recurring_fee"),
                    _value(row, "reservation_reservation_a_r_n"),
                ),
                public_on_demand=_money(row, "pricing_public_on_demand_cost"),
                tags=tags,
            )
        )
    return lines


def focus(name: str) -> tuple[list[Line], int]:
    """Every row of the export (each provider's load), and how many are not AWS's."""
    lines, others = [], 0
    for row in _rows(DATA / name):
        if row["ProviderName"] != "AWS":
            others += 1
        raw_tags = _value(row, "Tags")
        lines.append(
            Line(
                account=row["SubAccountId"],
                day=row["ChargePeriodStart"][:10],
                service=row["ServiceName"],
                region=_value(row, "RegionId") or "global",
                usage_type=_value(row, "x_UsageType") or "(none)",
                resource=_value(row, "ResourceId"),
                kind=row["ChargeCategory"],
                unblended=Decimal(row["BilledCost"]),
                amortized=Decimal(row["EffectiveCost"]),
                public_on_demand=_money(row, "ListCost"),
                tags=json.loads(raw_tags) if raw_tags else {},
            )
        )
    return lines, others


def totals(
    lines: Iterable[Line],
    key: Callable[[Line], str],
    amount: Callable[[Line], Decimal | None] = lambda line: line.unblended,
) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        value = amount(line)
        out[key(line)] += value if value is not None else Decimal(0)
    return dict(out)
