"""A recommendation's life: decisions people make, and what the next inventory says happened.

Status is a named enum stored as the seed table's integer. People move a recommendation between
open, approved, dismissed and snoozed; only the facts move it to implemented or expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import IntEnum, StrEnum

from cloudaudit.analytics.domain.recommendations import rates
from cloudaudit.analytics.domain.recommendations.model import RecType, savings
from cloudaudit.analytics.domain.recommendations.prices import (
    HOURS_PER_MONTH,
    PriceTable,
    PriceUnknown,
    monthly,
)
from cloudaudit.analytics.domain.recommendations.rates import NO_REPORT, CostReport
from cloudaudit.common.errors import DomainError
from cloudaudit.common.events.identity import Action
from cloudaudit.common.events.inventory import AccountInventory
from cloudaudit.common.events.recommendation import Decision, RecommendationStatus

DEFAULT_SNOOZE_DAYS = 7
# Cost evidence counts once this share of the promised savings shows in the daily cost.
REALIZED_SHARE = Decimal("0.8")


class RecommendationState(IntEnum):
    """Seed column Recommendations.status (integer)."""

    OPEN = 0
    APPROVED = 1
    DISMISSED = 2
    SNOOZED = 3
    IMPLEMENTED = 4
    EXPIRED = 5

    @property
    def status(self) -> RecommendationStatus:
        return RecommendationStatus(self.name.lower())

    @classmethod
    def of(cls, status: RecommendationStatus) -> RecommendationState:
        return cls[status.name]


# One recommendation per (resource, type) among these: a dismissed one is not re-created.
ACTIVE_STATES = (
    RecommendationState.OPEN,
    RecommendationState.APPROVED,
    RecommendationState.DISMISSED,
    RecommendationState.SNOOZED,
)

DECISION_ACTIONS: dict[Decision, Action] = {
    Decision.APPROVE: Action.APPROVE_RECOMMENDATION,
    Decision.DISMISS: Action.DISMISS_RECOMMENDATION,
    Decision.SNOOZE: Action.SNOOZE_RECOMMENDATION,
    # Undoing a decision takes the same right as dismissing.
    Decision.REOPEN: Action.DISMISS_RECOMMENDATION,
}

_S = RecommendationState
_TRANSITIONS: dict[Decision, tuple[frozenset[RecommendationState], RecommendationState]] = {
    Decision.APPROVE: (frozenset({_S.OPEN, _S.SNOOZED}), _S.APPROVED),
    Decision.DISMISS: (frozenset({_S.OPEN, _S.SNOOZED, _S.APPROVED}), _S.DISMISSED),
    Decision.SNOOZE: (frozenset({_S.OPEN, _S.SNOOZED}), _S.SNOOZED),
    Decision.REOPEN: (frozenset({_S.DISMISSED, _S.SNOOZED, _S.APPROVED}), _S.OPEN),
}

_VERBS = {
    Decision.APPROVE: "approve",
    Decision.DISMISS: "dismiss",
    Decision.SNOOZE: "snooze",
    Decision.REOPEN: "reopen",
}


class TransitionNotAllowed(DomainError):
    """The decision does not apply in the recommendation's current status."""

    code = "invalid_transition"


@dataclass(frozen=True)
class Transition:
    to: RecommendationState
    snoozed_until: date | None
    changed: bool


def decide(
    current: RecommendationState,
    decision: Decision,
    today: date,
    snooze_days: int | None = None,
    snoozed_until: date | None = None,
) -> Transition:
    """Where a decision takes a recommendation; repeating the same decision changes nothing."""
    allowed, target = _TRANSITIONS[decision]
    if current is target and decision is not Decision.SNOOZE:
        return Transition(current, snoozed_until, changed=False)
    if current not in allowed:
        raise TransitionNotAllowed(
            f"cannot {_VERBS[decision]} a recommendation that is {current.status.value}"
        )
    until = (
        today + timedelta(days=snooze_days or DEFAULT_SNOOZE_DAYS)
        if decision is Decision.SNOOZE
        else None
    )
    if decision is Decision.SNOOZE and until == snoozed_until:
        return Transition(current, snoozed_until, changed=False)
    return Transition(target, until, changed=True)


# -- what the facts say -----------------------------------------------------------------------
class Evidence:
    RESOURCE_DELETED = "resource_deleted"
    CONFIGURATION_CHANGED = "configuration_changed"
    COST_DROPPED = "cost_dropped"


class Outcome(StrEnum):
    """What a fresh look at the facts does to an existing recommendation."""

    KEEP = "keep"  # nothing changes (closed already, or the inventory cannot tell)
    REFRESH = "refresh"  # still applies: new figures and text
    REOPEN = "reopen"  # a snooze ran out and it still applies
    EXPIRE = "expire"  # the facts no longer support it
    IMPLEMENT = "implement"  # the change was made: savings realized


@dataclass(frozen=True)
class Reconciled:
    kind: Outcome
    realized_monthly_savings: Decimal | None = None
    evidence: str | None = None


def resource_present(rec_type: RecType, resource_id: str, inv: AccountInventory) -> bool:
    if rec_type is RecType.SAVINGS_PLAN:
        return True
    ids = (
        {i.instance_id for i in inv.instances}
        | {v.volume_id for v in inv.volumes}
        | {s.snapshot_id for s in inv.snapshots}
        | {a.allocation_id for a in inv.addresses}
    )
    if rec_type is RecType.AWS_FINDING:
        ids |= {f.resource_id for f in inv.findings}
    return resource_id in ids


def current_monthly_cost(
    rec_type: RecType,
    resource_id: str,
    inv: AccountInventory,
    prices: PriceTable,
    report: CostReport = NO_REPORT,
) -> Decimal | None:
    """What the targeted resource costs now (None when the inventory cannot tell), at the same
    rates the rules use (the cost report's, else the price table's)."""
    try:
        if rec_type in (RecType.IDLE_EC2, RecType.OVERPROVISIONED_EC2, RecType.PREVIOUS_GENERATION):
            instance = next((i for i in inv.instances if i.instance_id == resource_id), None)
            if instance is None or instance.state != "running":
                return Decimal(0)
            return monthly(rates.instance_hourly(instance, prices, report).amount)
        if rec_type is RecType.STOPPED_INSTANCE_EBS:
            instance = next((i for i in inv.instances if i.instance_id == resource_id), None)
            wanted = set(instance.volume_ids) if instance else set()
            return sum(
                (
                    rates.volume_monthly(v, prices, report).amount
                    for v in inv.volumes
                    if v.volume_id in wanted
                ),
                Decimal(0),
            )
        if rec_type in (RecType.UNATTACHED_EBS, RecType.GP2_TO_GP3):
            volume = next((v for v in inv.volumes if v.volume_id == resource_id), None)
            return (
                Decimal(0)
                if volume is None
                else rates.volume_monthly(volume, prices, report).amount
            )
        if rec_type is RecType.OLD_SNAPSHOT:
            snapshot = next((s for s in inv.snapshots if s.snapshot_id == resource_id), None)
            return (
                Decimal(0)
                if snapshot is None
                else rates.snapshot_monthly(snapshot, prices, report).amount
            )
        if rec_type is RecType.IDLE_EIP:
            address = next((a for a in inv.addresses if a.allocation_id == resource_id), None)
            return (
                Decimal(0)
                if address is None
                else monthly(rates.address_hourly(address, prices, report).amount)
            )
    except PriceUnknown:
        return None
    return None


def reconcile(
    state: RecommendationState,
    rec_type: RecType,
    resource_id: str,
    baseline_monthly_cost: Decimal,
    snoozed_until: date | None,
    still_applies: bool,
    inv: AccountInventory,
    prices: PriceTable,
    today: date,
    report: CostReport = NO_REPORT,
) -> Reconciled:
    """The next step for an existing recommendation, given a fresh inventory of its account."""
    if state in (_S.IMPLEMENTED, _S.EXPIRED):
        return Reconciled(Outcome.KEEP)
    if state is _S.APPROVED:
        if not inv.complete:
            return Reconciled(Outcome.REFRESH if still_applies else Outcome.KEEP)
        if not resource_present(rec_type, resource_id, inv):
            return Reconciled(
                Outcome.IMPLEMENT, savings(baseline_monthly_cost), Evidence.RESOURCE_DELETED
            )
        cost = current_monthly_cost(rec_type, resource_id, inv, prices, report)
        # The baseline is stated in whole cents: the same resource priced again to the tenth
        # of a cent below it (60.736 against 60.74) is unchanged, not a realised $0.00.
        if cost is not None and savings(baseline_monthly_cost - cost) > 0:
            return Reconciled(
                Outcome.IMPLEMENT,
                savings(baseline_monthly_cost - cost),
                Evidence.CONFIGURATION_CHANGED,
            )
        if still_applies:
            return Reconciled(Outcome.REFRESH)
        return Reconciled(Outcome.KEEP) if cost is None else Reconciled(Outcome.EXPIRE)
    if still_applies:
        if state is _S.SNOOZED and snoozed_until is not None and snoozed_until <= today:
            return Reconciled(Outcome.REOPEN)
        return Reconciled(Outcome.REFRESH)
    return Reconciled(Outcome.EXPIRE) if inv.complete else Reconciled(Outcome.KEEP)


def cost_verdict(
    baseline_monthly_cost: Decimal, estimated_monthly_savings: Decimal, daily_cost: Decimal
) -> Reconciled | None:
    """An approved recommendation is implemented when the resource's cost in the cost report
    has dropped by most of what was promised (one full day after the approval)."""
    run_rate = daily_cost * HOURS_PER_MONTH / 24
    if run_rate > baseline_monthly_cost - REALIZED_SHARE * estimated_monthly_savings:
        return None
    realized = max(Decimal(0), baseline_monthly_cost - run_rate)
    return Reconciled(Outcome.IMPLEMENT, savings(realized), Evidence.COST_DROPPED)
