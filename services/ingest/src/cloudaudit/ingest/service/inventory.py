"""Inventory handler: list a team's resources in AWS, summarise their metrics, remember them."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from cloudaudit.common.events.inventory import AccountInventory, InventoryReply, InventoryRequest
from cloudaudit.ingest.adapters.inventory_accounts import AccessDenied, AccountAccess
from cloudaudit.ingest.adapters.inventory_aws import AwsInventoryReader, RegionInventory
from cloudaudit.ingest.domain.errors import IngestError, NotFound
from cloudaudit.ingest.domain.inventory import summarise_usage
from cloudaudit.ingest.service.deps import IngestDeps, InventorySources

log = logging.getLogger(__name__)


def _unreadable(access: AccountAccess, now: datetime, problem: str) -> AccountInventory:
    """An account whose role could not be assumed: no resources, the reason as its problem."""
    return AccountInventory(
        account_id=access.account_id,
        aws_account_id=access.aws_account_id,
        collected_at=now,
        regions=list(access.regions),
        complete=False,
        problems=[problem],
    )


def _read_regions(
    reader: AwsInventoryReader, access: AccountAccess, metric_days: int, now: datetime
) -> RegionInventory:
    """Every region of the account, in one: resources with their usage, and what went wrong."""
    found = RegionInventory()
    for region in access.regions:
        part = reader.region(region, metric_days, now)
        found.complete = found.complete and part.complete
        found.problems.extend(part.problems)
        for instance in part.instances:
            series = part.series.get(instance.instance_id)
            usage = summarise_usage(series, metric_days) if series is not None else None
            found.instances.append(instance.model_copy(update={"usage": usage}))
        found.volumes.extend(part.volumes)
        found.addresses.extend(part.addresses)
        found.snapshots.extend(part.snapshots)
        found.reserved.extend(part.reserved)
    return found


def read_account(
    access: AccountAccess,
    sources: InventorySources,
    metric_days: int,
    now: datetime,
    findings: bool = True,
) -> AccountInventory:
    """Every region of one account, and its optimisation findings (blocking: runs in a worker
    thread)."""
    try:
        reader = sources.reader(sources.open_session(access))
    except AccessDenied as exc:
        return _unreadable(access, now, str(exc))
    found = _read_regions(reader, access, metric_days, now)
    optimisations, problems = reader.findings(access.regions) if findings else ([], [])
    return AccountInventory(
        account_id=access.account_id,
        aws_account_id=access.aws_account_id,
        collected_at=now,
        regions=list(access.regions),
        complete=found.complete,
        instances=found.instances,
        volumes=found.volumes,
        addresses=found.addresses,
        snapshots=found.snapshots,
        reserved=found.reserved,
        findings=optimisations,
        problems=[*found.problems, *problems],
    )


async def collect_inventory(request: InventoryRequest, deps: IngestDeps) -> InventoryReply:
    """Inventory of the team's accounts (one, or all), stored and returned."""
    sources = deps.inventory
    if sources is None:
        raise IngestError("this ingest process was started without the inventory")
    accounts = await sources.directory.accounts(request.team_id, request.account_id)
    if request.account_id is not None and not accounts:
        raise NotFound("no such account in this team; connect it first (`cloudaudit accounts`)")
    now = deps.now().replace(microsecond=0)
    started = time.perf_counter()
    findings = deps.settings.inventory_findings
    inventories = await asyncio.gather(
        *(
            asyncio.to_thread(read_account, access, sources, request.metric_days, now, findings)
            for access in accounts
        )
    )
    async with deps.uow() as uow:
        for inventory in inventories:
            await uow.inventory.record(request.team_id, inventory)
        await uow.commit()
    log.info(
        "inventory collected",
        extra={
            "team_id": str(request.team_id),
            "accounts": len(inventories),
            "resources": sum(
                len(i.instances) + len(i.volumes) + len(i.snapshots) + len(i.addresses)
                for i in inventories
            ),
            "duration_ms": round((time.perf_counter() - started) * 1000),
        },
    )
    return InventoryReply(accounts=list(inventories))
