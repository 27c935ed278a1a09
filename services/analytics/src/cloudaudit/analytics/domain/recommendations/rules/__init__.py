"""Savings rules over one account's inventory: each a small function with its savings formula.

Savings are monthly, on AWS's 730-hour month, in Decimal, at the resource's own rate from the
cost report when the report has enough of it, else from the bundled price table (see rates.py and
prices.py for its source and date); the fact sheet names the source. Confidence (0-1) grows with
the days of data behind the signal, with how far the signal is past its threshold, and a little
with a rate the customer was really billed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from cloudaudit.analytics.domain.recommendations.model import Candidate
from cloudaudit.analytics.domain.recommendations.prices import PriceTable
from cloudaudit.analytics.domain.recommendations.rates import NO_REPORT, CostReport
from cloudaudit.analytics.domain.recommendations.rules.commitments import savings_plan_coverage
from cloudaudit.analytics.domain.recommendations.rules.compute import (
    idle_instances,
    one_size_down,
    overprovisioned_instances,
    previous_generation,
    split_type,
    stopped_instances_with_ebs,
)
from cloudaudit.analytics.domain.recommendations.rules.findings import aws_findings
from cloudaudit.analytics.domain.recommendations.rules.network import idle_addresses
from cloudaudit.analytics.domain.recommendations.rules.storage import (
    gp2_to_gp3,
    old_snapshots,
    unattached_volumes,
)
from cloudaudit.common.events.inventory import AccountInventory

__all__ = ["RULES", "Rule", "evaluate", "one_size_down", "split_type"]


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
