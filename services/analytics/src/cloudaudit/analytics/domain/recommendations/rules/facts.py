"""Evidence lines every rule writes the same way: ages, hourly rates and where a rate came from."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from cloudaudit.analytics.domain.recommendations.model import (
    Fact,
    number,
)
from cloudaudit.analytics.domain.recommendations.rates import (
    Priced,
)


def age_days(since: datetime | None, now: datetime) -> int | None:
    return None if since is None else max(0, (now - since).days)


def hourly_rate(hourly: Decimal) -> str:
    return f"${number(hourly, 4)} per hour"


def rate_facts(priced: Priced, label: str = "On-demand rate") -> list[Fact]:
    name = "Effective rate" if priced.from_report else label
    return [Fact(name, hourly_rate(priced.amount)), Fact("Rate source", priced.source)]


def rate_sources(priced: list[Priced]) -> str:
    return " and ".join(sorted({p.source for p in priced}))
