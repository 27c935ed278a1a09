"""Budgets: what one covers, its period, its thresholds, and which crossings are due an alert."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from uuid import UUID

from cloudaudit.common.errors import DomainError

ACCOUNT_ID = re.compile(r"^\d{12}$")
MAX_THRESHOLDS = 10
MAX_THRESHOLD_PCT = Decimal(1000)


class BudgetRejected(DomainError):
    """A budget that cannot be recorded as given; the message says how to fix it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


class BudgetPeriod(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"

    @classmethod
    def parse(cls, text: str) -> BudgetPeriod:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise BudgetRejected(
                "invalid_period",
                f"unknown budget period {text!r}; use monthly, quarterly or yearly",
            ) from None

    def bounds(self, day: date) -> tuple[date, date, str]:
        """First day, last day and a stable key ('2026-04', '2026-Q2', '2026') of the period
        holding `day`."""
        if self is BudgetPeriod.YEARLY:
            return date(day.year, 1, 1), date(day.year, 12, 31), f"{day.year}"
        if self is BudgetPeriod.QUARTERLY:
            quarter = (day.month - 1) // 3
            first = date(day.year, 3 * quarter + 1, 1)
            last = _month_end(day.year, 3 * quarter + 3)
            return first, last, f"{day.year}-Q{quarter + 1}"
        return day.replace(day=1), _month_end(day.year, day.month), f"{day:%Y-%m}"


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


class CostMetric(StrEnum):
    UNBLENDED = "unblended"
    AMORTIZED = "amortized"

    @classmethod
    def parse(cls, text: str) -> CostMetric:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise BudgetRejected(
                "invalid_metric", f"unknown cost metric {text!r}; use unblended or amortized"
            ) from None


@dataclass(frozen=True, slots=True)
class BudgetScope:
    """The spend a budget covers: the whole team, one account, one service or one tag value."""

    kind: str  # team | account | service | tag
    value: str | None = None  # account id, service name, or 'Key=value'

    @classmethod
    def parse(cls, text: str) -> BudgetScope:
        given = text.strip()
        if given.lower() in ("", "team", "all"):
            return cls("team")
        kind, _, value = given.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if kind == "account" and ACCOUNT_ID.match(value):
            return cls("account", value)
        if kind == "service" and value:
            return cls("service", value)
        if kind == "tag" and re.match(r"^[^=\s]+=.+$", value):
            return cls("tag", value)
        raise BudgetRejected(
            "invalid_scope",
            f"cannot read the scope {text!r}; use team, account:123456789012, "
            "service:AmazonEC2 or tag:Project=checkout",
        )

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value}"


class ThresholdBasis(StrEnum):
    ACTUAL = "actual"
    FORECAST = "forecast"


@dataclass(frozen=True, slots=True, order=True)
class Threshold:
    basis: ThresholdBasis
    percent: Decimal

    def __str__(self) -> str:
        prefix = "f" if self.basis is ThresholdBasis.FORECAST else ""
        return f"{prefix}{self.percent.normalize():f}"


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    """'50,80,100,f100': percentages of the budget on actual spend; an 'f' prefix means on
    the forecast total of the period."""
    out: set[Threshold] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        basis = ThresholdBasis.FORECAST if part.startswith("f") else ThresholdBasis.ACTUAL
        number = part.lstrip("f").rstrip("%")
        try:
            percent = Decimal(number)
        except InvalidOperation:
            percent = Decimal(-1)
        if not 0 < percent <= MAX_THRESHOLD_PCT:
            raise BudgetRejected(
                "invalid_threshold",
                f"threshold {part!r} is not a percentage between 0 and {MAX_THRESHOLD_PCT}; "
                "write e.g. 50,80,100,f100 (f: on the forecast)",
            )
        out.add(Threshold(basis, percent))
    if not out:
        raise BudgetRejected(
            "invalid_threshold", "a budget needs at least one threshold, e.g. 80,100,f100"
        )
    if len(out) > MAX_THRESHOLDS:
        raise BudgetRejected("invalid_threshold", f"at most {MAX_THRESHOLDS} thresholds per budget")
    return tuple(sorted(out))


def check_amount(amount: Decimal) -> Decimal:
    if not amount.is_finite() or amount <= 0:
        raise BudgetRejected(
            "invalid_amount", f"the budget amount must be more than 0 (got {amount})"
        )
    return amount.quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    budget_id: UUID
    team_id: UUID
    name: str
    scope: BudgetScope
    period: BudgetPeriod
    amount: Decimal
    thresholds: tuple[Threshold, ...]
    metric: CostMetric = CostMetric.UNBLENDED


@dataclass(frozen=True, slots=True, kw_only=True)
class Crossing:
    """A threshold the period's spend has reached; `key` is unique per budget, period and
    threshold, so an alert for it is recorded once however often the check runs."""

    budget_id: UUID
    period_key: str
    threshold: Threshold
    spend: Decimal  # actual, or forecast total, that crossed
    limit: Decimal  # the amount of the threshold

    @property
    def key(self) -> str:
        return f"{self.budget_id}:{self.period_key}:{self.threshold}"


def crossings(
    budget: Budget,
    day: date,
    actual: Decimal,
    forecast_total: Decimal | None,
    already_alerted: Collection[str] = (),
) -> Sequence[Crossing]:
    """Thresholds of `budget` crossed by the period's spend on `day` and not alerted yet.

    Forecast thresholds need a forecast; a forecast below the actual spend (a credit the model
    has not seen) never hides a crossing of the actual."""
    _, _, period_key = budget.period.bounds(day)
    out = []
    for threshold in budget.thresholds:
        limit = (budget.amount * threshold.percent / 100).quantize(Decimal("0.01"))
        if threshold.basis is ThresholdBasis.ACTUAL:
            spend: Decimal | None = actual
        else:
            spend = None if forecast_total is None else max(forecast_total, actual)
        if spend is None or spend < limit:
            continue
        crossing = Crossing(
            budget_id=budget.budget_id,
            period_key=period_key,
            threshold=threshold,
            spend=spend,
            limit=limit,
        )
        if crossing.key not in already_alerted:
            out.append(crossing)
    return out
