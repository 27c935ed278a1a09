"""Budget rules: scopes, periods, thresholds, and which crossings are due an alert once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
from cloudaudit.analytics.domain.budgets import (
    Budget,
    BudgetPeriod,
    BudgetRejected,
    BudgetScope,
    CostMetric,
    ThresholdBasis,
    check_amount,
    crossings,
    parse_thresholds,
)
from hypothesis import given
from hypothesis import strategies as st


def _budget(thresholds: str = "50,80,100,f100", period: str = "monthly") -> Budget:
    return Budget(
        budget_id=uuid4(),
        team_id=uuid4(),
        name="platform",
        scope=BudgetScope.parse("service:AmazonEC2"),
        period=BudgetPeriod.parse(period),
        amount=check_amount(Decimal("1000")),
        thresholds=parse_thresholds(thresholds),
    )


def test_80_percent_actual_and_100_percent_forecast_alert_once_each_per_period() -> None:
    budget = _budget("80,f100")
    day = date(2026, 4, 20)
    first = crossings(budget, day, Decimal("810"), Decimal("1100"))
    assert [(c.threshold.basis, c.threshold.percent) for c in first] == [
        (ThresholdBasis.ACTUAL, Decimal(80)),
        (ThresholdBasis.FORECAST, Decimal(100)),
    ]
    alerted = {c.key for c in first}
    assert crossings(budget, date(2026, 4, 21), Decimal("850"), Decimal("1150"), alerted) == []
    may = crossings(budget, date(2026, 5, 25), Decimal("900"), Decimal("1200"), alerted)
    assert {c.period_key for c in may} == {"2026-05"} and len(may) == 2


def test_a_forecast_below_actual_does_not_hide_the_actual() -> None:
    budget = _budget("f100")
    (crossing,) = crossings(budget, date(2026, 4, 28), Decimal("1005"), Decimal("900"))
    assert crossing.spend == Decimal("1005")
    assert crossings(budget, date(2026, 4, 28), Decimal("1005"), None) == []


def test_periods_have_stable_keys() -> None:
    assert BudgetPeriod.QUARTERLY.bounds(date(2026, 11, 3)) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
        "2026-Q4",
    )
    assert BudgetPeriod.MONTHLY.bounds(date(2028, 2, 9))[1] == date(2028, 2, 29)
    assert BudgetPeriod.YEARLY.bounds(date(2026, 6, 1))[2] == "2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team", "team"),
        ("account:123456789012", "account:123456789012"),
        ("service:AmazonEC2", "service:AmazonEC2"),
        ("tag:Project=checkout", "tag:Project=checkout"),
    ],
)
def test_scopes_parse(text: str, expected: str) -> None:
    assert str(BudgetScope.parse(text)) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: BudgetScope.parse("account:12"), "account:123456789012"),
        (lambda: BudgetScope.parse("tag:Project"), "tag:Project=checkout"),
        (lambda: parse_thresholds("80,abc"), "between 0 and 1000"),
        (lambda: parse_thresholds(""), "at least one threshold"),
        (lambda: BudgetPeriod.parse("weekly"), "monthly, quarterly or yearly"),
        (lambda: CostMetric.parse("blended"), "unblended or amortized"),
        (lambda: check_amount(Decimal("-5")), "more than 0"),
    ],
)
def test_bad_input_names_the_fix(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BudgetRejected, match=message):
        call()


@given(
    actual=st.decimals(min_value=0, max_value=10**7, places=2),
    percents=st.lists(st.integers(1, 200), min_size=1, max_size=5, unique=True),
)
def test_every_crossing_is_reported_exactly_once(actual: Decimal, percents: list[int]) -> None:
    budget = _budget(",".join(map(str, percents)))
    day = date(2026, 4, 10)
    first = crossings(budget, day, actual, None)
    assert {c.threshold.percent for c in first} == {
        Decimal(p) for p in percents if actual >= budget.amount * p / 100
    }
    assert crossings(budget, day, actual, None, {c.key for c in first}) == []
