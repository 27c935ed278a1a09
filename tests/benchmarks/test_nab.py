"""The NAB benchmark's loader and window scoring, on a tiny NAB-shaped folder made here."""

from __future__ import annotations

import importlib
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
nab = importlib.import_module("benchmarks.anomaly.nab")

START = datetime(2015, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
STEPS_PER_DAY = 288


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _window(start: datetime, end: datetime) -> list[str]:
    return [start.strftime("%Y-%m-%d %H:%M:%S.%f"), end.strftime("%Y-%m-%d %H:%M:%S.%f")]


def make_nab(root: Path, days: int = 4) -> dict[str, tuple[datetime, datetime]]:
    """Two 5-minute files: 'up' rises in its window, 'down' drops in its window."""
    rng = random.Random(3)
    steps = days * STEPS_PER_DAY
    windows: dict[str, tuple[datetime, datetime]] = {
        "realTest/up.csv": (START + timedelta(days=2), START + timedelta(days=2, hours=6)),
        "realTest/down.csv": (START + timedelta(days=3), START + timedelta(days=3, hours=6)),
    }
    (root / "data" / "realTest").mkdir(parents=True)
    for key, (start, end) in windows.items():
        lines = ["timestamp,value"]
        for i in range(steps):
            at = START + i * STEP
            value = 50 + rng.uniform(-2, 2)
            if start <= at <= end:
                value = value * 3 if key.endswith("up.csv") else value / 3
            lines.append(f"{_stamp(at)},{value:.3f}")
            if i == 10:  # NAB files repeat the odd timestamp
                lines.append(f"{_stamp(at)},999")
        (root / "data" / key).write_text("\n".join(lines) + "\n")
    (root / "labels").mkdir()
    labels = {key: [_window(*w)] for key, w in windows.items()}
    labels["otherCategory/unused.csv"] = []
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return windows


def test_loader_reads_a_checkout_drops_repeated_timestamps_and_tells_rises_from_drops(
    tmp_path: Path,
) -> None:
    make_nab(tmp_path)
    source = nab.NabSource(tmp_path)
    series = {s.series_id: s for s in nab.load(source, ["realTest"])}

    assert not source.bare
    assert sorted(series) == ["realTest/down.csv", "realTest/up.csv"]
    up = series["realTest/up.csv"]
    assert len(up.points) == 4 * STEPS_PER_DAY
    assert up.duplicates_dropped == 1
    assert up.points[10][2] != 999  # the first reading of a repeated timestamp stands
    assert up.steps_per_day == STEPS_PER_DAY
    assert [w.direction for w in up.windows] == ["rise"]
    assert [w.direction for w in series["realTest/down.csv"].windows] == ["drop"]


def test_loader_reads_a_bare_git_repository_like_a_checkout(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    make_nab(work)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "."], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "nab"], check=True)
    bare = tmp_path / "nab.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)

    from_bare = nab.load(nab.NabSource(bare), ["realTest"])
    from_checkout = nab.load(nab.NabSource(work), ["realTest"])

    assert nab.NabSource(bare).bare
    assert [(s.series_id, s.points, s.windows) for s in from_bare] == [
        (s.series_id, s.points, s.windows) for s in from_checkout
    ]


def test_a_folder_that_is_not_nab_is_refused_with_the_fix(tmp_path: Path) -> None:
    try:
        nab.NabSource(tmp_path)
    except nab.NabSourceError as exc:
        assert "clone of the NAB repository" in str(exc)
    else:
        raise AssertionError("a folder without NAB's labels was accepted")


def test_window_scoring_counts_detections_delays_and_false_alerts_per_started_day(
    tmp_path: Path,
) -> None:
    windows = make_nab(tmp_path)
    series = [s for s in nab.load(nab.NabSource(tmp_path), ["realTest"]) if "up" in s.series_id]
    up = series[0]
    start, _ = windows["realTest/up.csv"]
    flagged = {
        start + timedelta(hours=3),  # the window's first flag, half-way through it
        start + timedelta(hours=4),  # later flags in the same window add nothing
        START + timedelta(minutes=30),  # inside the probationary first 15 %: not scored
    }
    # One run of 1.25 days outside the window: two started days, so two false alerts.
    run_start = START + timedelta(hours=18)
    flagged |= {run_start + i * STEP for i in range(STEPS_PER_DAY * 5 // 4)}
    # A lone flag later on: a third false alert.
    flagged.add(START + timedelta(days=3, hours=18))
    flags = {up.series_id: [(at, at in flagged) for at, _, _ in up.points]}

    result = nab.score_windows("test", flags, series)

    assert (result.windows, result.detected, result.false_alerts) == (1, 1, 3)
    assert result.false_days == 3  # days 0-1 of the run, and day 3 of the lone flag
    assert result.delays == [0.5]
    assert result.precision == 1 / 4
    assert result.recall == 1.0
    scored_days = 4 - 1 / STEPS_PER_DAY - (up.probation_end - START).total_seconds() / 86_400
    assert abs(result.series_months - (scored_days + 1 / STEPS_PER_DAY) / 30.44) < 1e-9

    missed = nab.score_windows("silent", {up.series_id: []}, series)
    assert (missed.detected, missed.false_alerts, missed.missed_by_direction["rise"]) == (0, 0, 1)


def test_backtest_input_interleaves_series_by_time_then_series(tmp_path: Path) -> None:
    make_nab(tmp_path, days=1)
    series = nab.load(nab.NabSource(tmp_path), ["realTest"])
    out = tmp_path / "in.csv"

    rows = nab.write_backtest_csv(series, out)

    lines = out.read_text().splitlines()
    assert lines[0] == "series_id,timestamp,value"
    assert rows == len(lines) - 1 == 2 * STEPS_PER_DAY
    assert [line.split(",")[0] for line in lines[1:3]] == ["realTest/down.csv", "realTest/up.csv"]
    stamps = [line.split(",")[1] for line in lines[1:]]
    assert stamps == sorted(stamps)


def test_backtest_flags_and_posted_alerts_find_a_rise_after_the_warm_up(tmp_path: Path) -> None:
    """Through `cloudaudit backtest --units raw` and the alert replay: the same detector, so the
    one posted alert is a flagged step, inside the labelled window."""
    rng = random.Random(5)
    hour = timedelta(hours=1)
    start, end = START + timedelta(days=26), START + timedelta(days=26, hours=8)
    lines = ["timestamp,value"]
    for i in range(30 * 24):
        at = START + i * hour
        value = 100 * (1.3 if 8 <= at.hour < 20 else 1.0) * rng.uniform(0.95, 1.05)
        lines.append(f"{_stamp(at)},{value * (4 if start <= at <= end else 1):.3f}")
    (tmp_path / "data" / "realTest").mkdir(parents=True)
    (tmp_path / "data" / "realTest" / "rise.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(
        json.dumps({"realTest/rise.csv": [_window(start, end)]})
    )
    series = nab.load(nab.NabSource(tmp_path), ["realTest"])
    data = tmp_path / "in.csv"
    nab.write_backtest_csv(series, data)

    seconds = nab.run_command(data, tmp_path / "flags.csv", "raw")
    flags = nab.read_flags(tmp_path / "flags.csv")
    posted, _ = nab.replay_alerts(data, None)

    assert seconds > 0
    flagged = [at for at, f in flags["realTest/rise.csv"] if f]
    alerted = [at for at, a in posted["realTest/rise.csv"] if a]
    assert flagged and all(start <= at <= end for at in flagged)
    assert len(alerted) == 1 and alerted[0] in flagged
    assert nab.score_windows("ours", posted, series).detected == 1
