"""Which anomalies planned spend explains (pure: no servers)."""

from __future__ import annotations

from decimal import Decimal

from cloudaudit.analytics.domain.cost_series import SeriesRef
from cloudaudit.analytics.domain.planned_spend import PlanInForce, matches_plan

EC2 = SeriesRef("AmazonEC2", "us-east-1")
TOTAL = SeriesRef(None, None)


def plan(amount: str, service: str | None = None) -> PlanInForce:
    return PlanInForce(amount=Decimal(amount), service=service)


def test_a_plan_for_the_service_explains_its_rise_whatever_the_size():
    assert matches_plan(EC2, [plan("100", "amazonec2")], Decimal(900))


def test_a_plan_for_another_service_explains_nothing():
    assert not matches_plan(EC2, [plan("5000", "AmazonS3")], Decimal(100))


def test_a_plan_without_a_service_explains_a_rise_it_mostly_covers():
    assert matches_plan(EC2, [plan("500")], Decimal(1000))
    assert not matches_plan(EC2, [plan("499.99")], Decimal(1000))


def test_the_account_total_is_explained_by_all_plans_together():
    plans = [plan("300", "AmazonEC2"), plan("200")]
    assert matches_plan(TOTAL, plans, Decimal(1000))
    assert not matches_plan(TOTAL, plans, Decimal("1000.01"))
    assert not matches_plan(TOTAL, [], Decimal(1))


def test_a_plan_needs_an_amount_and_a_period_that_ends_after_it_starts():
    from datetime import date

    import pytest
    from cloudaudit.analytics.domain.planned_spend import PlanRejected, check_plan

    check_plan(Decimal(1), date(2026, 1, 1), date(2026, 1, 1))
    with pytest.raises(PlanRejected) as amount:
        check_plan(Decimal(0), date(2026, 1, 1), date(2026, 1, 2))
    assert amount.value.code == "invalid_amount"
    with pytest.raises(PlanRejected) as period:
        check_plan(Decimal(5), date(2026, 1, 2), date(2026, 1, 1))
    assert period.value.code == "invalid_period"


def test_an_account_is_named_by_either_id_and_an_unknown_one_lists_the_known():
    from uuid import uuid4

    import pytest
    from cloudaudit.analytics.domain.planned_spend import PlanRejected, account_of

    account = uuid4()
    accounts = {account: "123456789012"}
    assert account_of(accounts, " 123456789012 ") == account
    assert account_of(accounts, str(account)) == account
    with pytest.raises(PlanRejected, match="its accounts: 123456789012"):
        account_of(accounts, "999999999999")
