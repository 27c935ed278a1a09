"""Network rules: Elastic IPs that are billed while associated with nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from cloudaudit.analytics.domain.recommendations.model import (
    Candidate,
    Fact,
    RecType,
    confidence,
    savings,
    usd,
)
from cloudaudit.analytics.domain.recommendations.prices import (
    HOURS_PER_MONTH,
    PriceTable,
    monthly,
)
from cloudaudit.analytics.domain.recommendations.rates import (
    NO_REPORT,
    CostReport,
    address_hourly,
    with_source,
)
from cloudaudit.analytics.domain.recommendations.rules.facts import (
    rate_facts,
)
from cloudaudit.common.events.inventory import AccountInventory

# An unassociated address is billed and used by nothing: nearly certain.
IDLE_ADDRESS_CONFIDENCE = Decimal("0.95")


def idle_addresses(
    inv: AccountInventory, prices: PriceTable, now: datetime, report: CostReport = NO_REPORT
) -> Iterable[Candidate]:
    for address in inv.addresses:
        if address.associated:
            continue
        rate = address_hourly(address, prices, report)
        cost = monthly(rate.amount)
        yield Candidate(
            rec_type=RecType.IDLE_EIP,
            resource_id=address.allocation_id,
            resource_type="elastic_ip",
            region=address.region,
            action="Release the Elastic IP",
            estimated_monthly_savings=savings(cost),
            confidence=confidence(with_source(IDLE_ADDRESS_CONFIDENCE, rate)),
            baseline_monthly_cost=savings(cost),
            facts=(
                Fact("Associated with", "nothing"),
                *rate_facts(rate, "Public IPv4 rate"),
                Fact("Hours per month", str(HOURS_PER_MONTH)),
                Fact("Estimated monthly savings", usd(cost)),
            ),
            risks=(
                "A released address cannot be claimed back; check no DNS record or allow-list uses it",
            ),
        )
