"""The cost tables as one unit of work sees them: line items, Cost Explorer days, summaries,
spend and per-resource costs. Handlers call these methods; the SQL stays in the store modules
(cost_store, summary_store, spend_store), bound here to the unit of work's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

from cloudaudit.common.events.inventory import ComputeCoverage, ResourceCost
from cloudaudit.ingest.adapters import cost_store, spend_store, summary_store
from cloudaudit.ingest.adapters.cost_store import Partitions, PeriodRange
from cloudaudit.ingest.adapters.summary_store import ChangedDay, SummaryLine
from cloudaudit.ingest.domain.cost_explorer import CeCost
from cloudaudit.ingest.domain.spend import SpendQuery, SpendRow
from sqlalchemy.ext.asyncio import AsyncSession


class Costs:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._partitions = Partitions()  # known partitions, read once per transaction

    # -- imports: replace billing periods, COPY line items
    async def ensure_partitions(self, months: Iterable[date]) -> None:
        await self._partitions.ensure(self._session, months)

    async def delete_billing_period(self, account_id: UUID, billing_period: date) -> PeriodRange:
        return await cost_store.delete_billing_period(self._session, account_id, billing_period)

    async def delete_account_costs(self, account_id: UUID) -> int:
        return await cost_store.delete_account_costs(self._session, account_id)

    async def copy_line_items(self, csv_bytes: bytes) -> None:
        await cost_store.copy_line_items(self._session, csv_bytes)

    # -- Cost Explorer
    async def replace_ce_costs(
        self,
        account_id: UUID,
        team_id: UUID,
        run_id: UUID,
        grouping: str,
        start: date,
        end: date,
        costs: Sequence[CeCost],
    ) -> int:
        return await cost_store.replace_ce_costs(
            self._session, account_id, team_id, run_id, grouping, start, end, costs
        )

    # -- summaries and their events
    async def rebuild_summaries(
        self,
        account_ids: list[UUID],
        start: date,
        end: date,
        top: int,
        answered_days: Iterable[tuple[UUID, date]] = (),
    ) -> list[ChangedDay]:
        return await summary_store.rebuild(
            self._session, account_ids, start, end, top, answered_days
        )

    async def summary_lines(self, days: list[ChangedDay]) -> list[SummaryLine]:
        return await summary_store.summary_lines(self._session, days)

    async def day_currencies(
        self, days: list[ChangedDay]
    ) -> dict[tuple[UUID, date], dict[str, Decimal]]:
        return await summary_store.day_currencies(self._session, days)

    # -- questions
    async def spend_rows(self, query: SpendQuery) -> list[SpendRow]:
        return await spend_store.spend_rows(self._session, query)

    async def tag_keys(self, team_id: UUID, start: date, end: date) -> list[str]:
        return await spend_store.tag_keys(self._session, team_id, start, end)

    async def last_cost_day(self, team_id: UUID, aws_account_id: str) -> date | None:
        return await cost_store.last_cost_day(self._session, team_id, aws_account_id)

    async def resource_costs(
        self,
        team_id: UUID,
        aws_account_id: str,
        start: date,
        end: date,
        resource_ids: Sequence[str] | None,
        after: str | None,
        limit: int,
    ) -> list[ResourceCost]:
        return await cost_store.resource_costs(
            self._session, team_id, aws_account_id, start, end, resource_ids, after, limit
        )

    async def compute_coverage(
        self, team_id: UUID, aws_account_id: str, start: date, end: date
    ) -> ComputeCoverage:
        return await cost_store.compute_coverage(self._session, team_id, aws_account_id, start, end)
