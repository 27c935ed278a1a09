"""Inventory handler: list a team's resources in AWS, summarise their metrics, remember them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import boto3
from cloudaudit.common.clock import utcnow
from cloudaudit.common.db import UnitOfWork
from cloudaudit.common.events.inventory import AccountInventory, InventoryReply, InventoryRequest
from cloudaudit.ingest.adapters.inventory_accounts import (
    AccessDenied,
    AccountAccess,
    AccountDirectory,
)
from cloudaudit.ingest.adapters.inventory_aws import AwsInventoryReader
from cloudaudit.ingest.adapters.inventory_repository import InventoryRepository
from cloudaudit.ingest.domain.inventory import summarise_usage

log = logging.getLogger(__name__)

SessionOpener = Callable[[AccountAccess], boto3.Session]


@dataclass(frozen=True)
class InventoryDeps:
    directory: AccountDirectory
    open_session: SessionOpener
    reader: Callable[[boto3.Session], AwsInventoryReader]
    uow: Callable[[], UnitOfWork]
    findings: bool = True


def read_account(
    access: AccountAccess, deps: InventoryDeps, metric_days: int, now: datetime
) -> AccountInventory:
    """Every region of one account (blocking: runs in a worker thread)."""
    problems: list[str] = []
    complete = True
    instances, volumes, addresses, snapshots, reserved = [], [], [], [], []
    findings = []
    try:
        reader = deps.reader(deps.open_session(access))
    except AccessDenied as exc:
        return AccountInventory(
            account_id=access.account_id,
            aws_account_id=access.aws_account_id,
            collected_at=now,
            regions=list(access.regions),
            complete=False,
            problems=[str(exc)],
        )
    for region in access.regions:
        part = reader.region(region, metric_days, now)
        complete = complete and part.complete
        problems.extend(part.problems)
        for instance in part.instances:
            series = part.series.get(instance.instance_id)
            usage = summarise_usage(series, metric_days) if series is not None else None
            instances.append(instance.model_copy(update={"usage": usage}))
        volumes += part.volumes
        addresses += part.addresses
        snapshots += part.snapshots
        reserved += part.reserved
    if deps.findings:
        findings, finding_problems = reader.findings(access.regions)
        problems.extend(finding_problems)
    return AccountInventory(
        account_id=access.account_id,
        aws_account_id=access.aws_account_id,
        collected_at=now,
        regions=list(access.regions),
        complete=complete,
        instances=instances,
        volumes=volumes,
        addresses=addresses,
        snapshots=snapshots,
        reserved=reserved,
        findings=findings,
        problems=problems,
    )


async def collect_inventory(request: InventoryRequest, deps: InventoryDeps) -> InventoryReply:
    """Inventory of the team's accounts (one, or all), stored and returned."""
    accounts = await deps.directory.accounts(request.team_id, request.account_id)
    if request.account_id is not None and not accounts:
        return InventoryReply.failure(  # type: ignore[return-value]
            "not_found", "no such account in this team; connect it first (`cloudaudit accounts`)"
        )
    now = utcnow().replace(microsecond=0)
    started = time.perf_counter()
    inventories = await asyncio.gather(
        *(
            asyncio.to_thread(read_account, access, deps, request.metric_days, now)
            for access in accounts
        )
    )
    uow = deps.uow()
    async with uow:
        repo = InventoryRepository(uow.session)
        for inventory in inventories:
            await repo.record(request.team_id, inventory)
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
