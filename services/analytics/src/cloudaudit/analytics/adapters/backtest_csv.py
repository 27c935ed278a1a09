"""CSV in, CSV out for `cloudaudit backtest`: rows streamed, never all held in memory."""

from __future__ import annotations

import csv
import json
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TextIO

from cloudaudit.analytics.domain.backtest import Backtest, MalformedBacktestRow, parse_timestamp
from cloudaudit.analytics.domain.detector import DetectorConfig, Thresholds

REQUIRED_COLUMNS = ("series_id", "timestamp", "value")
OUTPUT_COLUMNS = ("series_id", "timestamp", "score", "is_anomaly")


@dataclass(frozen=True)
class BacktestRun:
    points: int
    series: int
    seconds: float

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0


def load_config(path: Path | None, units: str) -> tuple[DetectorConfig, Thresholds]:
    """Detector settings and thresholds from a TOML or JSON file (any subset of fields)."""
    config, thresholds = DetectorConfig(), Thresholds()
    if units == "raw":
        thresholds = replace(thresholds, min_impact=None)
    if path is None:
        return config, thresholds
    try:
        text = path.read_text()
        data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise MalformedBacktestRow(f"cannot read config {path}: {exc}") from None
    known_config = {f.name for f in fields(DetectorConfig)}
    known_thresholds = {f.name for f in fields(Thresholds)}
    unknown = set(data) - known_config - known_thresholds
    if unknown:
        raise MalformedBacktestRow(
            f"unknown config keys {sorted(unknown)}; known: "
            f"{sorted(known_config | known_thresholds)}"
        )
    config = replace(config, **{k: v for k, v in data.items() if k in known_config})
    thresholds = replace(thresholds, **{k: v for k, v in data.items() if k in known_thresholds})
    if units == "raw":
        thresholds = replace(thresholds, min_impact=None)
    return config, thresholds


def read_rows(stream: TextIO) -> Iterator[tuple[str, str, Any, float]]:
    """(series_id, timestamp as written, timestamp parsed, value) per data row."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise MalformedBacktestRow(
            "the input is empty; expected a header "
            "series_id,timestamp,value[,account,service,region]"
        )
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise MalformedBacktestRow(
            f"the input has no column {', '.join(missing)}; "
            "expected series_id,timestamp,value[,account,service,region]"
        )
    i_series, i_time, i_value = (columns.index(c) for c in REQUIRED_COLUMNS)
    cache: dict[str, Any] = {}
    for line, row in enumerate(reader, start=2):
        try:
            stamp = row[i_time]
            at = cache.get(stamp)
            if at is None:  # rows come grouped by timestamp: parse each once
                cache.clear()
                at = cache[stamp] = parse_timestamp(stamp)
            yield row[i_series], stamp, at, float(row[i_value])
        except IndexError:
            raise MalformedBacktestRow(f"line {line} has {len(row)} fields") from None
        except ValueError as exc:
            raise MalformedBacktestRow(f"line {line}: {exc}") from None


def run(
    source: TextIO,
    sink: TextIO,
    config: DetectorConfig,
    thresholds: Thresholds,
    flags: str = "alerts",
) -> BacktestRun:
    backtest = Backtest(config, thresholds, flags)
    writer = csv.writer(sink, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    started = time.perf_counter()
    points = 0
    step = backtest.step
    out: list[tuple[str, str, str, int]] = []
    for series_id, stamp, at, value in read_rows(source):
        score, flagged = step(series_id, at, value)
        out.append((series_id, stamp, f"{score:.4f}", 1 if flagged else 0))
        points += 1
        if len(out) >= 4096:
            writer.writerows(out)
            out.clear()
    writer.writerows(out)
    return BacktestRun(points, backtest.series_count, time.perf_counter() - started)
