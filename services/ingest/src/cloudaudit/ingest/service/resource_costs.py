"""Resource costs handler: what each resource cost in the imported cost report over a window,
and how much of the account's EC2 usage a Savings Plan or Reserved Instance already covered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from cloudaudit.common.events.inventory import (
    ComputeCoverage,
    ResourceCost,
    ResourceCostsReply,
    ResourceCostsRequest,
)
from cloudaudit.ingest.adapters import cost_store
from sqlalchemy.ext.asyncio import AsyncSession

PERCENT = Decimal(100)
RATE_QUANTUM = Decimal("0.000001")


def _ratio(amount: Decimal, quantity: Decimal) -> Decimal | None:
    return (amount / quantity).quantize(RATE_QUANTUM) if quantity > 0 else None


def resource_cost(row: dict[str, Any]) -> ResourceCost:
    compute_hours = Decimal(row["compute_hours"])
    storage = Decimal(row["storage_gb_months"])
    return ResourceCost(
        resource_id=row["rid"],
        cost=Decimal(row["cost"]),
        currency=row["currency"] or "USD",
        days_with_cost=int(row["days"]),
        first_day=row["first_day"],
        last_day=row["last_day"],
        compute_hours=compute_hours,
        compute_cost=Decimal(row["compute_cost"]),
        covered_hours=Decimal(row["covered_hours"]),
        on_demand_compute_cost=Decimal(row["on_demand_compute_cost"]),
        storage_gb_months=storage,
        storage_cost=Decimal(row["storage_cost"]),
        hourly_rate=_ratio(Decimal(row["compute_cost"]), compute_hours),
        gb_month_rate=_ratio(Decimal(row["storage_cost"]), storage),
    )


def coverage(row: dict[str, Any]) -> ComputeCoverage:
    on_demand, covered = Decimal(row["on_demand_cost"]), Decimal(row["covered_cost"])
    # Every format names covered usage as CUR does (FOCUS: by CommitmentDiscountCategory).
    known = row["line_items"] > 0
    total = on_demand + covered
    return ComputeCoverage(
        known=known,
        on_demand_cost=on_demand,
        on_demand_hours=Decimal(row["on_demand_hours"]),
        covered_cost_at_on_demand=covered,
        covered_hours=Decimal(row["covered_hours"]),
        coverage_percent=(covered / total * PERCENT).quantize(Decimal("0.1"))
        if known and total > 0
        else None,
    )


async def resource_costs(
    request: ResourceCostsRequest, sessions: Callable[[], AsyncSession]
) -> ResourceCostsReply:
    """The window ends with the newest day in the report (reports lag a day or more)."""
    async with sessions() as session:
        last = await cost_store.last_cost_day(session, request.team_id, request.aws_account_id)
        if last is None:
            return ResourceCostsReply(aws_account_id=request.aws_account_id)
        end = last + timedelta(days=1)
        start = end - timedelta(days=request.window_days)
        rows = await cost_store.resource_costs(
            session,
            request.team_id,
            request.aws_account_id,
            start,
            end,
            request.resource_ids,
            request.after,
            request.limit + 1,
        )
        covered = (
            coverage(
                await cost_store.compute_coverage(
                    session, request.team_id, request.aws_account_id, start, end
                )
            )
            if request.after is None
            else None
        )
    more = len(rows) > request.limit
    page = [resource_cost(r) for r in rows[: request.limit]]
    return ResourceCostsReply(
        aws_account_id=request.aws_account_id,
        window_start=start,
        window_end=end,
        window_days=request.window_days,
        resources=page,
        coverage=covered,
        next_after=page[-1].resource_id if more and page else None,
    )
