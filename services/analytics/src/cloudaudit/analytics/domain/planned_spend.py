"""Planned spend: which anomalies a team's declared increases explain, and what a plan must be."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from cloudaudit.analytics.domain.cost_series import SeriesRef
from cloudaudit.common.errors import DomainError


class PlanRejected(DomainError):
    """Planned spend that cannot be recorded or cancelled; the message says how to fix it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code)


@dataclass(frozen=True, kw_only=True)
class PlanInForce:
    """What matching needs of a plan in force on a day: its service and amount per day."""

    service: str | None  # None: any service
    amount: Decimal


def matches_plan(ref: SeriesRef, plans: Sequence[PlanInForce], excess_per_day: Decimal) -> bool:
    """Planned spend explains a service's rise when planned for that service, or when a plan
    for any service covers most of it; the account total's when the plans together do."""

    def covers(amount: Decimal) -> bool:
        return amount * 2 >= excess_per_day

    if ref.service is None:
        return bool(plans) and covers(sum((p.amount for p in plans), Decimal(0)))
    service = ref.service.lower()
    return any(
        (p.service or "").lower() == service or (p.service is None and covers(p.amount))
        for p in plans
    )


def check_plan(amount: Decimal, start: date, end: date) -> None:
    """Refuse a plan that cannot mean anything: nothing extra, or a period that ends first."""
    if amount <= 0:
        raise PlanRejected("invalid_amount", f"the amount must be more than 0 (got {amount})")
    if end < start:
        raise PlanRejected("invalid_period", f"the end date {end} is before the start date {start}")


def account_of(accounts: Mapping[UUID, str], given: str) -> UUID:
    """The team's account named by CloudAudit's id or its 12-digit AWS account id."""
    wanted = given.strip()
    for account_id, aws_account_id in accounts.items():
        if wanted in (str(account_id), aws_account_id):
            return account_id
    known = ", ".join(sorted(accounts.values())) or "none yet"
    raise PlanRejected(
        "unknown_account",
        f"account {given} has no cost data in this team (its accounts: {known}); "
        "give the 12-digit AWS account id or CloudAudit's account id",
    )
