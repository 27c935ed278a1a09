"""Pure recommendation logic: transitions, what the facts say after approval, and the rules
moto cannot exercise (Reserved Instances, AWS's own findings, large gp2 volumes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from cloudaudit.analytics.domain.recommendations.lifecycle import (
    RecommendationState,
    TransitionNotAllowed,
    decide,
    reconcile,
)
from cloudaudit.analytics.domain.recommendations.model import RecType
from cloudaudit.analytics.domain.recommendations.prices import DEFAULT_PRICES
from cloudaudit.analytics.domain.recommendations.rules import evaluate, one_size_down
from cloudaudit.common.events.inventory import (
    AccountInventory,
    InstanceFacts,
    OptimizerFinding,
    ReservedCapacity,
    UsageSummary,
    VolumeFacts,
)
from cloudaudit.common.events.recommendation import Decision, RecommendationStatus

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TODAY = NOW.date()
S = RecommendationState


def inventory(**resources) -> AccountInventory:
    return AccountInventory(
        account_id=uuid4(),
        aws_account_id="123456789012",
        collected_at=NOW,
        regions=["us-east-1"],
        complete=resources.pop("complete", True),
        **resources,
    )


def busy(
    instance_id: str, instance_type: str, p95: str = "60", network: int = 10**9
) -> InstanceFacts:
    return InstanceFacts(
        instance_id=instance_id,
        region="us-east-1",
        instance_type=instance_type,
        state="running",
        launch_time=NOW - timedelta(days=90),
        usage=UsageSummary(
            window_days=14,
            days_with_data=14,
            hours_with_data=336,
            cpu_p95_percent=Decimal(p95),
            cpu_max_percent=Decimal(p95),
            network_bytes_per_day=Decimal(network),
        ),
    )


@pytest.mark.parametrize(
    ("current", "decision", "expected"),
    [
        (S.OPEN, Decision.APPROVE, S.APPROVED),
        (S.SNOOZED, Decision.APPROVE, S.APPROVED),
        (S.OPEN, Decision.DISMISS, S.DISMISSED),
        (S.APPROVED, Decision.DISMISS, S.DISMISSED),
        (S.OPEN, Decision.SNOOZE, S.SNOOZED),
        (S.DISMISSED, Decision.REOPEN, S.OPEN),
        (S.APPROVED, Decision.REOPEN, S.OPEN),
    ],
)
def test_allowed_decisions(current, decision, expected):
    move = decide(current, decision, TODAY, snooze_days=30)
    assert move.to is expected and move.changed
    assert move.snoozed_until == (TODAY + timedelta(days=30) if expected is S.SNOOZED else None)


@pytest.mark.parametrize(
    ("current", "decision"),
    [
        (S.DISMISSED, Decision.APPROVE),
        (S.IMPLEMENTED, Decision.DISMISS),
        (S.EXPIRED, Decision.REOPEN),
        (S.APPROVED, Decision.SNOOZE),
    ],
)
def test_refused_decisions(current, decision):
    with pytest.raises(TransitionNotAllowed):
        decide(current, decision, TODAY)


def test_repeating_a_decision_changes_nothing():
    assert not decide(S.APPROVED, Decision.APPROVE, TODAY).changed
    assert not decide(S.OPEN, Decision.REOPEN, TODAY).changed
    until = TODAY + timedelta(days=7)
    assert not decide(S.SNOOZED, Decision.SNOOZE, TODAY, 7, snoozed_until=until).changed


def test_statuses_are_the_seed_integers_with_names():
    assert [int(s) for s in S] == [0, 1, 2, 3, 4, 5]
    assert S.of(RecommendationStatus.SNOOZED) is S.SNOOZED and S(1).status.value == "approved"


def test_a_snooze_ends_on_its_date_and_the_recommendation_reopens():
    facts = inventory(
        volumes=[
            VolumeFacts(
                volume_id="vol-1",
                region="us-east-1",
                volume_type="gp2",
                size_gib=10,
                state="available",
            )
        ]
    )
    early = reconcile(
        S.SNOOZED,
        RecType.UNATTACHED_EBS,
        "vol-1",
        Decimal(1),
        TODAY + timedelta(days=1),
        True,
        facts,
        DEFAULT_PRICES,
        TODAY,
    )
    due = reconcile(
        S.SNOOZED,
        RecType.UNATTACHED_EBS,
        "vol-1",
        Decimal(1),
        TODAY,
        True,
        facts,
        DEFAULT_PRICES,
        TODAY,
    )
    assert (early.kind, due.kind) == ("refresh", "reopen")


def test_an_incomplete_inventory_never_expires_or_implements():
    partial = inventory(complete=False)
    approved = reconcile(
        S.APPROVED,
        RecType.IDLE_EIP,
        "eipalloc-1",
        Decimal("3.65"),
        None,
        False,
        partial,
        DEFAULT_PRICES,
        TODAY,
    )
    open_ = reconcile(
        S.OPEN,
        RecType.IDLE_EIP,
        "eipalloc-1",
        Decimal("3.65"),
        None,
        False,
        partial,
        DEFAULT_PRICES,
        TODAY,
    )
    assert (approved.kind, open_.kind) == ("keep", "keep")


def test_a_resized_instance_realises_the_price_difference():
    resized = inventory(instances=[busy("i-1", "m5.xlarge")])
    outcome = reconcile(
        S.APPROVED,
        RecType.OVERPROVISIONED_EC2,
        "i-1",
        Decimal("280.32"),
        None,
        False,
        resized,
        DEFAULT_PRICES,
        TODAY,
    )
    assert outcome.kind == "implement"
    assert outcome.realized_monthly_savings == Decimal("140.16")  # 280.32 - 0.192 x 730


def test_reserved_instances_reduce_the_uncovered_steady_spend():
    facts = inventory(
        instances=[busy("i-1", "m5.xlarge"), busy("i-2", "m5.xlarge"), busy("i-3", "c5.large")],
        reserved=[
            ReservedCapacity(region="us-east-1", instance_type="m5.xlarge", instance_count=1)
        ],
    )
    [plan] = [c for c in evaluate(facts, DEFAULT_PRICES, NOW) if c.rec_type is RecType.SAVINGS_PLAN]
    # uncovered: one m5.xlarge (0.192) + c5.large (0.085) = 0.277 $/h; 27 % off over 730 h
    assert plan.estimated_monthly_savings == Decimal("54.60")
    assert plan.baseline_monthly_cost == Decimal("202.21")


def test_a_large_gp2_volume_pays_for_matching_throughput_on_gp3():
    volumes = [
        VolumeFacts(
            volume_id=f"vol-{size}",
            region="us-east-1",
            volume_type="gp2",
            size_gib=size,
            state="in-use",
            attached_instance_ids=["i-1"],
        )
        for size in (200, 1000, 2000)
    ]
    found = {
        c.resource_id: c.estimated_monthly_savings
        for c in evaluate(inventory(volumes=volumes), DEFAULT_PRICES, NOW)
        if c.rec_type is RecType.GP2_TO_GP3
    }
    # 200 GiB: gp2 20.00 vs gp3 16.00 + 125 MiB/s x 0.04 = 21.00: no saving, no recommendation.
    # 1000 GiB: 100.00 vs 80.00 + 5.00 = 85.00. 2000 GiB: 200.00 vs 160.00 + 5.00
    # + (6000 - 3000) IOPS x 0.005 = 180.00.
    assert found == {"vol-1000": Decimal("15.00"), "vol-2000": Decimal("20.00")}


def test_aws_findings_count_only_for_resources_our_rules_missed():
    facts = inventory(
        instances=[busy("i-1", "m5.2xlarge", p95="20")],
        findings=[
            OptimizerFinding(
                source="cost_optimization_hub",
                resource_id="i-1",
                resource_type="Ec2Instance",
                region="us-east-1",
                action="Rightsize",
                estimated_monthly_savings=Decimal("120"),
            ),
            OptimizerFinding(
                source="compute_optimizer",
                resource_id="db-1",
                resource_type="RdsDbInstance",
                region="us-east-1",
                action="Rightsize",
                estimated_monthly_savings=Decimal("33.3"),
            ),
        ],
    )
    found = {
        (c.rec_type, c.resource_id): c.estimated_monthly_savings
        for c in evaluate(facts, DEFAULT_PRICES, NOW)
    }
    assert found[(RecType.AWS_FINDING, "db-1")] == Decimal("33.30")
    assert (RecType.AWS_FINDING, "i-1") not in found
    assert found[(RecType.OVERPROVISIONED_EC2, "i-1")] == Decimal("140.16")


def test_one_size_down_stays_in_the_family_and_the_table():
    assert one_size_down("m5.2xlarge", DEFAULT_PRICES, "us-east-1") == "m5.xlarge"
    assert one_size_down("t3.micro", DEFAULT_PRICES, "us-east-1") == "t3.nano"
    assert one_size_down("m5.large", DEFAULT_PRICES, "us-east-1") is None  # no m5 below large
    assert one_size_down("m5.large", DEFAULT_PRICES, "ap-south-1") is None


def test_unknown_regions_and_windows_get_no_price_based_recommendation():
    linux = busy("i-l", "m5.large", p95="2", network=1000)
    windows = linux.model_copy(update={"instance_id": "i-w", "platform": "windows"})
    elsewhere = linux.model_copy(update={"instance_id": "i-x", "region": "ap-south-1"})
    found = evaluate(inventory(instances=[linux, windows, elsewhere]), DEFAULT_PRICES, NOW)
    assert [(c.rec_type, c.resource_id) for c in found] == [(RecType.IDLE_EC2, "i-l")]


def test_an_instance_launched_inside_the_window_is_not_steady_for_a_savings_plan():
    newcomer = busy("i-new", "m5.2xlarge").model_copy(
        update={"launch_time": NOW - timedelta(days=5)}
    )
    facts = inventory(instances=[busy("i-1", "m5.xlarge"), newcomer])
    [plan] = [c for c in evaluate(facts, DEFAULT_PRICES, NOW) if c.rec_type is RecType.SAVINGS_PLAN]
    # only i-1: 0.192 $/h x 27 % x 730 h (the 5-day-old m5.2xlarge would add 0.384 $/h)
    assert plan.estimated_monthly_savings == Decimal("37.84")
    assert plan.baseline_monthly_cost == Decimal("140.16")


def test_an_approved_instance_still_running_is_not_realised_by_the_rounding_of_its_baseline():
    # t3.large: 0.0832 x 730 = 60.736 a month, stated as 60.74 when the recommendation was made
    still_running = inventory(instances=[busy("i-idle", "t3.large", p95="1", network=10_000)])
    outcome = reconcile(
        S.APPROVED,
        RecType.IDLE_EC2,
        "i-idle",
        Decimal("60.74"),
        None,
        True,
        still_running,
        DEFAULT_PRICES,
        TODAY,
    )
    assert outcome.kind == "refresh" and outcome.realized_monthly_savings is None
