"""Cost report formats (legacy CUR, CUR 2.0 / Data Exports, FOCUS 1.x), told apart by header.

Each format is a Layout: for every field CloudAudit keeps, the source columns that may hold it,
first present wins. Optional columns may be missing altogether (a CUR without resource ids or
tags is normal); required ones missing make the file unusable, and the error names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from cloudaudit.ingest.domain.errors import NotACostReport


class CostFormat(StrEnum):
    CUR = "cur"  # legacy Cost and Usage Report: lineItem/UnblendedCost
    CUR2 = "cur2"  # CUR 2.0 (Data Exports), also Athena-style legacy CUR: line_item_unblended_cost
    FOCUS = "focus"  # FinOps FOCUS 1.x: BilledCost, ChargePeriodStart


class TagStyle(StrEnum):
    NONE = "none"
    COLUMNS = "columns"  # one column per tag key, the key after a prefix
    JSON = "json"  # one column holding a JSON object (or a map in Parquet)


@dataclass(frozen=True)
class Layout:
    format: CostFormat
    sources: dict[str, tuple[str, ...]]  # field -> candidate columns
    required: tuple[str, ...]
    tag_style: TagStyle = TagStyle.NONE
    tag_column: str | None = None
    tag_prefix: str | None = None
    provider_columns: tuple[str, ...] = ()
    amortized_direct: bool = False  # FOCUS carries EffectiveCost; CUR needs AWS's rule
    columns: tuple[str, ...] = field(default=())  # the header, as found

    def column_for(self, name: str) -> str | None:
        for candidate in self.sources.get(name, ()):
            if candidate in self.columns:
                return candidate
        return None

    def tag_columns(self) -> list[str]:
        if self.tag_style is not TagStyle.COLUMNS or not self.tag_prefix:
            return []
        return [c for c in self.columns if c.startswith(self.tag_prefix)]

    def provider_column(self) -> str | None:
        return next((c for c in self.provider_columns if c in self.columns), None)


# Fields every format maps; money fields are exact decimals, *_at fields timestamps.
DECIMAL_FIELDS = (
    "usage_amount",
    "unblended_cost",
    "blended_cost",
    "public_on_demand_cost",
    "net_unblended_cost",
    "amortized_cost",
    "sp_effective_cost",
    "sp_total_commitment",
    "sp_used_commitment",
    "ri_effective_cost",
    "ri_unused_amortized_upfront_fee",
    "ri_unused_recurring_fee",
)
TIMESTAMP_FIELDS = ("billing_period", "usage_start", "usage_end")
TEXT_FIELDS = (
    "payer_account_id",
    "aws_account_id",
    "line_item_type",
    "product_code",
    "service_code",
    "service",
    "usage_type",
    "operation",
    "resource_id",
    "region",
    "instance_type",
    "pricing_unit",
    "usage_unit",
    "currency",
    "reservation_arn",
    "commitment_category",
    "commitment_status",
    "provider",
    "charge_category",
    "charge_frequency",
    "billing_account_id",
)

_CUR_SOURCES: dict[str, tuple[str, ...]] = {
    "billing_period": ("bill/BillingPeriodStartDate",),
    "usage_start": ("lineItem/UsageStartDate",),
    "usage_end": ("lineItem/UsageEndDate",),
    "payer_account_id": ("bill/PayerAccountId",),
    "aws_account_id": ("lineItem/UsageAccountId",),
    "line_item_type": ("lineItem/LineItemType",),
    "product_code": ("lineItem/ProductCode",),
    # A name where the report has one, else the code, named by domain/cur/services.py.
    "service": ("product/ProductName", "product/servicename"),
    "service_code": ("product/servicecode", "lineItem/ProductCode"),
    "usage_type": ("lineItem/UsageType",),
    "operation": ("lineItem/Operation",),
    "resource_id": ("lineItem/ResourceId",),
    "usage_amount": ("lineItem/UsageAmount",),
    "unblended_cost": ("lineItem/UnblendedCost",),
    "blended_cost": ("lineItem/BlendedCost",),
    "public_on_demand_cost": ("pricing/publicOnDemandCost",),
    "net_unblended_cost": ("lineItem/NetUnblendedCost",),
    "region": ("product/region", "product/regionCode"),
    "instance_type": ("product/instanceType",),
    "pricing_unit": ("pricing/unit",),
    "usage_unit": ("pricing/unit",),
    "currency": ("lineItem/CurrencyCode",),
    "sp_effective_cost": ("savingsPlan/SavingsPlanEffectiveCost",),
    "sp_total_commitment": ("savingsPlan/TotalCommitmentToDate",),
    "sp_used_commitment": ("savingsPlan/UsedCommitment",),
    "ri_effective_cost": ("reservation/EffectiveCost",),
    "ri_unused_amortized_upfront_fee": ("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",),
    "ri_unused_recurring_fee": ("reservation/UnusedRecurringFee",),
    "reservation_arn": ("reservation/ReservationARN",),
}

_CUR2_SOURCES: dict[str, tuple[str, ...]] = {
    "billing_period": ("bill_billing_period_start_date",),
    "usage_start": ("line_item_usage_start_date",),
    "usage_end": ("line_item_usage_end_date",),
    "payer_account_id": ("bill_payer_account_id",),
    "aws_account_id": ("line_item_usage_account_id",),
    "line_item_type": ("line_item_line_item_type",),
    "product_code": ("line_item_product_code",),
    # The name is a key of the `product` map (or a column, where the export flattened it);
    # without one, the code is named by domain/cur/services.py.
    "service": ("product_product_name",),
    "product_map": ("product",),
    "service_code": ("product_servicecode", "line_item_product_code"),
    "usage_type": ("line_item_usage_type",),
    "operation": ("line_item_operation",),
    "resource_id": ("line_item_resource_id",),
    "usage_amount": ("line_item_usage_amount",),
    "unblended_cost": ("line_item_unblended_cost",),
    "blended_cost": ("line_item_blended_cost",),
    "public_on_demand_cost": ("pricing_public_on_demand_cost",),
    "net_unblended_cost": ("line_item_net_unblended_cost",),
    "region": ("product_region_code", "product_region"),
    "instance_type": ("product_instance_type",),
    "pricing_unit": ("pricing_unit",),
    "usage_unit": ("pricing_unit",),
    "currency": ("line_item_currency_code",),
    "sp_effective_cost": ("savings_plan_savings_plan_effective_cost",),
    "sp_total_commitment": ("savings_plan_total_commitment_to_date",),
    "sp_used_commitment": ("savings_plan_used_commitment",),
    "ri_effective_cost": ("reservation_effective_cost",),
    "ri_unused_amortized_upfront_fee": (
        "reservation_unused_amortized_upfront_fee_for_billing_period",
    ),
    "ri_unused_recurring_fee": ("reservation_unused_recurring_fee",),
    "reservation_arn": ("reservation_reservation_a_r_n",),
}

_FOCUS_SOURCES: dict[str, tuple[str, ...]] = {
    "billing_period": ("BillingPeriodStart",),
    "usage_start": ("ChargePeriodStart",),
    "usage_end": ("ChargePeriodEnd",),
    "payer_account_id": ("BillingAccountId",),
    # The charge's account: the sub-account, else (a billing-account charge such as tax)
    # the billing account. Opaque text per provider; see mapping.provider_account_ids.
    "aws_account_id": ("SubAccountId",),
    "billing_account_id": ("BillingAccountId",),
    "line_item_type": ("ChargeCategory", "ChargeType"),
    "charge_category": ("ChargeCategory", "ChargeType"),
    "charge_frequency": ("ChargeFrequency",),
    "provider": ("ProviderName", "ServiceProviderName", "x_ServiceProviderName"),
    "commitment_category": ("CommitmentDiscountCategory",),
    "commitment_status": ("CommitmentDiscountStatus",),
    "product_code": ("x_ServiceCode", "ServiceName"),
    "service": ("ServiceName",),
    "usage_type": ("x_UsageType",),
    "operation": ("x_Operation",),
    "resource_id": ("ResourceId",),
    "usage_amount": ("ConsumedQuantity", "UsageQuantity"),
    "unblended_cost": ("BilledCost",),
    "public_on_demand_cost": ("ListCost",),
    "amortized_cost": ("EffectiveCost",),
    "region": ("RegionId", "Region"),
    "pricing_unit": ("PricingUnit",),
    "usage_unit": ("ConsumedUnit", "UsageUnit"),
    "currency": ("BillingCurrency",),
}

EXPECTED = (
    "a cost report with one of these headers: legacy CUR (lineItem/UsageStartDate, "
    "lineItem/UsageAccountId, lineItem/UnblendedCost, ...), CUR 2.0 / Data Exports "
    "(line_item_usage_start_date, line_item_usage_account_id, line_item_unblended_cost, ...) "
    "or FOCUS 1.x (ChargePeriodStart, SubAccountId, BilledCost, EffectiveCost, ...)"
)


def detect_format(columns: Sequence[str], source_name: str = "the file") -> Layout:
    """Tell the format from the header; refuse anything else with what was expected."""
    found = tuple(c.strip().lstrip("\ufeff") for c in columns)
    names = set(found)
    if "lineItem/UnblendedCost" in names or any(c.startswith("lineItem/") for c in found):
        layout = Layout(
            CostFormat.CUR,
            _CUR_SOURCES,
            required=("usage_start", "aws_account_id", "unblended_cost"),
            tag_style=TagStyle.COLUMNS,
            tag_prefix="resourceTags/",
            columns=found,
        )
    elif "line_item_unblended_cost" in names or any(c.startswith("line_item_") for c in found):
        if "resource_tags" in names:
            style, column, prefix = TagStyle.JSON, "resource_tags", None
        else:
            style, column, prefix = TagStyle.COLUMNS, None, "resource_tags_"
        layout = Layout(
            CostFormat.CUR2,
            _CUR2_SOURCES,
            required=("usage_start", "aws_account_id", "unblended_cost"),
            tag_style=style,
            tag_column=column,
            tag_prefix=prefix,
            columns=found,
        )
    elif {"BilledCost", "ChargePeriodStart"} <= names:
        layout = Layout(
            CostFormat.FOCUS,
            _FOCUS_SOURCES,
            required=("usage_start", "unblended_cost"),
            tag_style=TagStyle.JSON if "Tags" in names else TagStyle.NONE,
            tag_column="Tags" if "Tags" in names else None,
            provider_columns=("ProviderName", "ServiceProviderName"),
            amortized_direct=True,
            columns=found,
        )
    else:
        shown = ", ".join(found[:8]) + (", ..." if len(found) > 8 else "")
        raise NotACostReport(
            f"{source_name} is not a cost report: expected {EXPECTED}; "
            f"its first line has {len(found)} column(s): {shown or '(none)'}"
        )
    missing = [f for f in layout.required if layout.column_for(f) is None]
    if layout.format is CostFormat.FOCUS and not (
        layout.column_for("aws_account_id") or layout.column_for("billing_account_id")
    ):
        missing.append("aws_account_id")
    if missing:
        wanted = "; ".join(f"{f} ({' or '.join(layout.sources[f])})" for f in missing)
        raise NotACostReport(
            f"{source_name} looks like a {layout.format.value.upper()} file but lacks required "
            f"column(s): {wanted}. Export it again with those columns included."
        )
    return layout
