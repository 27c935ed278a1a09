"""Anomaly benchmark: CloudAudit's detector (through `cloudaudit backtest`) versus naive baselines.

    .venv/bin/python benchmarks/anomaly/benchmark.py [--seed 7] [--accounts 12] [--days 540]
        [--no-baselines] [--no-hourly] [--keep DIR] [--raw CSV --raw-labels CSV]

Generates the labelled series (benchmarks/anomaly/data.py), runs the `cloudaudit backtest` command
on them in a subprocess (the points/s figure is the command's own, CSV parsing included), scores
its output at alert level and prints the comparison table with the baselines.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo: `benchmarks.anomaly`

from cloudaudit.analytics.domain.backtest import parse_timestamp, steps_per_day
from cloudaudit.analytics.domain.backtest_scoring import (
    LabelledEvent,
    Score,
    score,
)

from benchmarks.anomaly.baselines import BASELINES
from benchmarks.anomaly.data import generate, write

ROOT = Path(__file__).resolve().parents[2]


def read_labels(path: Path) -> list[LabelledEvent]:
    with path.open() as f:
        return [
            LabelledEvent(
                r["series_id"],
                r["kind"],
                parse_timestamp(r["start"]),
                parse_timestamp(r["end"]),
                r["material"] == "1",
                float(r.get("impact") or 0),
            )
            for r in csv.DictReader(f)
        ]


def read_flags(path: Path) -> dict[str, list[tuple[datetime, bool]]]:
    flags: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    with path.open() as f:
        for r in csv.DictReader(f):
            flags[r["series_id"]].append((parse_timestamp(r["timestamp"]), r["is_anomaly"] == "1"))
    return flags


def run_command(data: Path, out: Path, units: str, config: Path | None = None) -> float:
    """Seconds `cloudaudit backtest` took (process start-up excluded: reported by the command)."""
    command = [
        sys.executable,
        "-m",
        "cloudaudit.common",
        "backtest",
        "--input",
        str(data),
        "--output",
        str(out),
        "--units",
        units,
        *(["--config", str(config)] if config is not None else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"backtest failed: {done.stderr.strip()}")
    for line in done.stderr.splitlines():
        if "points/s" in line:
            print("   ", line.strip())
    for line in done.stderr.splitlines():
        if line.startswith("seconds="):
            return float(line.split("=", 1)[1])
    return 0.0


def run_baseline(data: Path, make) -> tuple[dict[str, list[tuple[datetime, bool]]], int, float]:  # type: ignore[no-untyped-def]
    flags: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    detectors: dict[str, object] = {}
    first: dict[str, datetime] = {}
    points = 0
    started = time.perf_counter()
    with data.open() as f:
        for r in csv.DictReader(f):
            sid, at, value = r["series_id"], parse_timestamp(r["timestamp"]), float(r["value"])
            points += 1
            detector = detectors.get(sid)
            if detector is None:
                if sid not in first:
                    first[sid] = at
                    flags[sid].append((at, False))
                    continue
                detector = detectors[sid] = make(steps_per_day(first[sid], at))
            flags[sid].append((at, bool(detector(at, value))))  # type: ignore[operator]
    return flags, points, time.perf_counter() - started


def table(title: str, scores: list[Score]) -> None:
    print(f"\n{title}")
    header = (
        f"{'detector':<44} {'precision':>9} {'recall':>7} {'F1':>6} {'alerts/':>8} "
        f"{'false/':>7} {'median delay d':>16} {'points/s':>9}"
    )
    print(header)
    print(f"{'':<44} {'':>9} {'':>7} {'':>6} {'ser-mo':>8} {'ser-mo':>7} {'spike/shift/leak':>16}")
    print("-" * len(header))
    for s in scores:
        delays = "/".join(
            "-" if s.median_delay(k) is None else f"{s.median_delay(k):.1f}"
            for k in ("spike", "level_shift", "leak")
        )
        print(
            f"{s.name:<44} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} "
            f"{s.alerts_per_series_month:>8.3f} {s.false_alerts_per_series_month:>7.3f} "
            f"{delays:>16} {s.points_per_second:>9,.0f}"
        )


def details(s: Score) -> None:
    print(
        f"\n{s.name}: {s.detected}/{s.events} events detected; "
        f"missed by kind {dict(s.missed_by_kind)} of {dict(s.events_by_kind)}"
    )
    print(f"  false alerts by cause: {dict(s.false_by_cause) or 'none'}")
    for kind, values in sorted(s.delays_by_kind.items()):
        print(
            f"  delay {kind:<18} median {sorted(values)[len(values) // 2]:.2f} d, "
            f"max {max(values):.2f} d over {len(values)} events"
        )


def evaluate(name: str, data: Path, labels: Path, units: str, baselines: bool, work: Path) -> None:
    events = read_labels(labels)
    out = work / f"{data.stem}_flags.csv"
    seconds = run_command(data, out, units)
    flags = read_flags(out)
    ours = score("CloudAudit (cloudaudit backtest)", flags, events)
    ours.points = sum(len(v) for v in flags.values())
    ours.seconds = seconds
    scores = [ours]
    if baselines:
        for label, make in BASELINES.items():
            b_flags, points, b_seconds = run_baseline(data, make)
            result = score(label, b_flags, events)
            result.points, result.seconds = points, b_seconds
            scores.append(result)
    table(name, scores)
    for s in scores:
        details(s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=12)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-hourly", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep generated data and flags here")
    parser.add_argument("--raw", type=Path, help="an external labelled CSV run with --units raw")
    parser.add_argument("--raw-labels", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="anomaly-bench-"))
    rows, events = generate(args.seed, args.accounts, args.days, 1)
    data, labels = write(work, "daily", rows, events, 1)
    series = len({r[0] for r in rows})
    print(
        f"daily: {series} series x {args.days} days = {len(rows):,} points, "
        f"{sum(e.material for e in events)} material events (seed {args.seed})"
    )
    evaluate("Daily cost series (USD)", data, labels, "usd", not args.no_baselines, work)
    if not args.no_hourly:
        rows, events = generate(args.seed + 1, max(2, args.accounts // 4), 120, 24)
        data, labels = write(work, "hourly", rows, events, 24)
        series = len({r[0] for r in rows})
        print(
            f"\nhourly: {series} series x 120 days = {len(rows):,} points, "
            f"{sum(e.material for e in events)} material events"
        )
        evaluate("Hourly cost series (USD)", data, labels, "usd", not args.no_baselines, work)
    if args.raw and args.raw_labels:
        evaluate(
            f"External data ({args.raw.name}, --units raw)",
            args.raw,
            args.raw_labels,
            "raw",
            not args.no_baselines,
            work,
        )


if __name__ == "__main__":
    main()
