"""The alert-or-update decision for one series-day (pure: no servers)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

from cloudaudit.analytics.domain.anomaly_decision import (
    EpisodeUpdate,
    KnownAnomaly,
    NewAnomaly,
    judge_day,
)
from cloudaudit.analytics.domain.cost_series import SeriesDay, SeriesRef
from cloudaudit.analytics.domain.detector import EpisodeKind, Verdict
from cloudaudit.analytics.domain.planned_spend import PlanInForce
from cloudaudit.common.events.anomaly import AnomalyKind, AnomalyStatus, Severity

EC2 = SeriesRef("AmazonEC2", "us-east-1")
DAY = date(2026, 3, 10)
SPIKE = Verdict(
    score=9.0,
    expected=200.0,
    sigma=10.0,
    flagged=True,
    alert=True,
    kind=EpisodeKind.SPIKE,
    impact=700.0,
    impact_pct=350.0,
    episode_started_at="2026-03-10T00:00:00+00:00",
)


def judge(verdict: Verdict = SPIKE, **given: object) -> NewAnomaly | EpisodeUpdate | None:
    args: dict[str, object] = {
        "ref": EC2,
        "usage_date": DAY,
        "day": SeriesDay(cost=Decimal(900), drivers={"usage_type:BoxUsage": Decimal(900)}),
        "drivers": {"usage_type:BoxUsage": 200.0},
        "verdict": verdict,
        "model_version": 3,
        "existing": None,
        "plans": [],
        "alertable": True,
    }
    return judge_day(**{**args, **given})  # type: ignore[arg-type]


def known(status: AnomalyStatus = AnomalyStatus.OPEN, alerted: bool = True) -> KnownAnomaly:
    return KnownAnomaly(anomaly_id=uuid4(), status=status, alerted=alerted)


def test_a_recent_alerting_episode_without_an_anomaly_is_a_new_alert():
    new = judge()
    assert isinstance(new, NewAnomaly)
    assert (new.kind, new.severity, new.status, new.alert) == (
        AnomalyKind.SPIKE,
        Severity.HIGH,
        AnomalyStatus.OPEN,
        True,
    )
    assert (new.impact, new.expected_cost, new.actual_cost) == (
        Decimal("700.000000"),
        Decimal("200.000000"),
        Decimal(900),
    )
    assert new.episode_start == DAY
    assert [c.name for c in new.causes] == ["BoxUsage"]


def test_planned_spend_records_the_anomaly_as_expected_without_alerting():
    new = judge(plans=[PlanInForce(service="amazonec2", amount=Decimal(1))])
    assert isinstance(new, NewAnomaly)
    assert (new.status, new.alert) == (AnomalyStatus.EXPECTED, False)


def test_a_quiet_account_total_is_recorded_open_but_not_sent():
    new = judge(quiet=True)
    assert isinstance(new, NewAnomaly)
    assert (new.status, new.alert) == (AnomalyStatus.OPEN, False)


def test_an_old_day_or_an_already_recorded_episode_does_not_alert_again():
    assert judge(alertable=False) is None
    update = judge(existing=known())
    assert isinstance(update, EpisodeUpdate)
    assert update.fields() == {"impact": Decimal("700.000000"), "model_version": 3}
    assert not update.notify


def test_a_day_outside_any_episode_decides_nothing():
    assert judge(Verdict(score=0.1, expected=200.0, sigma=10.0), existing=known()) is None


def test_resolving_an_alerted_anomaly_updates_it_and_tells_the_bot():
    resolved = Verdict(
        score=0.2,
        expected=200.0,
        sigma=10.0,
        resolved=True,
        impact=650.0,
        episode_started_at=SPIKE.episode_started_at,
    )
    update = judge(resolved, existing=known())
    assert isinstance(update, EpisodeUpdate)
    assert update.fields() == {
        "impact": Decimal("650.000000"),
        "episode_end": DAY,
        "status": "resolved",
    }
    assert update.notify
    assert not judge(resolved, existing=known(alerted=False)).notify  # type: ignore[union-attr]
    assert judge(resolved, existing=known(AnomalyStatus.DISMISSED)) is None


def test_an_absorbed_level_ends_the_episode_without_resolving_it():
    absorbed = Verdict(
        score=0.5,
        expected=200.0,
        sigma=10.0,
        absorbed=True,
        episode_started_at=SPIKE.episode_started_at,
    )
    update = judge(absorbed, existing=known())
    assert isinstance(update, EpisodeUpdate)
    assert update.fields() == {"episode_end": DAY}
