"""Cost Explorer: which days to pull, the requests to make, and its answers as exact daily rows.

Cost Explorer answers GetCostAndUsage with one entry per day; grouped requests leave `Total`
empty (`{}`) and split a day's groups across pages (NextPageToken), so a day's groups are
gathered from every page before they are used. Days of the open billing period come back with
`Estimated: true` and change until AWS closes the month: they are pulled again on every sync
and replace what was stored.

An answer is taken as it is only where it can be: a metric it lacks is "not available" (None),
never zero; days outside the window asked for are clipped (a sync replaces exactly its window,
so a day beyond it would be stored twice by the next one); a group answered twice for one day,
an unreadable or absurd amount, or a group without UnblendedCost refuses the whole answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

CE_REQUEST_COST = Decimal("0.01")  # USD per paginated API request (AWS price list, 2024)
METRICS = ("UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "UsageQuantity")
NO_REGION = "global"
UNTAGGED = "(untagged)"
SERVICE_CHARS, DETAIL_CHARS = 255, 512  # ce_costs.service, ce_costs.detail
AMOUNT_LIMIT = Decimal(10) ** 18  # as for report amounts: nothing a real bill holds


@dataclass(frozen=True)
class Grouping:
    """How one request groups a day's cost (Cost Explorer allows two group keys)."""

    name: str
    group_by: tuple[tuple[str, str], ...]  # (Type, Key)

    def request_group_by(self) -> list[dict[str, str]]:
        return [{"Type": kind, "Key": key} for kind, key in self.group_by]


SERVICE_REGION = Grouping("service_region", (("DIMENSION", "SERVICE"), ("DIMENSION", "REGION")))
SERVICE_USAGE_TYPE = Grouping(
    "service_usage_type", (("DIMENSION", "SERVICE"), ("DIMENSION", "USAGE_TYPE"))
)


def tag_grouping(tag_key: str) -> Grouping:
    return Grouping(f"tag:{tag_key}", (("DIMENSION", "SERVICE"), ("TAG", tag_key)))


@dataclass(frozen=True)
class CeCost:
    """One group of one day: e.g. (Amazon EC2, us-east-1) on 2024-03-01."""

    usage_date: date
    grouping: str
    service: str
    detail: str  # region, usage type or tag value, per grouping
    unblended_cost: Decimal
    # None: the answer did not carry the metric ("not available", never a zero).
    blended_cost: Decimal | None
    amortized_cost: Decimal | None
    net_unblended_cost: Decimal | None
    usage_quantity: Decimal | None
    estimated: bool


@dataclass
class CeDay:
    usage_date: date
    estimated: bool = False
    costs: list[CeCost] = field(default_factory=list)
    total_unblended: Decimal = Decimal(0)


class CeAnswerInvalid(ValueError):
    """Cost Explorer answered something we cannot read exactly (never silently zeroed)."""


def sync_window(
    today: date,
    initial_days: int,
    last_synced_day: date | None,
    oldest_estimated_day: date | None,
    restate_days: int,
    max_days: int,
    requested_days: int | None = None,
) -> tuple[date, date]:
    """[start, end) to pull: history on first sync, then from the watermark, always re-pulling
    the days AWS may still restate. `end` is today: today's partial day is not pulled."""
    end = today
    earliest_allowed = today - timedelta(days=max_days)
    if requested_days is not None:
        start = today - timedelta(days=min(requested_days, max_days))
    elif last_synced_day is None:
        start = today - timedelta(days=min(initial_days, max_days))
    else:
        start = min(last_synced_day + timedelta(days=1), today - timedelta(days=restate_days))
        if oldest_estimated_day is not None:
            start = min(start, oldest_estimated_day)
    start = max(start, earliest_allowed)
    return min(start, end), end


def cost_and_usage_request(
    start: date, end: date, grouping: Grouping, page_token: str | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": list(METRICS),
        "GroupBy": grouping.request_group_by(),
    }
    if page_token:
        request["NextPageToken"] = page_token
    return request


def probe_request(today: date) -> dict[str, Any]:
    """The cheapest call that proves Cost Explorer answers: one day, one metric, no groups."""
    yesterday = today - timedelta(days=1)
    return {
        "TimePeriod": {"Start": yesterday.isoformat(), "End": today.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
    }


def _amount(metrics: Mapping[str, Any], name: str, where: str) -> Decimal | None:
    """The metric's amount, exactly; None when the answer does not carry it."""
    entry = metrics.get(name)
    raw = entry.get("Amount") if isinstance(entry, Mapping) else None
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CeAnswerInvalid(f"{where}: {name} amount {raw!r} is not a number") from None
    if not value.is_finite():
        raise CeAnswerInvalid(f"{where}: {name} amount {raw!r} is not finite")
    if abs(value) >= AMOUNT_LIMIT:
        raise CeAnswerInvalid(f"{where}: {name} amount {raw!r} is too large for a cost")
    return value


def _cost(day: date, grouping: Grouping, service: str, detail: str, metrics: Any) -> CeCost:
    where = f"{day} {service}/{detail}"
    metrics = metrics if isinstance(metrics, Mapping) else {}
    unblended = _amount(metrics, "UnblendedCost", where)
    if unblended is None:
        raise CeAnswerInvalid(f"{where} has no UnblendedCost (every group must carry it)")
    return CeCost(
        usage_date=day,
        grouping=grouping.name,
        service=service,
        detail=detail,
        unblended_cost=unblended,
        blended_cost=_amount(metrics, "BlendedCost", where),
        amortized_cost=_amount(metrics, "AmortizedCost", where),
        net_unblended_cost=_amount(metrics, "NetUnblendedCost", where),
        usage_quantity=_amount(metrics, "UsageQuantity", where),
        estimated=False,
    )


def _detail(grouping: Grouping, keys: list[str]) -> tuple[str, str]:
    service = keys[0] if keys else "(unknown)"
    detail = keys[1] if len(keys) > 1 else ""
    kind = grouping.group_by[1][0] if len(grouping.group_by) > 1 else ""
    if kind == "TAG":
        # Tag groups come back as "Key$value"; "Key$" is the untagged remainder.
        detail = detail.split("$", 1)[1] if "$" in detail else detail
        detail = detail or UNTAGGED
    elif grouping is SERVICE_REGION or grouping.name == SERVICE_REGION.name:
        detail = NO_REGION if detail in ("", "NoRegion", "global") else detail
    # Cut to what is stored (ce_costs keys) before groups are merged: two keys alike in what is
    # kept are one line, added up, not a duplicate key in the database.
    return (service or "(unknown)")[:SERVICE_CHARS], (detail or "(none)")[:DETAIL_CHARS]


def _day_of(result: Mapping[str, Any]) -> date:
    try:
        return date.fromisoformat(result["TimePeriod"]["Start"])
    except (KeyError, TypeError, ValueError):
        raise CeAnswerInvalid(f"result without a valid TimePeriod: {result!r}"[:300]) from None


def _keys(group: Mapping[str, Any], day: date) -> tuple[str, ...]:
    keys = tuple(str(k) for k in group.get("Keys") or [])
    if any("\x00" in key for key in keys):
        raise CeAnswerInvalid(f"{day}: group keys {keys!r} hold a NUL character"[:300])
    return keys


def merge_pages(pages: Iterable[Mapping[str, Any]], grouping: Grouping) -> dict[date, CeDay]:
    """Every day of every page, groups gathered across pages, totals summed from the groups.
    A group (or a lone total) answered twice for one day refuses the answer: pages split a
    day's groups, they never repeat one, and adding both would count it twice."""
    days: dict[date, CeDay] = {}
    seen: set[tuple[date, tuple[str, ...] | None]] = set()
    for page in pages:
        for result in page.get("ResultsByTime", []):
            day = _day_of(result)
            entry = days.setdefault(day, CeDay(usage_date=day))
            entry.estimated = entry.estimated or bool(result.get("Estimated", False))
            groups = result.get("Groups") or []
            for group in groups:
                keys = _keys(group, day)
                _once(seen, day, keys)
                service, detail = _detail(grouping, list(keys))
                entry.costs.append(_cost(day, grouping, service, detail, group.get("Metrics")))
            total = result.get("Total") or {}
            if not groups and total and grouping.group_by:
                # A grouped request answered with only a total: keep it, attributed to no group.
                _once(seen, day, None)
                detail = NO_REGION if grouping.name == SERVICE_REGION.name else "(none)"
                entry.costs.append(_cost(day, grouping, "(ungrouped)", detail, total))
    for entry in days.values():
        merged: dict[tuple[str, str], CeCost] = {}
        for cost in entry.costs:
            key = (cost.service, cost.detail)
            previous = merged.get(key)
            merged[key] = cost if previous is None else _add(previous, cost)
        entry.costs = [_with_estimated(c, entry.estimated) for c in merged.values()]
        entry.total_unblended = sum((c.unblended_cost for c in entry.costs), Decimal(0))
    return days


def _once(seen: set[tuple[date, tuple[str, ...] | None]], day: date, keys: Any) -> None:
    if (day, keys) in seen:
        shown = "the day's total" if keys is None else f"group {' / '.join(keys) or '(no keys)'}"
        raise CeAnswerInvalid(
            f"Cost Explorer answered {day} twice ({shown} appears twice in one answer)"
        )
    seen.add((day, keys))


@dataclass(frozen=True)
class Clipped:
    """Days an answer held outside the window asked for: left out, never stored."""

    days: tuple[date, ...]

    def __bool__(self) -> bool:
        return bool(self.days)

    def describe(self) -> str:
        first, last = min(self.days), max(self.days)
        span = str(first) if first == last else f"{first}..{last}"
        return f"{len(self.days)} day(s) outside the window ({span})"


def clip_to_window(
    days: dict[date, CeDay], start: date, end: date
) -> tuple[dict[date, CeDay], Clipped]:
    """The days in [start, end), and those the answer held beyond it."""
    kept = {day: entry for day, entry in days.items() if start <= day < end}
    return kept, Clipped(tuple(sorted(day for day in days if day not in kept)))


def _add(a: CeCost, b: CeCost) -> CeCost:
    """Two groups that name the same line (`NoRegion` and `global`, say), added up."""
    return CeCost(
        usage_date=a.usage_date,
        grouping=a.grouping,
        service=a.service,
        detail=a.detail,
        unblended_cost=a.unblended_cost + b.unblended_cost,
        blended_cost=_plus(a.blended_cost, b.blended_cost),
        amortized_cost=_plus(a.amortized_cost, b.amortized_cost),
        net_unblended_cost=_plus(a.net_unblended_cost, b.net_unblended_cost),
        usage_quantity=_plus(a.usage_quantity, b.usage_quantity),
        estimated=a.estimated or b.estimated,
    )


def _plus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """A sum of what is known (SQL's sum): not available only when neither is."""
    if a is None:
        return b
    return a if b is None else a + b


def _with_estimated(cost: CeCost, estimated: bool) -> CeCost:
    if cost.estimated == estimated:
        return cost
    return CeCost(**{**cost.__dict__, "estimated": estimated})


def backoff_delay(attempt: int, base_s: float, cap_s: float, random_unit: float) -> float:
    """Full jitter: a random wait in [0, min(cap, base * 2^attempt)) (AWS architecture blog)."""
    return float(random_unit * min(cap_s, base_s * (2.0**attempt)))
