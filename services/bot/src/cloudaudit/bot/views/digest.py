"""The spend digest: the period's total, top movers, open anomalies, best recommendations."""

from __future__ import annotations

from decimal import Decimal

from cloudaudit.bot.domain.digest import DigestPeriod, Mover
from cloudaudit.bot.views.anomalies import what
from cloudaudit.bot.views.common import (
    SEVERITY_ICON,
    Block,
    context,
    divider,
    escape,
    header,
    section,
    usd,
)
from cloudaudit.common.events.anomaly import AnomalySummary
from cloudaudit.common.events.recommendation import RecommendationSummary

TOP_RECOMMENDATIONS = 3
TOP_ANOMALIES = 5


def _mover(m: Mover) -> str:
    arrow = ":arrow_up_small:" if m.change > 0 else ":arrow_down_small:"
    share = (
        f" ({'+' if m.change > 0 else ''}{m.change_pct}%)" if m.change_pct is not None else " (new)"
    )
    return f"{arrow} *{escape(m.key)}* {usd(m.current)}, {'+' if m.change > 0 else ''}{usd(m.change)}{share}"


def digest_text(frequency: str, period: DigestPeriod, total: Decimal) -> str:
    return f"CloudAudit {frequency} digest for {escape(period.label)}: {usd(total)} spent"


def digest_message(
    frequency: str,
    period: DigestPeriod,
    total: Decimal,
    previous_total: Decimal,
    movers: list[Mover],
    anomalies: list[AnomalySummary],
    recommendations: list[RecommendationSummary],
) -> list[Block]:
    change = total - previous_total
    versus = (
        f"{'+' if change >= 0 else ''}{usd(change)} vs the previous "
        f"{'day' if frequency == 'daily' else 'week'}"
    )
    blocks: list[Block] = [
        header(f"{'Daily' if frequency == 'daily' else 'Weekly'} spend digest: {period.label}"),
        section(f":moneybag: *{usd(total)}* spent ({versus})."),
    ]
    if movers:
        blocks.append(section("*Top movers*\n" + "\n".join(_mover(m) for m in movers)))
    blocks.append(divider())
    if anomalies:
        lines = [
            f"{SEVERITY_ICON.get(a.severity.value, '')} {escape(what(a.service, a.region))} "
            f"`{escape(a.aws_account_id)}` · impact {usd(a.impact)}"
            for a in sorted(anomalies, key=lambda a: -a.impact)[:TOP_ANOMALIES]
        ]
        blocks.append(section(f"*Open anomalies ({len(anomalies)})*\n" + "\n".join(lines)))
    else:
        blocks.append(section(":white_check_mark: No open anomalies."))
    best = sorted(recommendations, key=lambda r: -r.estimated_monthly_savings)[:TOP_RECOMMENDATIONS]
    if best:
        total_savings = sum((r.estimated_monthly_savings for r in recommendations), Decimal(0))
        lines = [f"• {escape(r.title)}: {usd(r.estimated_monthly_savings)}/month" for r in best]
        blocks.append(
            section(
                f"*Top recommendations* (all open: {usd(total_savings)}/month)\n" + "\n".join(lines)
            )
        )
    blocks.append(
        context("`/cloudaudit alerts digest off` stops digests; `/cloudaudit spend` shows more.")
    )
    return blocks
