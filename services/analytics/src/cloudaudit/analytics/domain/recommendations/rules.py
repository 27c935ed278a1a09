"""Savings rules over one account's inventory: each a small function with its savings formula.

Savings are monthly, on AWS's 730-hour month, in Decimal, at the resource's own rate from the
cost report when the report has enough of it, else from the bundled price table (see rates.py and
prices.py for its source and date); the fact sheet names the source. Confidence (0-1) grows with
the days of data behind the signal, with how far the signal is past its threshold, and a little
with a rate the customer was really billed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
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
    GP3_FREE_IOPS,
    GP3_FREE_THROUGHPUT_MIBPS,
    HOURS_PER_MONTH,
    PriceTable,
    PriceUnknown,
    monthly,
)
from cloudaudit.analytics.domain.recommendations.rates import (
    NO_REPORT,
    CostReport,
    Priced,
    address_hourly,
    instance_hourly,
    instance_hourly_target,
    snapshot_monthly,
    uncovered_hourly,
    volume_gb_month_rate,
    volume_monthly,
    with_source,
)
from cloudaudit.common.events.inventory import AccountInventory, InstanceFacts, VolumeFacts

IDLE_CPU_P95_PERCENT = Decimal(5)
# Trusted Advisor's low-utilisation bound: at most 5 MB of network I/O a day.
IDLE_NETWORK_BYTES_PER_DAY = Decimal(5_000_000)
OVERPROVISIONED_CPU_P95_PERCENT = Decimal(40)
MIN_SIGNAL_DAYS = 14
OLD_SNAPSHOT_DAYS = 90
STOPPED_MIN_DAYS = 7
NEW_VOLUME_DAYS = 7
# Below this uncovered steady spend a commitment is not worth a decision.
SAVINGS_PLAN_MIN_MONTHLY = Decimal(50)
# Coverage measured in the customer's own cost report, not assumed from the inventory.
REPORT_COVERAGE_BONUS = Decimal("0.1")
GP2_THROUGHPUT_LARGE_MIBPS = 250
GP2_THROUGHPUT_LARGE_FROM_GIB = 170

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


def _days(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, (now - since).days)


def _rate(hourly: Decimal) -> str:
    return f"${number(hourly, 4)} per hour"


def _priced_instance(instance: InstanceFacts, report: CostReport = NO_REPORT) -> bool:
    """The table holds Linux on-demand rates only; other instances are priced only by their
    own rate in the cost report."""
    listed = (
        instance.platform == "linux"
        and instance.lifecycle == "on-demand"
        and instance.tenancy == "default"
    )
    return listed or report.usable(instance.instance_id) is not None


def _rate_facts(priced: Priced, label: str = "On-demand rate") -> list[Fact]:
    name = "Effective rate" if priced.from_report else label
    return [Fact(name, _rate(priced.amount)), Fact("Rate source", priced.source)]


def _sources(priced: list[Priced]) -> str:
    return " and ".join(sorted({p.source for p in priced}))


def _completeness(instance: InstanceFacts) -> Decimal:
    usage = instance.usage
    if usage is None:
        return Decimal(0)
    return min(Decimal(1), Decimal(usage.hours_with_data) / (MIN_SIGNAL_DAYS * 24))


def _is_idle(instance: InstanceFacts) -> bool:
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


def _usage_facts(instance: InstanceFacts) -> list[Fact]:
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


# -- EC2 --------------------------------------------------------------------------------------
def idle_instances(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for instance in inv.instances:
        if not (_is_idle(instance) and _priced_instance(instance, report)):
            continue
        try:
            rate = instance_hourly(instance, prices, report)
        except PriceUnknown:
            continue
        hourly = rate.amount
        usage = instance.usage
        assert usage is not None and usage.cpu_p95_percent is not None
        cost = monthly(hourly)
        strength = Decimal("0.6") + Decimal("0.4") * (
            1 - usage.cpu_p95_percent / IDLE_CPU_P95_PERCENT
        )
        yield Candidate(
            RecType.IDLE_EC2,
            instance.instance_id,
            "ec2_instance",
            instance.region,
            "Stop the instance (or terminate it if nobody needs it)",
            savings(cost),
            confidence(with_source(_completeness(instance) * strength, rate)),
            savings(cost),
            (
                Fact("Instance type", instance.instance_type),
                Fact("State", instance.state),
                *_usage_facts(instance),
                *_rate_facts(rate),
                Fact("Hours per month", str(HOURS_PER_MONTH)),
                Fact("Monthly compute cost", usd(cost)),
                Fact("Estimated monthly savings", usd(cost)),
            ),
            (
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
            or _is_idle(instance)
            or not _priced_instance(instance, report)
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
        strength = Decimal("0.5") + Decimal("0.4") * (
            1 - usage.cpu_p95_percent / OVERPROVISIONED_CPU_P95_PERCENT
        )
        if usage.cpu_max_percent is not None and usage.cpu_max_percent > 80:
            strength *= Decimal("0.8")
        yield Candidate(
            RecType.OVERPROVISIONED_EC2,
            instance.instance_id,
            "ec2_instance",
            instance.region,
            f"Resize from {instance.instance_type} to {smaller}",
            savings(saved),
            confidence(with_source(_completeness(instance) * strength, rate)),
            savings(monthly(current)),
            (
                Fact("Instance type", instance.instance_type),
                Fact("Recommended type", smaller),
                *_usage_facts(instance),
                *_rate_facts(rate, "Current on-demand rate"),
                Fact(
                    "Recommended type's rate" if rate.from_report else "Recommended on-demand rate",
                    _rate(target),
                ),
                Fact("Hours per month", str(HOURS_PER_MONTH)),
                Fact("Estimated monthly savings", usd(saved)),
            ),
            (
                "Half the vCPUs and memory: check memory use (not in CloudWatch by default)",
                "Resizing needs a stop and start",
            ),
            {"target_type": smaller},
        )


def previous_generation(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for instance in inv.instances:
        family, size = split_type(instance.instance_type)
        if (
            instance.state != "running"
            or family not in PREVIOUS_GENERATION
            or _is_idle(instance)
            or not _priced_instance(instance, report)
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
            *_rate_facts(rate, "Current on-demand rate"),
            Fact("Current generation rate", _rate(target_rate)),
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
            RecType.PREVIOUS_GENERATION,
            instance.instance_id,
            "ec2_instance",
            instance.region,
            f"Move from {instance.instance_type} to {target}",
            savings(saved),
            confidence(with_source(Decimal("0.8"), rate)),
            savings(monthly(current)),
            tuple(facts),
            (
                "Needs a stop and start; check the AMI supports the newer family (ENA, NVMe)",
                "Graviton is ARM: the software must have ARM builds",
            ),
            {"target_type": target},
        )


def stopped_instances_with_ebs(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    volumes = {v.volume_id: v for v in inv.volumes}
    for instance in inv.instances:
        if instance.state != "stopped":
            continue
        stopped_days = _days(instance.state_changed_at, now)
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
            Decimal("0.5")
            if stopped_days is None
            else (Decimal("0.8") if stopped_days >= 30 else Decimal("0.65"))
        )
        size = sum(v.size_gib for v in attached)
        facts = [
            Fact("Instance type", instance.instance_type),
            Fact("State", "stopped"),
            Fact("Attached volumes", str(len(attached))),
            Fact("Total volume size", gib(size)),
            Fact("Monthly EBS cost while stopped", usd(cost)),
            Fact("Rate source", _sources(priced)),
            Fact("Estimated monthly savings", usd(cost)),
        ]
        if stopped_days is not None:
            facts.insert(2, Fact("Days stopped", str(stopped_days)))
        yield Candidate(
            RecType.STOPPED_INSTANCE_EBS,
            instance.instance_id,
            "ec2_instance",
            instance.region,
            "Snapshot the volumes and terminate the instance, or delete the volumes nobody needs",
            savings(cost),
            confidence(level + (Decimal("0.05") if all(p.from_report for p in priced) else 0)),
            savings(cost),
            tuple(facts),
            (
                "A snapshot of the data keeps costing (less than the volumes)",
                "Terminating is permanent: keep an AMI if the instance may come back",
            ),
        )


def _steady(instance: InstanceFacts, report: CostReport, now: datetime) -> bool:
    """Running for the whole look-back window: launched before it started, and billed (cost
    report) or measured (CloudWatch, without a report) on every one of its days."""
    if instance.state != "running" or instance.launch_time is None or _is_idle(instance):
        return False
    if report.present:
        assert report.window_start is not None
        start = datetime(
            report.window_start.year, report.window_start.month, report.window_start.day, tzinfo=UTC
        )
        cost = report.resources.get(instance.instance_id)
        return (
            instance.launch_time <= start
            and cost is not None
            and cost.compute_hours > 0
            and cost.days_with_cost >= report.window_days
        )
    usage = instance.usage
    return (
        instance.launch_time <= now - timedelta(days=MIN_SIGNAL_DAYS)
        and usage is not None
        and usage.days_with_data >= MIN_SIGNAL_DAYS
    )


def savings_plan_coverage(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    """Steady on-demand compute no commitment covers yet -> a Compute Savings Plan.

    With a cost report that tells covered from on-demand usage (CUR line item types), each
    steady instance counts with its on-demand spend only, so hours a Savings Plan or RI already
    covers are never committed twice; otherwise list prices minus active RIs of the inventory."""
    coverage = report.coverage if report.present and report.coverage else None
    known = coverage is not None and coverage.known
    window = report.window_days if report.present else MIN_SIGNAL_DAYS
    reserved = Counter({(r.region, r.instance_type): r.instance_count for r in inv.reserved})
    steady = Decimal(0)
    uncovered = Decimal(0)
    completeness: list[Decimal] = []
    sources: list[Priced] = []
    for instance in sorted(inv.instances, key=lambda i: i.instance_id):
        if not (_steady(instance, report, now) and _priced_instance(instance, report)):
            continue
        try:
            rate = instance_hourly(instance, prices, report)
        except PriceUnknown:
            continue
        cost = report.resources.get(instance.instance_id)
        if known and cost is not None:
            steady += cost.compute_cost / (window * 24)
            uncovered += uncovered_hourly(cost, window)
        else:
            steady += rate.amount
            if reserved[(instance.region, instance.instance_type)] > 0:
                reserved[(instance.region, instance.instance_type)] -= 1
            else:
                uncovered += rate.amount
        sources.append(rate)
        completeness.append(_completeness(instance) if instance.usage else Decimal(1))
    if not completeness or monthly(uncovered) < SAVINGS_PLAN_MIN_MONTHLY:
        return
    discount = prices.savings_plan_discount
    commitment = uncovered * (1 - discount)
    saved = monthly(uncovered * discount)
    data = sum(completeness, Decimal(0)) / len(completeness)
    facts = [
        Fact(f"Steady compute (instances running the whole {window}-day window)", _rate(steady)),
    ]
    if known and coverage is not None and coverage.coverage_percent is not None:
        facts.append(
            Fact(
                f"Current Savings Plan and RI coverage ({report.label})",
                pct(coverage.coverage_percent),
            )
        )
        facts.append(Fact("Already covered by commitments", _rate(steady - uncovered)))
    else:
        facts.append(Fact("Already covered by Reserved Instances", _rate(steady - uncovered)))
    facts += [
        Fact("Uncovered steady compute", _rate(uncovered)),
        Fact("Rate source", _sources(sources)),
        Fact("Savings Plan discount assumed", pct(discount * 100, 0)),
        Fact("Commitment", _rate(commitment)),
        Fact(
            "Break-even: usage must stay above this share of today's",
            pct((1 - discount) * 100, 0),
        ),
        Fact("Hours per month", str(HOURS_PER_MONTH)),
        Fact("Estimated monthly savings", usd(saved)),
    ]
    level = Decimal("0.6") * data + (REPORT_COVERAGE_BONUS if known else Decimal(0))
    yield Candidate(
        RecType.SAVINGS_PLAN,
        f"compute-savings-plan/{inv.aws_account_id}",
        "savings_plan",
        "global",
        f"Buy a 1-year Compute Savings Plan of ${number(commitment, 3)} per hour",
        savings(saved),
        confidence(level),
        savings(monthly(uncovered)),
        tuple(facts),
        (
            "A 1-year commitment is paid even if usage drops",
            "A plan or reservation bought after the cost report's last day is not counted"
            if known
            else "Existing Savings Plans are not in the inventory: check coverage in Cost "
            "Explorer first",
        ),
        {"commitment_hourly": str(commitment)},
    )


# -- EBS, snapshots, addresses ----------------------------------------------------------------
def _volume_cost(volume: VolumeFacts, prices: PriceTable) -> Decimal:
    return prices.volume_monthly(
        volume.region, volume.volume_type, volume.size_gib, volume.iops, volume.throughput_mibps
    )


def unattached_volumes(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for volume in inv.volumes:
        if volume.state != "available":
            continue
        try:
            priced = volume_monthly(volume, prices, report)
            storage = volume_gb_month_rate(volume, prices, report)
            snapshot = prices.snapshot_monthly(volume.region, volume.size_gib)
        except PriceUnknown:
            continue
        cost = priced.amount
        age = _days(volume.create_time, now)
        level = Decimal("0.6") if age is not None and age < NEW_VOLUME_DAYS else Decimal("0.9")
        facts = [
            Fact("Volume type", volume.volume_type),
            Fact("Size", gib(volume.size_gib)),
            Fact("State", "not attached to any instance"),
            Fact("Storage rate", f"${number(storage.amount, 3)} per GB-month"),
            Fact("Rate source", priced.source),
            Fact("Monthly cost", usd(cost)),
            Fact("Estimated monthly savings", usd(cost)),
            Fact("Monthly cost of keeping a full snapshot, at most", usd(snapshot)),
        ]
        if age is not None:
            facts.insert(3, Fact("Age in days", str(age)))
        yield Candidate(
            RecType.UNATTACHED_EBS,
            volume.volume_id,
            "ebs_volume",
            volume.region,
            "Snapshot the volume, then delete it",
            savings(cost),
            confidence(with_source(level, priced)),
            savings(cost),
            tuple(facts),
            ("Deleting a volume is permanent: keep the snapshot until nobody misses the data",),
        )


def gp2_to_gp3(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for volume in inv.volumes:
        if volume.volume_type != "gp2" or volume.state == "available":
            continue  # an unattached gp2 volume gets the delete recommendation instead
        # gp2 performance scales with size (3 IOPS/GiB, up to 250 MiB/s); gp3 must match it.
        iops = max(100, min(16000, 3 * volume.size_gib))
        throughput = (
            GP2_THROUGHPUT_LARGE_MIBPS
            if volume.size_gib > GP2_THROUGHPUT_LARGE_FROM_GIB
            else GP3_FREE_THROUGHPUT_MIBPS
        )
        try:
            priced = volume_monthly(volume, prices, report)
            target = prices.volume_monthly(
                volume.region, "gp3", volume.size_gib, max(iops, GP3_FREE_IOPS), throughput
            )
            listed = _volume_cost(volume, prices)
        except PriceUnknown:
            continue
        current = priced.amount
        if priced.from_report:  # gp3 at the customer's own discount off list
            target = target * current / listed
        saved = current - target
        if saved <= 0:
            continue
        extra = iops > GP3_FREE_IOPS or throughput > GP3_FREE_THROUGHPUT_MIBPS
        facts = [
            Fact("Volume type", "gp2"),
            Fact("Size", gib(volume.size_gib)),
            Fact("gp2 monthly cost", usd(current)),
            Fact("gp3 monthly cost", usd(target)),
            Fact("Rate source", priced.source),
            Fact("gp3 IOPS to match", str(max(iops, GP3_FREE_IOPS))),
            Fact("gp3 throughput to match", f"{throughput} MiB/s"),
            Fact("Estimated monthly savings", usd(saved)),
            Fact("Saving", pct(saved / current * 100, 0)),
        ]
        yield Candidate(
            RecType.GP2_TO_GP3,
            volume.volume_id,
            "ebs_volume",
            volume.region,
            "Modify the volume type from gp2 to gp3 (online, no detach)",
            savings(saved),
            confidence(with_source(Decimal("0.75") if extra else Decimal("0.85"), priced)),
            savings(current),
            tuple(facts),
            (
                "gp2 bursts above its baseline; gp3 gives a flat baseline you provision",
                "A volume can be modified once every 6 hours",
            ),
        )


def old_snapshots(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for snapshot in inv.snapshots:
        age = _days(snapshot.start_time, now)
        if (
            snapshot.ami_ids
            or snapshot.storage_tier != "standard"
            or age is None
            or age <= OLD_SNAPSHOT_DAYS
        ):
            continue
        try:
            priced = snapshot_monthly(snapshot, prices, report)
        except PriceUnknown:
            continue
        cost = priced.amount
        if priced.from_report:
            cost_facts = (
                Fact("Monthly cost in the cost report", usd(cost)),
                Fact("Rate source", priced.source),
                Fact("Estimated monthly savings", usd(cost)),
            )
        else:
            cost_facts = (
                Fact(
                    "Snapshot rate",
                    f"${number(prices.snapshot_gb_month[snapshot.region], 3)} per GB-month",
                ),
                Fact("Rate source", priced.source),
                Fact("Estimated monthly savings, at most", usd(cost)),
            )
        yield Candidate(
            RecType.OLD_SNAPSHOT,
            snapshot.snapshot_id,
            "ebs_snapshot",
            snapshot.region,
            "Delete the snapshot",
            savings(cost),
            confidence(with_source(Decimal("0.7"), priced)),
            savings(cost),
            (
                Fact("Age in days", str(age)),
                Fact("Size of the source volume", gib(snapshot.size_gib)),
                Fact("Used by an AMI", "no"),
                *cost_facts,
            ),
            (
                "Snapshots are incremental: the bill for this one may be below the full-size figure",
                "Deleting is permanent: check no backup or retention policy needs it",
            ),
        )


def idle_addresses(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for address in inv.addresses:
        if address.associated:
            continue
        rate = address_hourly(address, prices, report)
        cost = monthly(rate.amount)
        yield Candidate(
            RecType.IDLE_EIP,
            address.allocation_id,
            "elastic_ip",
            address.region,
            "Release the Elastic IP",
            savings(cost),
            confidence(with_source(Decimal("0.95"), rate)),
            savings(cost),
            (
                Fact("Associated with", "nothing"),
                *_rate_facts(rate, "Public IPv4 rate"),
                Fact("Hours per month", str(HOURS_PER_MONTH)),
                Fact("Estimated monthly savings", usd(cost)),
            ),
            (
                "A released address cannot be claimed back; check no DNS record or allow-list uses it",
            ),
        )


def aws_findings(
    inv: AccountInventory, prices: PriceTable, now: datetime, covered: set[str]
) -> Iterable[Candidate]:
    """AWS's own findings, for resources our rules did not already cover."""
    for finding in inv.findings:
        if finding.resource_id in covered or finding.estimated_monthly_savings <= 0:
            continue
        covered.add(finding.resource_id)
        facts = [
            Fact("AWS source", finding.source.replace("_", " ")),
            Fact("AWS action", finding.action),
            Fact("Estimated monthly savings (AWS)", usd(finding.estimated_monthly_savings)),
        ]
        if finding.current_summary:
            facts.insert(2, Fact("Current", finding.current_summary))
        if finding.recommended_summary:
            facts.insert(3, Fact("Recommended", finding.recommended_summary))
        yield Candidate(
            RecType.AWS_FINDING,
            finding.resource_id,
            finding.resource_type,
            finding.region,
            f"{finding.action} ({finding.source.replace('_', ' ')})",
            savings(finding.estimated_monthly_savings),
            confidence(Decimal("0.6")),
            savings(finding.estimated_monthly_savings),
            tuple(facts),
            ("AWS's estimate, not recomputed by CloudAudit",),
        )


Rule = Callable[[AccountInventory, PriceTable, datetime, CostReport], Iterable[Candidate]]
RULES: tuple[Rule, ...] = (
    idle_instances,
    overprovisioned_instances,
    previous_generation,
    stopped_instances_with_ebs,
    unattached_volumes,
    gp2_to_gp3,
    old_snapshots,
    idle_addresses,
    savings_plan_coverage,
)


def evaluate(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> list[Candidate]:
    """Every recommendation the facts support, one per (resource, type), largest savings first."""
    found: dict[tuple[str, str], Candidate] = {}
    for rule in RULES:
        for candidate in rule(inv, prices, now, report):
            found.setdefault(candidate.key, candidate)
    covered = {resource for resource, _ in found}
    for candidate in aws_findings(inv, prices, now, covered):
        found.setdefault(candidate.key, candidate)
    return sorted(
        found.values(), key=lambda c: (-c.estimated_monthly_savings, c.resource_id, c.rec_type)
    )
