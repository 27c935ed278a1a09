"""The bot's pure logic: the command language, periods, digest timing and movers, role ARNs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudaudit.bot.domain.aws import role_arn_problem
from cloudaudit.bot.domain.commands import Command, parse
from cloudaudit.bot.domain.digest import due_period, split_totals, top_movers
from cloudaudit.bot.domain.errors import CommandError
from cloudaudit.bot.domain.periods import resolve_period
from cloudaudit.common.events.cost import SpendGroup, SpendGroupBy, SpendPoint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("  HELP ", Command("help")),
        ("accounts", Command("accounts")),
        (
            "spend",
            Command("spend", {"period": None, "group_by": SpendGroupBy.SERVICE, "tag_key": None}),
        ),
        (
            "spend 30d by region",
            Command("spend", {"period": "30d", "group_by": SpendGroupBy.REGION, "tag_key": None}),
        ),
        (
            "spend by tag:CostCenter 2026-10",
            Command(
                "spend",
                {"period": "2026-10", "group_by": SpendGroupBy.TAG, "tag_key": "CostCenter"},
            ),
        ),
        (
            "spend last-month by usage_type",
            Command(
                "spend",
                {"period": "last-month", "group_by": SpendGroupBy.USAGE_TYPE, "tag_key": None},
            ),
        ),
        ("anomalies", Command("anomalies", {"status": "open"})),
        ("recs all", Command("recs", {"status": "all"})),
        ("alerts here", Command("alerts_here")),
        ("alerts digest weekly", Command("alerts_digest", {"frequency": "weekly", "hour": None})),
        (
            "alerts digest daily at 7:00",
            Command("alerts_digest", {"frequency": "daily", "hour": 7}),
        ),
        (
            'expect "Amazon EC2" $1,200.50/day 2w',
            Command("expect", {"service": "Amazon EC2", "amount": Decimal("1200.50"), "days": 14}),
        ),
        (
            "expect AmazonS3 40 3m",
            Command("expect", {"service": "AmazonS3", "amount": Decimal("40.00"), "days": 90}),
        ),
    ],
)
def test_commands_parse(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("spend by colour", "I can't group by 'colour'"),
        ("spend forever", "I don't understand 'forever'"),
        ("spend by", "say what to group by"),
        ("anomalies maybe", "usage: /cloudaudit anomalies [open|all]"),
        ("alerts digest hourly", "daily|weekly|off"),
        ("alerts digest daily at 25", "0 to 23"),
        ("alerts everywhere", "usage: /cloudaudit alerts here"),
        ("expect AmazonEC2 -5 7d", "more than $0"),
        ("expect AmazonEC2 lots 7d", "not an amount"),
        ("expect AmazonEC2 5 forever", "not a duration"),
        ("expect 5 7d", "usage: /cloudaudit expect"),
        ("accounts please", "I don't know `accounts please`"),
        ("delete everything", "I don't know"),
    ],
)
def test_bad_commands_say_how_to_write_them(text, hint):
    with pytest.raises(CommandError) as raised:
        parse(text)
    assert hint in raised.value.message


@given(st.text(max_size=200))
def test_any_text_parses_or_explains(text):
    try:
        assert isinstance(parse(text), Command)
    except CommandError as exc:
        assert exc.message


TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("token", "start", "end", "label"),
    [
        (None, date(2026, 11, 1), TODAY, "November 2026 to date"),
        ("7d", date(2026, 11, 18), TODAY, "last 7 days"),
        ("yesterday", date(2026, 11, 24), TODAY, "yesterday"),
        ("last-month", date(2026, 10, 1), date(2026, 11, 1), "October 2026"),
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1), "February 2026"),
        ("2026-11", date(2026, 11, 1), TODAY, "November 2026"),
        ("ytd", date(2026, 1, 1), TODAY, "2026 to date"),
    ],
)
def test_periods(token, start, end, label):
    period = resolve_period(token, TODAY)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_month_to_date_on_the_first_shows_the_month_just_ended():
    period = resolve_period("mtd", date(2026, 12, 1))
    assert (period.start, period.end) == (date(2026, 11, 1), date(2026, 12, 1))


@pytest.mark.parametrize("token", ["2027-01", "2026-13", "0d", "999d", "soon"])
def test_impossible_periods_are_explained(token):
    with pytest.raises(CommandError):
        resolve_period(token, TODAY)


def test_daily_digest_is_due_from_the_hour_in_the_team_time_zone():
    # 07:30 UTC is 08:30 in Berlin (winter): due at 8 there, not yet at 9.
    now = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
    period = due_period("daily", 8, "Europe/Berlin", now, None)
    assert period is not None and period.key == "daily:2026-11-24"
    assert (period.start, period.end, period.previous_start) == (
        date(2026, 11, 24),
        date(2026, 11, 25),
        date(2026, 11, 23),
    )
    assert due_period("daily", 9, "Europe/Berlin", now, None) is None
    assert due_period("daily", 8, "Europe/Berlin", now, "daily:2026-11-24") is None  # sent
    assert due_period("off", 8, "Europe/Berlin", now, None) is None


def test_weekly_digest_goes_out_on_mondays_for_the_week_before():
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    period = due_period("weekly", 9, "UTC", monday, None)
    assert period is not None and (period.start, period.end) == (
        date(2026, 11, 16),
        date(2026, 11, 23),
    )
    assert due_period("weekly", 9, "UTC", datetime(2026, 11, 24, 10, tzinfo=UTC), None) is None


def test_unknown_time_zone_falls_back_to_utc():
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert due_period("daily", 8, "Mars/Olympus", now, None) is not None


def test_top_movers_rank_by_absolute_change_and_skip_noise():
    groups = [
        SpendGroup(
            key=k,
            total=Decimal(a + b),
            points=[
                SpendPoint(period=date(2026, 11, 23), amount=Decimal(a)),
                SpendPoint(period=date(2026, 11, 24), amount=Decimal(b)),
            ],
        )
        for k, a, b in [("EC2", 100, 180), ("RDS", 50, 20), ("S3", 10, 10.5), ("Lambda", 0, 40)]
    ]
    current, previous = split_totals(groups, date(2026, 11, 24))
    movers = top_movers(current, previous)
    assert [(m.key, m.change) for m in movers] == [("EC2", 80), ("Lambda", 40), ("RDS", -30)]
    assert movers[1].change_pct is None and movers[2].change_pct == Decimal("-60")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("arn:aws:iam::123456789012:role/CloudAuditReadOnly", None),
        ("  arn:aws-us-gov:iam::123456789012:role/path/to/Role+x  ", None),
        ("arn:aws:iam::123456789012:user/ana", "That is a user ARN"),
        ("123456789012", "That is an account id"),
        ("arn:aws:iam::12345:role/x", "doesn't look like a role ARN"),
        ("", "Paste the ARN"),
    ],
)
def test_role_arn_problems(text, problem):
    found = role_arn_problem(text)
    assert (found is None) if problem is None else (problem in found)


@pytest.mark.parametrize(
    ("text", "means"),
    [
        ("recommendations", "recs"),
        ("savings all", "recs"),
        ("anomaly", "anomalies"),
        ("recs", "recs"),
    ],
)
def test_the_obvious_aliases_mean_the_command(text, means):
    assert parse(text) == parse(text.replace(text.split()[0], means, 1))


def test_a_typo_gets_did_you_mean_and_a_long_argument_is_not_echoed_back():
    with pytest.raises(CommandError) as typo:
        parse("spedn 30d")
    assert "Did you mean `spend`?" in typo.value.message

    with pytest.raises(CommandError) as long:
        parse("x" * 5000)
    assert len(long.value.message) < 120 and "…" in long.value.message


def test_connect_with_a_role_arn_is_a_shortcut_that_fills_in_the_form():
    arn = "arn:aws:iam::123456789012:role/CloudAuditReadOnly"
    assert parse(f"connect {arn}") == Command("connect", {"role_arn": arn})
    assert parse("connect") == Command("connect")
    with pytest.raises(CommandError):
        parse("connect one two")


def test_disconnect_names_one_account_and_deletes_data_only_when_typed_out():
    assert parse("disconnect 111122223333") == Command(
        "disconnect", {"account": "111122223333", "delete_data": False}
    )
    assert parse('disconnect "prod eu" delete-data') == Command(
        "disconnect", {"account": "prod eu", "delete_data": True}
    )
    for wrong in ("disconnect", "disconnect delete-data", "disconnect a b"):
        with pytest.raises(CommandError, match="usage: /cloudaudit disconnect"):
            parse(wrong)
