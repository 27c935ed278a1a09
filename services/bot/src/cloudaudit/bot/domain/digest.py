"""When a team's digest is due and what moved: pure functions over dates and amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloudaudit.common.events.cost import SpendGroup


@dataclass(frozen=True)
class DigestPeriod:
    key: str  # unique per team and period: 'daily:2026-11-24', 'weekly:2026-11-17'
    start: date
    end: date  # exclusive
    previous_start: date
    label: str


@dataclass(frozen=True)
class Mover:
    key: str
    current: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous

    @property
    def change_pct(self) -> Decimal | None:
        if self.previous == 0:
            return None
        return (self.change / self.previous * 100).quantize(Decimal("1"))


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def period_for(frequency: str, local_today: date) -> DigestPeriod:
    if frequency == "weekly":
        this_monday = local_today - timedelta(days=local_today.weekday())
        start = this_monday - timedelta(days=7)
        return DigestPeriod(
            f"weekly:{start.isoformat()}",
            start,
            this_monday,
            start - timedelta(days=7),
            f"week of {start:%b %d}",
        )
    start = local_today - timedelta(days=1)
    return DigestPeriod(
        f"daily:{start.isoformat()}",
        start,
        local_today,
        start - timedelta(days=1),
        f"{start:%A %b %d}",
    )


def due_period(
    frequency: str, hour: int, time_zone: str, now: datetime, last_key: str | None
) -> DigestPeriod | None:
    """The period to post now, or None. Weekly digests go out on Mondays."""
    if frequency not in ("daily", "weekly"):
        return None
    local = now.astimezone(zone(time_zone))
    if local.hour < hour:
        return None
    if frequency == "weekly" and local.weekday() != 0:
        return None
    period = period_for(frequency, local.date())
    return None if period.key == last_key else period


def split_totals(
    groups: list[SpendGroup], boundary: date
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per-group totals before `boundary` (previous period) and from it on (current)."""
    previous: dict[str, Decimal] = {}
    current: dict[str, Decimal] = {}
    for group in groups:
        for point in group.points:
            side = current if point.period >= boundary else previous
            side[group.key] = side.get(group.key, Decimal(0)) + point.amount
    return current, previous


def top_movers(
    current: dict[str, Decimal],
    previous: dict[str, Decimal],
    limit: int = 3,
    min_change: Decimal = Decimal("1"),
) -> list[Mover]:
    movers = [
        Mover(key, current.get(key, Decimal(0)), previous.get(key, Decimal(0)))
        for key in set(current) | set(previous)
    ]
    movers = [m for m in movers if abs(m.change) >= min_change]
    movers.sort(key=lambda m: (-abs(m.change), m.key))
    return movers[:limit]
