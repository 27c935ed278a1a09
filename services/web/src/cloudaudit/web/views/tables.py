"""Pure views of spend answers: chart series, table rows, CSV (no I/O)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from cloudaudit.common.cli_support import csv_text
from cloudaudit.common.events.cost import SpendReply


@dataclass(frozen=True)
class SpendTable:
    periods: list[date]
    rows: list[tuple[str, list[Decimal], Decimal]]  # group key, amount per period, total
    total: Decimal


def spend_table(reply: SpendReply) -> SpendTable:
    periods = sorted({p.period for g in reply.groups for p in g.points})
    rows = []
    for group in reply.groups:
        by_period = {p.period: p.amount for p in group.points}
        rows.append((group.key, [by_period.get(day, Decimal(0)) for day in periods], group.total))
    return SpendTable(periods, rows, reply.total)


def chart_option(table: SpendTable) -> dict[str, Any]:
    """An ECharts option: stacked bars per group over time, legend toggles, zoom on time.
    Amounts travel as strings (exact cents); the chart parses them for drawing only."""
    return {
        "animation": False,  # the numbers are the point; and a screenshot shows them whole
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll"},
        "dataZoom": [{"type": "inside"}, {"type": "slider"}],
        "xAxis": {"type": "category", "data": [d.isoformat() for d in table.periods]},
        "yAxis": {"type": "value", "name": "USD"},
        "series": [
            {"name": key, "type": "bar", "stack": "spend", "data": [str(a) for a in amounts]}
            for key, amounts, _ in table.rows
        ],
    }


def spend_csv(table: SpendTable) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["group", *(d.isoformat() for d in table.periods), "total"])
    for key, amounts, total in table.rows:
        # keys come from the bill (tag values, service names): never a formula in a spreadsheet
        writer.writerow([csv_text(key), *(str(a) for a in amounts), str(total)])
    writer.writerow(["total", *("" for _ in table.periods), str(table.total)])
    return out.getvalue()
