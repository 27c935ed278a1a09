"""Replay of interleaved series through the live detector: what would have alerted, and when.

Each row is decided from that row and earlier rows of its series only (no look-ahead), so a
prefix of the input gives the same flags for that prefix; there is no randomness.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from cloudaudit.analytics.domain.detector import CostAnomalyDetector, DetectorConfig, Thresholds

SECONDS_PER_DAY = 86_400


class MalformedBacktestRow(ValueError):
    """A row of the input cannot be read; the message says which and how to fix it."""


def parse_timestamp(text: str) -> datetime:
    """'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS' (UTC unless an offset is given)."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedBacktestRow(
            f"timestamp {text!r} is not YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def steps_per_day(first: datetime, second: datetime) -> int:
    """Steps per day from a series' first interval; 0 for coarser than daily."""
    seconds = (second - first).total_seconds()
    if seconds <= 0:
        raise MalformedBacktestRow(
            f"timestamps must increase within a series ({first} then {second}); "
            "sort rows by timestamp then series_id"
        )
    if seconds > SECONDS_PER_DAY:
        return 0
    return max(1, round(SECONDS_PER_DAY / seconds))


@dataclass(frozen=True, slots=True)
class BacktestResult:
    series_id: str
    at: datetime
    score: float
    is_anomaly: bool


class _Series:
    __slots__ = ("detector", "first")

    def __init__(self) -> None:
        self.detector: CostAnomalyDetector | None = None
        self.first: tuple[datetime, float] | None = None


FLAG_MODES = ("alerts", "steps")


class Backtest:
    """Feeds rows to one detector per series, created once the series' granularity is known.

    `flags="alerts"` (the default) flags a row exactly when CloudAudit would post a new alert
    for it (what a user is paged for); `flags="steps"` flags every active step of an alerted
    episode."""

    def __init__(
        self,
        config: DetectorConfig | None = None,
        thresholds: Thresholds | None = None,
        flags: str = "alerts",
    ) -> None:
        if flags not in FLAG_MODES:
            raise MalformedBacktestRow(
                f"flags must be one of {', '.join(FLAG_MODES)}, not {flags!r}"
            )
        self.config = config or DetectorConfig()
        self.thresholds = thresholds or Thresholds()
        self.alerts_only = flags == "alerts"
        self._series: dict[str, _Series] = {}

    @property
    def series_count(self) -> int:
        return len(self._series)

    def step(self, series_id: str, at: datetime, value: float) -> tuple[float, bool]:
        series = self._series.get(series_id)
        if series is None:
            series = self._series[series_id] = _Series()
        detector = series.detector
        if detector is None:
            if series.first is None:
                series.first = (at, value)
                return 0.0, False
            first_at, first_value = series.first
            config = replace(self.config, steps_per_day=steps_per_day(first_at, at))
            detector = series.detector = CostAnomalyDetector(config)
            detector.observe(first_at, first_value, self.thresholds)
        verdict = detector.observe(at, value, self.thresholds)
        if self.alerts_only:
            return verdict.score, verdict.alert and verdict.continues is None
        return verdict.score, verdict.flagged

    def run(self, rows: Iterable[tuple[str, datetime, float]]) -> Iterator[BacktestResult]:
        for series_id, at, value in rows:
            score, flagged = self.step(series_id, at, value)
            yield BacktestResult(series_id, at, score, flagged)
