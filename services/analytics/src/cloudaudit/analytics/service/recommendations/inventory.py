"""What a refresh evaluates: every page of ingest's inventory, and the accounts' cost reports."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cloudaudit.analytics.domain.recommendations.rates import NO_REPORT, CostReport
from cloudaudit.analytics.service.deps import AnalyticsDeps
from cloudaudit.common.bus import BusUnavailable
from cloudaudit.common.events.inventory import (
    AccountInventory,
    InventoryReply,
    InventoryRequest,
    ResourceCost,
    ResourceCostsReply,
    ResourceCostsRequest,
)

# A runaway cursor must not loop forever (5,000 resources a page: 50 million resources).
MAX_PAGES = 10_000
_EMPTY_RESOURCES: dict[str, list[Any]] = {
    "instances": [],
    "volumes": [],
    "snapshots": [],
    "addresses": [],
}


async def fetch_inventory(
    team_id: UUID, account_id: UUID | None, deps: AnalyticsDeps
) -> InventoryReply:
    """Every page of the inventory, joined per account (the first page holds each account's
    regions, reserved capacity, findings and problems; later pages more resources)."""
    ask = InventoryRequest(
        team_id=team_id, account_id=account_id, metric_days=deps.settings.metric_days
    )
    reply = await deps.inventory(ask)
    if not reply.ok:
        return reply
    accounts = {a.account_id: a for a in reply.accounts}
    extra: dict[UUID, dict[str, list[Any]]] = {}
    pages = 1
    while reply.next_cursor is not None and pages < MAX_PAGES:
        reply = await deps.inventory(ask.model_copy(update={"cursor": reply.next_cursor}))
        if not reply.ok:
            return reply
        pages += 1
        for part in reply.accounts:
            accounts.setdefault(part.account_id, part.model_copy(update=_EMPTY_RESOURCES))
            lists = extra.setdefault(part.account_id, {k: [] for k in _EMPTY_RESOURCES})
            for kind in _EMPTY_RESOURCES:
                lists[kind] += getattr(part, kind)
    joined = [
        inv.model_copy(
            update={
                kind: getattr(inv, kind) + extra.get(inv.account_id, {}).get(kind, [])
                for kind in _EMPTY_RESOURCES
            }
        )
        for inv in accounts.values()
    ]
    return InventoryReply(accounts=joined)


async def cost_report(
    team_id: UUID, inv: AccountInventory, deps: AnalyticsDeps
) -> tuple[CostReport, str | None]:
    """The account's resources in the cost report over the metric window; without one (not
    imported, ingest unreachable) the rules use the price table and the reply says why."""
    if deps.resource_costs is None:
        return NO_REPORT, None
    resources: dict[str, ResourceCost] = {}
    first: ResourceCostsReply | None = None
    after: str | None = None
    for _ in range(MAX_PAGES):
        try:
            reply = await deps.resource_costs(
                ResourceCostsRequest(
                    team_id=team_id,
                    aws_account_id=inv.aws_account_id,
                    window_days=deps.settings.metric_days,
                    after=after,
                )
            )
        except BusUnavailable as exc:
            return NO_REPORT, f"cost report of {inv.aws_account_id} unavailable ({exc}); " + (
                "savings use the price table"
            )
        if not reply.ok:
            message = reply.error.message if reply.error else "unknown error"
            return NO_REPORT, f"cost report of {inv.aws_account_id}: {message}"
        first = first or reply
        resources.update((r.resource_id, r) for r in reply.resources)
        after = reply.next_after
        if after is None:
            break
    if first is None or first.window_start is None:
        return NO_REPORT, None
    return (
        CostReport(first.window_days, first.window_start, resources, first.coverage),
        None,
    )
