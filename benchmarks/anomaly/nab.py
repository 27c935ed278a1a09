"""Numenta Anomaly Benchmark (NAB) run: CloudAudit's detector versus the naive baselines on real,
published metric data (AWS CloudWatch, known-cause incidents, traffic, ad exchange, tweets).

    .venv/bin/python benchmarks/anomaly/nab.py --nab PATH [--categories realAWSCloudwatch,...]
        [--rev HEAD] [--no-baselines] [--detector-config TOML] [--keep DIR]

PATH is a NAB checkout (data/, labels/combined_windows.json) or a bare git repository of NAB
(files are then read with `git show REV:path`). NAB data is MIT-licensed and never copied into
this repository: the converted CSVs go to a temporary folder (or --keep DIR).

Each category becomes one backtest input (series_id,timestamp,value; rows sorted by timestamp
then series_id), run through `cloudaudit backtest --units raw` in a subprocess (the same command
users run; the points/s figure is the command's own). The baselines of baselines.py read the
same CSV. Scoring, per NAB label window (see RULES): a window is detected when any flag falls
inside it; flags outside every window are false alerts, one per started day of consecutive
flagged steps. Everything is deterministic: same data, same flags, same figures.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo: `benchmarks.anomaly`

from cloudaudit.analytics.adapters import backtest_csv
from cloudaudit.analytics.domain.backtest import parse_timestamp, steps_per_day
from cloudaudit.analytics.domain.backtest_scoring import AlertRates
from cloudaudit.analytics.domain.detector import CostAnomalyDetector, DetectorConfig

from benchmarks.anomaly.baselines import BASELINES

ROOT = Path(__file__).resolve().parents[2]


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
        "--flags",
        "steps",  # NAB scores every flagged step against its windows
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


DEFAULT_CATEGORIES = (
    "realAWSCloudwatch",
    "realKnownCause",
    "realTraffic",
    "realAdExchange",
    "realTweets",
)
LABELS_PATH = "labels/combined_windows.json"
# NAB's own convention: the first 15 % of each file is the detectors' probationary period.
PROBATION_FRACTION = 0.15
DAYS_PER_MONTH = 30.44
SECONDS_PER_DAY = 86_400
# A label window is a rise when its upward excursion from the level before it is at least
# this many times its downward one, a drop in the opposite case, otherwise mixed.
DIRECTION_RATIO = 1.5

RULES = (
    "scoring: a NAB label window counts as detected if any flag falls inside it (delay = "
    "first flag's position in the window, 0 = its start, 1 = its end); flags outside every "
    "window are false alerts, one per started day of consecutive flagged steps; flags in a "
    f"file's first {PROBATION_FRACTION:.0%} (NAB's probationary period) are not counted as "
    "false; series-months count the scored part of each file; precision = detected windows / "
    "(detected windows + false alerts). 'false days' is a looser count: days of a file (from its "
    "first timestamp) with any false flag, at most one a series a day however the flags split. "
    "CloudAudit flags every active step of an alerted episode but posts one alert for it: its "
    "'posted alerts only' row scores those alerts (same detector, same input) instead of flags"
)

Flags = Mapping[str, Sequence[tuple[datetime, bool]]]


class NabSourceError(ValueError):
    """The --nab path cannot be read as NAB; the message says what to pass instead."""


class NabSource:
    """Reads NAB's files from a checkout directory or from a bare git repository."""

    def __init__(self, path: Path, rev: str = "HEAD") -> None:
        self.path = path
        self.rev = rev
        if (path / LABELS_PATH).is_file():
            self.bare = False
        elif self._git_has_labels(path, rev):
            self.bare = True
        else:
            raise NabSourceError(
                f"{path} is neither a NAB checkout (no {LABELS_PATH}) nor a git repository "
                f"of NAB with {LABELS_PATH} at {rev}; pass --nab pointing at a clone of the NAB "
                "repository (its folder, or its git directory)"
            )

    @staticmethod
    def _git_has_labels(path: Path, rev: str) -> bool:
        """A git directory (a bare repository need not say core.bare) holding NAB's labels."""
        if not (path / "HEAD").is_file():
            return False
        done = subprocess.run(  # noqa: S603
            ["git", "--git-dir", str(path), "cat-file", "-e", f"{rev}:{LABELS_PATH}"],  # noqa: S607
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def _git(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            ["git", "--git-dir", str(self.path), *args],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise NabSourceError(f"git {' '.join(args)} in {self.path}: {done.stderr.strip()}")
        return done.stdout

    def read(self, relative: str) -> str:
        if self.bare:
            return self._git("show", f"{self.rev}:{relative}")
        try:
            return (self.path / relative).read_text(encoding="utf-8")
        except OSError as exc:
            raise NabSourceError(f"cannot read {self.path / relative}: {exc.strerror}") from None

    def files(self, category: str) -> list[str]:
        """Data files of a category, as 'category/name.csv' (NAB's label keys), sorted."""
        if self.bare:
            listed = self._git("ls-tree", "--name-only", self.rev, f"data/{category}/")
            names = [Path(line).name for line in listed.splitlines() if line.endswith(".csv")]
        else:
            names = [p.name for p in (self.path / "data" / category).glob("*.csv")]
        if not names:
            raise NabSourceError(
                f"NAB category {category!r} has no data files in {self.path}; "
                f"categories are folder names under data/, e.g. {', '.join(DEFAULT_CATEGORIES)}"
            )
        return sorted(f"{category}/{name}" for name in names)

    def windows(self) -> dict[str, list[list[str]]]:
        try:
            data: dict[str, list[list[str]]] = json.loads(self.read(LABELS_PATH))
        except ValueError as exc:
            raise NabSourceError(f"{LABELS_PATH} in {self.path} is not JSON: {exc}") from None
        return data


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    direction: str = "rise"  # rise, drop or mixed (from the data around it)


@dataclass
class NabSeries:
    series_id: str  # NAB's key: 'category/name.csv'
    category: str
    points: list[tuple[datetime, str, float]]  # (time, timestamp as written, value)
    windows: list[Window]
    duplicates_dropped: int = 0

    @cached_property
    def steps_per_day(self) -> int:
        """From the median interval (NAB files have gaps and the odd irregular step)."""
        times = [at for at, _, _ in self.points]
        gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
        return max(1, round(SECONDS_PER_DAY / statistics.median(gaps)))

    @property
    def probation_end(self) -> datetime:
        return self.points[int(PROBATION_FRACTION * len(self.points))][0]

    def warm_from(self, config: DetectorConfig) -> datetime:
        """When the detector has seen its minimum history (it flags nothing before)."""
        needed = replace(config, steps_per_day=self.steps_per_day).warmup_steps() + 1
        return self.points[min(needed, len(self.points) - 1)][0]


def parse_series(series_id: str, text: str, raw_windows: Iterable[Sequence[str]]) -> NabSeries:
    """One NAB file (timestamp,value) and its label windows, in time order, one row a time."""
    by_time: dict[datetime, tuple[str, float]] = {}
    duplicates = 0
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            at = parse_timestamp(row["timestamp"])
            value = float(row["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NabSourceError(
                f"{series_id} line {line}: {exc}; NAB files have the header timestamp,value"
            ) from None
        if at in by_time:  # a repeated timestamp: the first reading stands
            duplicates += 1
            continue
        by_time[at] = (row["timestamp"], value)
    points = [(at, stamp, value) for at, (stamp, value) in sorted(by_time.items())]
    if len(points) < 3:
        raise NabSourceError(f"{series_id} has {len(points)} distinct timestamps; need 3 or more")
    windows = [Window(parse_timestamp(start), parse_timestamp(end)) for start, end in raw_windows]
    windows = [
        Window(w.start, w.end, window_direction(points, w.start, w.end))
        for w in sorted(windows, key=lambda w: w.start)
    ]
    return NabSeries(series_id, series_id.split("/", 1)[0], points, windows, duplicates)


def window_direction(
    points: Sequence[tuple[datetime, str, float]], start: datetime, end: datetime
) -> str:
    """Rise, drop or mixed: the window's largest move up versus down from the median level of
    an equally long stretch before it (after it, for a window at the start of a file)."""
    inside = [v for at, _, v in points if start <= at <= end]
    length = end - start
    before = [v for at, _, v in points if start - length <= at < start]
    reference = before or [v for at, _, v in points if end < at <= end + length]
    if not inside or not reference:
        return "mixed"
    level = statistics.median(reference)
    up, down = max(inside) - level, level - min(inside)
    if up >= DIRECTION_RATIO * max(down, 0.0) and up > 0:
        return "rise"
    if down >= DIRECTION_RATIO * max(up, 0.0) and down > 0:
        return "drop"
    return "mixed"


def load(source: NabSource, categories: Sequence[str]) -> list[NabSeries]:
    labels = source.windows()
    loaded = []
    for category in categories:
        for key in source.files(category):
            if key not in labels:
                raise NabSourceError(f"{key} has no entry in {LABELS_PATH}")
            loaded.append(parse_series(key, source.read(f"data/{key}"), labels[key]))
    return loaded


def write_backtest_csv(series: Sequence[NabSeries], path: Path) -> int:
    """The backtest input: series_id,timestamp,value sorted by time then series; rows written."""
    rows = sorted(
        ((at, s.series_id, stamp, value) for s in series for at, stamp, value in s.points),
        key=lambda r: (r[0], r[1]),
    )
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("series_id", "timestamp", "value"))
        writer.writerows((sid, stamp, repr(value)) for _, sid, stamp, value in rows)
    return len(rows)


@dataclass
class WindowScore(AlertRates):
    name: str
    windows: int = 0
    detected: int = 0
    false_alerts: int = 0
    false_days: int = 0
    series_months: float = 0.0
    delays: list[float] = field(default_factory=list)  # fraction of the window
    missed_by_direction: Counter[str] = field(default_factory=Counter)
    windows_by_direction: Counter[str] = field(default_factory=Counter)
    missed: list[tuple[str, Window]] = field(default_factory=list)
    points: int = 0
    seconds: float = 0.0

    @property
    def targets(self) -> int:
        return self.windows

    @property
    def false_days_per_series_month(self) -> float:
        return self.false_days / self.series_months if self.series_months else 0.0

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None


def score_windows(name: str, flags: Flags, series: Sequence[NabSeries]) -> WindowScore:
    """Score one detector's flags (per series, in time order) against NAB's label windows."""
    result = WindowScore(name)
    for s in series:
        steps = flags.get(s.series_id, [])
        per_day = s.steps_per_day
        probation_end = s.probation_end
        scored_days = (s.points[-1][0] - probation_end).total_seconds() / SECONDS_PER_DAY
        result.series_months += (scored_days + 1 / per_day) / DAYS_PER_MONTH
        first_flag: dict[int, datetime] = {}
        false_days: set[int] = set()
        run = 0
        for at, flagged in steps:
            hit = (
                next((i for i, w in enumerate(s.windows) if w.start <= at <= w.end), None)
                if flagged
                else None
            )
            if flagged and hit is None and at >= probation_end:
                run += 1
                false_days.add(int((at - s.points[0][0]).total_seconds() // SECONDS_PER_DAY))
                continue
            result.false_alerts += math.ceil(run / per_day)
            run = 0
            if hit is not None and hit not in first_flag:
                first_flag[hit] = at
        result.false_alerts += math.ceil(run / per_day)
        result.false_days += len(false_days)
        for index, window in enumerate(s.windows):
            result.windows += 1
            result.windows_by_direction[window.direction] += 1
            at = first_flag.get(index)
            if at is None:
                result.missed_by_direction[window.direction] += 1
                result.missed.append((s.series_id, window))
                continue
            result.detected += 1
            span = (window.end - window.start).total_seconds()
            result.delays.append((at - window.start).total_seconds() / span if span else 0.0)
    return result


def table(title: str, scores: Sequence[WindowScore]) -> None:
    print(f"\n{title}")
    header = (
        f"{'detector':<44} {'windows':>7} {'found':>5} {'precision':>9} {'recall':>6} "
        f"{'F1':>6} {'alerts/':>7} {'false/':>7} {'false d/':>8} {'delay':>6} {'points/s':>9}"
    )
    print(header)
    print(
        f"{'':<44} {'':>7} {'':>5} {'':>9} {'':>6} {'':>6} {'ser-mo':>7} {'ser-mo':>7} "
        f"{'ser-mo':>8} {'median':>6}"
    )
    print("-" * len(header))
    for s in scores:
        delay = "-" if s.median_delay is None else f"{s.median_delay:.2f}"
        print(
            f"{s.name:<44} {s.windows:>7} {s.detected:>5} {s.precision:>9.3f} {s.recall:>6.3f} "
            f"{s.f1:>6.3f} {s.alerts_per_series_month:>7.2f} "
            f"{s.false_alerts_per_series_month:>7.2f} {s.false_days_per_series_month:>8.2f} "
            f"{delay:>6} {s.points_per_second:>9,.0f}"
        )


def structural_blind_spots(series: Sequence[NabSeries], ours: WindowScore) -> None:
    """Windows the cost detector cannot flag by construction, and its recall on the rest."""
    config = DetectorConfig()
    print(
        f"\nWindows CloudAudit's detector cannot flag by construction (it learns before it "
        f"judges: {config.min_history_days:g} days, or on sub-daily data the steps that show "
        f"every time slot {config.subdaily_slot_visits} times; and it alerts on rises only):"
    )
    missed = {(sid, w) for sid, w in ours.missed}
    by_category: dict[str, Counter[str]] = {}
    for s in series:
        counts = by_category.setdefault(s.category, Counter())
        warm = s.warm_from(config)
        for w in s.windows:
            counts["windows"] += 1
            blind = w.end < warm or w.direction == "drop"
            counts["ends in warm-up"] += w.end < warm
            counts["drop"] += w.direction == "drop"
            counts["visible"] += not blind
            counts["visible found"] += not blind and (s.series_id, w) not in missed
    total: Counter[str] = Counter()
    for category, counts in by_category.items():
        total.update(counts)
        _blind_line(category, counts)
    _blind_line("all", total)


def _blind_line(name: str, counts: Counter[str]) -> None:
    visible = counts["visible"]
    recall = f"{counts['visible found'] / visible:.3f}" if visible else "-"
    print(
        f"  {name:<20} {counts['windows']:>3} windows: {counts['ends in warm-up']:>3} end in the "
        f"warm-up, {counts['drop']:>3} are drops; recall on the {visible} others: {recall}"
    )


def replay_alerts(
    data: Path, config: Path | None
) -> tuple[dict[str, list[tuple[datetime, bool]]], float]:
    """When CloudAudit would post an alert (`Verdict.alert`, once per episode), per series.

    The backtest prints `is_anomaly` for every step of an alerted episode; on 5-minute data an
    episode's flags split into hundreds of runs while one alert was posted. This replays the
    same CSV through the same reader, settings and detector as `cloudaudit backtest` (a
    detector per series, made once the second step gives the granularity) and keeps the alerts.
    """
    detector_config, thresholds = backtest_csv.load_config(config, "raw")
    detectors: dict[str, CostAnomalyDetector] = {}
    first: dict[str, tuple[datetime, float]] = {}
    alerts: dict[str, list[tuple[datetime, bool]]] = {}
    started = time.perf_counter()
    with data.open(newline="", encoding="utf-8") as source:
        for series_id, _, at, value in backtest_csv.read_rows(source):
            steps = alerts.setdefault(series_id, [])
            detector = detectors.get(series_id)
            if detector is None:
                if series_id not in first:
                    first[series_id] = (at, value)
                    steps.append((at, False))
                    continue
                first_at, first_value = first[series_id]
                per_day = steps_per_day(first_at, at)
                detector = CostAnomalyDetector(replace(detector_config, steps_per_day=per_day))
                detectors[series_id] = detector
                detector.observe(first_at, first_value, thresholds)
            steps.append((at, detector.observe(at, value, thresholds).alert))
    return alerts, time.perf_counter() - started


def run_category(
    category: str,
    series: Sequence[NabSeries],
    work: Path,
    baselines: bool,
    config: Path | None,
) -> list[WindowScore]:
    data = work / f"{category}.csv"
    rows = write_backtest_csv(series, data)
    windows = sum(len(s.windows) for s in series)
    print(f"\n== {category}: {len(series)} series, {rows:,} points, {windows} label windows")
    named = [("CloudAudit (cloudaudit backtest --units raw)", None)]
    if config is not None:
        named.append((f"CloudAudit, --config {config.name}", config))
    scores = []
    for name, detector_config in named:
        out = work / f"{category}_flags{'' if detector_config is None else '_config'}.csv"
        seconds = run_command(data, out, "raw", detector_config)
        flags = read_flags(out)
        result = score_windows(name, flags, series)
        result.points, result.seconds = sum(len(v) for v in flags.values()), seconds
        scores.append(result)
        posted, replay_seconds = replay_alerts(data, detector_config)
        result = score_windows("  the same, posted alerts only", posted, series)
        result.points, result.seconds = sum(len(v) for v in posted.values()), replay_seconds
        scores.append(result)
    if baselines:
        for name, make in BASELINES.items():
            b_flags, points, b_seconds = run_baseline(data, make)
            result = score_windows(name, b_flags, series)
            result.points, result.seconds = points, b_seconds
            scores.append(result)
    return scores


def combine(scores: Sequence[WindowScore]) -> WindowScore:
    total = WindowScore(scores[0].name)
    for s in scores:
        total.windows += s.windows
        total.detected += s.detected
        total.false_alerts += s.false_alerts
        total.false_days += s.false_days
        total.series_months += s.series_months
        total.delays += s.delays
        total.missed_by_direction.update(s.missed_by_direction)
        total.windows_by_direction.update(s.windows_by_direction)
        total.missed += s.missed
        total.points += s.points
        total.seconds += s.seconds
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nab", type=Path, required=True, help="NAB checkout or bare git repo")
    parser.add_argument("--rev", default="HEAD", help="revision to read from a bare repo")
    parser.add_argument(
        "--categories",
        default=",".join(DEFAULT_CATEGORIES),
        help="comma-separated NAB data folders (default: the real-data ones)",
    )
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--detector-config",
        type=Path,
        help="also run CloudAudit with this `cloudaudit backtest --config` file (extra row)",
    )
    parser.add_argument("--keep", type=Path, help="keep converted CSVs and flags here")
    args = parser.parse_args()
    categories = [c.strip() for c in args.categories.split(",") if c.strip()]
    try:
        source = NabSource(args.nab, args.rev)
        series = load(source, categories)
    except NabSourceError as exc:
        raise SystemExit(f"error: {exc}") from None
    work = args.keep or Path(tempfile.mkdtemp(prefix="anomaly-nab-"))
    work.mkdir(parents=True, exist_ok=True)
    duplicates = sum(s.duplicates_dropped for s in series)
    print(
        f"NAB ({'bare repo ' + args.rev if source.bare else 'checkout'} {args.nab}): "
        f"{len(series)} files in {len(categories)} categories; {duplicates} repeated "
        "timestamps dropped (first reading kept)"
    )
    print(RULES)
    per_category: dict[str, list[WindowScore]] = {}
    for category in categories:
        in_category = [s for s in series if s.category == category]
        per_category[category] = scores = run_category(
            category, in_category, work, not args.no_baselines, args.detector_config
        )
        table(f"{category} (per NAB label window)", scores)
    overall = [combine(column) for column in zip(*per_category.values(), strict=True)]
    table(f"All {len(categories)} categories (per NAB label window)", overall)
    print("\nMissed windows by direction (rise / drop / mixed, from the data around each window):")
    for s in overall:
        parts = ", ".join(
            f"{d} {s.missed_by_direction[d]}/{s.windows_by_direction[d]}"
            for d in ("rise", "drop", "mixed")
        )
        print(f"  {s.name:<44} {parts}")
    structural_blind_spots(series, overall[0])
    print(f"\nconverted data and flags: {work}")


if __name__ == "__main__":
    main()
