"""Spend charts as PNG (matplotlib, object API only: no global pyplot state, thread-safe)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from cloudaudit.common.events.cost import SpendGroup

CHART_SERIES = 6  # more stacked colours than this are unreadable on a phone
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#b0b0b0"]


def _series(groups: list[SpendGroup]) -> tuple[list[date], list[tuple[str, list[float]]]]:
    days = sorted({p.period for g in groups for p in g.points})
    ordered = sorted(groups, key=lambda g: (-g.total, g.key))
    shown, rest = ordered[:CHART_SERIES], ordered[CHART_SERIES:]
    series: list[tuple[str, list[float]]] = []
    for group in shown:
        by_day = {p.period: p.amount for p in group.points}
        series.append((group.key or "(none)", [float(by_day.get(d, Decimal(0))) for d in days]))
    if rest:
        other = [
            float(sum((p.amount for g in rest for p in g.points if p.period == d), Decimal(0)))
            for d in days
        ]
        series.append((f"{len(rest)} more", other))
    return days, series


def spend_chart_png(groups: list[SpendGroup], title: str, currency: str = "USD") -> bytes | None:
    """A stacked bar chart of spend per day (or month) and group; None when there is no data."""
    days, series = _series(groups)
    if not days:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(8, 4.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    positions = list(range(len(days)))
    bottom = [0.0] * len(days)
    for index, (label, values) in enumerate(series):
        axes.bar(
            positions,
            values,
            bottom=bottom,
            label=label[:40],
            color=PALETTE[index % len(PALETTE)],
            width=0.8,
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, len(days) // 10)
    axes.set_xticks(positions[::step])
    axes.set_xticklabels(
        [d.strftime("%b %d") for d in days[::step]], rotation=30, ha="right", fontsize=8
    )
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))
    axes.set_ylabel(currency)
    axes.set_title(title, fontsize=11)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(fontsize=7, loc="upper left", frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
