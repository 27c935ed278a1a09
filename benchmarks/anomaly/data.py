"""Labelled synthetic AWS cost series for the anomaly benchmark (daily and hourly).

What real bills show, and what the labels say about it:
- prod and dev accounts; dev compute is mostly switched off at weekends (factor 0.2-0.6),
  prod dips a little; organic growth of -2..+6 % a month; proportional noise of 2-12 % with
  the odd heavier day;
- month-start charges that recur (AWS Support, Tax, Savings Plans and reserved-instance
  fees, Route 53 hosted zones, Marketplace subscriptions): 5-20x the series' daily usage on
  the 1st - normal, never labelled;
- material events (default thresholds: excess >= $100 and >= 20 %): spikes of 1-3 days, level
  shifts that stay or get fixed after 3-14 days, slow leaks ramping over 2-6 weeks, including
  small services jumping many-fold ($1/day to $60/day);
- immaterial changes (total excess under ~$15, or under 10 %) and drops (outages,
  clean-ups): labelled so false alerts on them are attributed, never targets.

Usage: python benchmarks/anomaly/data.py OUT_DIR [--seed N] [--accounts N] [--days N] [--hourly]
writes OUT_DIR/{daily,hourly}.csv (series_id,timestamp,value,account,service,region) and
OUT_DIR/{daily,hourly}_labels.csv (series_id,kind,start,end,material,impact).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

MIN_IMPACT_USD = 100.0
MIN_IMPACT_PCT = 20.0
WARM_UP_DAYS = 60
START = datetime(2025, 1, 1, tzinfo=UTC)

# service: (low, high) daily cost in USD, weekend-sensitive in dev accounts
SERVICES: dict[str, tuple[float, float, bool]] = {
    "AmazonEC2": (40, 2500, True),
    "AmazonRDS": (15, 1200, True),
    "AmazonS3": (3, 400, False),
    "AWSLambda": (0.5, 150, True),
    "AmazonCloudWatch": (2, 120, False),
    "AmazonDynamoDB": (1, 250, False),
    "AWSELB": (4, 90, False),
    "AmazonVPC": (3, 150, False),
    "AmazonEKS": (4.8, 20, False),
    "AmazonECR": (0.5, 15, False),
    "awskms": (0.3, 8, False),
    "AWSQueueService": (0.3, 25, True),
    "AmazonCloudFront": (2, 300, False),
    "AWSDataTransfer": (4, 250, True),
    "AmazonElastiCache": (5, 300, False),
    "AmazonOpenSearchService": (6, 400, False),
}
# Services whose bill lands (mostly) on the 1st: (daily usage low, high, fee multiple low, high)
MONTH_START_SERVICES: dict[str, tuple[float, float, float, float]] = {
    "AWSSupportBusiness": (0.0, 0.0, 0.0, 0.0),  # fee = share of last month's spend
    "Tax": (0.0, 0.0, 0.0, 0.0),
    "SavingsPlansForComputeUsage": (20, 600, 5, 20),
    "AmazonRoute53": (0.5, 15, 5, 20),
    "AWSMarketplace": (1, 60, 5, 20),
}
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]


@dataclass
class Series:
    series_id: str
    account: str
    service: str
    region: str
    base: float
    weekend: float
    growth_per_day: float
    noise: float
    month_start_multiple: float = 0.0
    month_start_share: float = 0.0  # of the account's previous month (support, tax)
    hourly_profile: list[float] = field(default_factory=list)


@dataclass
class Event:
    series_id: str
    kind: str
    start: int  # step index
    end: int
    material: bool
    impact: float = 0.0
    effect: dict[int, float] = field(default_factory=dict)  # step -> added (or multiplied) cost
    multiplicative: bool = False


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def make_series(rng: random.Random, accounts: int, steps_per_day: int) -> list[Series]:
    out: list[Series] = []
    for a in range(accounts):
        account = f"{rng.randrange(10**11, 10**12):012d}"
        dev = a % 3 == 2
        chosen = rng.sample(sorted(SERVICES), k=rng.randint(7, 12))
        for service in chosen:
            low, high, weekend_sensitive = SERVICES[service]
            region = rng.choice(REGIONS[:3]) if service not in {"AmazonCloudFront"} else "global"
            if dev:
                low, high = low / 4, high / 4
            weekend = (
                rng.uniform(0.2, 0.6)
                if dev and weekend_sensitive
                else rng.uniform(0.85, 1.0)
                if weekend_sensitive
                else rng.uniform(0.95, 1.05)
            )
            series = Series(
                series_id=f"{account}/{service}/{region}",
                account=account,
                service=service,
                region=region,
                base=_log_uniform(rng, max(low, 0.3), high),
                weekend=weekend,
                growth_per_day=rng.uniform(-0.02, 0.06) / 30.44,
                noise=rng.uniform(0.02, 0.12),
            )
            if service == "AmazonEC2" and rng.random() < 0.3:  # reserved-instance fees
                series.month_start_multiple = rng.uniform(2, 6)
            out.append(series)
        for service in rng.sample(sorted(MONTH_START_SERVICES), k=rng.randint(2, 4)):
            low, high, m_low, m_high = MONTH_START_SERVICES[service]
            series = Series(
                series_id=f"{account}/{service}/global",
                account=account,
                service=service,
                region="global",
                base=_log_uniform(rng, low, high) if high else 0.0,
                weekend=1.0,
                growth_per_day=rng.uniform(0, 0.03) / 30.44,
                noise=rng.uniform(0.02, 0.08),
                month_start_multiple=rng.uniform(m_low, m_high) if m_high else 0.0,
                month_start_share=(
                    rng.uniform(0.03, 0.10)
                    if service == "AWSSupportBusiness"
                    else rng.uniform(0.05, 0.09)
                    if service == "Tax"
                    else 0.0
                ),
            )
            out.append(series)
    if steps_per_day > 1:
        for series in out:
            office = series.service in {
                "AmazonEC2",
                "AWSLambda",
                "AWSDataTransfer",
                "AWSQueueService",
            }
            profile = [(1.0 + (0.6 if office and 8 <= h <= 19 else 0.0)) for h in range(24)]
            total = sum(profile)
            series.hourly_profile = [p * 24 / total for p in profile]
    return out


def _plan_events(rng: random.Random, series: Series, days: int, steps_per_day: int) -> list[Event]:
    """Non-overlapping events after the warm-up, about one material event per ~10 months."""
    events: list[Event] = []
    day = WARM_UP_DAYS + rng.randint(0, 120)
    if series.base <= 0:
        return events
    while day < days - 20:
        roll = rng.random()
        level = series.base * (1 + series.growth_per_day) ** day
        spd = steps_per_day
        start = day * spd
        if roll < 0.22:  # material spike
            length = rng.randint(1, 3) * (1 if spd == 1 else rng.choice([1, 1, 2]))
            duration_steps = length if spd == 1 else rng.randint(2, 12) * length
            per_step_level = level / spd
            total = max(MIN_IMPACT_USD * rng.uniform(1.3, 6), level * rng.uniform(0.5, 2.0))
            per_step = max(total / duration_steps, per_step_level * rng.uniform(0.4, 3))
            effect = {start + i: per_step for i in range(duration_steps)}
            events.append(
                Event(
                    series.series_id,
                    "spike",
                    start,
                    start + duration_steps - 1,
                    True,
                    per_step * duration_steps,
                    effect,
                )
            )
        elif roll < 0.37:  # lasting level shift (small services jump many-fold)
            if level < 10 and rng.random() < 0.5:
                delta = rng.uniform(40, 80) - level  # $1/day service running at $60/day
            else:
                delta = max(MIN_IMPACT_USD * rng.uniform(1.3, 4) / 7, level * rng.uniform(0.3, 1.5))
            effect = {s: delta / spd for s in range(start, days * spd)}
            # labelled by its first week: the excess that makes it material
            events.append(
                Event(
                    series.series_id,
                    "level_shift",
                    start,
                    start + 7 * spd - 1,
                    True,
                    delta * 7,
                    effect,
                )
            )
            break
        elif roll < 0.47:  # shift that gets fixed
            delta = max(MIN_IMPACT_USD * rng.uniform(1.3, 4) / 5, level * rng.uniform(0.3, 1.5))
            length = rng.randint(4, 14)
            end = start + length * spd - 1
            effect = {s: delta / spd for s in range(start, end + 1)}
            events.append(
                Event(
                    series.series_id, "level_shift_fixed", start, end, True, delta * length, effect
                )
            )
            day += length
        elif roll < 0.57:  # slow leak
            length = rng.randint(14, 42)
            final = max(level * rng.uniform(0.5, 2.0), MIN_IMPACT_USD * 4 / length)
            end = start + length * spd - 1
            effect = {}
            for s in range(start, end + 1):
                effect[s] = final * ((s - start + 1) / (length * spd)) / spd
            fixed = rng.random() < 0.6
            if not fixed:
                for s in range(end + 1, days * spd):
                    effect[s] = final / spd
            impact = sum(v for k, v in effect.items() if k <= end)
            events.append(Event(series.series_id, "leak", start, end, True, impact, effect))
            if not fixed:
                break
            day += length
        elif roll < 0.72:  # immaterial: a few dollars, or a few percent
            length = rng.randint(1, 5)
            if rng.random() < 0.5 or level * 0.08 * length > 12:
                total = rng.uniform(3, 12)
            else:
                total = level * rng.uniform(0.03, 0.08) * length
            effect = {s: total / (length * spd) for s in range(start, start + length * spd)}
            events.append(
                Event(
                    series.series_id,
                    "immaterial",
                    start,
                    start + length * spd - 1,
                    False,
                    total,
                    effect,
                )
            )
        elif roll < 0.85:  # outage or clean-up
            length = rng.randint(1, 7)
            factor = rng.uniform(0.0, 0.5)
            permanent = rng.random() < 0.3
            end = days * spd - 1 if permanent else start + length * spd - 1
            effect = {s: factor for s in range(start, end + 1)}
            events.append(
                Event(series.series_id, "drop", start, end, False, 0.0, effect, multiplicative=True)
            )
            if permanent:
                break
        day = (events[-1].end // spd if events else day) + rng.randint(45, 200)
    return events


def generate(
    seed: int = 7, accounts: int = 12, days: int = 540, steps_per_day: int = 1
) -> tuple[list[tuple[str, datetime, float, str, str, str]], list[Event]]:
    rng = random.Random(seed)
    all_series = make_series(rng, accounts, steps_per_day)
    events: list[Event] = []
    per_series_events: dict[str, list[Event]] = {}
    for series in all_series:
        planned = _plan_events(rng, series, days, steps_per_day)
        per_series_events[series.series_id] = planned
        events.extend(planned)
    step = timedelta(days=1) / steps_per_day
    total_steps = days * steps_per_day
    values: dict[str, list[float]] = {}
    account_month: dict[tuple[str, int, int], float] = {}
    # usage series first (support and tax are billed on them)
    ordered = sorted(all_series, key=lambda s: s.month_start_share > 0)
    for series in ordered:
        out: list[float] = []
        for i in range(total_steps):
            at = START + step * i
            day = i // steps_per_day
            cost = series.base * (1 + series.growth_per_day) ** day
            if at.weekday() >= 5:
                cost *= series.weekend
            cost /= steps_per_day
            if series.hourly_profile:
                cost *= series.hourly_profile[at.hour]
            noise = rng.gauss(0, series.noise)
            if rng.random() < 0.03:
                noise += rng.uniform(0.1, 0.3) * rng.choice([-1, 1])
            cost *= max(0.0, 1 + noise)
            first_step_of_month = at.day == 1 and at.hour == 0 and at.minute == 0
            if first_step_of_month:
                if series.month_start_multiple:
                    cost += (
                        series.base
                        * (1 + series.growth_per_day) ** day
                        * series.month_start_multiple
                        * rng.uniform(0.95, 1.05)
                    )
                if series.month_start_share:
                    prev = at - timedelta(days=1)
                    spend = account_month.get((series.account, prev.year, prev.month), 0.0)
                    cost += spend * series.month_start_share
            for event in per_series_events[series.series_id]:
                if i in event.effect:
                    cost = (
                        cost * event.effect[i] if event.multiplicative else cost + event.effect[i]
                    )
            cost = round(cost, 4)
            out.append(cost)
            if not series.month_start_share:
                key = (series.account, at.year, at.month)
                account_month[key] = account_month.get(key, 0.0) + cost
        values[series.series_id] = out
    rows = []
    ids = sorted(values)
    lookup = {s.series_id: s for s in all_series}
    for i in range(total_steps):
        at = START + step * i
        for series_id in ids:
            s = lookup[series_id]
            rows.append((series_id, at, values[series_id][i], s.account, s.service, s.region))
    return rows, events


def _stamp(at: datetime, steps_per_day: int) -> str:
    return at.strftime("%Y-%m-%d") if steps_per_day == 1 else at.strftime("%Y-%m-%d %H:%M:%S")


def write(
    out_dir: Path,
    name: str,
    rows: list[tuple[str, datetime, float, str, str, str]],
    events: list[Event],
    steps_per_day: int,
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    data_path, labels_path = out_dir / f"{name}.csv", out_dir / f"{name}_labels.csv"
    with data_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["series_id", "timestamp", "value", "account", "service", "region"])
        for series_id, at, value, account, service, region in rows:
            w.writerow(
                [series_id, _stamp(at, steps_per_day), f"{value:.4f}", account, service, region]
            )
    step = timedelta(days=1) / steps_per_day
    with labels_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["series_id", "kind", "start", "end", "material", "impact"])
        for e in events:
            w.writerow(
                [
                    e.series_id,
                    e.kind,
                    _stamp(START + step * e.start, steps_per_day),
                    _stamp(START + step * e.end, steps_per_day),
                    int(e.material),
                    f"{e.impact:.2f}",
                ]
            )
    return data_path, labels_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--hourly", action="store_true", help="also write hourly.csv")
    args = parser.parse_args()
    rows, events = generate(args.seed, args.accounts, args.days, 1)
    print(*write(args.out_dir, "daily", rows, events, 1))
    if args.hourly:
        rows, events = generate(args.seed + 1, max(2, args.accounts // 4), 120, 24)
        print(*write(args.out_dir, "hourly", rows, events, 24))


if __name__ == "__main__":
    main()
