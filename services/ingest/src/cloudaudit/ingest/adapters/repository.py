"""Ingest persistence of accounts, team settings (ExternalIds), sync runs and imports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from cloudaudit.common.clock import utcnow
from cloudaudit.common.logging import register_secret
from cloudaudit.ingest.adapters.orm import (
    account_days,
    aws_accounts,
    imports,
    sync_runs,
    team_settings,
)
from cloudaudit.ingest.adapters.rows import AbandonedImport, Account, DueAccount, row_as
from sqlalchemy import String, case, cast, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# How a new account is named until someone names it (no live API for these providers yet).
PROVIDER_LABELS = {"aws": "AWS", "azure": "Azure", "gcp": "Google Cloud", "oci": "OCI"}


class IngestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # team settings ---------------------------------------------------------------------------
    async def external_id(self, team_id: UUID, new_value: str) -> str:
        """The team's ExternalId, created with `new_value` on first use (race-safe)."""
        await self.session.execute(
            pg_insert(team_settings)
            .values(team_id=team_id, external_id=new_value, tag_keys=[], created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["team_id"])
        )
        value = (
            await self.session.execute(
                select(team_settings.c.external_id).where(team_settings.c.team_id == team_id)
            )
        ).scalar_one()
        register_secret(value)
        return str(value)

    async def existing_external_id(self, team_id: UUID) -> str | None:
        value = (
            await self.session.execute(
                select(team_settings.c.external_id).where(team_settings.c.team_id == team_id)
            )
        ).scalar_one_or_none()
        register_secret(value)
        return value

    async def tag_keys(self, team_id: UUID) -> list[str]:
        value = (
            await self.session.execute(
                select(team_settings.c.tag_keys).where(team_settings.c.team_id == team_id)
            )
        ).scalar_one_or_none()
        return [str(k) for k in (value or [])]

    async def set_tag_keys(self, team_id: UUID, keys: list[str]) -> None:
        await self.session.execute(
            update(team_settings).where(team_settings.c.team_id == team_id).values(tag_keys=keys)
        )

    # accounts --------------------------------------------------------------------------------
    async def account(self, account_id: UUID) -> Account | None:
        row = (
            (
                await self.session.execute(
                    select(aws_accounts).where(aws_accounts.c.account_id == account_id)
                )
            )
            .mappings()
            .first()
        )
        return row_as(Account, row) if row else None

    async def account_by_aws_id(
        self, team_id: UUID, aws_account_id: str, provider: str = "aws"
    ) -> Account | None:
        """The team's account by its provider's id (an AWS account id unless told)."""
        row = (
            (
                await self.session.execute(
                    select(aws_accounts).where(
                        aws_accounts.c.team_id == team_id,
                        aws_accounts.c.provider == provider,
                        aws_accounts.c.aws_account_id == aws_account_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return row_as(Account, row) if row else None

    async def accounts_of_team(self, team_id: UUID) -> list[Account]:
        rows = await self.session.execute(
            select(aws_accounts)
            .where(aws_accounts.c.team_id == team_id)
            .order_by(aws_accounts.c.created_at, aws_accounts.c.aws_account_id)
        )
        return [row_as(Account, r) for r in rows.mappings()]

    async def upsert_account(
        self, team_id: UUID, aws_account_id: str, provider: str = "aws", **fields: Any
    ) -> UUID:
        """Insert or update (team, provider, account); returns CloudAudit's account id."""
        now = utcnow()
        existing = await self.account_by_aws_id(team_id, aws_account_id, provider)
        if existing is None:
            label = PROVIDER_LABELS.get(provider, provider)
            fields.setdefault("account_name", f"{label} {aws_account_id}"[:200])
            result = await self.session.execute(
                pg_insert(aws_accounts)
                .values(
                    account_id=fields.pop("account_id"),
                    team_id=team_id,
                    aws_account_id=aws_account_id,
                    provider=provider,
                    created_at=now,
                    updated_at=now,
                    **fields,
                )
                .on_conflict_do_update(
                    constraint="uq_aws_accounts_team_provider_account",
                    set_={k: v for k, v in {**fields, "updated_at": now}.items()},
                )
                .returning(aws_accounts.c.account_id)
            )
            return result.scalar_one()
        fields.pop("account_id", None)
        await self.session.execute(
            update(aws_accounts)
            .where(aws_accounts.c.account_id == existing.account_id)
            .values(updated_at=now, **fields)
        )
        return existing.account_id

    async def hold_account(self, account_id: UUID, wait_s: float) -> bool:
        """Wait (at most `wait_s`) for a running sync of the account to end, then keep syncs
        off it until this transaction ends: False if one is still running."""
        await self.session.execute(text(f"SET LOCAL lock_timeout = '{int(wait_s * 1000)}ms'"))
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                    {"k": f"ingest-sync:{account_id}"},
                )
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                return False
            raise
        finally:
            await self.session.execute(text("SET LOCAL lock_timeout = 0"))
        return True

    async def delete_account(self, account_id: UUID) -> None:
        """The account row; its runs, Cost Explorer days, summaries and resources go with it
        (foreign keys ON DELETE CASCADE)."""
        await self.session.execute(
            delete(aws_accounts).where(aws_accounts.c.account_id == account_id)
        )

    async def update_account(self, account_id: UUID, **fields: Any) -> None:
        await self.session.execute(
            update(aws_accounts)
            .where(aws_accounts.c.account_id == account_id)
            .values(updated_at=utcnow(), **fields)
        )

    async def claim_due_accounts(
        self, now: datetime, hold_until: datetime, limit: int
    ) -> list[DueAccount]:
        """Accounts whose sync is due, pushed forward at once so no other replica takes them."""
        due = (
            select(aws_accounts.c.account_id)
            .where(
                aws_accounts.c.next_sync_at <= now,
                aws_accounts.c.role_arn.is_not(None),
                aws_accounts.c.status.in_(["connected", "syncing", "failed"]),
            )
            .order_by(aws_accounts.c.next_sync_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        rows = await self.session.execute(
            update(aws_accounts)
            .where(aws_accounts.c.account_id.in_(due))
            .values(next_sync_at=hold_until)
            .returning(aws_accounts.c.account_id, aws_accounts.c.team_id)
        )
        return [row_as(DueAccount, r) for r in rows.mappings()]

    async def oldest_estimated_day(self, account_id: UUID) -> date | None:
        return (
            await self.session.execute(
                select(func.min(account_days.c.usage_date)).where(
                    account_days.c.account_id == account_id,
                    account_days.c.is_estimated.is_(True),
                    account_days.c.source == "cost_explorer",
                )
            )
        ).scalar_one_or_none()

    # runs ------------------------------------------------------------------------------------
    async def add_run(
        self,
        run_id: UUID,
        team_id: UUID,
        account_id: UUID | None,
        kind: str,
        status: str = "running",
        **fields: Any,
    ) -> None:
        # A run recorded once it is over (a connect attempt) carries its `finished_at`; its
        # start cannot be later than that (it used to be stamped after, at insert time).
        finished_at = fields.get("finished_at")
        started_at = fields.pop("started_at", None) or finished_at or utcnow()
        await self.session.execute(
            insert(sync_runs).values(
                run_id=run_id,
                team_id=team_id,
                account_id=account_id,
                kind=kind,
                status=status,
                started_at=started_at,
                ce_requests=fields.pop("ce_requests", 0),
                days=fields.pop("days", 0),
                rows=fields.pop("rows", 0),
                details=fields.pop("details", {}),
                **fields,
            )
        )

    async def finish_run(self, run_id: UUID, status: str, **fields: Any) -> None:
        await self.session.execute(
            update(sync_runs)
            .where(sync_runs.c.run_id == run_id)
            .values(status=status, finished_at=utcnow(), **fields)
        )

    async def ce_requests_since(self, team_id: UUID, since: datetime) -> dict[UUID, int]:
        rows = await self.session.execute(
            select(sync_runs.c.account_id, func.coalesce(func.sum(sync_runs.c.ce_requests), 0))
            .where(
                sync_runs.c.team_id == team_id,
                sync_runs.c.started_at >= since,
                sync_runs.c.account_id.is_not(None),
            )
            .group_by(sync_runs.c.account_id)
        )
        return {account_id: int(count) for account_id, count in rows.all()}

    # imports ---------------------------------------------------------------------------------
    async def add_import(self, **fields: Any) -> None:
        await self.session.execute(insert(imports).values(**fields))

    async def finish_import(self, import_id: UUID, **fields: Any) -> None:
        await self.session.execute(
            update(imports)
            .where(imports.c.import_id == import_id)
            .values(finished_at=utcnow(), **fields)
        )

    async def interrupt_abandoned_imports(
        self, team_id: UUID | None, reason: str
    ) -> list[AbandonedImport]:
        """Mark `interrupted` every running import whose process is gone: nobody holds its
        lease lock (PostgreSQL releases a session lock when its connection dies). It ends at
        its last heartbeat. The locks taken here are released when this transaction ends."""
        lease_free = case(
            (imports.c.status == "running", func.pg_try_advisory_xact_lock(import_lease_key())),
            else_=False,
        )
        query = (
            update(imports)
            .where(imports.c.status == "running", lease_free)
            .values(
                status="interrupted",
                finished_at=func.coalesce(imports.c.heartbeat_at, imports.c.started_at),
                problems=[{"reason": reason}],
            )
            .returning(imports.c.import_id, imports.c.team_id, imports.c.heartbeat_at)
        )
        if team_id is not None:
            query = query.where(imports.c.team_id == team_id)
        return [row_as(AbandonedImport, r) for r in (await self.session.execute(query)).mappings()]


# -- an import's lease: held on a connection of its own while the import's process runs -------
def import_lease_key(import_id: UUID | None = None) -> Any:
    """The advisory lock of one import (or, without an id, of the imports row in a query)."""
    column = imports.c.import_id if import_id is None else literal(str(import_id))
    return func.hashtext(literal("ingest-import:") + cast(column, String))


async def take_import_lease(connection: AsyncConnection, import_id: UUID) -> None:
    await connection.execute(select(func.pg_advisory_lock(import_lease_key(import_id))))
    await connection.commit()


async def release_import_lease(connection: AsyncConnection, import_id: UUID) -> None:
    await connection.execute(select(func.pg_advisory_unlock(import_lease_key(import_id))))
    await connection.commit()


async def write_import_heartbeat(connection: AsyncConnection, import_id: UUID) -> None:
    await connection.execute(
        update(imports).where(imports.c.import_id == import_id).values(heartbeat_at=utcnow())
    )
    await connection.commit()
