"""AWS's own findings (Compute Optimizer, Trusted Advisor), for resources our rules left."""

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
    PriceTable,
)
from cloudaudit.common.events.inventory import AccountInventory

# AWS's estimate, not recomputed here: as sure as our weaker signals.
AWS_FINDING_CONFIDENCE = Decimal("0.6")


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
            rec_type=RecType.AWS_FINDING,
            resource_id=finding.resource_id,
            resource_type=finding.resource_type,
            region=finding.region,
            action=f"{finding.action} ({finding.source.replace('_', ' ')})",
            estimated_monthly_savings=savings(finding.estimated_monthly_savings),
            confidence=confidence(AWS_FINDING_CONFIDENCE),
            baseline_monthly_cost=savings(finding.estimated_monthly_savings),
            facts=tuple(facts),
            risks=("AWS's estimate, not recomputed by CloudAudit",),
        )
