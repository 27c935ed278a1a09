"""EBS rules: unattached volumes, gp2 volumes that gp3 serves for less, old snapshots."""

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
    GP3_FREE_IOPS,
    GP3_FREE_THROUGHPUT_MIBPS,
    PriceTable,
    PriceUnknown,
)
from cloudaudit.analytics.domain.recommendations.rates import (
    NO_REPORT,
    CostReport,
    snapshot_monthly,
    volume_gb_month_rate,
    volume_monthly,
    with_source,
)
from cloudaudit.analytics.domain.recommendations.rules.facts import (
    age_days,
)
from cloudaudit.common.events.inventory import AccountInventory, VolumeFacts

# Confidence of each EBS rule. A volume detached days ago may be mid-migration; gp3 that needs
# paid IOPS or throughput to match gp2 is a closer call; a snapshot may back a retention policy.
UNATTACHED_CONFIDENCE = Decimal("0.9")
NEW_UNATTACHED_CONFIDENCE = Decimal("0.6")
GP3_CONFIDENCE = Decimal("0.85")
GP3_PROVISIONED_CONFIDENCE = Decimal("0.75")
OLD_SNAPSHOT_CONFIDENCE = Decimal("0.7")
OLD_SNAPSHOT_DAYS = 90


NEW_VOLUME_DAYS = 7


GP2_THROUGHPUT_LARGE_MIBPS = 250


GP2_THROUGHPUT_LARGE_FROM_GIB = 170


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
        age = age_days(volume.create_time, now)
        level = (
            NEW_UNATTACHED_CONFIDENCE
            if age is not None and age < NEW_VOLUME_DAYS
            else UNATTACHED_CONFIDENCE
        )
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
            rec_type=RecType.UNATTACHED_EBS,
            resource_id=volume.volume_id,
            resource_type="ebs_volume",
            region=volume.region,
            action="Snapshot the volume, then delete it",
            estimated_monthly_savings=savings(cost),
            confidence=confidence(with_source(level, priced)),
            baseline_monthly_cost=savings(cost),
            facts=tuple(facts),
            risks=(
                "Deleting a volume is permanent: keep the snapshot until nobody misses the data",
            ),
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
            rec_type=RecType.GP2_TO_GP3,
            resource_id=volume.volume_id,
            resource_type="ebs_volume",
            region=volume.region,
            action="Modify the volume type from gp2 to gp3 (online, no detach)",
            estimated_monthly_savings=savings(saved),
            confidence=confidence(
                with_source(GP3_PROVISIONED_CONFIDENCE if extra else GP3_CONFIDENCE, priced)
            ),
            baseline_monthly_cost=savings(current),
            facts=tuple(facts),
            risks=(
                "gp2 bursts above its baseline; gp3 gives a flat baseline you provision",
                "A volume can be modified once every 6 hours",
            ),
        )


def old_snapshots(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for snapshot in inv.snapshots:
        age = age_days(snapshot.start_time, now)
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
            rec_type=RecType.OLD_SNAPSHOT,
            resource_id=snapshot.snapshot_id,
            resource_type="ebs_snapshot",
            region=snapshot.region,
            action="Delete the snapshot",
            estimated_monthly_savings=savings(cost),
            confidence=confidence(with_source(OLD_SNAPSHOT_CONFIDENCE, priced)),
            baseline_monthly_cost=savings(cost),
            facts=(
                Fact("Age in days", str(age)),
                Fact("Size of the source volume", gib(snapshot.size_gib)),
                Fact("Used by an AMI", "no"),
                *cost_facts,
            ),
            risks=(
                "Snapshots are incremental: the bill for this one may be below the full-size figure",
                "Deleting is permanent: check no backup or retention policy needs it",
            ),
        )
