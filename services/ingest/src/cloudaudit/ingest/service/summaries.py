"""After a sync or import: one CostDayRecorded per changed (account, day) of an AWS account
(v1, its subject holds the AWS id), and one CostBatchRecorded per changed account of any
provider (v2, its subject holds CloudAudit's account id), via the outbox."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from cloudaudit.common.events.cost import (
    COST_BATCH_RECORDED,
    COST_DAY_RECORDED,
    CostBatchRecorded,
    CostDayRecorded,
    CostLine,
    CostPeriod,
)
from cloudaudit.ingest.adapters.rows import Account
from cloudaudit.ingest.adapters.summary_store import ChangedDay
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.domain.spend import plain

# Days older than this are history being loaded (a first sync, an import of past months):
# analytics warms its models on them instead of alerting.
BACKFILL_AFTER_DAYS = 3
CE_CURRENCY = "USD"  # Cost Explorer answers in USD


async def publish_changed_days(
    uow: IngestUnitOfWork,
    changed: list[ChangedDay],
    accounts: dict[UUID, Account],
    today: date,
    batch_id: UUID | None = None,
) -> int:
    """Record the v1 day events (AWS accounts) and, given the import or sync run, one v2 batch
    per changed account; returns how many v1 days."""
    lines: dict[tuple[UUID, date], list[CostLine]] = defaultdict(list)
    for stored in await uow.costs.summary_lines(changed):
        lines[(stored.account_id, stored.usage_date)].append(stored.line)
    backfill_before = today - timedelta(days=BACKFILL_AFTER_DAYS)
    published = 0
    for day in sorted(changed, key=lambda d: (str(d.account_id), d.usage_date)):
        account = accounts[day.account_id]
        if not account.has_aws_id:
            # v1 subjects carry the AWS account id; other providers' ids (OCIDs hold dots)
            # and anonymised ids never go into a subject: their days travel in v2 only.
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
    if batch_id is not None:
        await _publish_batches(uow, changed, accounts, lines, backfill_before, batch_id)
    return published


async def _publish_batches(
    uow: IngestUnitOfWork,
    changed: list[ChangedDay],
    accounts: dict[UUID, Account],
    lines: dict[tuple[UUID, date], list[CostLine]],
    backfill_before: date,
    batch_id: UUID,
) -> None:
    """One v2 event per account: each changed day once per billing currency. A day billed in
    one currency carries its lines; a day billed in several carries each currency's total
    only (the lines are summed across currencies and would mix them)."""
    itemised = [d for d in changed if d.source != "cost_explorer"]
    currencies = await uow.costs.day_currencies(itemised)
    by_account: dict[UUID, list[ChangedDay]] = defaultdict(list)
    for day in changed:
        by_account[day.account_id].append(day)
    for account_id in sorted(by_account, key=str):
        account = accounts[account_id]
        days = sorted(by_account[account_id], key=lambda d: d.usage_date)
        periods = [
            period
            for day in days
            for period in _periods_of(day, currencies, lines, backfill_before)
        ]
        await uow.emit(
            COST_BATCH_RECORDED.format(account_id=account_id),
            CostBatchRecorded(
                team_id=account.team_id,
                account_id=account_id,
                provider=account.provider,
                provider_account_id=account.aws_account_id,
                batch_id=batch_id,
                source=days[0].source,
                periods=periods,
            ),
        )


def _periods_of(
    day: ChangedDay,
    currencies: dict[tuple[UUID, date], dict[str, Decimal]],
    lines: dict[tuple[UUID, date], list[CostLine]],
    backfill_before: date,
) -> list[CostPeriod]:
    """A changed day as v2 periods: one per billing currency, with its lines when it has one."""
    key = (day.account_id, day.usage_date)
    amounts = currencies.get(key) or {CE_CURRENCY: day.total_unblended_cost}
    start = datetime.combine(day.usage_date, time(), UTC)
    return [
        CostPeriod(
            start=start,
            end=start + timedelta(days=1),
            currency=currency,
            total_unblended_cost=plain(amount),
            lines=lines.get(key, []) if len(amounts) == 1 else [],
            is_estimated=day.is_estimated,
            revision=day.revision,
            backfill=day.usage_date < backfill_before,
        )
        for currency, amount in sorted(amounts.items())
    ]
