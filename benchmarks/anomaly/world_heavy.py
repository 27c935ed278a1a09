"""World "heavy": multiplicative bills with heavy tails and wander, written apart from data.py.

Model: cost = base x weekly x hourly x exp(wander + noise) where
- wander is an AR(1) process on the log scale (phi 0.85-0.98): weeks of drift up and down
  that are normal, not events;
- noise is Student-t (3-6 degrees of freedom) on the log scale, 3-18 % scale: a day or hour
  40 % off now and then is normal;
- dev accounts sleep at weekends (10-60 %) and nights (hourly); prod barely moves;
- tiny services ($0.02-$3 a day) beside large ones ($200-$6,000 a day), tag-split series (one
  service split into 2-4 cost-allocation tags, each its own series);
- services that stop (a fall to zero for a while, or for good: zone `drop`);
- AWS Support (Business: 10 % of the first $10k, 7 % to $80k, 5 % to $250k, 3 % above,
  at least $100) and Tax on the 1st, from the previous month's spend: zone `trap`.
History before the first event: 60 days daily, 14 days hourly.

    python benchmarks/anomaly/world_heavy.py OUT.csv [--seed 101] [--hourly]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.anomaly.labelling import LabelledSeries, inject, write

START = datetime(2026, 2, 3, tzinfo=UTC)
DAILY_DAYS, HOURLY_DAYS = 150, 42
DAILY_SEED, HOURLY_SEED = 101, 102


def support_fee(month_spend: float) -> float:
    tiers = ((10_000, 0.10), (80_000, 0.07), (250_000, 0.05), (math.inf, 0.03))
    fee, floor = 0.0, 0.0
    for ceiling, rate in tiers:
        if month_spend > floor:
            fee += (min(month_spend, ceiling) - floor) * rate
        floor = ceiling
    return max(fee, 100.0)


def _student_t(rng: random.Random, df: float) -> float:
    z = rng.gauss(0.0, 1.0)
    chi = sum(rng.gauss(0.0, 1.0) ** 2 for _ in range(int(df)))
    return z / math.sqrt(chi / int(df))


def _usage(
    rng: random.Random,
    base: float,
    dev: bool,
    steps_per_day: int,
    steps: int,
    stamps: list[datetime],
) -> list[float]:
    phi = rng.uniform(0.85, 0.98)
    wander_sd = rng.uniform(0.01, 0.04) * (1 if steps_per_day == 1 else 0.3)
    noise = rng.uniform(0.03, 0.18)
    df = rng.choice((3, 4, 5, 6))
    weekend = rng.uniform(0.1, 0.6) if dev else rng.uniform(0.85, 1.0)
    night = rng.uniform(0.05, 0.4) if dev else rng.uniform(0.7, 1.0)
    wander = 0.0
    out = []
    for t in range(steps):
        at = stamps[t]
        wander = phi * wander + rng.gauss(0.0, wander_sd)
        eps = max(-1.2, min(1.2, noise * _student_t(rng, df)))
        factor = weekend if at.weekday() >= 5 else 1.0
        if steps_per_day > 1 and not 8 <= at.hour < 20:
            factor *= night
        out.append(base / steps_per_day * factor * math.exp(wander + eps))
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
        dev = a % 2 == 1
        account_series: list[LabelledSeries] = []
        for s in range(rng.randint(4, 7)):
            tiny = rng.random() < 0.3
            base = (
                math.exp(rng.uniform(math.log(0.02), math.log(3)))
                if tiny
                else math.exp(rng.uniform(math.log(200), math.log(6000)))
            )
            split = 1 if tiny or rng.random() < 0.7 else rng.randint(2, 4)
            shares = [rng.random() + 0.2 for _ in range(split)]
            for k, share in enumerate(shares):
                sid = f"{account}/svc{s}" + (f"/tag{k}" if split > 1 else "")
                values = _usage(rng, base * share / sum(shares), dev, steps_per_day, steps, stamps)
                series = LabelledSeries(sid, stamps, values, ["normal"] * steps)
                if rng.random() < 0.15:  # stops: for a while or for good
                    begin = rng.randrange(history // 2, steps - 2)
                    length = (
                        steps - begin
                        if rng.random() < 0.4
                        else rng.randint(2 * steps_per_day, 10 * steps_per_day)
                    )
                    for t in range(begin, min(steps, begin + length)):
                        series.values[t] = 0.0
                        series.zones[t] = "drop"
                inject(rng, series, steps_per_day, history, rng.randint(1, 3), sid)
                account_series.append(series)
        out.extend(account_series)
        fees = [
            LabelledSeries(
                f"{account}/AWSSupportBusiness", stamps, [0.0] * steps, ["normal"] * steps
            ),
            LabelledSeries(f"{account}/Tax", stamps, [0.0] * steps, ["normal"] * steps),
        ]
        tax_rate = rng.uniform(0.05, 0.2)
        month_spend = 0.0
        for t, at in enumerate(stamps):
            if at.day == 1 and (steps_per_day == 1 or at.hour == 0) and month_spend > 0:
                fees[0].values[t] = support_fee(month_spend)
                fees[1].values[t] = month_spend * tax_rate
                fees[0].zones[t] = fees[1].zones[t] = "trap"
                month_spend = 0.0
            month_spend += sum(s.values[t] for s in account_series)
        out.extend(fees)
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
