"""Severity of an anomaly from its dollar impact and its size relative to the usual cost."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudaudit.common.events.anomaly import Severity

ORDER = (Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


@dataclass(frozen=True, slots=True)
class SeverityCutoffs:
    """Impact (USD over the episode) and percentage at which each level starts."""

    medium_impact: Decimal = Decimal("250")
    high_impact: Decimal = Decimal("1000")
    critical_impact: Decimal = Decimal("5000")
    medium_pct: Decimal = Decimal("50")
    high_pct: Decimal = Decimal("100")
    critical_pct: Decimal = Decimal("300")


def classify(
    impact: Decimal, impact_pct: Decimal, cutoffs: SeverityCutoffs = SeverityCutoffs()
) -> Severity:
    """Dollars decide; a large relative jump raises the level by at most one step, so a $150
    spike on a $2/day service is medium, not critical."""
    by_impact = sum(
        impact >= c for c in (cutoffs.medium_impact, cutoffs.high_impact, cutoffs.critical_impact)
    )
    by_pct = sum(
        impact_pct >= c for c in (cutoffs.medium_pct, cutoffs.high_pct, cutoffs.critical_pct)
    )
    return ORDER[max(by_impact, min(by_pct, by_impact + 1))]
