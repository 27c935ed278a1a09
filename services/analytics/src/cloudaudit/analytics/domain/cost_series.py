"""Cost series of one account-day: the account total and each service x region, with drivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from cloudaudit.analytics.domain.root_cause import driver_key
from cloudaudit.common.events.cost import CostDayRecorded

TOTAL = "*"


@dataclass(frozen=True, slots=True)
class SeriesRef:
    service: str | None  # None: the account total
    region: str | None

    def key(self, team_id: UUID, account_id: UUID) -> str:
        return f"{team_id}|{account_id}|{self.service or TOTAL}|{self.region or TOTAL}"


@dataclass(slots=True)
class SeriesDay:
    cost: Decimal = Decimal(0)
    summary_id: UUID | None = None
    drivers: dict[str, Decimal] = field(default_factory=dict)

    def add_driver(self, dimension: str, name: str, cost: Decimal) -> None:
        key = driver_key(dimension, name)
        self.drivers[key] = self.drivers.get(key, Decimal(0)) + cost


ACCOUNT_TOTAL = SeriesRef(None, None)


def series_of_day(event: CostDayRecorded) -> dict[SeriesRef, SeriesDay]:
    """What each series cost that day and what was behind it (for root cause)."""
    total = SeriesDay(cost=event.total_unblended_cost)
    out: dict[SeriesRef, SeriesDay] = {ACCOUNT_TOTAL: total}
    for line in event.lines:
        ref = SeriesRef(line.service, line.region)
        day = out.setdefault(ref, SeriesDay(summary_id=line.summary_id))
        day.cost += line.unblended_cost
        total.add_driver("service", line.service, line.unblended_cost)
        total.add_driver("region", line.region, line.unblended_cost)
        for driver in line.top_usage_types:
            day.add_driver("usage_type", driver.name, driver.cost)
            total.add_driver("usage_type", driver.name, driver.cost)
        for driver in line.top_resources:
            day.add_driver("resource", driver.name, driver.cost)
            total.add_driver("resource", driver.name, driver.cost)
    return out
