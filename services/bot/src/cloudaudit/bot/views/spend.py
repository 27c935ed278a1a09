"""Spend answers: a headline, a compact table and where the chart went."""

from __future__ import annotations

from decimal import Decimal

from cloudaudit.bot.views.common import Block, context, escape, section, table, usd
from cloudaudit.common.events.cost import SpendGroupBy, SpendReply

TABLE_ROWS = 10


def group_label(group_by: SpendGroupBy, tag_key: str | None) -> str:
    if group_by is SpendGroupBy.TAG:
        return f"tag {escape(tag_key or '')}"
    return {SpendGroupBy.USAGE_TYPE: "usage type", SpendGroupBy.NONE: "total"}.get(
        group_by, group_by.value
    )


def spend_headline(reply: SpendReply, period_label: str, grouping: str) -> str:
    return f"Spend by {grouping}, {period_label}: {usd(reply.total)} {escape(reply.currency)}"


def spend_table(
    reply: SpendReply, period_label: str, grouping: str, chart_note: str | None = None
) -> list[Block]:
    if not reply.groups:
        return [
            section(
                f":bar_chart: *{spend_headline(reply, period_label, grouping)}*\n"
                "No spend recorded for this period yet. If you just connected an "
                "account, the first import can take a few minutes."
            )
        ]
    groups = sorted(reply.groups, key=lambda g: (-g.total, g.key))
    shown = groups[:TABLE_ROWS]
    rows = [(g.key or "(none)", usd(g.total)) for g in shown]
    rest = sum((g.total for g in groups[TABLE_ROWS:]), Decimal(0))
    if len(groups) > TABLE_ROWS:
        rows.append((f"{len(groups) - TABLE_ROWS} more", usd(rest)))
    rows.append(("Total", usd(reply.total)))
    blocks = [
        section(f":bar_chart: *{spend_headline(reply, period_label, grouping)}*"),
        section(table(rows)),
    ]
    if chart_note:
        blocks.append(context(chart_note))
    return blocks
