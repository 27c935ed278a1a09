"""Inventory replies in pages: the first request collects (and stores) a fresh inventory, every
request answers one page of it, small enough for NATS's 1 MB message limit."""

from __future__ import annotations

from cloudaudit.common.events.inventory import InventoryReply, InventoryRequest
from cloudaudit.ingest.adapters.inventory_pages import BadCursor, Cursor, header
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.domain.errors import BadPageCursor
from cloudaudit.ingest.service.deps import IngestDeps
from cloudaudit.ingest.service.inventory import collect_inventory


async def inventory_page(
    request: InventoryRequest, uow: IngestUnitOfWork, deps: IngestDeps
) -> InventoryReply:
    """No cursor: collect now and answer the first page; a cursor: the page after it."""
    if request.cursor is None:
        collected = await collect_inventory(request, deps)
        if not collected.accounts:
            return collected
        cursor = Cursor(
            collected.accounts[0].collected_at, tuple(a.account_id for a in collected.accounts)
        )
        headers = {a.account_id: header(a) for a in collected.accounts}
    else:
        try:
            cursor = Cursor.decode(request.cursor)
        except BadCursor as exc:
            raise BadPageCursor(str(exc)) from None
        headers = {}
    async with uow:
        page = await uow.inventory.page(request.team_id, cursor, headers, deps.settings)
    return InventoryReply(accounts=list(page.accounts.values()), next_cursor=page.next_cursor)
