"""Planned spend: record, list and cancel known increases (audited). Anomalies a plan explains
are recorded as expected and not alerted (see `domain.planned_spend`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from cloudaudit.analytics.adapters.anomaly_rows import ExpectationRow
from cloudaudit.analytics.adapters.anomaly_unit_of_work import AnomalyUnitOfWork
from cloudaudit.analytics.domain.planned_spend import PlanRejected, account_of, check_plan
from cloudaudit.common.actors import Command, authorize
from cloudaudit.common.events.anomaly import ExpectSpendReply, ExpectSpendRequest
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import Action


@dataclass(frozen=True)
class PlanSpend:
    """Declare a known increase: `amount` more per day from `start` to `end` (inclusive)."""

    team_id: UUID
    amount: Decimal
    start: date
    end: date
    service: str | None = None  # None: any service
    account: str | None = None  # AWS account id or CloudAudit account id; None: every account
    note: str | None = None
    user_id: UUID | None = None  # None: an operator at the command line
    source: str = "analytics"


async def plan_spend(command: PlanSpend, uow: AnomalyUnitOfWork, team_must_exist: bool) -> UUID:
    """Record planned spend (audited); anomalies it explains are recorded as expected and not
    alerted. `team_must_exist`: refuse a team analytics has no cost data for (a mistyped id)."""
    check_plan(command.amount, command.start, command.end)
    expectation_id = uuid4()
    async with uow:
        if team_must_exist and not await uow.repo.team_has_days(command.team_id):
            raise PlanRejected(
                "unknown_team",
                f"team {command.team_id} has no cost data in CloudAudit; check the id with "
                "`cloudaudit teams list` (or connect an AWS account first)",
            )
        account_id = (
            None
            if command.account is None
            else account_of(await uow.repo.team_accounts(command.team_id), command.account)
        )
        await uow.repo.add_expectation(
            expectation_id=expectation_id,
            team_id=command.team_id,
            account_id=account_id,
            service=command.service,
            amount=command.amount,
            start_date=command.start,
            end_date=command.end,
            note=command.note,
            created_by=command.user_id,
        )
        await uow.emit(AUDIT_RECORDED, _spend_expected(command, expectation_id, account_id))
        await uow.commit()
    return expectation_id


async def expect_spend(
    cmd: Command[ExpectSpendRequest], uow: AnomalyUnitOfWork
) -> ExpectSpendReply:
    """Planned spend from Slack (owners and admins): anomalies it explains are recorded as
    expected, not alerted."""
    request, actor = cmd.request, cmd.actor
    async with uow:
        await authorize(uow, actor, Action.CHANGE_SETTINGS, source="analytics")
    command = PlanSpend(
        team_id=actor.team_id,
        amount=request.amount,
        start=request.start,
        end=request.end,
        service=request.service,
        user_id=actor.user_id,
        source=actor.audit_source("analytics"),
    )
    return ExpectSpendReply(expectation_id=await plan_spend(command, uow, team_must_exist=False))


async def planned_spend(
    team_id: UUID, uow: AnomalyUnitOfWork, include_cancelled: bool = False
) -> list[ExpectationRow]:
    """The team's planned spend, earliest first, with the AWS account id it is limited to."""
    async with uow:
        rows = await uow.repo.expectations(team_id, include_cancelled)
        accounts = await uow.repo.team_accounts(team_id)
    return [replace(r, aws_account_id=accounts.get(r.account_id)) for r in rows]  # type: ignore[arg-type]


async def cancel_planned_spend(
    expectation_id: UUID,
    uow: AnomalyUnitOfWork,
    user_id: UUID | None = None,
    team_id: UUID | None = None,
    source: str = "analytics",
) -> ExpectationRow:
    """Withdraw planned spend (audited): from now on its increases alert again. `team_id`
    limits it to one team's plans (None: an operator may cancel any)."""
    async with uow:
        row = await uow.repo.expectation(expectation_id)
        if row is None or (team_id is not None and row.team_id != team_id):
            raise PlanRejected(
                "not_found",
                f"no planned spend {expectation_id}; list them with `cloudaudit expect list`",
            )
        if row.cancelled_at is not None:
            raise PlanRejected(
                "already_cancelled",
                f"planned spend {expectation_id} was already cancelled on "
                f"{row.cancelled_at:%Y-%m-%d %H:%M} UTC",
            )
        await uow.repo.cancel_expectation(expectation_id, user_id)
        await uow.emit(AUDIT_RECORDED, _cancelled(row, user_id, source))
        await uow.commit()
    return row


def _spend_expected(
    command: PlanSpend, expectation_id: UUID, account_id: UUID | None
) -> AuditRecorded:
    return AuditRecorded(
        team_id=command.team_id,
        user_id=command.user_id,
        action="anomaly.spend_expected",
        entity_type="spend_expectation",
        entity_id=str(expectation_id),
        source=command.source,
        details={
            "service": command.service,
            "account_id": None if account_id is None else str(account_id),
            "amount": str(command.amount),
            "start": command.start.isoformat(),
            "end": command.end.isoformat(),
            "note": command.note,
        },
    )


def _cancelled(row: ExpectationRow, user_id: UUID | None, source: str) -> AuditRecorded:
    return AuditRecorded(
        team_id=row.team_id,
        user_id=user_id,
        action="anomaly.spend_expectation_cancelled",
        entity_type="spend_expectation",
        entity_id=str(row.expectation_id),
        source=source,
        details={
            "service": row.service,
            "amount": str(row.amount),
            "start": row.start_date.isoformat(),
            "end": row.end_date.isoformat(),
        },
    )
