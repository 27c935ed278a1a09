"""Spend questions ("what did we spend, by what, over which days") and exact answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from cloudaudit.ingest.domain.errors import InvalidInput

OTHER = "Other"
MAX_RANGE_DAYS = 3 * 366


class Dimension(StrEnum):
    NONE = "none"
    SERVICE = "service"
    REGION = "region"
    USAGE_TYPE = "usage_type"
    ACCOUNT = "account"
    RESOURCE = "resource"
    DAY = "day"
    MONTH = "month"
    PROVIDER = "provider"  # aws, azure, gcp, oci: the account's provider
    CURRENCY = "currency"  # the billing currency of the line items (Cost Explorer: USD)
    TAG = "tag"

    @property
    def detailed(self) -> bool:
        """Answered from line items (and Cost Explorer's usage-type/tag groups), not summaries."""
        return self in (Dimension.USAGE_TYPE, Dimension.RESOURCE, Dimension.TAG, Dimension.CURRENCY)

    @property
    def chronological(self) -> bool:
        return self in (Dimension.DAY, Dimension.MONTH)


class Metric(StrEnum):
    UNBLENDED = "unblended"
    BLENDED = "blended"
    AMORTIZED = "amortized"
    PUBLIC_ON_DEMAND = "public_on_demand"

    @property
    def column(self) -> str:
        return f"{self.value}_cost"


class Points(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class SpendQuery:
    team_id: UUID
    start: date
    end: date  # exclusive
    dimension: Dimension = Dimension.SERVICE
    tag_key: str | None = None
    metric: Metric = Metric.UNBLENDED
    account_ids: tuple[UUID, ...] | None = None
    top: int | None = None  # None: every group
    points: Points | None = None


@dataclass
class SpendRow:
    """One group's amount: None is "not available" (no line in it carries the metric: Cost
    Explorer's public on-demand cost, or an answer without it), never a zero. `estimated`: a
    day in it is still Estimated (AWS may change it until the month closes)."""

    key: str
    amount: Decimal | None
    points: dict[date, Decimal | None] = field(default_factory=dict)
    estimated: bool = False

    def add(self, amount: Decimal | None, estimated: bool, period: date | None = None) -> None:
        self.amount = add_known(self.amount, amount)
        self.estimated = self.estimated or estimated
        if period is not None:
            self.points[period] = add_known(self.points.get(period), amount)


@dataclass
class SpendAnswer:
    query: SpendQuery
    total: Decimal | None
    rows: list[SpendRow]
    currency: str = "USD"
    estimated: bool = False


def add_known(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """A sum of what is known, as SQL sums: not available only when nothing is."""
    if a is None:
        return b
    return a if b is None else a + b


def total_of(rows: list[SpendRow]) -> Decimal | None:
    """No rows: nothing was spent (0). Rows that all lack the metric: not available."""
    if not rows:
        return Decimal(0)
    total: Decimal | None = None
    for row in rows:
        total = add_known(total, row.amount)
    return total


def parse_dimension(value: str) -> tuple[Dimension, str | None]:
    """'service', 'region', ..., or 'tag:KEY'."""
    raw = (value or "").strip()
    if raw.lower().startswith("tag:"):
        key = raw[4:].strip()
        if not key or len(key) > 128:
            raise InvalidInput(
                "--by tag:KEY needs a tag key of 1-128 characters, e.g. tag:Environment"
            )
        return Dimension.TAG, key
    try:
        return Dimension(raw.lower()), None
    except ValueError:
        choices = ", ".join(d.value for d in Dimension if d is not Dimension.TAG)
        raise InvalidInput(
            f"cannot group spend by {raw!r}: use one of {choices} or tag:KEY"
        ) from None


def parse_metric(value: str) -> Metric:
    try:
        return Metric(value.strip().lower().replace("-", "_"))
    except ValueError:
        raise InvalidInput(
            f"unknown metric {value!r}: use unblended, blended, amortized or public_on_demand"
        ) from None


def default_range(today: date) -> tuple[date, date]:
    """Month to date, today included."""
    return today.replace(day=1), today + timedelta(days=1)


def check_range(start: date, end: date) -> None:
    if end <= start:
        raise InvalidInput(f"--to ({end}) must be after --from ({start}); --to is exclusive")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"the range {start}..{end} is longer than {MAX_RANGE_DAYS} days; "
            f"ask for at most three years at a time"
        )


def whole_months(start: date, end: date) -> tuple[date, date] | None:
    """The whole calendar months inside [start, end), as [first month, month after last)."""
    first = start if start.day == 1 else _next_month(start.replace(day=1))
    last = end.replace(day=1)
    return (first, last) if first < last else None


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def rank(rows: list[SpendRow], dimension: Dimension, top: int | None) -> list[SpendRow]:
    """Largest first (calendar order for day/month); groups past `top` fold into 'Other'."""
    if dimension.chronological:
        return sorted(rows, key=lambda r: r.key)
    # Not available last: it is not a zero, but it is no amount to rank either.
    ordered = sorted(rows, key=lambda r: (r.amount is None, -(r.amount or 0), r.key))
    if top is None or len(ordered) <= top:
        return ordered
    kept, rest = ordered[:top], ordered[top:]
    other = SpendRow(key=OTHER, amount=None)
    for row in rest:
        other.add(row.amount, row.estimated)
        for period, amount in row.points.items():
            other.points[period] = add_known(other.points.get(period), amount)
    return [*kept, other]


NOT_AVAILABLE = "n/a"


def exact(amount: Decimal | None) -> str:
    """A decimal as text, exact, trailing zeros dropped but at least cents: '12.30', '0.0000007';
    an amount not available is 'n/a'."""
    if amount is None:
        return NOT_AVAILABLE
    text = format(amount.normalize(), "f") if amount else "0"
    whole, _, fraction = text.partition(".")
    if len(fraction) < 2:
        fraction = fraction.ljust(2, "0")
    if whole in ("-0", ""):
        whole = "-0" if text.startswith("-") else "0"
    return f"{whole}.{fraction}"


def plain(amount: Decimal | None) -> Decimal | None:
    """Sums carry the storage scale (0.192000000000); events carry the value (0.192)."""
    if amount is None:
        return None
    return amount.normalize() if amount else Decimal(0)
