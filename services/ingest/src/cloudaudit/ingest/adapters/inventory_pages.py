"""Pages of a collected inventory: NATS refuses messages over 1 MB (its default max_payload), so
the inventory reply is cut into pages read back from inventory_resources by a cursor.

The first request collects from AWS and stores every resource (last_seen_at = collected_at);
the cursor names that collection, the accounts in it and the last (account, resource) sent, so
any replica answers the next page from PostgreSQL and every resource arrives exactly once.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from cloudaudit.common.events.inventory import (
    AccountInventory,
    AddressFacts,
    InstanceFacts,
    SnapshotFacts,
    VolumeFacts,
)
from cloudaudit.ingest.adapters.inventory_orm import inventory_resources
from cloudaudit.ingest.settings import IngestSettings
from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

FACTS = {
    "ec2_instance": ("instances", InstanceFacts),
    "ebs_volume": ("volumes", VolumeFacts),
    "ebs_snapshot": ("snapshots", SnapshotFacts),
    "elastic_ip": ("addresses", AddressFacts),
}


class BadCursor(ValueError):
    """The cursor is not one this service issued; the message says what to do."""


@dataclass(frozen=True)
class Cursor:
    collected_at: datetime
    accounts: tuple[UUID, ...]
    after: tuple[UUID, str] | None = None

    def encode(self) -> str:
        raw = {
            "c": self.collected_at.isoformat(),
            "a": [str(a) for a in self.accounts],
            "k": [str(self.after[0]), self.after[1]] if self.after else None,
        }
        return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text.encode()))
            after = raw.get("k")
            return cls(
                datetime.fromisoformat(raw["c"]),
                tuple(UUID(a) for a in raw["a"]),
                (UUID(after[0]), str(after[1])) if after else None,
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise BadCursor(
                f"the inventory cursor is not valid ({type(exc).__name__}); ask again without a "
                "cursor to start a fresh inventory"
            ) from None


@dataclass
class Page:
    accounts: dict[UUID, AccountInventory]
    next_cursor: str | None


def header(inv: AccountInventory) -> AccountInventory:
    """The account without its resources (they follow from the stored rows)."""
    return inv.model_copy(update={"instances": [], "volumes": [], "snapshots": [], "addresses": []})


async def read_page(
    session: AsyncSession,
    team_id: UUID,
    cursor: Cursor,
    headers: dict[UUID, AccountInventory],
    settings: IngestSettings,
) -> Page:
    """Resources after the cursor, in (account, resource) order, until the page is full."""
    conditions: list[Any] = [
        inventory_resources.c.team_id == team_id,
        inventory_resources.c.account_id.in_(cursor.accounts),
        inventory_resources.c.last_seen_at >= cursor.collected_at,
        inventory_resources.c.gone_at.is_(None),
    ]
    if cursor.after is not None:
        conditions.append(
            tuple_(inventory_resources.c.account_id, inventory_resources.c.resource_id)
            > tuple_(*cursor.after)
        )
    query = (
        select(
            inventory_resources.c.account_id,
            inventory_resources.c.resource_id,
            inventory_resources.c.resource_type,
            inventory_resources.c.aws_account_id,
            inventory_resources.c.facts,
        )
        .where(and_(*conditions), or_(*(inventory_resources.c.resource_type == t for t in FACTS)))
        .order_by(inventory_resources.c.account_id, inventory_resources.c.resource_id)
        .limit(settings.inventory_page_items + 1)
    )
    rows = (await session.execute(query)).all()
    accounts = dict(headers)
    used = sum(len(h.model_dump_json()) for h in headers.values())
    last: tuple[UUID, str] | None = None
    for count, row in enumerate(rows):
        size = len(json.dumps(row.facts, separators=(",", ":")))
        full = count >= settings.inventory_page_items or (
            last is not None and used + size > settings.inventory_page_bytes
        )
        if full:
            return Page(accounts, _next(cursor, last))
        field, model = FACTS[row.resource_type]
        account = accounts.get(row.account_id)
        if account is None:  # a later page: the account's header went with the first one
            account = accounts[row.account_id] = continuation_header(
                row.account_id, row.aws_account_id, cursor.collected_at
            )
        getattr(account, field).append(model.model_validate(row.facts))
        used += size
        last = (row.account_id, row.resource_id)
    return Page(accounts, None)


def _next(cursor: Cursor, last: tuple[UUID, str] | None) -> str:
    return Cursor(cursor.collected_at, cursor.accounts, last).encode()


def continuation_header(account_id: UUID, aws_account_id: str, at: datetime) -> AccountInventory:
    """What a later page says about an account: which one, and when it was collected (its
    regions, completeness, reserved capacity, findings and problems came on the first page)."""
    return AccountInventory(
        account_id=account_id,
        aws_account_id=aws_account_id,
        collected_at=at,
        regions=[],
        complete=True,
    )
