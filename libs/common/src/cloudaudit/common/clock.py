"""UTC, timezone-aware time: the only place the product asks for 'now' (settable for tests).

Every business time (when something was detected, decided, recorded, which day is "today")
comes from `utcnow()` / `today()` here, never from `datetime.now`, `date.today`, `time.time` or
the database's `now()`: a lint rule (ruff TID251) refuses those elsewhere. Tests move the whole
product to another date with `frozen_at(...)`; services run in-process in tests, so they follow.
A subprocess (`cloudaudit up`, the demo) follows `CLOUDAUDIT_FAKE_NOW` (an ISO datetime), read
once at import. Durations and timeouts use `time.monotonic()`, which stays real, and transport
timestamps (JetStream, Slack request signatures, STS expiry) stay real too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

FAKE_NOW_ENV = "CLOUDAUDIT_FAKE_NOW"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, aware UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """Starts at `start`; with `ticking` it then advances with real (monotonic) time, so
    "later" stays later (ordering, timeouts) while the calendar date is the one chosen."""

    start: datetime
    ticking: bool = True
    _origin: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.start = ensure_utc(self.start)

    def now(self) -> datetime:
        if not self.ticking:
            return self.start
        return self.start + timedelta(seconds=time.monotonic() - self._origin)


def wall_now() -> datetime:
    """The real wall clock, to compare with times other systems stamped (a JetStream message's
    arrival): never for business times, which follow the settable clock."""
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Reject naive datetimes instead of guessing their zone."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware (UTC)")
    return value.astimezone(UTC)


def _from_environment() -> Clock:
    fake_now = os.environ.get(FAKE_NOW_ENV, "").strip()
    if not fake_now:
        return SystemClock()
    try:
        start = datetime.fromisoformat(fake_now)
    except ValueError as error:
        raise ValueError(f"{FAKE_NOW_ENV} must be an ISO datetime with a zone: {error}") from None
    return FixedClock(ensure_utc(start))


_clock: Clock = _from_environment()


def utcnow() -> datetime:
    """Now, aware UTC, from the current clock."""
    return _clock.now()


def today() -> date:
    """Today's date in UTC, from the current clock."""
    return utcnow().date()


def current_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> Clock:
    """Replace the clock; returns the previous one (to restore it)."""
    global _clock
    previous, _clock = _clock, clock
    return previous


@contextmanager
def using_clock(clock: Clock) -> Iterator[Clock]:
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


@contextmanager
def frozen_at(moment: datetime | date, *, ticking: bool = True) -> Iterator[FixedClock]:
    """Run the block as if it were `moment` (a date means noon UTC of that day).

    Ticking by default: time moves on from `moment` at the real pace.
    """
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, 12, tzinfo=UTC)
    clock = FixedClock(moment, ticking=ticking)
    with using_clock(clock):
        yield clock
