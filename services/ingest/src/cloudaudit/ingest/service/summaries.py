"""After a sync or import: one CostDayRecorded per changed (account, day), via the outbox."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded, CostDriver, CostLine
from cloudaudit.ingest.adapters import summary_store
from cloudaudit.ingest.adapters.summary_store import ChangedDay
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork

# Days older than this are history being loaded (a first sync, an import of past months):
# analytics warms its models on them instead of alerting.
BACKFILL_AFTER_DAYS = 3


def plain(amount: Decimal | None) -> Decimal | None:
    """Sums carry the storage scale (0.192000000000); events carry the value (0.192)."""
    if amount is None:
        return None
    return amount.normalize() if amount else Decimal(0)


def _drivers(raw: Any) -> list[CostDriver]:
    items = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return [
        CostDriver(name=str(i["name"])[:500], cost=plain(Decimal(str(i["cost"])))) for i in items
    ]


def _line(row: dict[str, Any]) -> CostLine:
    return CostLine(
        summary_id=row["summary_id"],
        service=row["service"],
        region=row["region"],
        unblended_cost=plain(row["unblended_cost"]),
        amortized_cost=plain(row["amortized_cost"]),
        usage_quantity=plain(row["usage_quantity"]),
        top_usage_types=_drivers(row["top_usage_types"]),
        top_resources=_drivers(row["top_resources"]),
    )


async def publish_changed_days(
    uow: IngestUnitOfWork,
    changed: list[ChangedDay],
    accounts: dict[UUID, dict[str, Any]],
    today: date,
) -> int:
    """Record one event per changed day in the outbox; returns how many."""
    rows = await summary_store.summary_lines(uow.session, changed)
    lines: dict[tuple[UUID, date], list[CostLine]] = defaultdict(list)
    for row in rows:
        lines[(row["account_id"], row["usage_date"])].append(_line(row))
    backfill_before = today - timedelta(days=BACKFILL_AFTER_DAYS)
    for day in sorted(changed, key=lambda d: (str(d.account_id), d.usage_date)):
        account = accounts[day.account_id]
        event = CostDayRecorded(
            team_id=account.team_id,
            account_id=day.account_id,
            aws_account_id=account.aws_account_id,
            usage_date=day.usage_date,
            total_unblended_cost=plain(day.total_unblended_cost),
            lines=lines.get((day.account_id, day.usage_date), []),
            is_estimated=day.is_estimated,
            revision=day.revision,
            source=day.source,
            backfill=day.usage_date < backfill_before,
        )
        await uow.emit(COST_DAY_RECORDED.format(aws_account_id=account.aws_account_id), event)
    return len(changed)
