"""Which anomalies planned spend explains (pure: no servers)."""

from __future__ import annotations

from decimal import Decimal

from cloudaudit.analytics.domain.cost_series import SeriesRef
from cloudaudit.analytics.service.anomalies import _matches_plan

EC2 = SeriesRef("AmazonEC2", "us-east-1")
TOTAL = SeriesRef(None, None)


def plan(amount: str, service: str | None = None) -> dict:
    return {"amount": Decimal(amount), "service": service}


def test_a_plan_for_the_service_explains_its_rise_whatever_the_size():
    assert _matches_plan(EC2, [plan("100", "amazonec2")], Decimal(900))


def test_a_plan_for_another_service_explains_nothing():
    assert not _matches_plan(EC2, [plan("5000", "AmazonS3")], Decimal(100))


def test_a_plan_without_a_service_explains_a_rise_it_mostly_covers():
    assert _matches_plan(EC2, [plan("500")], Decimal(1000))
    assert not _matches_plan(EC2, [plan("499.99")], Decimal(1000))


def test_the_account_total_is_explained_by_all_plans_together():
    plans = [plan("300", "AmazonEC2"), plan("200")]
    assert _matches_plan(TOTAL, plans, Decimal(1000))
    assert not _matches_plan(TOTAL, plans, Decimal("1000.01"))
    assert not _matches_plan(TOTAL, [], Decimal(1))
