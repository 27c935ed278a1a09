"""Inventory replies in pages: the first request collects (and stores) a fresh inventory, every
request answers one page of it, small enough for NATS's 1 MB message limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cloudaudit.common.events.inventory import InventoryReply, InventoryRequest
from cloudaudit.ingest.adapters.inventory_pages import (
    BadCursor,
    Cursor,
    InventoryPageSettings,
    header,
    read_page,
)
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class PageDeps:
    collect: Callable[[InventoryRequest], Awaitable[InventoryReply]]
    sessions: Callable[[], AsyncSession]
    settings: InventoryPageSettings


async def inventory_page(request: InventoryRequest, deps: PageDeps) -> InventoryReply:
    """No cursor: collect now and answer the first page; a cursor: the page after it."""
    if request.cursor is None:
        collected = await deps.collect(request)
        if not collected.ok or not collected.accounts:
            return collected
        cursor = Cursor(
            collected.accounts[0].collected_at, tuple(a.account_id for a in collected.accounts)
        )
        headers = {a.account_id: header(a) for a in collected.accounts}
    else:
        try:
            cursor = Cursor.decode(request.cursor)
        except BadCursor as exc:
            return InventoryReply.failure("bad_cursor", str(exc))  # type: ignore[return-value]
        headers = {}
    async with deps.sessions() as session:
        page = await read_page(session, request.team_id, cursor, headers, deps.settings)
    return InventoryReply(accounts=list(page.accounts.values()), next_cursor=page.next_cursor)
