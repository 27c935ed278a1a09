"""Daily cost summaries rebuilt in SQL for the days a sync or import touched.

Per (account, day) the source is the line items when an import covered that day, else Cost
Explorer. One pass over the line items (GROUPING SETS) gives each (service, region) line, its
top usage types and its top resources; the per-(account, day) fingerprint tells which days
changed and so get a new revision and a new event.
"""

# ruff: noqa: S608 - SQL text is assembled from constants: only the schema name is interpolated; values are bound.

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.cost import CostDriver, CostLine
from cloudaudit.ingest.adapters.cost_store import month_start, next_month
from cloudaudit.ingest.domain.spend import plain
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "ingest"
SERVICE_EXPR = "left(coalesce(nullif(service, ''), nullif(product_code, ''), '(unknown)'), 255)"
REGION_EXPR = "left(coalesce(nullif(region, ''), 'global'), 64)"


@dataclass(frozen=True)
class ChangedDay:
    account_id: UUID
    usage_date: date
    revision: int
    source: str
    total_unblended_cost: Decimal
    is_estimated: bool


async def _lock_accounts(session: AsyncSession, account_ids: Iterable[UUID]) -> None:
    for account_id in sorted(set(account_ids), key=str):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"ingest-summaries:{account_id}"},
        )


async def rebuild(
    session: AsyncSession,
    account_ids: list[UUID],
    start: date,
    end: date,
    top: int,
    answered_days: Iterable[tuple[UUID, date]] = (),
) -> list[ChangedDay]:
    """Rebuild [start, end) for these accounts; returns the days whose facts changed."""
    if not account_ids or start >= end:
        return []
    await _lock_accounts(session, account_ids)
    params: dict[str, Any] = {"accounts": account_ids, "start": start, "end": end, "top": top}
    await session.execute(text("DROP TABLE IF EXISTS _agg, _lines, _days"))
    await session.execute(
        text(f"""
        CREATE TEMP TABLE _agg ON COMMIT DROP AS
        SELECT account_id, usage_date, svc AS service, reg AS region, usage_type_k, resource_k,
               GROUPING(usage_type_k, resource_k) AS g,
               sum(unblended_cost) AS unblended_cost, sum(blended_cost) AS blended_cost,
               sum(amortized_cost) AS amortized_cost,
               sum(public_on_demand_cost) AS public_on_demand_cost,
               sum(net_unblended_cost) AS net_unblended_cost, sum(usage_amount) AS usage_quantity,
               max(source) AS source, max(instance_type) AS instance_type,
               max(usage_type) AS any_usage_type
        FROM (
            SELECT account_id, usage_date, {SERVICE_EXPR} AS svc, {REGION_EXPR} AS reg,
                   coalesce(nullif(usage_type, ''), '(none)') AS usage_type_k,
                   nullif(resource_id, '') AS resource_k, unblended_cost, blended_cost,
                   amortized_cost, public_on_demand_cost, net_unblended_cost, usage_amount,
                   source, instance_type, usage_type
            FROM {S}.cost_data
            WHERE account_id = ANY(:accounts) AND usage_date >= :start AND usage_date < :end
        ) line_items
        GROUP BY GROUPING SETS (
            (account_id, usage_date, svc, reg),
            (account_id, usage_date, svc, reg, usage_type_k),
            (account_id, usage_date, svc, reg, resource_k)
        )
    """),
        params,
    )
    await session.execute(
        text(f"""
        CREATE TEMP TABLE _lines ON COMMIT DROP AS
        WITH cur_lines AS (
            SELECT * FROM _agg WHERE g = 3
        ), cur_days AS (
            SELECT DISTINCT account_id, usage_date FROM cur_lines
        ), usage_top AS (
            SELECT account_id, usage_date, service, region,
                   jsonb_agg(jsonb_build_object('name', usage_type_k, 'cost', unblended_cost::text)
                             ORDER BY rn) AS items
            FROM (SELECT *, row_number() OVER (PARTITION BY account_id, usage_date, service, region
                                               ORDER BY unblended_cost DESC, usage_type_k) AS rn
                  FROM _agg WHERE g = 1) ranked
            WHERE rn <= :top GROUP BY 1, 2, 3, 4
        ), resource_top AS (
            SELECT account_id, usage_date, service, region,
                   jsonb_agg(jsonb_build_object('name', resource_k, 'cost', unblended_cost::text)
                             ORDER BY rn) AS items
            FROM (SELECT *, row_number() OVER (PARTITION BY account_id, usage_date, service, region
                                               ORDER BY unblended_cost DESC, resource_k) AS rn
                  FROM _agg WHERE g = 2 AND resource_k IS NOT NULL) ranked
            WHERE rn <= :top GROUP BY 1, 2, 3, 4
        ), ce_lines AS (
            SELECT c.account_id, c.usage_date, left(c.service, 255) AS service,
                   left(c.detail, 64) AS region, c.unblended_cost, c.blended_cost,
                   c.amortized_cost, NULL::numeric AS public_on_demand_cost,
                   c.net_unblended_cost, c.usage_quantity, c.estimated
            FROM {S}.ce_costs c
            WHERE c.grouping = 'service_region' AND c.account_id = ANY(:accounts)
              AND c.usage_date >= :start AND c.usage_date < :end
              AND NOT EXISTS (SELECT 1 FROM cur_days d
                              WHERE d.account_id = c.account_id AND d.usage_date = c.usage_date)
        ), ce_usage_top AS (
            SELECT account_id, usage_date, service,
                   jsonb_agg(jsonb_build_object('name', detail, 'cost', unblended_cost::text)
                             ORDER BY rn) AS items
            FROM (SELECT *, row_number() OVER (PARTITION BY account_id, usage_date, service
                                               ORDER BY unblended_cost DESC, detail) AS rn
                  FROM {S}.ce_costs
                  WHERE grouping = 'service_usage_type' AND account_id = ANY(:accounts)
                    AND usage_date >= :start AND usage_date < :end) ranked
            WHERE rn <= :top GROUP BY 1, 2, 3
        )
        SELECT l.account_id, l.usage_date, l.service, l.region, l.unblended_cost, l.blended_cost,
               l.amortized_cost, l.public_on_demand_cost, l.net_unblended_cost, l.usage_quantity,
               coalesce(u.items, '[]'::jsonb) AS top_usage_types,
               coalesce(r.items, '[]'::jsonb) AS top_resources,
               l.source, false AS is_estimated
        FROM cur_lines l
        LEFT JOIN usage_top u USING (account_id, usage_date, service, region)
        LEFT JOIN resource_top r USING (account_id, usage_date, service, region)
        UNION ALL
        SELECT c.account_id, c.usage_date, c.service, c.region, c.unblended_cost, c.blended_cost,
               c.amortized_cost, c.public_on_demand_cost, c.net_unblended_cost, c.usage_quantity,
               coalesce(u.items, '[]'::jsonb), '[]'::jsonb, 'cost_explorer', c.estimated
        FROM ce_lines c
        LEFT JOIN ce_usage_top u USING (account_id, usage_date, service)
    """),
        params,
    )
    await session.execute(
        text(f"""
        INSERT INTO {S}.daily_cost_summaries AS s (
            account_id, team_id, aws_account_id, usage_date, service, region, unblended_cost,
            blended_cost, amortized_cost, public_on_demand_cost, net_unblended_cost,
            usage_quantity, top_usage_types, top_resources, source, is_estimated, updated_at)
        SELECT l.account_id, a.team_id, a.aws_account_id, l.usage_date, l.service, l.region,
               l.unblended_cost, l.blended_cost, l.amortized_cost, l.public_on_demand_cost,
               l.net_unblended_cost, l.usage_quantity, l.top_usage_types, l.top_resources,
               l.source, l.is_estimated, CAST(:now AS timestamptz)
        FROM _lines l JOIN {S}.aws_accounts a USING (account_id)
        ON CONFLICT (account_id, usage_date, service, region) DO UPDATE SET
            unblended_cost = excluded.unblended_cost, blended_cost = excluded.blended_cost,
            amortized_cost = excluded.amortized_cost,
            public_on_demand_cost = excluded.public_on_demand_cost,
            net_unblended_cost = excluded.net_unblended_cost,
            usage_quantity = excluded.usage_quantity, top_usage_types = excluded.top_usage_types,
            top_resources = excluded.top_resources, source = excluded.source,
            is_estimated = excluded.is_estimated, updated_at = excluded.updated_at
    """),
        {"now": utcnow()},
    )
    await session.execute(
        text(f"""
        DELETE FROM {S}.daily_cost_summaries s
        WHERE s.account_id = ANY(:accounts) AND s.usage_date >= :start AND s.usage_date < :end
          AND NOT EXISTS (SELECT 1 FROM _lines l WHERE l.account_id = s.account_id
                          AND l.usage_date = s.usage_date AND l.service = s.service
                          AND l.region = s.region)
    """),
        params,
    )
    changed = await _account_days(session, params, list(answered_days))
    await _monthly(session, account_ids, start, end)
    await _resources(session)
    return changed


async def _account_days(
    session: AsyncSession, params: dict[str, Any], answered: list[tuple[UUID, date]]
) -> list[ChangedDay]:
    await session.execute(
        text("""
        CREATE TEMP TABLE _days ON COMMIT DROP AS
        SELECT account_id, usage_date, max(source) AS source,
               sum(unblended_cost) AS total_unblended_cost, bool_or(is_estimated) AS is_estimated,
               md5(string_agg(service || '|' || region || '|' || unblended_cost::text || '|'
                              || coalesce(amortized_cost::text, '') || '|'
                              || top_usage_types::text || '|' || top_resources::text,
                              ';' ORDER BY service, region)) AS fingerprint
        FROM _lines GROUP BY account_id, usage_date
    """)
    )
    if answered:
        await session.execute(
            text("""
            INSERT INTO _days
            SELECT x.account_id, x.usage_date, 'cost_explorer', 0, false, md5('')
            FROM unnest(CAST(:ids AS uuid[]), CAST(:days AS date[])) AS x(account_id, usage_date)
            WHERE NOT EXISTS (SELECT 1 FROM _days d
                              WHERE d.account_id = x.account_id AND d.usage_date = x.usage_date)
        """),
            {"ids": [a for a, _ in answered], "days": [d for _, d in answered]},
        )
    # Days that had cost before and have none now are published as empty, once.
    await session.execute(
        text(f"""
        INSERT INTO _days
        SELECT a.account_id, a.usage_date, a.source, 0, false, md5('')
        FROM {S}.account_days a
        WHERE a.account_id = ANY(:accounts) AND a.usage_date >= :start AND a.usage_date < :end
          AND NOT EXISTS (SELECT 1 FROM _days d
                          WHERE d.account_id = a.account_id AND d.usage_date = a.usage_date)
    """),
        params,
    )
    rows = await session.execute(
        text(f"""
        INSERT INTO {S}.account_days AS a (account_id, usage_date, team_id, source,
            total_unblended_cost, is_estimated, revision, fingerprint, updated_at)
        SELECT d.account_id, d.usage_date, acc.team_id, d.source, d.total_unblended_cost,
               d.is_estimated, 1, d.fingerprint, CAST(:now AS timestamptz)
        FROM _days d JOIN {S}.aws_accounts acc USING (account_id)
        ON CONFLICT (account_id, usage_date) DO UPDATE SET
            source = excluded.source, total_unblended_cost = excluded.total_unblended_cost,
            is_estimated = excluded.is_estimated, revision = a.revision + 1,
            fingerprint = excluded.fingerprint, updated_at = excluded.updated_at
        WHERE a.fingerprint IS DISTINCT FROM excluded.fingerprint
           OR a.is_estimated IS DISTINCT FROM excluded.is_estimated
        RETURNING a.account_id, a.usage_date, a.revision, a.source, a.total_unblended_cost,
                  a.is_estimated
    """),
        {"now": utcnow()},
    )
    return [ChangedDay(*row) for row in rows.all()]


async def _monthly(session: AsyncSession, account_ids: list[UUID], start: date, end: date) -> None:
    params = {
        "accounts": account_ids,
        "m0": month_start(start),
        "m1": next_month(month_start(date.fromordinal(end.toordinal() - 1))),
    }
    await session.execute(
        text(f"""
        DELETE FROM {S}.monthly_cost_summaries
        WHERE account_id = ANY(:accounts) AND month >= :m0 AND month < :m1
    """),
        params,
    )
    await session.execute(
        text(f"""
        INSERT INTO {S}.monthly_cost_summaries (account_id, month, service, region, team_id,
            aws_account_id, unblended_cost, blended_cost, amortized_cost, public_on_demand_cost,
            net_unblended_cost, is_estimated)
        SELECT account_id, date_trunc('month', usage_date)::date, service, region, team_id,
               aws_account_id, sum(unblended_cost), sum(blended_cost), sum(amortized_cost),
               sum(public_on_demand_cost), sum(net_unblended_cost), bool_or(is_estimated)
        FROM {S}.daily_cost_summaries
        WHERE account_id = ANY(:accounts) AND usage_date >= :m0 AND usage_date < :m1
        GROUP BY account_id, date_trunc('month', usage_date)::date, service, region, team_id,
                 aws_account_id
    """),
        params,
    )


async def _resources(session: AsyncSession) -> None:
    """The inventory seen in line items: first/last day billed, what it is, its last cost."""
    await session.execute(
        text(f"""
        INSERT INTO {S}.resources AS r (account_id, resource_id, team_id, aws_account_id, service,
            region, instance_type, usage_type, first_seen, last_seen, last_day_cost, updated_at)
        SELECT DISTINCT ON (g.account_id, g.resource_k)
               g.account_id, left(g.resource_k, 1024), acc.team_id, acc.aws_account_id,
               g.service, g.region, g.instance_type, g.any_usage_type,
               min(g.usage_date) OVER w, max(g.usage_date) OVER w, g.unblended_cost, CAST(:now AS timestamptz)
        FROM _agg g JOIN {S}.aws_accounts acc USING (account_id)
        WHERE g.g = 2 AND g.resource_k IS NOT NULL
        WINDOW w AS (PARTITION BY g.account_id, g.resource_k)
        ORDER BY g.account_id, g.resource_k, g.usage_date DESC, g.unblended_cost DESC
        ON CONFLICT (account_id, resource_id) DO UPDATE SET
            service = excluded.service, region = excluded.region,
            instance_type = coalesce(excluded.instance_type, r.instance_type),
            usage_type = coalesce(excluded.usage_type, r.usage_type),
            first_seen = least(r.first_seen, excluded.first_seen),
            last_seen = greatest(r.last_seen, excluded.last_seen),
            last_day_cost = CASE WHEN excluded.last_seen >= r.last_seen
                                 THEN excluded.last_day_cost ELSE r.last_day_cost END,
            updated_at = excluded.updated_at
    """),
        {"now": utcnow()},
    )


@dataclass(frozen=True)
class SummaryLine:
    """One stored (service, region) line of an account's day, as its event carries it."""

    account_id: UUID
    usage_date: date
    line: CostLine


def _drivers(raw: Any) -> list[CostDriver]:
    items = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return [
        CostDriver(name=str(i["name"])[:500], cost=plain(Decimal(str(i["cost"])))) for i in items
    ]


def _line(row: Any) -> SummaryLine:
    return SummaryLine(
        account_id=row["account_id"],
        usage_date=row["usage_date"],
        line=CostLine(
            summary_id=row["summary_id"],
            service=row["service"],
            region=row["region"],
            unblended_cost=plain(row["unblended_cost"]),
            amortized_cost=plain(row["amortized_cost"]),
            usage_quantity=plain(row["usage_quantity"]),
            top_usage_types=_drivers(row["top_usage_types"]),
            top_resources=_drivers(row["top_resources"]),
        ),
    )


async def summary_lines(session: AsyncSession, days: list[ChangedDay]) -> list[SummaryLine]:
    """The stored lines of the given (account, day)s, for their events."""
    if not days:
        return []
    rows = await session.execute(
        text(f"""
        SELECT s.summary_id, s.account_id, s.aws_account_id, s.team_id, s.usage_date, s.service,
               s.region, s.unblended_cost, s.amortized_cost, s.usage_quantity,
               s.top_usage_types, s.top_resources
        FROM {S}.daily_cost_summaries s
        JOIN unnest(CAST(:ids AS uuid[]), CAST(:days AS date[])) AS x(account_id, usage_date)
          ON s.account_id = x.account_id AND s.usage_date = x.usage_date
        ORDER BY s.account_id, s.usage_date, s.unblended_cost DESC, s.service, s.region
    """),
        {"ids": [d.account_id for d in days], "days": [d.usage_date for d in days]},
    )
    return [_line(r) for r in rows.mappings()]


async def day_currencies(
    session: AsyncSession, days: list[ChangedDay]
) -> dict[tuple[UUID, date], dict[str, Decimal]]:
    """Per (account, day) of line items: the unblended cost in each billing currency (a day
    of one account may be billed in several; sums never mix them)."""
    if not days:
        return {}
    rows = await session.execute(
        text(f"""
        SELECT d.account_id, d.usage_date, d.currency, sum(d.unblended_cost) AS amount
        FROM {S}.cost_data d
        JOIN unnest(CAST(:ids AS uuid[]), CAST(:days AS date[])) AS x(account_id, usage_date)
          ON d.account_id = x.account_id AND d.usage_date = x.usage_date
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    """),
        {"ids": [d.account_id for d in days], "days": [d.usage_date for d in days]},
    )
    found: dict[tuple[UUID, date], dict[str, Decimal]] = {}
    for account_id, usage_date, currency, amount in rows.all():
        found.setdefault((account_id, usage_date), {})[currency] = amount
    return found
