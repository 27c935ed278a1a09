"""Inventory facts from raw AWS answers: utilisation summaries and instance state times. Pure."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from cloudaudit.common.events.inventory import DailyUsage, UsageSummary

PERCENT_QUANTUM = Decimal("0.01")
BYTES_QUANTUM = Decimal(1)
# "User initiated (2026-10-01 12:00:00 GMT)": the only place EC2 says when an instance stopped.
_TRANSITION_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


@dataclass
class InstanceSeries:
    """Hourly CloudWatch datapoints of one instance (timestamps are UTC hour starts)."""

    cpu_average: dict[datetime, float] = field(default_factory=dict)
    cpu_maximum: dict[datetime, float] = field(default_factory=dict)
    network_in: dict[datetime, float] = field(default_factory=dict)
    network_out: dict[datetime, float] = field(default_factory=dict)


def _dec(value: float) -> Decimal:
    # CloudWatch answers in binary floats; repr() gives the shortest exact decimal of what it sent.
    return Decimal(repr(value))


def percentile(values: Sequence[Decimal], fraction: Decimal) -> Decimal:
    """Nearest-rank percentile (what CloudWatch's pNN statistics use)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = int((fraction * len(ordered)).to_integral_value(rounding="ROUND_CEILING"))
    return ordered[max(1, rank) - 1]


def _pct(value: Decimal) -> Decimal:
    return value.quantize(PERCENT_QUANTUM, rounding=ROUND_HALF_EVEN)


def summarise_usage(series: InstanceSeries, window_days: int) -> UsageSummary:
    """Per-day statistics and the window's p95 of hourly CPU averages."""
    days: dict[date, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for points, key in (
        (series.cpu_average, "cpu"),
        (series.cpu_maximum, "max"),
        (series.network_in, "in"),
        (series.network_out, "out"),
    ):
        for ts, value in points.items():
            days[ts.astimezone(UTC).date()][key].append(_dec(value))
    daily = []
    for day in sorted(days):
        values = days[day]
        daily.append(
            DailyUsage(
                day=day,
                cpu_average_percent=_pct(sum(values["cpu"]) / len(values["cpu"]))
                if values["cpu"]
                else None,
                cpu_max_percent=_pct(max(values["max"])) if values["max"] else None,
                network_in_bytes=sum(values["in"], Decimal(0)).quantize(BYTES_QUANTUM)
                if values["in"]
                else None,
                network_out_bytes=sum(values["out"], Decimal(0)).quantize(BYTES_QUANTUM)
                if values["out"]
                else None,
            )
        )
    hourly = [_dec(v) for v in series.cpu_average.values()]
    with_cpu = [d for d in daily if d.cpu_average_percent is not None]
    network = None
    network_hours = set(series.network_in) | set(series.network_out)
    if network_hours:
        total = sum(
            (_dec(v) for v in (*series.network_in.values(), *series.network_out.values())),
            Decimal(0),
        )
        network = (total * 24 / len(network_hours)).quantize(BYTES_QUANTUM)
    maxima = [_dec(v) for v in series.cpu_maximum.values()]
    return UsageSummary(
        window_days=window_days,
        days_with_data=len(with_cpu),
        hours_with_data=len(hourly),
        cpu_p95_percent=_pct(percentile(hourly, Decimal("0.95"))) if hourly else None,
        cpu_max_percent=_pct(max(maxima)) if maxima else None,
        cpu_average_percent=_pct(sum(hourly) / len(hourly)) if hourly else None,
        network_bytes_per_day=network,
        daily=daily,
    )


def state_changed_at(reason: str | None) -> datetime | None:
    """When an instance entered its state, from EC2's StateTransitionReason text."""
    if not reason:
        return None
    match = _TRANSITION_TIME.search(reason)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def name_tag(tags: Sequence[dict[str, str]] | None) -> str | None:
    for tag in tags or ():
        if tag.get("Key") == "Name":
            return tag.get("Value")
    return None
