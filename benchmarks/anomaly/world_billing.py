"""World "billing": additive bills built from resources and billing artefacts, apart from data.py.

Model: a usage series is the sum of running resources (a count of instances at a fixed price
that autoscales as a bounded random walk: autocorrelated, in steps) plus metered usage with
Gamma-distributed noise, plus what the billing system adds:
- reserved-instance recurring fees on the usage series itself on the 1st (6-18x a day);
- Savings Plans fees, Route 53 hosted zones ($0.50 a zone), Marketplace subscriptions on the
  1st, each its own series (near $0 the rest of the month);
- AWS Support (tiered 10/7/5/3 %, at least $100) from the previous month, on the 1st;
- late-restated days: a day first reported short with the rest landing on the next day;
- services that start (exactly $0 before: a new service is an event when material) and
  dev accounts whose weekday pattern is learnt from few weeks;
- tiny services ($0.01-$2 a day) beside large ones.
Fee and restatement steps are zone `trap`. History before the first event: 60 days daily,
14 days hourly.

    python benchmarks/anomaly/world_billing.py OUT.csv [--seed 201] [--hourly]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.anomaly.labelling import MATERIAL, TRAP, LabelledSeries, inject, write
from benchmarks.anomaly.world_heavy import support_fee

START = datetime(2026, 3, 9, tzinfo=UTC)
DAILY_DAYS, HOURLY_DAYS = 140, 40
DAILY_SEED, HOURLY_SEED = 201, 202


def _first_of_month(at: datetime, steps_per_day: int) -> bool:
    return at.day == 1 and (steps_per_day == 1 or at.hour == 0)


def _usage(
    rng: random.Random,
    price: float,
    count: int,
    metered: float,
    dev: bool,
    steps_per_day: int,
    stamps: list[datetime],
) -> list[float]:
    shape = rng.uniform(4, 40)  # Gamma shape: small = heavy relative noise
    weekday_only = dev and rng.random() < 0.7
    home = count
    out = []
    for at in stamps:
        if count >= 6 and rng.random() < 0.15 / steps_per_day:
            count += rng.choice((-1, 1)) if count == home else (1 if count < home else -1)
        running = count
        if weekday_only and (at.weekday() >= 5 or (steps_per_day > 1 and not 7 <= at.hour < 19)):
            running = max(0, count // 5)
        usage = metered * rng.gammavariate(shape, 1 / shape)
        if steps_per_day > 1 and dev and not 7 <= at.hour < 19:
            usage *= 0.3
        out.append((running * price + usage) / steps_per_day)
    return out


def generate(seed: int, steps_per_day: int, accounts: int = 8) -> list[LabelledSeries]:
    rng = random.Random(seed)
    days = DAILY_DAYS if steps_per_day == 1 else HOURLY_DAYS
    steps = days * steps_per_day
    stamps = [START + timedelta(hours=24 * t / steps_per_day) for t in range(steps)]
    history = (60 if steps_per_day == 1 else 14) * steps_per_day
    out: list[LabelledSeries] = []
    for a in range(accounts):
        account = f"{rng.randrange(10**11, 10**12)}"
        dev = a % 3 == 2
        usage_series: list[LabelledSeries] = []
        for s in range(rng.randint(4, 8)):
            tiny = rng.random() < 0.3
            if tiny:
                price, count, metered = 0.0, 0, math.exp(rng.uniform(math.log(0.01), math.log(2)))
            else:
                price = math.exp(rng.uniform(math.log(5), math.log(300)))
                count = rng.randint(1, 30)
                metered = price * count * rng.uniform(0.05, 0.6)
            sid = f"{account}/svc{s}"
            values = _usage(rng, price, count, metered, dev, steps_per_day, stamps)
            series = LabelledSeries(sid, stamps, values, ["normal"] * steps)
            if not tiny and rng.random() < 0.35:  # reserved-instance recurring fee on the 1st
                multiple = rng.uniform(6, 18)
                fee = multiple * (price * count + metered)
                for t, at in enumerate(stamps):
                    if _first_of_month(at, steps_per_day):
                        series.values[t] += fee
                        series.zones[t] = "trap"
            if rng.random() < 0.2:  # a new service: exactly $0 until it starts
                begin = rng.randrange(history, steps - 8 * steps_per_day)
                for t in range(begin):
                    series.values[t] = 0.0
                    series.zones[t] = "normal"
                excess = series.values[begin : begin + 7 * steps_per_day]
                first = sum(excess[:24]) if steps_per_day > 1 else sum(excess)
                zone = (
                    "shift"
                    if first >= MATERIAL[steps_per_day]
                    else ("trap" if first <= TRAP[steps_per_day] else "normal")
                )
                if zone != "normal":
                    for t in range(begin, begin + min(len(excess), 2 * steps_per_day)):
                        series.zones[t] = zone
                        series.event_ids[t] = f"{sid}-start"
            elif steps_per_day == 1 and rng.random() < 0.3:  # late-restated days
                for _ in range(rng.randint(1, 3)):
                    t = rng.randrange(history, steps - 2)
                    if series.zones[t] == series.zones[t + 1] == "normal":
                        moved = series.values[t] * rng.uniform(0.1, 0.35)
                        series.values[t] -= moved
                        series.values[t + 1] += moved
                        series.zones[t + 1] = "trap"
                inject(rng, series, steps_per_day, history, rng.randint(1, 3), sid)
            else:
                inject(rng, series, steps_per_day, history, rng.randint(1, 3), sid)
            usage_series.append(series)
        out.extend(usage_series)
        fee_series = {
            "AWSSupportBusiness": 0.0,
            "SavingsPlansRecurringFee": rng.choice((0.0, rng.uniform(50, 3000))),
            "AmazonRoute53": 0.5 * rng.randint(1, 40),
            "AWSMarketplace": rng.choice((0.0, rng.uniform(20, 2000))),
        }
        month_spend = 0.0
        fees = {
            name: LabelledSeries(f"{account}/{name}", stamps, [0.0] * steps, ["normal"] * steps)
            for name, amount in fee_series.items()
            if amount or name == "AWSSupportBusiness"
        }
        for t, at in enumerate(stamps):
            for name, series in fees.items():
                if name == "AmazonRoute53":  # queries: cents a day
                    series.values[t] = 0.02 * rng.gammavariate(4, 0.25) / steps_per_day
            if _first_of_month(at, steps_per_day):
                for name, series in fees.items():
                    amount = (
                        support_fee(month_spend)
                        if name == "AWSSupportBusiness"
                        else (fee_series[name])
                    )
                    if name != "AWSSupportBusiness" or month_spend > 0:
                        series.values[t] += amount
                        series.zones[t] = "trap"
                month_spend = 0.0
            month_spend += sum(s.values[t] for s in usage_series)
        out.extend(fees.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--hourly", action="store_true")
    args = parser.parse_args()
    spd = 24 if args.hourly else 1
    seed = args.seed if args.seed is not None else (HOURLY_SEED if args.hourly else DAILY_SEED)
    points, events = write(args.out, generate(seed, spd), spd)
    print(f"{args.out}: {points:,} points, {events} material events (seed {seed})")


if __name__ == "__main__":
    main()
