"""Anomaly benchmark: CloudAudit's detector (through `cloudaudit backtest`) in every world.

    .venv/bin/python benchmarks/anomaly/benchmark.py [--no-hourly] [--baselines] [--details]
        [--worlds generator,heavy,billing] [--keep DIR]
    .venv/bin/python benchmarks/anomaly/benchmark.py --labels FILE [--units usd|raw]

Worlds: `generator` (data.py, written beside the detector), `heavy` (world_heavy.py) and
`billing` (world_billing.py), daily and hourly. Each is written as a zone-labelled CSV
(`series_id,timestamp,value,zone[,event_id]`), stripped to `series_id,timestamp,value`, run
through the `cloudaudit backtest --flags alerts` command in a subprocess (a flag = a posted
alert; the points/s figure is the command's own, CSV parsing included) and scored at alert
level by `cloudaudit.analytics.domain.alert_scoring`. The tuning world is `generator`; the
others are reported, not tuned on. `--labels FILE` scores any labelled CSV the same way.
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

from cloudaudit.analytics.domain.alert_scoring import AlertScore, ZoneRow, score_alerts
from cloudaudit.analytics.domain.backtest import parse_timestamp, steps_per_day

from benchmarks.anomaly import data, world_billing, world_heavy
from benchmarks.anomaly.baselines import BASELINES
from benchmarks.anomaly.labelling import MATERIAL, LabelledSeries, impact
from benchmarks.anomaly.labelling import write as write_labelled

ROOT = Path(__file__).resolve().parents[2]
TUNING_WORLD = "generator"
ZONE_OF_KIND = {
    "spike": "spike",
    "level_shift": "shift",
    "level_shift_fixed": "shift",
    "leak": "leak",
}


def generator_world(seed: int, steps_per_day: int) -> list[LabelledSeries]:
    """data.py's world relabelled by the judge's rules (impact of each event's own excess;
    material at $100 daily / $10 in 24 h, anything smaller a trap; month starts are traps)."""
    if steps_per_day == 1:
        rows, events = data.generate(seed, 12, 540, 1)
    else:
        rows, events = data.generate(seed + 1, 3, 120, 24)
    by_series: dict[str, LabelledSeries] = {}
    for series_id, at, value, *_ in rows:
        s = by_series.get(series_id)
        if s is None:
            s = by_series[series_id] = LabelledSeries(series_id, [], [], [])
        s.stamps.append(at)
        s.values.append(value)
        s.zones.append("trap" if at.day == 1 and at.hour == 0 else "normal")
        s.event_ids.append("")
    for n, e in enumerate(events):
        s = by_series[e.series_id]
        steps = range(e.start, min(e.end + 1, len(s.zones)))
        if e.kind in ("drop", "immaterial"):  # data.py's falls, and its few-percent changes
            zone = "drop" if e.kind == "drop" else "trap"
        else:
            kind = ZONE_OF_KIND[e.kind]
            excess = [
                s.values[i] - s.values[i] / e.effect[i]
                if e.multiplicative and e.effect[i]
                else (0.0 if e.multiplicative else e.effect[i])
                for i in steps
            ]
            material = impact(excess, kind, steps_per_day) >= MATERIAL[steps_per_day]
            zone = kind if material else "trap"
        for i in steps:
            s.zones[i], s.event_ids[i] = zone, f"e{n}"
    return list(by_series.values())


WORLDS = {
    "generator": (generator_world, 7),
    "heavy": (world_heavy.generate, None),
    "billing": (world_billing.generate, None),
}


def world_seed(name: str, steps_per_day: int) -> int:
    module = {"heavy": world_heavy, "billing": world_billing}.get(name)
    if module is None:
        return WORLDS[name][1] or 7
    return module.DAILY_SEED if steps_per_day == 1 else module.HOURLY_SEED


def read_labelled(path: Path) -> list[tuple[str, str, str, str, str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"series_id", "timestamp", "value", "zone"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(
                f"{path}: no column {', '.join(sorted(missing))}; "
                "expected series_id,timestamp,value,zone[,event_id]"
            )
        return [
            (
                r["series_id"],
                r["timestamp"],
                r["value"],
                r["zone"].strip().lower(),
                (r.get("event_id") or "").strip(),
            )
            for r in reader
        ]


def run_command(data_csv: Path, out: Path, units: str) -> tuple[float, int]:
    """(seconds, points) of `cloudaudit backtest --flags alerts` (the command's own timing)."""
    command = [
        sys.executable,
        "-m",
        "cloudaudit.common",
        "backtest",
        "--input",
        str(data_csv),
        "--output",
        str(out),
        "--units",
        units,
        "--flags",
        "alerts",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"backtest failed: {done.stderr.strip()}")
    seconds = next(
        (float(x.split("=", 1)[1]) for x in done.stderr.splitlines() if x.startswith("seconds=")),
        0.0,
    )
    points = sum(1 for _ in out.open()) - 1
    return seconds, points


def score_file(name: str, labelled: Path, work: Path, units: str) -> tuple[AlertScore, float]:
    rows = read_labelled(labelled)
    data_csv = work / f"{labelled.stem}_data.csv"
    with data_csv.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(("series_id", "timestamp", "value"))
        out.writerows((r[0], r[1], r[2]) for r in rows)
    flags_csv = work / f"{labelled.stem}_flags.csv"
    seconds, points = run_command(data_csv, flags_csv, units)
    flags: dict[str, dict[datetime, bool]] = defaultdict(dict)
    with flags_csv.open(newline="") as f:
        for r in csv.DictReader(f):
            if r["is_anomaly"] == "1":
                flags[r["series_id"]][parse_timestamp(r["timestamp"])] = True
    zone_rows = [ZoneRow(r[0], parse_timestamp(r[1]), r[3], r[4]) for r in rows]
    return score_alerts(name, zone_rows, flags), points / seconds if seconds else 0.0


def baseline_scores(labelled: Path) -> list[tuple[AlertScore, float]]:
    """The naive river baselines (`baselines.py`) on the same rows, scored the same way."""
    rows = read_labelled(labelled)
    zone_rows = [ZoneRow(r[0], parse_timestamp(r[1]), r[3], r[4]) for r in rows]
    out = []
    for label, make in BASELINES.items():
        flags: dict[str, dict[datetime, bool]] = defaultdict(dict)
        detectors: dict[str, object] = {}
        first: dict[str, datetime] = {}
        started = time.perf_counter()
        for row, zone_row in zip(rows, zone_rows, strict=True):
            sid, at = row[0], zone_row.at
            detector = detectors.get(sid)
            if detector is None:
                if sid not in first:
                    first[sid] = at
                    continue
                detector = detectors[sid] = make(steps_per_day(first[sid], at))
            if detector(at, float(row[2])):  # type: ignore[operator]
                flags[sid][at] = True
        seconds = time.perf_counter() - started
        out.append((score_alerts(f"  {label[:20]}", zone_rows, flags), len(rows) / seconds))
    return out


def header() -> None:
    print(
        f"{'world':<22} {'series':>6} {'events':>6} {'prec':>6} {'recall':>6} {'F1':>6} "
        f"{'alerts/ser-mo':>13} {'false':>5} {'delay d':>7} {'points/s':>9}"
    )


def line(s: AlertScore, series: int, rate: float) -> None:
    delay = "-" if s.median_delay_days is None else f"{s.median_delay_days:.2f}"
    print(
        f"{s.name:<22} {series:>6} {s.events:>6} {s.precision:>6.3f} {s.recall:>6.3f} "
        f"{s.f1:>6.3f} {s.alerts_per_series_month:>13.3f} {s.false_alerts:>5} {delay:>7} "
        f"{rate:>9,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-hourly", action="store_true")
    parser.add_argument("--worlds", default=",".join(WORLDS), help="comma-separated world names")
    parser.add_argument("--labels", type=Path, help="score this labelled CSV instead")
    parser.add_argument("--units", default="usd", choices=("usd", "raw"))
    parser.add_argument("--keep", type=Path, help="keep generated data and flags here")
    parser.add_argument("--details", action="store_true", help="misses and false alerts by zone")
    parser.add_argument("--baselines", action="store_true", help="also the naive baselines")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="anomaly-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.labels:
        result, rate = score_file(args.labels.name, args.labels, work, args.units)
        header()
        line(result, len({r[0] for r in read_labelled(args.labels)}), rate)
        print(
            f"  missed {dict(result.missed_by_zone)}; false alerts by zone "
            f"{dict(result.false_by_zone)}"
        )
        return
    results: dict[int, list[AlertScore]] = defaultdict(list)
    header()
    for steps in (1,) if args.no_hourly else (1, 24):
        for name in args.worlds.split(","):
            make, _ = WORLDS[name]
            seed = world_seed(name, steps)
            series = make(seed, steps)
            grain = "daily" if steps == 1 else "hourly"
            path = work / f"{name}_{grain}.csv"
            write_labelled(path, series, steps)
            tag = f"{name} {grain}" + (" (tuning)" if name == TUNING_WORLD else "")
            result, rate = score_file(tag, path, work, args.units)
            line(result, len(series), rate)
            if args.details:
                print(
                    f"    missed {dict(result.missed_by_zone)} of {dict(result.events_by_zone)};"
                    f" false by zone {dict(result.false_by_zone)}"
                )
            results[steps].append(result)
            if args.baselines:
                for baseline, baseline_rate in baseline_scores(path):
                    line(baseline, len(series), baseline_rate)
    for steps, scores in results.items():
        worst = min(scores, key=lambda s: s.f1)
        busiest = max(scores, key=lambda s: s.alerts_per_series_month)
        grain = "daily" if steps == 1 else "hourly"
        print(
            f"worst {grain}: F1 {worst.f1:.3f} ({worst.name}); most alerts "
            f"{busiest.alerts_per_series_month:.3f}/series-month ({busiest.name})"
        )


if __name__ == "__main__":
    main()
