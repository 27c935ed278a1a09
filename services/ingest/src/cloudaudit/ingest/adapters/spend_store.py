"""Spend queries in SQL: summaries for service/region/account/day/month (whole months from the
monthly rollup), line items and Cost Explorer groups for usage type, resource and tag.
"""

# ruff: noqa: S608 - SQL text is assembled from constants: identifiers come from closed enums (metric, dimension), values are bound.

from __future__ import annotations

from datetime import date
from typing import Any

from cloudaudit.ingest.domain.spend import Dimension, Points, SpendQuery, SpendRow, whole_months
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

S = "ingest"
NO_RESOURCE = "(no resource id)"
CE_NO_RESOURCE = "(Cost Explorer: no resource detail)"
CE_NO_TAG = "(Cost Explorer: tag not synced)"
UNTAGGED = "(untagged)"
NORMALISED_TAGS = {"environment": "tag_environment", "project": "tag_project", "owner": "tag_owner"}

_SUMMARY_KEYS = {
    Dimension.NONE: "'total'",
    Dimension.SERVICE: "service",
    Dimension.REGION: "region",
    Dimension.ACCOUNT: "aws_account_id",
    Dimension.DAY: "to_char(day, 'YYYY-MM-DD')",
    Dimension.MONTH: "to_char(day, 'YYYY-MM')",
    Dimension.PROVIDER: "a.provider",
}


def _period(points: Points | None) -> str:
    if points is Points.DAILY:
        return "day"
    if points is Points.MONTHLY:
        return "date_trunc('month', day)::date"
    return "NULL::date"


def _accounts_filter(query: SpendQuery, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f" AND {prefix}account_id = ANY(:accounts)" if query.account_ids else ""


async def spend_rows(session: AsyncSession, query: SpendQuery) -> list[SpendRow]:
    params: dict[str, Any] = {
        "team": query.team_id,
        "start": query.start,
        "end": query.end,
        "accounts": list(query.account_ids or []),
    }
    sql = _detailed_sql(query, params) if query.dimension.detailed else _summary_sql(query, params)
    rows = (await session.execute(text(sql), params)).all()
    grouped: dict[str, SpendRow] = {}
    for key, period, amount, estimated in rows:
        row = grouped.setdefault(str(key), SpendRow(key=str(key), amount=None))
        row.add(amount, bool(estimated), period)
    return list(grouped.values())


def _summary_sql(query: SpendQuery, params: dict[str, Any]) -> str:
    metric = query.metric.column
    key = _SUMMARY_KEYS[query.dimension]
    period = _period(query.points)
    accounts = _accounts_filter(query)
    months = (
        None
        if (query.points is Points.DAILY or query.dimension is Dimension.DAY)
        else whole_months(query.start, query.end)
    )
    parts: list[str] = []
    if months is None:
        parts.append(
            f"SELECT service, region, aws_account_id, usage_date AS day, {metric} AS amount, "
            f"is_estimated FROM {S}.daily_cost_summaries WHERE team_id = :team "
            f"AND usage_date >= :start AND usage_date < :end{accounts}"
        )
    else:
        params["m0"], params["m1"] = months
        parts.append(
            f"SELECT service, region, aws_account_id, month AS day, {metric} AS amount, "
            f"is_estimated FROM {S}.monthly_cost_summaries WHERE team_id = :team "
            f"AND month >= :m0 AND month < :m1{accounts}"
        )
        parts.append(
            f"SELECT service, region, aws_account_id, usage_date AS day, {metric} AS amount, "
            f"is_estimated FROM {S}.daily_cost_summaries WHERE team_id = :team "
            f"AND ((usage_date >= :start AND usage_date < :m0) "
            f"OR (usage_date >= :m1 AND usage_date < :end)){accounts}"
        )
    union = " UNION ALL ".join(parts)
    if query.dimension is Dimension.PROVIDER:  # a property of the account, not of the line
        union = union.replace("SELECT service,", "SELECT account_id, service,")
        source = f"({union}) spend JOIN {S}.aws_accounts a USING (account_id)"
    else:
        source = f"({union}) spend"
    return (
        f"SELECT {key} AS key, {period} AS period, sum(amount) AS amount, "
        f"bool_or(is_estimated) AS estimated FROM {source} GROUP BY 1, 2"
    )


def _detailed_sql(query: SpendQuery, params: dict[str, Any]) -> str:
    metric = query.metric.column
    period = _period(query.points)
    accounts_d = _accounts_filter(query, "d")
    accounts_c = _accounts_filter(query, "c")
    ce_metric = "NULL::numeric" if metric == "public_on_demand_cost" else f"c.{metric}"
    not_itemised = (
        f"NOT EXISTS (SELECT 1 FROM {S}.account_days a WHERE a.account_id = c.account_id "
        f"AND a.usage_date = c.usage_date AND a.source <> 'cost_explorer')"
    )
    if query.dimension is Dimension.CURRENCY:
        cur_key = "d.currency"
        ce_part = (  # Cost Explorer answers in USD
            f"SELECT 'USD' AS key, c.usage_date AS day, {ce_metric} AS amount, c.estimated "
            f"FROM {S}.ce_costs c WHERE c.team_id = :team AND c.grouping = 'service_region' "
            f"AND c.usage_date >= :start AND c.usage_date < :end{accounts_c} AND {not_itemised}"
        )
    elif query.dimension is Dimension.USAGE_TYPE:
        cur_key = "coalesce(nullif(d.usage_type, ''), '(none)')"
        ce_part = (
            f"SELECT c.detail AS key, c.usage_date AS day, {ce_metric} AS amount, c.estimated "
            f"FROM {S}.ce_costs c WHERE c.team_id = :team AND c.grouping = 'service_usage_type' "
            f"AND c.usage_date >= :start AND c.usage_date < :end{accounts_c} AND {not_itemised}"
        )
    elif query.dimension is Dimension.RESOURCE:
        params["no_resource"], params["ce_no_resource"] = NO_RESOURCE, CE_NO_RESOURCE
        cur_key = "coalesce(nullif(d.resource_id, ''), :no_resource)"
        ce_part = (
            f"SELECT :ce_no_resource AS key, c.usage_date AS day, {ce_metric} AS amount, "
            f"c.estimated "
            f"FROM {S}.ce_costs c WHERE c.team_id = :team AND c.grouping = 'service_region' "
            f"AND c.usage_date >= :start AND c.usage_date < :end{accounts_c} AND {not_itemised}"
        )
    else:
        tag = query.tag_key or ""
        params.update(
            tag=tag,
            tag_user_colon=f"user:{tag}",
            tag_user_snake=f"user_{tag.lower()}",
            untagged=UNTAGGED,
            ce_no_tag=CE_NO_TAG,
            grouping=f"tag:{tag}",
        )
        column = NORMALISED_TAGS.get(tag.lower())
        lookup = (
            f"d.{column}"
            if column
            else "coalesce(d.tags ->> :tag, d.tags ->> :tag_user_colon, d.tags ->> :tag_user_snake)"
        )
        cur_key = f"coalesce(nullif({lookup}, ''), :untagged)"
        ce_part = (
            f"SELECT c.detail AS key, c.usage_date AS day, {ce_metric} AS amount, c.estimated "
            f"FROM {S}.ce_costs c WHERE c.team_id = :team AND c.grouping = :grouping "
            f"AND c.usage_date >= :start AND c.usage_date < :end{accounts_c} AND {not_itemised} "
            f"UNION ALL "
            f"SELECT :ce_no_tag, c.usage_date, {ce_metric}, c.estimated "
            f"FROM {S}.ce_costs c WHERE c.team_id = :team AND c.grouping = 'service_region' "
            f"AND c.usage_date >= :start AND c.usage_date < :end{accounts_c} AND {not_itemised} "
            f"AND NOT EXISTS (SELECT 1 FROM {S}.ce_costs t WHERE t.account_id = c.account_id "
            f"AND t.usage_date = c.usage_date AND t.grouping = :grouping)"
        )
    cur_part = (
        f"SELECT {cur_key} AS key, d.usage_date AS day, d.{metric} AS amount, "
        f"false AS estimated "
        f"FROM {S}.cost_data d WHERE d.team_id = :team "
        f"AND d.usage_date >= :start AND d.usage_date < :end{accounts_d}"
    )
    return (
        f"SELECT key, {period} AS period, sum(amount) AS amount, bool_or(estimated) "
        f"FROM ({cur_part} UNION ALL {ce_part}) spend GROUP BY 1, 2"
    )


async def tag_keys(session: AsyncSession, team_id: Any, start: date, end: date) -> list[str]:
    """The tag keys the team's costs in [start, end) carry: in the cost report's lines (their
    `user:` / `user_` prefix dropped) and in the Cost Explorer tag groups synced."""
    normalised = " UNION ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {S}.cost_data WHERE team_id = :team "
        f"AND usage_date >= :start AND usage_date < :end AND {column} IS NOT NULL)"
        for name, column in NORMALISED_TAGS.items()
    )
    rows = await session.execute(
        text(f"""
        SELECT DISTINCT regexp_replace(key, '^user[_:]', '') FROM (
            SELECT jsonb_object_keys(tags) AS key FROM {S}.cost_data
            WHERE team_id = :team AND usage_date >= :start AND usage_date < :end
              AND tags IS NOT NULL
            UNION SELECT substr(grouping, 5) FROM {S}.ce_costs
            WHERE team_id = :team AND grouping LIKE 'tag:%'
              AND usage_date >= :start AND usage_date < :end
            UNION {normalised}
        ) keys ORDER BY 1 LIMIT 200
        """),
        {"team": team_id, "start": start, "end": end},
    )
    return [key for (key,) in rows.all() if key]


def period_label(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
