"""Bulk cost writes: monthly partitions, COPY of line items, replacement of a billing period,
Cost Explorer days, and the daily/monthly summaries rebuilt in SQL.

Everything here runs inside the caller's transaction (the unit of work), so a re-import
replaces a period atomically: readers see the old rows until the new ones commit.
"""

# ruff: noqa: S608 - SQL text is assembled from constants: table and partition names are our constants, values are bound.

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from cloudaudit.common.events.inventory import ComputeCoverage, ResourceCost
from cloudaudit.ingest.domain.cost_explorer import CeCost
from cloudaudit.ingest.domain.cur.mapping import OUTPUT_COLUMNS
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

SCHEMA = "ingest"
COPY_COLUMNS = ("team_id", "account_id", "import_id", "source", *OUTPUT_COLUMNS)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_name(month: date) -> str:
    return f"cost_data_{month.year:04d}_{month.month:02d}"


async def raw_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session's transaction (for COPY)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


class Partitions:
    """Monthly partitions of cost_data, created inside the import's own transaction by
    `ingest.ensure_cost_partition` (migration 0005), which holds the partition lock."""

    def __init__(self) -> None:
        self._known: set[str] | None = None

    async def ensure(self, session: AsyncSession, months: Iterable[date]) -> None:
        if self._known is None:
            rows = await session.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
                    "WHERE p.relname = 'cost_data' AND n.nspname = :schema"
                ),
                {"schema": SCHEMA},
            )
            self._known = {r[0] for r in rows}
        for month in sorted(set(months)):
            name = partition_name(month)
            if name in self._known:
                continue
            # The schema owner's function makes it (the service's role may not change tables).
            await session.execute(
                text(f"SELECT {SCHEMA}.ensure_cost_partition(:month)"), {"month": month}
            )
            self._known.add(name)


@dataclass
class PeriodRange:
    first_day: date | None
    last_day: date | None


async def delete_account_costs(session: AsyncSession, account_id: UUID) -> int:
    """Every line item of one account (cost_data has no foreign key: it is partitioned)."""
    result = await session.execute(
        text(f"DELETE FROM {SCHEMA}.cost_data WHERE account_id = :account"), {"account": account_id}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_billing_period(
    session: AsyncSession, account_id: UUID, billing_period: date
) -> PeriodRange:
    """Remove a period's previous import for one account; returns the days it covered."""
    row = (
        await session.execute(
            text(
                f"SELECT min(usage_date), max(usage_date) FROM {SCHEMA}.cost_data "
                "WHERE account_id = :account AND billing_period = :period"
            ),
            {"account": account_id, "period": billing_period},
        )
    ).one()
    if row[0] is not None:
        await session.execute(
            text(
                f"DELETE FROM {SCHEMA}.cost_data WHERE account_id = :account AND billing_period = :period"
            ),
            {"account": account_id, "period": billing_period},
        )
    return PeriodRange(row[0], row[1])


def _utc_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Arrow formats zoned timestamps ~30x slower than naive ones: write the UTC wall time
    and its zone ourselves."""
    naive = column.cast(pa.timestamp(column.type.unit))
    return pc.binary_join_element_wise(naive.cast(pa.string()), pa.scalar("Z"), "")


def to_csv(table: pa.Table) -> bytes:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            table = table.set_column(index, field.name, _utc_text(table.column(index)))
    sink = io.BytesIO()
    pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def with_ids(
    table: pa.Table,
    team_id: UUID,
    import_id: UUID,
    source: str,
    account_ids: dict[str, UUID],
    keys: pa.ChunkedArray | pa.Array,
) -> pa.Table:
    """Prefix the line items with team, CloudAudit account (by each row's account key),
    import and source columns."""
    rows = table.num_rows
    known = pa.array(list(account_ids), pa.string())
    positions = pc.index_in(keys, value_set=known)
    uuids = pa.array([str(account_ids[k]) for k in account_ids], pa.string())
    account_column = pc.take(uuids, positions)
    prefix = [
        pa.array([str(team_id)] * rows, pa.string()),
        account_column,
        pa.array([str(import_id)] * rows, pa.string()),
        pa.array([source] * rows, pa.string()),
    ]
    return pa.Table.from_arrays(prefix + list(table.columns), names=list(COPY_COLUMNS))


async def copy_line_items(session: AsyncSession, csv_bytes: bytes) -> None:
    connection = await raw_connection(session)
    await connection.copy_to_table(
        "cost_data",
        schema_name=SCHEMA,
        source=io.BytesIO(csv_bytes),
        columns=list(COPY_COLUMNS),
        format="csv",
    )


# -- Cost Explorer ----------------------------------------------------------------------------
async def replace_ce_costs(
    session: AsyncSession,
    account_id: UUID,
    team_id: UUID,
    run_id: UUID,
    grouping: str,
    start: date,
    end: date,
    costs: Sequence[CeCost],
) -> int:
    await session.execute(
        text(
            f"DELETE FROM {SCHEMA}.ce_costs WHERE account_id = :account AND grouping = :grouping "
            "AND usage_date >= :start AND usage_date < :end"
        ),
        {"account": account_id, "grouping": grouping, "start": start, "end": end},
    )
    if not costs:
        return 0
    connection = await raw_connection(session)
    await connection.copy_records_to_table(
        "ce_costs",
        schema_name=SCHEMA,
        columns=[
            "account_id",
            "grouping",
            "usage_date",
            "service",
            "detail",
            "team_id",
            "unblended_cost",
            "blended_cost",
            "amortized_cost",
            "net_unblended_cost",
            "usage_quantity",
            "estimated",
            "run_id",
        ],
        records=[
            (
                account_id,
                grouping,
                c.usage_date,
                c.service[:255],
                c.detail[:512],
                team_id,
                c.unblended_cost,
                c.blended_cost,
                c.amortized_cost,
                c.net_unblended_cost,
                c.usage_quantity,
                c.estimated,
                run_id,
            )
            for c in costs
        ],
    )
    return len(costs)


# -- what resources cost (read-only, for savings recommendations) -----------------------------
# Usage line items only: fees, negations, credits and taxes are not a resource's running cost.
# Legacy CUR and CUR 2.0 name them Usage / SavingsPlanCoveredUsage / DiscountedUsage; FOCUS rows
# carry ChargeCategory "Usage".
USAGE_LINE_TYPES = ("Usage", "SavingsPlanCoveredUsage", "DiscountedUsage")
COVERED_LINE_TYPES = ("SavingsPlanCoveredUsage", "DiscountedUsage")
# EC2 instance hours (on-demand, Savings Plan and RI covered alike) and EBS storage GB-months.
COMPUTE_USAGE = "usage_type ILIKE '%BoxUsage%'"
STORAGE_USAGE = "usage_type ILIKE '%EBS:VolumeUsage%'"
# Resource ids arrive as ids (i-..., vol-...) or ARNs (snapshots: arn:aws:ec2:...:snapshot/snap-...).
RESOURCE_KEY = (
    "CASE WHEN resource_id LIKE 'arn:%' THEN regexp_replace(resource_id, '^.*[/:]', '') "
    "ELSE resource_id END"
)


async def last_cost_day(session: AsyncSession, team_id: UUID, aws_account_id: str) -> date | None:
    """The newest usage day the team's cost report has for this AWS account."""
    return (
        await session.execute(
            text(
                f"SELECT max(usage_date) FROM {SCHEMA}.cost_data "
                "WHERE team_id = :team AND aws_account_id = :aws"
            ),
            {"team": team_id, "aws": aws_account_id},
        )
    ).scalar_one()


async def resource_costs(
    session: AsyncSession,
    team_id: UUID,
    aws_account_id: str,
    start: date,
    end: date,
    resource_ids: Sequence[str] | None,
    after: str | None,
    limit: int,
) -> list[ResourceCost]:
    """Per resource over [start, end): cost, days, compute hours and storage GB-months, in id
    order after `after` (keyset paging)."""
    wanted = "AND rid = ANY(:ids)" if resource_ids is not None else ""
    rows = await session.execute(
        text(
            f"""
            WITH items AS (
                SELECT {RESOURCE_KEY} AS rid, usage_date, line_item_type, usage_amount,
                       coalesce(amortized_cost, unblended_cost) AS cost, currency,
                       {COMPUTE_USAGE} AS compute, {STORAGE_USAGE} AS storage
                FROM {SCHEMA}.cost_data
                WHERE team_id = :team AND aws_account_id = :aws
                  AND usage_date >= :start AND usage_date < :end
                  AND resource_id IS NOT NULL AND resource_id <> ''
                  AND coalesce(line_item_type, 'Usage') IN :usage_types
            )
            SELECT rid, sum(cost) AS cost, min(currency) AS currency,
                   count(DISTINCT usage_date) AS days, min(usage_date) AS first_day,
                   max(usage_date) AS last_day,
                   coalesce(sum(usage_amount) FILTER (WHERE compute), 0) AS compute_hours,
                   coalesce(sum(cost) FILTER (WHERE compute), 0) AS compute_cost,
                   coalesce(sum(usage_amount) FILTER (
                       WHERE compute AND line_item_type IN :covered_types), 0) AS covered_hours,
                   coalesce(sum(cost) FILTER (
                       WHERE compute AND coalesce(line_item_type, 'Usage') = 'Usage'), 0)
                       AS on_demand_compute_cost,
                   coalesce(sum(usage_amount) FILTER (WHERE storage), 0) AS storage_gb_months,
                   coalesce(sum(cost) FILTER (WHERE storage), 0) AS storage_cost
            FROM items
            WHERE (CAST(:after AS text) IS NULL OR rid > :after) {wanted}
            GROUP BY rid
            ORDER BY rid
            LIMIT :limit
            """
        ).bindparams(
            bindparam("usage_types", expanding=True), bindparam("covered_types", expanding=True)
        ),
        {
            "team": team_id,
            "aws": aws_account_id,
            "start": start,
            "end": end,
            "usage_types": list(USAGE_LINE_TYPES),
            "covered_types": list(COVERED_LINE_TYPES),
            "after": after,
            "limit": limit,
            **({"ids": list(resource_ids)} if resource_ids is not None else {}),
        },
    )
    return [_resource_cost(r) for r in rows.mappings()]


async def compute_coverage(
    session: AsyncSession, team_id: UUID, aws_account_id: str, start: date, end: date
) -> ComputeCoverage:
    """EC2 instance usage over [start, end) split into on-demand and commitment-covered."""
    row = await session.execute(
        text(
            f"""
            SELECT
              coalesce(sum(unblended_cost) FILTER (
                  WHERE coalesce(line_item_type, 'Usage') = 'Usage'), 0) AS on_demand_cost,
              coalesce(sum(usage_amount) FILTER (
                  WHERE coalesce(line_item_type, 'Usage') = 'Usage'), 0) AS on_demand_hours,
              coalesce(sum(coalesce(public_on_demand_cost, unblended_cost)) FILTER (
                  WHERE line_item_type IN :covered_types), 0) AS covered_cost,
              coalesce(sum(usage_amount) FILTER (
                  WHERE line_item_type IN :covered_types), 0) AS covered_hours,
              count(*) AS line_items
            FROM {SCHEMA}.cost_data
            WHERE team_id = :team AND aws_account_id = :aws
              AND usage_date >= :start AND usage_date < :end AND {COMPUTE_USAGE}
            """
        ).bindparams(bindparam("covered_types", expanding=True)),
        {
            "team": team_id,
            "aws": aws_account_id,
            "start": start,
            "end": end,
            "covered_types": list(COVERED_LINE_TYPES),
        },
    )
    return _coverage(row.mappings().one())


# -- rows to the replies that carry them ------------------------------------------------------
PERCENT = Decimal(100)
RATE_QUANTUM = Decimal("0.000001")


def _ratio(amount: Decimal, quantity: Decimal) -> Decimal | None:
    return (amount / quantity).quantize(RATE_QUANTUM) if quantity > 0 else None


def _resource_cost(row: Any) -> ResourceCost:
    compute_hours = Decimal(row["compute_hours"])
    storage = Decimal(row["storage_gb_months"])
    return ResourceCost(
        resource_id=row["rid"],
        cost=Decimal(row["cost"]),
        currency=row["currency"] or "USD",
        days_with_cost=int(row["days"]),
        first_day=row["first_day"],
        last_day=row["last_day"],
        compute_hours=compute_hours,
        compute_cost=Decimal(row["compute_cost"]),
        covered_hours=Decimal(row["covered_hours"]),
        on_demand_compute_cost=Decimal(row["on_demand_compute_cost"]),
        storage_gb_months=storage,
        storage_cost=Decimal(row["storage_cost"]),
        hourly_rate=_ratio(Decimal(row["compute_cost"]), compute_hours),
        gb_month_rate=_ratio(Decimal(row["storage_cost"]), storage),
    )


def _coverage(row: Any) -> ComputeCoverage:
    on_demand, covered = Decimal(row["on_demand_cost"]), Decimal(row["covered_cost"])
    # Every format names covered usage as CUR does (FOCUS: by CommitmentDiscountCategory).
    known = row["line_items"] > 0
    total = on_demand + covered
    return ComputeCoverage(
        known=known,
        on_demand_cost=on_demand,
        on_demand_hours=Decimal(row["on_demand_hours"]),
        covered_cost_at_on_demand=covered,
        covered_hours=Decimal(row["covered_hours"]),
        coverage_percent=(covered / total * PERCENT).quantize(Decimal("0.1"))
        if known and total > 0
        else None,
    )
