"""Connecting accounts by cross-account role, the team's ExternalId, and the accounts list."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from cloudaudit.common.actors import Command, Emits, authorize, require_owner_team
from cloudaudit.common.clock import utcnow
from cloudaudit.common.events.account import (
    ACCOUNT_CONNECTED,
    ACCOUNT_CONNECTION_FAILED,
    ACCOUNT_DISCONNECTED,
    AccountConnected,
    AccountConnectionFailed,
    AccountDisconnected,
    AccountsReply,
    AccountsRequest,
    AccountStatus,
    AccountSummary,
    ConnectAccountReply,
    ConnectAccountRequest,
    ConnectStep,
    DisconnectAccountReply,
    DisconnectAccountRequest,
    ExternalIdReply,
    ExternalIdRequest,
)
from cloudaudit.common.events.audit import AUDIT_RECORDED, AuditRecorded
from cloudaudit.common.events.identity import Action
from cloudaudit.ingest.adapters.unit_of_work import IngestUnitOfWork
from cloudaudit.ingest.domain.arn import RoleArn, parse_role_arn
from cloudaudit.ingest.domain.connect import new_external_id, quick_create_url
from cloudaudit.ingest.domain.cost_explorer import CE_REQUEST_COST
from cloudaudit.ingest.domain.errors import IngestError, SyncInProgress
from cloudaudit.ingest.service.deps import IngestDeps

log = logging.getLogger(__name__)


SOURCE = "ingest"


async def external_id(deps: IngestDeps, cmd: Command[ExternalIdRequest]) -> ExternalIdReply:
    """The team's ExternalId (created on first ask), our principal and a quick-create link;
    for the people who may connect accounts (owners and admins)."""
    async with deps.uow() as uow:
        await authorize(uow, cmd.actor, Action.CONNECT_ACCOUNT, source=SOURCE)
        value = await uow.repo.external_id(cmd.actor.team_id, new_external_id())
        await uow.commit()
    principal = await asyncio.to_thread(deps.aws.principal_arn)
    return ExternalIdReply(
        external_id=value,
        principal_arn=principal,
        quick_create_url=quick_create_url(
            deps.settings.template_url, value, principal, deps.settings.aws_region
        ),
    )


async def connect_account(
    deps: IngestDeps, cmd: Command[ConnectAccountRequest]
) -> ConnectAccountReply:
    """Validate the ARN, assume the role with the team's ExternalId, probe each permission,
    then store the account and announce it. Every failure names its step and its fix (the
    reply carries the step and the AWS account), and is recorded and audited."""
    started = utcnow()
    async with deps.uow() as uow:
        await authorize(uow, cmd.actor, Action.CONNECT_ACCOUNT, source=SOURCE)
    role: RoleArn | None = None
    try:
        role = parse_role_arn(cmd.request.role_arn)
        ce_requests = await _probe(deps, cmd.actor.team_id, role, cmd.request.export_bucket)
    except IngestError as exc:
        await _record_failure(deps, cmd, role, exc, started)
        raise exc.with_details(
            failed_step=getattr(exc, "step", None),
            aws_account_id=role.account_id if role else None,
        ) from None
    account_id = await _store_connected(deps, cmd, role, ce_requests, started)
    log.info(
        "account connected",
        extra={"team_id": str(cmd.actor.team_id), "aws_account_id": role.account_id},
    )
    return ConnectAccountReply(account_id=account_id, aws_account_id=role.account_id)


async def _probe(deps: IngestDeps, team_id: UUID, role: RoleArn, bucket: str | None) -> int:
    """Assume the role with the team's ExternalId and try each permission; returns the Cost
    Explorer requests that took (each is billed to the team)."""
    async with deps.uow() as uow:
        team_external_id = await uow.repo.external_id(team_id, new_external_id())
        await uow.commit()
    credentials = await asyncio.to_thread(deps.aws.assume, role, team_external_id)
    return await asyncio.to_thread(deps.aws.check_permissions, role, credentials, bucket)


async def _store_connected(
    deps: IngestDeps,
    cmd: Command[ConnectAccountRequest],
    role: RoleArn,
    ce_requests: int,
    started: datetime,
) -> UUID:
    request, team_id, user_id = cmd.request, cmd.actor.team_id, cmd.actor.user_id
    now = utcnow()
    naming = {"account_name": request.name} if request.name else {}
    async with deps.uow() as uow:
        account_id = await uow.repo.upsert_account(
            team_id,
            role.account_id,
            account_id=uuid4(),
            **naming,
            role_arn=str(role),
            status=AccountStatus.CONNECTED.value,
            last_error=None,
            last_error_step=None,
            connected_by=user_id,
            connected_at=now,
            next_sync_at=now,
            export_bucket=request.export_bucket,
        )
        await uow.repo.add_run(
            uuid4(), team_id, account_id, "connect", status="succeeded",
            ce_requests=ce_requests, started_at=started, finished_at=now,
        )  # fmt: skip
        account = await uow.repo.account(account_id)
        await uow.emit(
            ACCOUNT_CONNECTED,
            AccountConnected(
                team_id=team_id,
                account_id=account_id,
                aws_account_id=role.account_id,
                name=account.account_name if account else role.account_id,
                connected_by=user_id,
            ),
        )
        await _audit(uow, cmd, "account.connected", role.account_id, role_arn=str(role))
        await uow.commit()
    return account_id


async def _audit(
    uow: Emits, cmd: Command[ConnectAccountRequest], action: str, aws_id: str | None, **details: str
) -> None:
    """Ingest audits the connections it makes (or refuses), in the same transaction."""
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=cmd.actor.team_id,
            user_id=cmd.actor.user_id,
            action=action,
            entity_type="aws_account",
            entity_id=aws_id,
            details={"name": cmd.request.name, **details} if cmd.request.name else details,
            source=cmd.actor.audit_source(SOURCE),
        ),
    )


async def _record_failure(
    deps: IngestDeps,
    cmd: Command[ConnectAccountRequest],
    role: RoleArn | None,
    exc: IngestError,
    started: datetime,
) -> None:
    """The attempt as a failed run, the account's last error, an event and an audit entry."""
    request, team_id = cmd.request, cmd.actor.team_id
    step = getattr(exc, "step", ConnectStep.ASSUME_ROLE)
    async with deps.uow() as uow:
        account_id = await _mark_failed(uow, cmd, role, exc, step)
        await uow.repo.add_run(
            uuid4(), team_id, account_id, "connect", status="failed", started_at=started,
            finished_at=utcnow(), error=exc.message,
            details={"step": step.value, "code": exc.code},
        )  # fmt: skip
        await uow.emit(
            ACCOUNT_CONNECTION_FAILED,
            AccountConnectionFailed(
                team_id=team_id,
                aws_account_id=role.account_id if role else None,
                role_arn=request.role_arn[:2048],
                step=step,
                code=exc.code,
                message=exc.message,
                requested_by=cmd.actor.user_id,
            ),
        )
        aws_id = role.account_id if role else None
        await _audit(uow, cmd, "account.connection_failed", aws_id, step=step.value, code=exc.code)
        await uow.commit()
    log.info(
        "account connection failed",
        extra={"team_id": str(team_id), "step": step.value, "code": exc.code},
    )


async def _mark_failed(
    uow: IngestUnitOfWork,
    cmd: Command[ConnectAccountRequest],
    role: RoleArn | None,
    exc: IngestError,
    step: ConnectStep,
) -> UUID | None:
    """The account's last error (a connected account stays connected: its role still works
    for syncs until a sync says otherwise); None when the ARN did not even name an account."""
    if role is None:
        return None
    team_id = cmd.actor.team_id
    existing = await uow.repo.account_by_aws_id(team_id, role.account_id)
    fields = {"last_error": exc.message, "last_error_step": step.value}
    if existing is None or existing.status != AccountStatus.CONNECTED.value:
        fields.update(status=AccountStatus.FAILED.value, role_arn=str(role))
    if cmd.request.name:
        fields["account_name"] = cmd.request.name
    return await uow.repo.upsert_account(team_id, role.account_id, account_id=uuid4(), **fields)


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def list_accounts(deps: IngestDeps, cmd: Command[AccountsRequest]) -> AccountsReply:
    """The team's accounts, their state, and this month's Cost Explorer API spend."""
    team_id = cmd.actor.team_id
    async with deps.uow() as uow:
        await authorize(uow, cmd.actor, Action.READ_SPEND, source=SOURCE)
        rows = await uow.repo.accounts_of_team(team_id)
        requests = await uow.repo.ce_requests_since(team_id, month_start(utcnow()))
    return AccountsReply(
        accounts=[
            AccountSummary(
                account_id=row.account_id,
                aws_account_id=row.aws_account_id,
                name=row.account_name,
                status=AccountStatus(row.status),
                last_sync_at=row.last_sync_at,
                last_error=row.last_error,
                last_error_step=ConnectStep(row.last_error_step) if row.last_error_step else None,
                role_arn=row.role_arn,
                ce_requests_this_month=requests.get(row.account_id, 0),
                ce_cost_this_month=Decimal(requests.get(row.account_id, 0)) * CE_REQUEST_COST,
            )
            for row in rows
        ]
    )


SYNC_WAIT_S = 3.0  # a disconnect waits this long for a running sync to end


async def disconnect_account(
    deps: IngestDeps, cmd: Command[DisconnectAccountRequest]
) -> DisconnectAccountReply:
    """Stop syncing one of the team's accounts (owners and admins), once any running sync has
    ended; with `delete_data` its costs, summaries and resources go too, and analytics forgets
    its anomalies and recommendations (`account.v1.disconnected`). Audited either way."""
    request, actor = cmd.request, cmd.actor
    async with deps.uow() as uow:
        await authorize(uow, actor, Action.CONNECT_ACCOUNT, source=SOURCE)
        account = await uow.repo.account(request.account_id)
        require_owner_team(
            actor, account.team_id if account else None, "account", request.account_id
        )
        assert account is not None
        if not await uow.repo.hold_account(account.account_id, SYNC_WAIT_S):
            raise SyncInProgress(
                f"a sync of {account.aws_account_id} is running; it ends on its own within a "
                "few minutes: disconnect again then (nothing was changed)"
            )
        rows = await _forget(uow, account.account_id, request.delete_data)
        await uow.emit(
            ACCOUNT_DISCONNECTED,
            AccountDisconnected(
                team_id=actor.team_id, account_id=account.account_id,
                aws_account_id=account.aws_account_id, name=account.account_name,
                data_deleted=request.delete_data, disconnected_by=actor.user_id,
            ),
        )  # fmt: skip
        await _audit_disconnect(uow, cmd, account.aws_account_id, account.account_name, rows)
        await uow.commit()
    log.info("account disconnected", extra={"team_id": str(actor.team_id), "rows": rows})
    return DisconnectAccountReply(
        account_id=account.account_id, aws_account_id=account.aws_account_id,
        name=account.account_name, data_deleted=request.delete_data, cost_rows_deleted=rows,
    )  # fmt: skip


async def _forget(uow: IngestUnitOfWork, account_id: UUID, delete_data: bool) -> int:
    """Delete the account and its data (returns the line items deleted), or only stop it."""
    if not delete_data:
        await uow.repo.update_account(account_id, status=AccountStatus.DISCONNECTED.value)
        return 0
    rows = await uow.costs.delete_account_costs(account_id)
    await uow.repo.delete_account(account_id)
    return rows


async def _audit_disconnect(
    uow: Emits, cmd: Command[DisconnectAccountRequest], aws_id: str, name: str, rows: int
) -> None:
    details = {"name": name, "data_deleted": cmd.request.delete_data, "cost_rows_deleted": rows}
    await uow.emit(
        AUDIT_RECORDED,
        AuditRecorded(
            team_id=cmd.actor.team_id,
            user_id=cmd.actor.user_id,
            action="account.disconnected",
            entity_type="aws_account",
            entity_id=aws_id,
            details=details,
            source=cmd.actor.audit_source(SOURCE),
        ),
    )
