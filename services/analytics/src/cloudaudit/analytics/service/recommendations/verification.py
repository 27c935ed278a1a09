"""Was an approved recommendation carried out? Checked from the cost report's daily resource
costs and from a fresh inventory."""

from __future__ import annotations

import logging
from decimal import Decimal

from cloudaudit.analytics.domain.recommendations import lifecycle
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.analytics.service.recommendations.closing import implement
from cloudaudit.analytics.service.recommendations.refresh import refresh
from cloudaudit.common.events.cost import CostDayRecorded

log = logging.getLogger("cloudaudit.analytics.service.recommendations")


async def watch_costs(event: CostDayRecorded, deps: AnalyticsDeps) -> int:
    """Approved recommendations whose resource now costs much less in the cost report."""
    daily: dict[str, Decimal] = {}
    for line in event.lines:
        for driver in line.top_resources:
            daily[driver.name] = daily.get(driver.name, Decimal(0)) + driver.cost
    if not daily:
        return 0
    now = deps.now()
    implemented = 0
    async with deps.recommendation_uow() as uow:
        for row in await uow.repo.approved_for(event.team_id, event.account_id, list(daily)):
            if row.decided_at is None or event.usage_date <= row.decided_at.date():
                continue  # that day's cost still includes hours before the decision
            outcome = lifecycle.cost_verdict(
                row.baseline_monthly_cost,
                row.estimated_monthly_savings,
                daily[row.resource_id],
            )
            if outcome is not None:
                await implement(uow, row, outcome, now)
                implemented += 1
        await uow.commit()
    return implemented


async def verify_approved(deps: AnalyticsDeps) -> int:
    """Check every team with approved recommendations against a fresh inventory."""
    async with deps.recommendation_uow() as uow:
        teams = await uow.repo.teams_with_approved()
    implemented = 0
    for team_id in teams:
        reply = await refresh(team_id, None, deps)
        implemented += reply.implemented
        if not reply.ok:
            log.warning(
                "verification refresh failed",
                extra={
                    "team_id": str(team_id),
                    "error": reply.error.message if reply.error else None,
                },
            )
    return implemented
