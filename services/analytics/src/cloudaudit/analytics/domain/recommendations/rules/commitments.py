"""Commitment rules: steady on-demand compute that a Compute Savings Plan would cover."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cloudaudit.analytics.domain.recommendations.model import (
    Candidate,
    Fact,
    RecType,
    confidence,
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
    Priced,
    instance_hourly,
    uncovered_hourly,
)
from cloudaudit.analytics.domain.recommendations.rules.compute import (
    MIN_SIGNAL_DAYS,
    completeness,
    is_idle,
    priced_instance,
)
from cloudaudit.analytics.domain.recommendations.rules.facts import (
    hourly_rate,
    rate_sources,
)
from cloudaudit.common.events.inventory import AccountInventory, InstanceFacts

# Below this uncovered steady spend a commitment is not worth a decision.
SAVINGS_PLAN_MIN_MONTHLY = Decimal(50)


# Coverage measured in the customer's own cost report, not assumed from the inventory.
# Confidence of a commitment at complete data, before the cost report's coverage bonus.
SAVINGS_PLAN_CONFIDENCE = Decimal("0.6")
REPORT_COVERAGE_BONUS = Decimal("0.1")


def _steady(instance: InstanceFacts, report: CostReport, now: datetime) -> bool:
    """Running for the whole look-back window: launched before it started, and billed (cost
    report) or measured (CloudWatch, without a report) on every one of its days."""
    if instance.state != "running" or instance.launch_time is None or is_idle(instance):
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
    data_shares: list[Decimal] = []
    sources: list[Priced] = []
    for instance in sorted(inv.instances, key=lambda i: i.instance_id):
        if not (_steady(instance, report, now) and priced_instance(instance, report)):
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
        data_shares.append(completeness(instance) if instance.usage else Decimal(1))
    if not data_shares or monthly(uncovered) < SAVINGS_PLAN_MIN_MONTHLY:
        return
    discount = prices.savings_plan_discount
    commitment = uncovered * (1 - discount)
    saved = monthly(uncovered * discount)
    data = sum(data_shares, Decimal(0)) / len(data_shares)
    facts = [
        Fact(
            f"Steady compute (instances running the whole {window}-day window)", hourly_rate(steady)
        ),
    ]
    if known and coverage is not None and coverage.coverage_percent is not None:
        facts.append(
            Fact(
                f"Current Savings Plan and RI coverage ({report.label})",
                pct(coverage.coverage_percent),
            )
        )
        facts.append(Fact("Already covered by commitments", hourly_rate(steady - uncovered)))
    else:
        facts.append(Fact("Already covered by Reserved Instances", hourly_rate(steady - uncovered)))
    facts += [
        Fact("Uncovered steady compute", hourly_rate(uncovered)),
        Fact("Rate source", rate_sources(sources)),
        Fact("Savings Plan discount assumed", pct(discount * 100, 0)),
        Fact("Commitment", hourly_rate(commitment)),
        Fact(
            "Break-even: usage must stay above this share of today's",
            pct((1 - discount) * 100, 0),
        ),
        Fact("Hours per month", str(HOURS_PER_MONTH)),
        Fact("Estimated monthly savings", usd(saved)),
    ]
    level = SAVINGS_PLAN_CONFIDENCE * data + (REPORT_COVERAGE_BONUS if known else Decimal(0))
    yield Candidate(
        rec_type=RecType.SAVINGS_PLAN,
        resource_id=f"compute-savings-plan/{inv.aws_account_id}",
        resource_type="savings_plan",
        region="global",
        action=f"Buy a 1-year Compute Savings Plan of ${number(commitment, 3)} per hour",
        estimated_monthly_savings=savings(saved),
        confidence=confidence(level),
        baseline_monthly_cost=savings(monthly(uncovered)),
        facts=tuple(facts),
        risks=(
            "A 1-year commitment is paid even if usage drops",
            "A plan or reservation bought after the cost report's last day is not counted"
            if known
            else "Existing Savings Plans are not in the inventory: check coverage in Cost "
            "Explorer first",
        ),
        details={"commitment_hourly": str(commitment)},
    )
