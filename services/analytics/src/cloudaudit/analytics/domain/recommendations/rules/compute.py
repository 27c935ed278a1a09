"""EC2 rules: idle, oversized, previous-generation and long-stopped instances."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from cloudaudit.analytics.domain.recommendations.model import (
    Candidate,
    Fact,
    RecType,
    confidence,
    gib,
    number,
    pct,
    savings,
    usd,
)
from cloudaudit.analytics.domain.recommendations.prices import (
    HOURS_PER_MONTH,
    PriceTable,
    PriceUnknown,
    monthly,
)
from cloudaudit.analytics.domain.recommendations.rates import (
    NO_REPORT,
    CostReport,
    instance_hourly,
    instance_hourly_target,
    volume_monthly,
    with_source,
)
from cloudaudit.analytics.domain.recommendations.rules.facts import (
    age_days,
    hourly_rate,
    rate_facts,
    rate_sources,
)
from cloudaudit.common.events.inventory import AccountInventory, InstanceFacts

IDLE_CPU_P95_PERCENT = Decimal(5)


# Trusted Advisor's low-utilisation bound: at most 5 MB of network I/O a day.
IDLE_NETWORK_BYTES_PER_DAY = Decimal(5_000_000)


OVERPROVISIONED_CPU_P95_PERCENT = Decimal(40)


MIN_SIGNAL_DAYS = 14


STOPPED_MIN_DAYS = 7


# Confidence (0-1) of each EC2 rule: a floor for a signal just past its threshold, plus a span
# that grows with how far past it the signal is.
IDLE_CONFIDENCE_FLOOR = Decimal("0.6")
IDLE_CONFIDENCE_SPAN = Decimal("0.4")
RESIZE_CONFIDENCE_FLOOR = Decimal("0.5")
RESIZE_CONFIDENCE_SPAN = Decimal("0.4")
# A busy peak makes a smaller type riskier even when the p95 is low.
RESIZE_PEAK_CPU_PERCENT = 80
RESIZE_PEAK_PENALTY = Decimal("0.8")
NEWER_GENERATION_CONFIDENCE = Decimal("0.8")
STOPPED_UNKNOWN_SINCE_CONFIDENCE = Decimal("0.5")  # AWS did not say when it stopped
STOPPED_CONFIDENCE = Decimal("0.65")
STOPPED_LONG_DAYS = 30
STOPPED_LONG_CONFIDENCE = Decimal("0.8")
STOPPED_BILLED_BONUS = Decimal("0.05")  # every volume's cost seen in the cost report
SIZES = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "2xlarge",
    "3xlarge",
    "4xlarge",
    "6xlarge",
    "8xlarge",
    "9xlarge",
    "12xlarge",
    "16xlarge",
    "18xlarge",
    "24xlarge",
)


# Previous-generation family -> (current generation x86, Graviton), same size.
PREVIOUS_GENERATION = {
    "t2": ("t3", "t4g"),
    "m4": ("m6i", "m6g"),
    "m3": ("m6i", "m6g"),
    "c4": ("c6i", "c6g"),
    "c3": ("c6i", "c6g"),
    "r4": ("r6i", "r6g"),
    "r3": ("r6i", "r6g"),
}


def split_type(instance_type: str) -> tuple[str, str]:
    family, _, size = instance_type.partition(".")
    return family, size


def one_size_down(instance_type: str, prices: PriceTable, region: str) -> str | None:
    family, size = split_type(instance_type)
    if size not in SIZES:
        return None
    for smaller in reversed(SIZES[: SIZES.index(size)]):
        candidate = f"{family}.{smaller}"
        if prices.has_instance(region, candidate):
            return candidate
    return None


def priced_instance(instance: InstanceFacts, report: CostReport = NO_REPORT) -> bool:
    """The table holds Linux on-demand rates only; other instances are priced only by their
    own rate in the cost report."""
    listed = (
        instance.platform == "linux"
        and instance.lifecycle == "on-demand"
        and instance.tenancy == "default"
    )
    return listed or report.usable(instance.instance_id) is not None


def completeness(instance: InstanceFacts) -> Decimal:
    usage = instance.usage
    if usage is None:
        return Decimal(0)
    return min(Decimal(1), Decimal(usage.hours_with_data) / (MIN_SIGNAL_DAYS * 24))


def is_idle(instance: InstanceFacts) -> bool:
    usage = instance.usage
    return (
        instance.state == "running"
        and usage is not None
        and usage.days_with_data >= MIN_SIGNAL_DAYS
        and usage.cpu_p95_percent is not None
        and usage.cpu_p95_percent < IDLE_CPU_P95_PERCENT
        and usage.network_bytes_per_day is not None
        and usage.network_bytes_per_day <= IDLE_NETWORK_BYTES_PER_DAY
    )


def usage_facts(instance: InstanceFacts) -> list[Fact]:
    usage = instance.usage
    assert usage is not None and usage.cpu_p95_percent is not None
    facts = [
        Fact("Days of CloudWatch data", str(usage.days_with_data)),
        Fact("CPU p95 (hourly averages)", pct(usage.cpu_p95_percent)),
    ]
    if usage.cpu_max_percent is not None:
        facts.append(Fact("CPU maximum", pct(usage.cpu_max_percent)))
    if usage.network_bytes_per_day is not None:
        facts.append(
            Fact(
                "Network in+out per day", f"{number(usage.network_bytes_per_day / 1_000_000, 2)} MB"
            )
        )
    return facts


def idle_instances(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for instance in inv.instances:
        if not (is_idle(instance) and priced_instance(instance, report)):
            continue
        try:
            rate = instance_hourly(instance, prices, report)
        except PriceUnknown:
            continue
        hourly = rate.amount
        usage = instance.usage
        assert usage is not None and usage.cpu_p95_percent is not None
        cost = monthly(hourly)
        strength = IDLE_CONFIDENCE_FLOOR + IDLE_CONFIDENCE_SPAN * (
            1 - usage.cpu_p95_percent / IDLE_CPU_P95_PERCENT
        )
        yield Candidate(
            rec_type=RecType.IDLE_EC2,
            resource_id=instance.instance_id,
            resource_type="ec2_instance",
            region=instance.region,
            action="Stop the instance (or terminate it if nobody needs it)",
            estimated_monthly_savings=savings(cost),
            confidence=confidence(with_source(completeness(instance) * strength, rate)),
            baseline_monthly_cost=savings(cost),
            facts=(
                Fact("Instance type", instance.instance_type),
                Fact("State", instance.state),
                *usage_facts(instance),
                *rate_facts(rate),
                Fact("Hours per month", str(HOURS_PER_MONTH)),
                Fact("Monthly compute cost", usd(cost)),
                Fact("Estimated monthly savings", usd(cost)),
            ),
            risks=(
                "Attached EBS volumes keep costing while the instance is stopped",
                "Something may use it rarely (monthly jobs, failover); check with its owner",
            ),
        )


def overprovisioned_instances(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for instance in inv.instances:
        usage = instance.usage
        if (
            instance.state != "running"
            or usage is None
            or is_idle(instance)
            or not priced_instance(instance, report)
            or usage.days_with_data < MIN_SIGNAL_DAYS
            or usage.cpu_p95_percent is None
            or usage.cpu_p95_percent >= OVERPROVISIONED_CPU_P95_PERCENT
        ):
            continue
        smaller = one_size_down(instance.instance_type, prices, instance.region)
        if smaller is None:
            continue
        rate = instance_hourly(instance, prices, report)
        current = rate.amount
        target = instance_hourly_target(rate, instance, smaller, prices)
        saved = monthly(current - target)
        strength = RESIZE_CONFIDENCE_FLOOR + RESIZE_CONFIDENCE_SPAN * (
            1 - usage.cpu_p95_percent / OVERPROVISIONED_CPU_P95_PERCENT
        )
        if usage.cpu_max_percent is not None and usage.cpu_max_percent > RESIZE_PEAK_CPU_PERCENT:
            strength *= RESIZE_PEAK_PENALTY
        yield Candidate(
            rec_type=RecType.OVERPROVISIONED_EC2,
            resource_id=instance.instance_id,
            resource_type="ec2_instance",
            region=instance.region,
            action=f"Resize from {instance.instance_type} to {smaller}",
            estimated_monthly_savings=savings(saved),
            confidence=confidence(with_source(completeness(instance) * strength, rate)),
            baseline_monthly_cost=savings(monthly(current)),
            facts=(
                Fact("Instance type", instance.instance_type),
                Fact("Recommended type", smaller),
                *usage_facts(instance),
                *rate_facts(rate, "Current on-demand rate"),
                Fact(
                    "Recommended type's rate" if rate.from_report else "Recommended on-demand rate",
                    hourly_rate(target),
                ),
                Fact("Hours per month", str(HOURS_PER_MONTH)),
                Fact("Estimated monthly savings", usd(saved)),
            ),
            risks=(
                "Half the vCPUs and memory: check memory use (not in CloudWatch by default)",
                "Resizing needs a stop and start",
            ),
            details={"target_type": smaller},
        )


def previous_generation(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for instance in inv.instances:
        family, size = split_type(instance.instance_type)
        if (
            instance.state != "running"
            or family not in PREVIOUS_GENERATION
            or is_idle(instance)
            or not priced_instance(instance, report)
        ):
            continue
        current_family, graviton_family = PREVIOUS_GENERATION[family]
        target, graviton = f"{current_family}.{size}", f"{graviton_family}.{size}"
        try:
            rate = instance_hourly(instance, prices, report)
            target_rate = instance_hourly_target(rate, instance, target, prices)
        except PriceUnknown:
            continue
        current = rate.amount
        saved = monthly(current - target_rate)
        if saved <= 0:
            continue
        facts = [
            Fact("Instance type", instance.instance_type),
            Fact("Current generation type", target),
            *rate_facts(rate, "Current on-demand rate"),
            Fact("Current generation rate", hourly_rate(target_rate)),
            Fact("Hours per month", str(HOURS_PER_MONTH)),
            Fact("Estimated monthly savings", usd(saved)),
        ]
        if prices.has_instance(instance.region, graviton):
            graviton_saved = monthly(
                current - instance_hourly_target(rate, instance, graviton, prices)
            )
            facts.append(Fact("Graviton alternative", graviton))
            facts.append(Fact("Graviton monthly savings", usd(graviton_saved)))
        yield Candidate(
            rec_type=RecType.PREVIOUS_GENERATION,
            resource_id=instance.instance_id,
            resource_type="ec2_instance",
            region=instance.region,
            action=f"Move from {instance.instance_type} to {target}",
            estimated_monthly_savings=savings(saved),
            confidence=confidence(with_source(NEWER_GENERATION_CONFIDENCE, rate)),
            baseline_monthly_cost=savings(monthly(current)),
            facts=tuple(facts),
            risks=(
                "Needs a stop and start; check the AMI supports the newer family (ENA, NVMe)",
                "Graviton is ARM: the software must have ARM builds",
            ),
            details={"target_type": target},
        )


def stopped_instances_with_ebs(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    volumes = {v.volume_id: v for v in inv.volumes}
    for instance in inv.instances:
        if instance.state != "stopped":
            continue
        stopped_days = age_days(instance.state_changed_at, now)
        if stopped_days is not None and stopped_days < STOPPED_MIN_DAYS:
            continue
        attached = [volumes[v] for v in instance.volume_ids if v in volumes]
        try:
            priced = [volume_monthly(v, prices, report) for v in attached]
        except PriceUnknown:
            continue
        cost = sum((p.amount for p in priced), Decimal(0))
        if cost <= 0:
            continue
        level = (
            STOPPED_UNKNOWN_SINCE_CONFIDENCE
            if stopped_days is None
            else (
                STOPPED_LONG_CONFIDENCE if stopped_days >= STOPPED_LONG_DAYS else STOPPED_CONFIDENCE
            )
        )
        size = sum(v.size_gib for v in attached)
        facts = [
            Fact("Instance type", instance.instance_type),
            Fact("State", "stopped"),
            Fact("Attached volumes", str(len(attached))),
            Fact("Total volume size", gib(size)),
            Fact("Monthly EBS cost while stopped", usd(cost)),
            Fact("Rate source", rate_sources(priced)),
            Fact("Estimated monthly savings", usd(cost)),
        ]
        if stopped_days is not None:
            facts.insert(2, Fact("Days stopped", str(stopped_days)))
        yield Candidate(
            rec_type=RecType.STOPPED_INSTANCE_EBS,
            resource_id=instance.instance_id,
            resource_type="ec2_instance",
            region=instance.region,
            action="Snapshot the volumes and terminate the instance, or delete the volumes nobody needs",
            estimated_monthly_savings=savings(cost),
            confidence=confidence(
                level + (STOPPED_BILLED_BONUS if all(p.from_report for p in priced) else 0)
            ),
            baseline_monthly_cost=savings(cost),
            facts=tuple(facts),
            risks=(
                "A snapshot of the data keeps costing (less than the volumes)",
                "Terminating is permanent: keep an AMI if the instance may come back",
            ),
        )
