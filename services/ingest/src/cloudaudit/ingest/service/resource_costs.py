"""Resource costs handler: what each resource cost in the imported cost report over a window,
and how much of the account's EC2 usage a Savings Plan or Reserved Instance already covered."""

from __future__ import annotations

from datetime import timedelta

from cloudaudit.common.events.inventory import ResourceCostsReply, ResourceCostsRequest
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork


async def resource_costs(
    request: ResourceCostsRequest, uow: IngestUnitOfWork
) -> ResourceCostsReply:
    """The window ends with the newest day in the report (reports lag a day or more)."""
    team_id, aws_account_id = request.team_id, request.aws_account_id
    async with uow:
        last = await uow.costs.last_cost_day(team_id, aws_account_id)
        if last is None:
            return ResourceCostsReply(aws_account_id=aws_account_id)
        end = last + timedelta(days=1)
        start = end - timedelta(days=request.window_days)
        found = await uow.costs.resource_costs(
            team_id,
            aws_account_id,
            start,
            end,
            request.resource_ids,
            request.after,
            request.limit + 1,
        )
        covered = (
            await uow.costs.compute_coverage(team_id, aws_account_id, start, end)
            if request.after is None
            else None
        )
    page = found[: request.limit]
    return ResourceCostsReply(
        aws_account_id=aws_account_id,
        window_start=start,
        window_end=end,
        window_days=request.window_days,
        resources=page,
        coverage=covered,
        next_after=page[-1].resource_id if len(found) > request.limit and page else None,
    )
