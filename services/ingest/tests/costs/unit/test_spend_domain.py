"""Spend questions and answers without servers: dimensions, ranges, ranking, exact text."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from cloudaudit.ingest.domain.errors import InvalidInput
from cloudaudit.ingest.domain.spend import (
    OTHER,
    Dimension,
    Metric,
    SpendRow,
    check_range,
    default_range,
    exact,
    parse_dimension,
    parse_metric,
    rank,
    whole_months,
)
from hypothesis import given
from hypothesis import strategies as st


@given(
    st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=12,
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
    )
)
def test_amounts_print_exactly_with_at_least_cents(value):
    text = exact(value)
    assert Decimal(text) == value
    assert "E" not in text and len(text.split(".")[1]) >= 2


def test_examples_of_exact_text():
    assert [exact(Decimal(v)) for v in ("12.300000", "0E-12", "7E-10", "-5", "100")] == [
        "12.30",
        "0.00",
        "0.0000000007",
        "-5.00",
        "100.00",
    ]


def test_dimensions_and_metrics_are_parsed_or_refused_with_the_choices():
    assert parse_dimension("tag:Environment") == (Dimension.TAG, "Environment")
    assert parse_dimension("Usage_Type") == (Dimension.USAGE_TYPE, None)
    assert parse_metric("public-on-demand") is Metric.PUBLIC_ON_DEMAND
    with pytest.raises(InvalidInput, match="tag:KEY"):
        parse_dimension("colour")
    with pytest.raises(InvalidInput, match="tag key"):
        parse_dimension("tag:")
    with pytest.raises(InvalidInput, match="amortized"):
        parse_metric("net")


def test_ranges_default_to_month_to_date_and_must_move_forward():
    assert default_range(date(2026, 11, 25)) == (date(2026, 11, 1), date(2026, 11, 26))
    with pytest.raises(InvalidInput, match="exclusive"):
        check_range(date(2026, 2, 1), date(2026, 2, 1))
    with pytest.raises(InvalidInput, match="three years"):
        check_range(date(2020, 1, 1), date(2026, 1, 1))


def test_whole_months_inside_a_range():
    assert whole_months(date(2025, 1, 1), date(2026, 1, 1)) == (date(2025, 1, 1), date(2026, 1, 1))
    assert whole_months(date(2025, 1, 15), date(2025, 4, 10)) == (
        date(2025, 2, 1),
        date(2025, 4, 1),
    )
    assert whole_months(date(2025, 1, 15), date(2025, 2, 10)) is None


@given(
    st.lists(st.decimals(min_value=-100, max_value=1000, places=2, allow_nan=False), max_size=30),
    st.integers(1, 10),
)
def test_groups_past_top_fold_into_other_and_the_total_is_kept(amounts, top):
    rows = [SpendRow(key=f"s{i}", amount=a) for i, a in enumerate(amounts)]
    ranked = rank(rows, Dimension.SERVICE, top)
    assert sum((r.amount for r in ranked), Decimal(0)) == sum(amounts, Decimal(0))
    assert len(ranked) <= top + 1
    if len(amounts) > top:
        assert ranked[-1].key == OTHER


def test_days_and_months_stay_in_calendar_order():
    rows = [SpendRow("2024-03-02", Decimal(1)), SpendRow("2024-03-01", Decimal(5))]
    assert [r.key for r in rank(rows, Dimension.DAY, 1)] == ["2024-03-01", "2024-03-02"]
