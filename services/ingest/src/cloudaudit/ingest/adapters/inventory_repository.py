"""Inventory persistence: the latest facts per resource, and which resources went away."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from cloudaudit.common.events.inventory import AccountInventory
from cloudaudit.ingest.adapters.inventory_orm import inventory_resources, inventory_runs
from cloudaudit.ingest.adapters.inventory_pages import Cursor, Page, read_page
from cloudaudit.ingest.settings import IngestSettings
from sqlalchemy import and_, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession


def _rows(inv: AccountInventory) -> Iterable[tuple[str, str, str, dict[str, Any]]]:
    for instance in inv.instances:
        yield (
            instance.instance_id,
            "ec2_instance",
            instance.region,
            instance.model_dump(mode="json"),
        )
    for volume in inv.volumes:
        yield volume.volume_id, "ebs_volume", volume.region, volume.model_dump(mode="json")
    for snapshot in inv.snapshots:
        yield (
            snapshot.snapshot_id,
            "ebs_snapshot",
            snapshot.region,
            snapshot.model_dump(mode="json"),
        )
    for address in inv.addresses:
        yield address.allocation_id, "elastic_ip", address.region, address.model_dump(mode="json")


class InventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self,
        team_id: UUID,
        cursor: Cursor,
        headers: dict[UUID, AccountInventory],
        settings: IngestSettings,
    ) -> Page:
        """One page of a stored inventory, after the cursor (see inventory_pages)."""
        return await read_page(self.session, team_id, cursor, headers, settings)

    async def record(self, team_id: UUID, inv: AccountInventory) -> None:
        """Upsert what was seen; when the listing was complete, mark the rest as gone."""
        now = inv.collected_at
        seen: list[str] = []
        for resource_id, resource_type, region, facts in _rows(inv):
            seen.append(resource_id)
            statement = pg_insert(inventory_resources).values(
                account_id=inv.account_id,
                resource_id=resource_id,
                team_id=team_id,
                aws_account_id=inv.aws_account_id,
                resource_type=resource_type,
                region=region,
                facts=facts,
                first_seen_at=now,
                last_seen_at=now,
                gone_at=None,
            )
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["account_id", "resource_id"],
                    set_={
                        "facts": statement.excluded.facts,
                        "last_seen_at": now,
                        "gone_at": None,
                        "region": region,
                    },
                )
            )
        if inv.complete:
            await self._mark_gone(inv.account_id, seen, now)
        await self.session.execute(
            insert(inventory_runs).values(
                run_id=uuid4(),
                account_id=inv.account_id,
                team_id=team_id,
                collected_at=now,
                complete=inv.complete,
                counts={
                    "instances": len(inv.instances),
                    "volumes": len(inv.volumes),
                    "snapshots": len(inv.snapshots),
                    "addresses": len(inv.addresses),
                    "findings": len(inv.findings),
                },
                problems=inv.problems,
            )
        )

    async def _mark_gone(self, account_id: UUID, seen: list[str], now: datetime) -> None:
        condition = and_(
            inventory_resources.c.account_id == account_id, inventory_resources.c.gone_at.is_(None)
        )
        if seen:
            condition = and_(condition, inventory_resources.c.resource_id.not_in(seen))
        await self.session.execute(update(inventory_resources).where(condition).values(gone_at=now))
