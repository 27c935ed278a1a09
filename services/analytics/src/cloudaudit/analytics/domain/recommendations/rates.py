"""Which rate a savings figure uses: the resource's own rate from the cost report when the report
has enough of it, else the bundled price table; every rate says where it came from.

The cost report knows what the customer really pays (EDP and other discounts, Savings Plan and
RI effective rates, incremental snapshot sizes); the price table is the public list price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from cloudaudit.analytics.domain.recommendations.prices import PriceTable, monthly
from cloudaudit.common.events.inventory import (
    AddressFacts,
    ComputeCoverage,
    InstanceFacts,
    ResourceCost,
    SnapshotFacts,
    VolumeFacts,
)

# A rate from fewer days than this is too thin to trust over the list price.
REPORT_MIN_DAYS = 7
HOURS_PER_DAY = 24
# The customer's own billed rate removes the list-price uncertainty from the figure.
REPORT_CONFIDENCE_BONUS = Decimal("0.05")
RATE_QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class CostReport:
    """What one account's resources cost over the last `window_days` days of the cost report."""

    window_days: int = 0
    window_start: date | None = None
    resources: Mapping[str, ResourceCost] = field(default_factory=dict)
    coverage: ComputeCoverage | None = None

    @property
    def present(self) -> bool:
        return self.window_start is not None and self.window_days > 0

    @property
    def label(self) -> str:
        return f"cost report, last {self.window_days} days"

    def usable(self, resource_id: str) -> ResourceCost | None:
        """The resource's line items, if the report has enough days of them to trust."""
        cost = self.resources.get(resource_id) if self.present else None
        if cost is None or cost.days_with_cost < min(REPORT_MIN_DAYS, self.window_days):
            return None
        return cost


NO_REPORT = CostReport()


@dataclass(frozen=True)
class Priced:
    """An amount and where its rate came from ("cost report, last 14 days" / "price table ...")."""

    amount: Decimal
    from_report: bool
    source: str


def price_table_label(prices: PriceTable) -> str:
    return f"price table ({prices.source}, {prices.as_of})"


def _listed(amount: Decimal, prices: PriceTable) -> Priced:
    return Priced(amount, False, price_table_label(prices))


def _hours(cost: ResourceCost) -> Decimal:
    return Decimal(cost.days_with_cost * HOURS_PER_DAY)


def instance_hourly(instance: InstanceFacts, prices: PriceTable, report: CostReport) -> Priced:
    """$/hour: cost / instance hours from the report, else the on-demand list price."""
    cost = report.usable(instance.instance_id)
    if cost is not None and cost.hourly_rate is not None and cost.compute_hours > 0:
        return Priced(cost.hourly_rate, True, report.label)
    return _listed(prices.instance_hourly(instance.region, instance.instance_type), prices)


def instance_hourly_target(
    current: Priced, instance: InstanceFacts, target_type: str, prices: PriceTable
) -> Decimal:
    """The rate of another type at the customer's discount: the list-price ratio applied to
    the instance's own rate (a rate from the table is simply the target's list price)."""
    target_list = prices.instance_hourly(instance.region, target_type)
    if not current.from_report:
        return target_list
    current_list = prices.instance_hourly(instance.region, instance.instance_type)
    return (current.amount * target_list / current_list).quantize(RATE_QUANTUM)


def volume_monthly(volume: VolumeFacts, prices: PriceTable, report: CostReport) -> Priced:
    """Storage at the report's $/GB-month times the size, plus whatever else the volume was
    billed for (provisioned IOPS/throughput) per hour; else the list price."""
    cost = report.usable(volume.volume_id)
    if cost is not None and cost.gb_month_rate is not None:
        other_hourly = (cost.cost - cost.storage_cost) / _hours(cost)
        return Priced(
            cost.gb_month_rate * volume.size_gib + monthly(other_hourly), True, report.label
        )
    return _listed(
        prices.volume_monthly(
            volume.region, volume.volume_type, volume.size_gib, volume.iops, volume.throughput_mibps
        ),
        prices,
    )


def volume_gb_month_rate(volume: VolumeFacts, prices: PriceTable, report: CostReport) -> Priced:
    cost = report.usable(volume.volume_id)
    if cost is not None and cost.gb_month_rate is not None:
        return Priced(cost.gb_month_rate, True, report.label)
    return _listed(prices.ebs_rate(volume.region, volume.volume_type), prices)


def snapshot_monthly(snapshot: SnapshotFacts, prices: PriceTable, report: CostReport) -> Priced:
    """What the snapshot is billed (its incremental blocks) per month, else the full source
    volume size at the list price (an upper bound)."""
    cost = report.usable(snapshot.snapshot_id)
    if cost is not None:
        return Priced(monthly(cost.cost / _hours(cost)), True, report.label)
    return _listed(prices.snapshot_monthly(snapshot.region, snapshot.size_gib), prices)


def address_hourly(address: AddressFacts, prices: PriceTable, report: CostReport) -> Priced:
    cost = report.usable(address.allocation_id) or report.usable(address.public_ip)
    if cost is not None:
        return Priced((cost.cost / _hours(cost)).quantize(RATE_QUANTUM), True, report.label)
    return _listed(prices.public_ipv4_hourly, prices)


def uncovered_hourly(cost: ResourceCost, window_days: int) -> Decimal:
    """The instance's on-demand (uncovered) spend per hour of the window."""
    return cost.on_demand_compute_cost / Decimal(window_days * HOURS_PER_DAY)


def with_source(value: Decimal, priced: Priced) -> Decimal:
    """Confidence for a figure from this rate source."""
    return value + REPORT_CONFIDENCE_BONUS if priced.from_report else value
