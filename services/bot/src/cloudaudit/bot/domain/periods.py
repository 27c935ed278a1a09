"""Spend periods people type ("mtd", "30d", "last-month", "2026-10") as date ranges. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from cloudaudit.bot.domain.errors import CommandError

PERIOD_HELP = "mtd, ytd, yesterday, 7d, 30d, 90d (any Nd), last-month, or a month like 2026-10"
MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive, as the spend query expects
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def resolve_period(token: str | None, today: date) -> Period:
    """`today` is the team's local date; ranges end today (exclusive) unless a month is named."""
    word = (token or "mtd").strip().lower()
    if word in ("mtd", "month", "this-month"):
        start = _month_start(today)
        if start == today:  # the 1st: month-to-date is empty, show the previous month instead
            start = _month_start(today - timedelta(days=1))
            return Period(start, today, start.strftime("%B %Y"))
        return Period(start, today, f"{start:%B %Y} to date")
    if word == "ytd":
        return Period(today.replace(month=1, day=1), today, f"{today:%Y} to date")
    if word == "yesterday":
        return Period(today - timedelta(days=1), today, "yesterday")
    if word in ("last-month", "lastmonth", "previous-month"):
        start = _month_start(_month_start(today) - timedelta(days=1))
        return Period(start, _month_start(today), start.strftime("%B %Y"))
    if word in ("week", "7d"):
        word = "7d"
    days = re.fullmatch(r"(\d{1,3})d", word)
    if days:
        count = int(days.group(1))
        if not 1 <= count <= MAX_DAYS:
            raise CommandError(f"a period of {count} days is out of range (1 to {MAX_DAYS})")
        return Period(today - timedelta(days=count), today, f"last {count} days")
    month = re.fullmatch(r"(\d{4})-(\d{2})", word)
    if month:
        year, number = int(month.group(1)), int(month.group(2))
        if not 1 <= number <= 12:
            raise CommandError(f"{word} is not a month; use YYYY-MM like 2026-10")
        start = date(year, number, 1)
        if start > today:
            raise CommandError(f"{word} has not started yet")
        return Period(
            start,
            min(_next_month(start), today) if start == _month_start(today) else _next_month(start),
            start.strftime("%B %Y"),
        )
    raise CommandError(f"I don't know the period '{token}'. Try {PERIOD_HELP}.")


def looks_like_period(token: str) -> bool:
    word = token.lower()
    return bool(
        word
        in (
            "mtd",
            "ytd",
            "yesterday",
            "week",
            "month",
            "this-month",
            "last-month",
            "lastmonth",
            "previous-month",
        )
        or re.fullmatch(r"\d{1,3}d", word)
        or re.fullmatch(r"\d{4}-\d{2}", word)
    )


def expectation_days(token: str) -> int:
    """How long planned spend lasts: '7d', '2w', '3m' (30-day months), or a bare day count."""
    match = re.fullmatch(r"(\d{1,3})([dwm]?)", token.strip().lower())
    if not match:
        raise CommandError(f"'{token}' is not a duration; use 7d, 2w or 3m")
    count = int(match.group(1)) * {"": 1, "d": 1, "w": 7, "m": 30}[match.group(2)]
    if not 1 <= count <= 366:
        raise CommandError("planned spend can last from 1 day to a year")
    return count
