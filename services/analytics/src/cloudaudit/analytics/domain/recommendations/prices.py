"""The bundled price table: list prices behind every savings figure.

Source: AWS public on-demand price list (aws.amazon.com/ec2/pricing/on-demand, /ebs/pricing,
/vpc/pricing), Linux, shared tenancy, USD. Compiled 2026-11-25; these rates have been stable
since the public IPv4 charge started on 2024-02-01. These are list prices: the customer's own
discounts (EDP, credits) are not in them, so stated savings are list-price savings. Regions or
types missing here give no recommendation rather than a guessed figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

PRICE_TABLE_SOURCE = (
    "AWS public on-demand price list (EC2 Linux shared tenancy, EBS, public IPv4), USD"
)
PRICE_TABLE_AS_OF = "2026-11-25"
HOURS_PER_MONTH = Decimal(730)

D = Decimal

# On-demand $/hour per instance type.
_EC2_US_EAST_1: dict[str, Decimal] = {
    "t2.nano": D("0.0058"),
    "t2.micro": D("0.0116"),
    "t2.small": D("0.023"),
    "t2.medium": D("0.0464"),
    "t2.large": D("0.0928"),
    "t2.xlarge": D("0.1856"),
    "t2.2xlarge": D("0.3712"),
    "t3.nano": D("0.0052"),
    "t3.micro": D("0.0104"),
    "t3.small": D("0.0208"),
    "t3.medium": D("0.0416"),
    "t3.large": D("0.0832"),
    "t3.xlarge": D("0.1664"),
    "t3.2xlarge": D("0.3328"),
    "t3a.nano": D("0.0047"),
    "t3a.micro": D("0.0094"),
    "t3a.small": D("0.0188"),
    "t3a.medium": D("0.0376"),
    "t3a.large": D("0.0752"),
    "t3a.xlarge": D("0.1504"),
    "t4g.nano": D("0.0042"),
    "t4g.micro": D("0.0084"),
    "t4g.small": D("0.0168"),
    "t4g.medium": D("0.0336"),
    "t4g.large": D("0.0672"),
    "t4g.xlarge": D("0.1344"),
    "m4.large": D("0.10"),
    "m4.xlarge": D("0.20"),
    "m4.2xlarge": D("0.40"),
    "m4.4xlarge": D("0.80"),
    "m5.large": D("0.096"),
    "m5.xlarge": D("0.192"),
    "m5.2xlarge": D("0.384"),
    "m5.4xlarge": D("0.768"),
    "m6i.large": D("0.096"),
    "m6i.xlarge": D("0.192"),
    "m6i.2xlarge": D("0.384"),
    "m6i.4xlarge": D("0.768"),
    "m6g.medium": D("0.0385"),
    "m6g.large": D("0.077"),
    "m6g.xlarge": D("0.154"),
    "m6g.2xlarge": D("0.308"),
    "m6g.4xlarge": D("0.616"),
    "m7g.medium": D("0.0408"),
    "m7g.large": D("0.0816"),
    "m7g.xlarge": D("0.1632"),
    "m7g.2xlarge": D("0.3264"),
    "c4.large": D("0.10"),
    "c4.xlarge": D("0.199"),
    "c4.2xlarge": D("0.398"),
    "c5.large": D("0.085"),
    "c5.xlarge": D("0.17"),
    "c5.2xlarge": D("0.34"),
    "c5.4xlarge": D("0.68"),
    "c6i.large": D("0.085"),
    "c6i.xlarge": D("0.17"),
    "c6i.2xlarge": D("0.34"),
    "c6g.medium": D("0.034"),
    "c6g.large": D("0.068"),
    "c6g.xlarge": D("0.136"),
    "c6g.2xlarge": D("0.272"),
    "c7g.medium": D("0.0363"),
    "c7g.large": D("0.0725"),
    "c7g.xlarge": D("0.145"),
    "r4.large": D("0.133"),
    "r4.xlarge": D("0.266"),
    "r4.2xlarge": D("0.532"),
    "r5.large": D("0.126"),
    "r5.xlarge": D("0.252"),
    "r5.2xlarge": D("0.504"),
    "r6i.large": D("0.126"),
    "r6i.xlarge": D("0.252"),
    "r6i.2xlarge": D("0.504"),
    "r6g.medium": D("0.0504"),
    "r6g.large": D("0.1008"),
    "r6g.xlarge": D("0.2016"),
    "r6g.2xlarge": D("0.4032"),
    "r7g.medium": D("0.0536"),
    "r7g.large": D("0.1071"),
    "r7g.xlarge": D("0.2142"),
}
_EC2_EU_WEST_1: dict[str, Decimal] = {
    "t2.micro": D("0.0126"),
    "t2.small": D("0.025"),
    "t2.medium": D("0.05"),
    "t3.micro": D("0.0114"),
    "t3.small": D("0.0228"),
    "t3.medium": D("0.0456"),
    "t3.large": D("0.0912"),
    "t3.xlarge": D("0.1824"),
    "m4.large": D("0.111"),
    "m4.xlarge": D("0.222"),
    "m5.large": D("0.107"),
    "m5.xlarge": D("0.214"),
    "m5.2xlarge": D("0.428"),
    "c5.large": D("0.096"),
    "c5.xlarge": D("0.192"),
    "r5.large": D("0.141"),
    "r5.xlarge": D("0.282"),
}
EC2_ON_DEMAND_HOURLY: dict[str, dict[str, Decimal]] = {
    "us-east-1": _EC2_US_EAST_1,
    "us-east-2": _EC2_US_EAST_1,  # Ohio lists the same rates as N. Virginia for these types
    "us-west-2": _EC2_US_EAST_1,  # so does Oregon
    "eu-west-1": _EC2_EU_WEST_1,
}

# $/GB-month of provisioned storage.
_EBS_US: dict[str, Decimal] = {
    "gp2": D("0.10"),
    "gp3": D("0.08"),
    "io1": D("0.125"),
    "io2": D("0.125"),
    "st1": D("0.045"),
    "sc1": D("0.015"),
    "standard": D("0.05"),
}
_EBS_EU_WEST_1: dict[str, Decimal] = {
    "gp2": D("0.11"),
    "gp3": D("0.088"),
    "io1": D("0.138"),
    "io2": D("0.138"),
    "st1": D("0.05"),
    "sc1": D("0.0168"),
    "standard": D("0.055"),
}
EBS_GB_MONTH: dict[str, dict[str, Decimal]] = {
    "us-east-1": _EBS_US,
    "us-east-2": _EBS_US,
    "us-west-2": _EBS_US,
    "eu-west-1": _EBS_EU_WEST_1,
}
# Provisioned IOPS and throughput (per month): io1/io2 IOPS, gp3 above its free baseline.
IO_IOPS_MONTH = D("0.065")
GP3_IOPS_MONTH = D("0.005")
GP3_THROUGHPUT_MIBPS_MONTH = D("0.04")
GP3_FREE_IOPS = 3000
GP3_FREE_THROUGHPUT_MIBPS = 125
SNAPSHOT_STANDARD_GB_MONTH: dict[str, Decimal] = {
    "us-east-1": D("0.05"),
    "us-east-2": D("0.05"),
    "us-west-2": D("0.05"),
    "eu-west-1": D("0.05"),
}
# Every public IPv4 address, attached or idle, since 2024-02-01.
PUBLIC_IPV4_HOURLY = D("0.005")

# One-year Compute Savings Plan, no upfront, versus on-demand, for the general-purpose families
# in this table: AWS's Savings Plans pricing page shows 27-34 %; we take the low end so the
# stated savings are a floor.
COMPUTE_SAVINGS_PLAN_DISCOUNT = D("0.27")


class PriceUnknown(LookupError):
    """The table has no rate for this region/type; the rule yields nothing."""


@dataclass(frozen=True)
class PriceTable:
    """Rates for rules; a cost-report rate (per resource) overrides the list price."""

    ec2_hourly: dict[str, dict[str, Decimal]]
    ebs_gb_month: dict[str, dict[str, Decimal]]
    snapshot_gb_month: dict[str, Decimal]
    public_ipv4_hourly: Decimal = PUBLIC_IPV4_HOURLY
    savings_plan_discount: Decimal = COMPUTE_SAVINGS_PLAN_DISCOUNT
    source: str = PRICE_TABLE_SOURCE
    as_of: str = PRICE_TABLE_AS_OF

    def instance_hourly(self, region: str, instance_type: str) -> Decimal:
        try:
            return self.ec2_hourly[region][instance_type]
        except KeyError:
            raise PriceUnknown(f"no on-demand rate for {instance_type} in {region}") from None

    def has_instance(self, region: str, instance_type: str) -> bool:
        return instance_type in self.ec2_hourly.get(region, {})

    def volume_monthly(
        self,
        region: str,
        volume_type: str,
        size_gib: int,
        iops: int | None = None,
        throughput_mibps: int | None = None,
    ) -> Decimal:
        """Provisioned storage plus provisioned performance, per month."""
        try:
            rate = self.ebs_gb_month[region][volume_type]
        except KeyError:
            raise PriceUnknown(f"no EBS rate for {volume_type} in {region}") from None
        cost = rate * size_gib
        if volume_type in ("io1", "io2") and iops:
            cost += IO_IOPS_MONTH * iops
        if volume_type == "gp3":
            cost += GP3_IOPS_MONTH * max(0, (iops or GP3_FREE_IOPS) - GP3_FREE_IOPS)
            cost += GP3_THROUGHPUT_MIBPS_MONTH * max(
                0, (throughput_mibps or GP3_FREE_THROUGHPUT_MIBPS) - GP3_FREE_THROUGHPUT_MIBPS
            )
        return cost

    def ebs_rate(self, region: str, volume_type: str) -> Decimal:
        try:
            return self.ebs_gb_month[region][volume_type]
        except KeyError:
            raise PriceUnknown(f"no EBS rate for {volume_type} in {region}") from None

    def snapshot_monthly(self, region: str, size_gib: int) -> Decimal:
        try:
            return self.snapshot_gb_month[region] * size_gib
        except KeyError:
            raise PriceUnknown(f"no snapshot rate in {region}") from None


DEFAULT_PRICES = PriceTable(EC2_ON_DEMAND_HOURLY, EBS_GB_MONTH, SNAPSHOT_STANDARD_GB_MONTH)


def monthly(hourly: Decimal) -> Decimal:
    """An hourly rate over a 730-hour month (AWS's own convention)."""
    return hourly * HOURS_PER_MONTH
