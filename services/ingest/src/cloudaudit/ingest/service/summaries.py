"""After a sync or import: one CostDayRecorded per changed (account, day), via the outbox."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from uuid import UUID

from cloudaudit.common.events.cost import COST_DAY_RECORDED, CostDayRecorded, CostLine
from cloudaudit.ingest.adapters.rows import Account
from cloudaudit.ingest.adapters.summary_store import ChangedDay
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.domain.spend import plain

# Days older than this are history being loaded (a first sync, an import of past months):
# analytics warms its models on them instead of alerting.
BACKFILL_AFTER_DAYS = 3


async def publish_changed_days(
    uow: IngestUnitOfWork,
    changed: list[ChangedDay],
    accounts: dict[UUID, Account],
    today: date,
) -> int:
    """Record one event per changed day in the outbox; returns how many."""
    lines: dict[tuple[UUID, date], list[CostLine]] = defaultdict(list)
    for stored in await uow.costs.summary_lines(changed):
        lines[(stored.account_id, stored.usage_date)].append(stored.line)
    backfill_before = today - timedelta(days=BACKFILL_AFTER_DAYS)
    published = 0
    for day in sorted(changed, key=lambda d: (str(d.account_id), d.usage_date)):
        account = accounts[day.account_id]
        if not account.has_aws_id:
            # v1 subjects carry the AWS account id; other providers' ids (OCIDs hold dots)
            # never go into a subject: their days travel in the v2 batch (cost_batches).
            continue
        published += 1
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
    return published
