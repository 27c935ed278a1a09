"""Resource inventory contracts (ingest owns them): what is running in an account, and how busy.

Analytics asks ingest for the facts behind savings recommendations with `ingest.v1.rpc.inventory`
(paged: NATS refuses messages over 1 MB, so a large account arrives in several replies) and for
what each resource cost in the imported cost report with `ingest.v1.rpc.resource_costs`; ingest is
the only service that talks to AWS. CloudWatch statistics travel as per-day summaries plus the
window's percentiles computed by ingest, never raw datapoints.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from cloudaudit.common.events.base import Reply, Request, UtcDateTime
from cloudaudit.common.money import Money
from pydantic import Field

RPC_INVENTORY = "ingest.v1.rpc.inventory"
RPC_RESOURCE_COSTS = "ingest.v1.rpc.resource_costs"

# CloudWatch keeps 1-hour datapoints for 63 days; recommendations look at 14 to 30 days.
MIN_METRIC_DAYS = 14
MAX_METRIC_DAYS = 30


class InventoryRequest(Request):
    team_id: UUID
    account_id: UUID | None = Field(default=None, description="None: every account of the team.")
    metric_days: int = Field(default=MIN_METRIC_DAYS, ge=1, le=MAX_METRIC_DAYS)
    cursor: str | None = Field(
        default=None,
        max_length=16_384,
        description="next_cursor of the previous page; None: collect a fresh inventory and "
        "answer its first page.",
    )


class DailyUsage(Request):
    """One instance on one day (UTC): CloudWatch CPUUtilization and network bytes."""

    day: date
    cpu_average_percent: Decimal | None = None
    cpu_max_percent: Decimal | None = None
    network_in_bytes: Decimal | None = None
    network_out_bytes: Decimal | None = None


class UsageSummary(Request):
    """The instance's utilisation over the metric window."""

    window_days: int
    days_with_data: int = Field(description="Days with at least one CPU datapoint.")
    hours_with_data: int = 0
    cpu_p95_percent: Decimal | None = Field(default=None, description="p95 of hourly averages.")
    cpu_max_percent: Decimal | None = None
    cpu_average_percent: Decimal | None = None
    network_bytes_per_day: Decimal | None = Field(
        default=None, description="NetworkIn + NetworkOut per 24 hours of data."
    )
    daily: list[DailyUsage] = Field(default_factory=list)


class InstanceFacts(Request):
    instance_id: str
    region: str
    instance_type: str
    state: str = Field(examples=["running", "stopped"])
    launch_time: UtcDateTime | None = None
    state_changed_at: UtcDateTime | None = Field(
        default=None, description="When it entered its state, if AWS says (stopped instances)."
    )
    platform: str = Field(default="linux", examples=["linux", "windows"])
    tenancy: str = "default"
    lifecycle: str = Field(default="on-demand", examples=["on-demand", "spot", "scheduled"])
    volume_ids: list[str] = Field(default_factory=list)
    name: str | None = Field(default=None, description="The Name tag, if any.")
    usage: UsageSummary | None = None


class VolumeFacts(Request):
    volume_id: str
    region: str
    volume_type: str = Field(examples=["gp2", "gp3", "io1", "st1"])
    size_gib: int
    iops: int | None = None
    throughput_mibps: int | None = None
    state: str = Field(examples=["available", "in-use"])
    attached_instance_ids: list[str] = Field(default_factory=list)
    create_time: UtcDateTime | None = None
    name: str | None = None


class AddressFacts(Request):
    allocation_id: str
    region: str
    public_ip: str
    associated: bool
    instance_id: str | None = None
    network_interface_id: str | None = None


class SnapshotFacts(Request):
    snapshot_id: str
    region: str
    volume_id: str | None = None
    size_gib: int
    start_time: UtcDateTime
    storage_tier: str = "standard"
    ami_ids: list[str] = Field(default_factory=list, description="Own AMIs that use it.")
    description: str | None = None


class ReservedCapacity(Request):
    """Active EC2 Reserved Instances (Savings Plans arrive as cost report coverage)."""

    region: str
    instance_type: str
    instance_count: int


class OptimizerFinding(Request):
    """AWS's own recommendation (Cost Optimization Hub or Compute Optimizer), kept as-is."""

    source: str = Field(examples=["cost_optimization_hub", "compute_optimizer"])
    resource_id: str
    resource_type: str
    region: str
    action: str = Field(examples=["Rightsize", "Stop", "Delete", "MigrateToGraviton"])
    current_summary: str | None = None
    recommended_summary: str | None = None
    estimated_monthly_savings: Money
    currency: str = "USD"


class AccountInventory(Request):
    account_id: UUID
    aws_account_id: str = Field(pattern=r"^\d{12}$")
    collected_at: UtcDateTime
    regions: list[str]
    complete: bool = Field(
        description="Every describe call answered; only then may a missing resource be taken "
        "as deleted."
    )
    instances: list[InstanceFacts] = Field(default_factory=list)
    volumes: list[VolumeFacts] = Field(default_factory=list)
    addresses: list[AddressFacts] = Field(default_factory=list)
    snapshots: list[SnapshotFacts] = Field(default_factory=list)
    reserved: list[ReservedCapacity] = Field(default_factory=list)
    findings: list[OptimizerFinding] = Field(default_factory=list)
    problems: list[str] = Field(
        default_factory=list, description="What could not be read, and how to fix it."
    )


class InventoryReply(Reply):
    accounts: list[AccountInventory] = Field(
        default_factory=list,
        description="The first page carries every account with its regions, reserved capacity, "
        "findings and problems; later pages carry the same accounts' further resources only.",
    )
    next_cursor: str | None = Field(
        default=None, description="Ask again with this cursor for the next page; None: done."
    )


# -- what resources cost, from the imported cost report ----------------------------------------
MAX_COST_WINDOW_DAYS = 90
MAX_RESOURCE_COSTS_PAGE = 5_000


class ResourceCostsRequest(Request):
    team_id: UUID
    aws_account_id: str = Field(pattern=r"^\d{12}$")
    resource_ids: list[str] | None = Field(
        default=None, max_length=MAX_RESOURCE_COSTS_PAGE, description="None: every resource."
    )
    window_days: int = Field(default=MIN_METRIC_DAYS, ge=1, le=MAX_COST_WINDOW_DAYS)
    after: str | None = Field(default=None, description="next_after of the previous page.")
    limit: int = Field(default=2_000, ge=1, le=MAX_RESOURCE_COSTS_PAGE)


class ResourceCost(Request):
    """One resource over the window: usage line items (on-demand, Savings Plan or RI covered)."""

    resource_id: str = Field(description="As in the cost report; ARNs shortened to their id.")
    cost: Money = Field(description="Effective (amortized) cost of its usage over the window.")
    currency: str = "USD"
    days_with_cost: int = Field(description="Days of the window with a usage line item.")
    first_day: date
    last_day: date
    compute_hours: Decimal = Field(default=Decimal(0), description="EC2 instance hours (BoxUsage).")
    compute_cost: Money = Decimal(0)
    covered_hours: Decimal = Field(
        default=Decimal(0), description="Of compute_hours, covered by a Savings Plan or an RI."
    )
    on_demand_compute_cost: Money = Field(
        default=Decimal(0), description="Of compute_cost, the hours no commitment covered."
    )
    storage_gb_months: Decimal = Field(default=Decimal(0), description="EBS VolumeUsage quantity.")
    storage_cost: Money = Decimal(0)
    hourly_rate: Decimal | None = Field(
        default=None, description="compute_cost / compute_hours: the instance's effective $/hour."
    )
    gb_month_rate: Decimal | None = Field(
        default=None, description="storage_cost / storage_gb_months: the volume's $/GB-month."
    )


class ComputeCoverage(Request):
    """EC2 instance usage of the window by how it was paid (CUR line item types)."""

    known: bool = Field(
        description="False when the report cannot tell covered from on-demand usage (FOCUS rows "
        "as imported today, or no EC2 usage in the window)."
    )
    on_demand_cost: Money = Decimal(0)
    on_demand_hours: Decimal = Decimal(0)
    covered_cost_at_on_demand: Money = Field(
        default=Decimal(0),
        description="SavingsPlanCoveredUsage / DiscountedUsage at on-demand rates "
        "(pricing/publicOnDemandCost, else the unblended cost).",
    )
    covered_hours: Decimal = Decimal(0)
    coverage_percent: Decimal | None = Field(
        default=None, description="Covered share of the on-demand-equivalent compute spend."
    )


class ResourceCostsReply(Reply):
    aws_account_id: str | None = None
    window_start: date | None = Field(default=None, description="First day of the window.")
    window_end: date | None = Field(
        default=None, description="Day after the window: the report's last day + 1."
    )
    window_days: int = 0
    resources: list[ResourceCost] = Field(default_factory=list)
    coverage: ComputeCoverage | None = Field(default=None, description="On the first page only.")
    next_after: str | None = None
