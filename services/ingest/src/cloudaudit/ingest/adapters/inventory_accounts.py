"""Which AWS accounts a team's inventory covers, and credentials to read them (read-only role)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError
from cloudaudit.common.logging import register_secret
from cloudaudit.ingest.adapters.orm import aws_accounts, team_settings
from cloudaudit.ingest.settings import IngestSettings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ROLE_SESSION_NAME = "cloudaudit-inventory"
ROLE_SESSION_SECONDS = 900  # one inventory pass; the shortest session STS allows


@dataclass(frozen=True)
class AccountAccess:
    team_id: UUID
    account_id: UUID
    aws_account_id: str
    regions: tuple[str, ...]
    role_arn: str | None = None
    external_id: str | None = None


class AccountDirectory(Protocol):
    async def accounts(self, team_id: UUID, account_id: UUID | None) -> list[AccountAccess]: ...


class AccessDenied(Exception):
    """The role could not be assumed; the message says what to fix."""


class StaticAccountDirectory:
    """Accounts listed in INGEST_INVENTORY_ACCOUNTS (single-account installs, demos, tests)."""

    def __init__(self, settings: IngestSettings) -> None:
        raw = (
            settings.inventory_accounts.get_secret_value() if settings.inventory_accounts else "[]"
        )
        entries = json.loads(raw or "[]")
        self._accounts = []
        for entry in entries:
            if entry.get("external_id"):
                register_secret(entry["external_id"])
            self._accounts.append(
                AccountAccess(
                    team_id=UUID(entry["team_id"]),
                    account_id=UUID(entry["account_id"]),
                    aws_account_id=str(entry["aws_account_id"]),
                    regions=tuple(entry.get("regions") or settings.regions),
                    role_arn=entry.get("role_arn"),
                    external_id=entry.get("external_id"),
                )
            )

    async def accounts(self, team_id: UUID, account_id: UUID | None) -> list[AccountAccess]:
        return [
            a
            for a in self._accounts
            if a.team_id == team_id and (account_id is None or a.account_id == account_id)
        ]


class ConnectedAccountDirectory:
    """Accounts the team connected with a role (ingest's aws_accounts and the team ExternalId)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], regions: list[str]) -> None:
        self._sessions = sessions
        self._regions = tuple(regions)

    async def accounts(self, team_id: UUID, account_id: UUID | None) -> list[AccountAccess]:
        query = (
            select(
                aws_accounts.c.account_id,
                aws_accounts.c.aws_account_id,
                aws_accounts.c.role_arn,
                team_settings.c.external_id,
            )
            .join(team_settings, team_settings.c.team_id == aws_accounts.c.team_id, isouter=True)
            .where(
                aws_accounts.c.team_id == team_id,
                aws_accounts.c.role_arn.is_not(None),
                aws_accounts.c.status != "disconnected",
            )
            .order_by(aws_accounts.c.aws_account_id)
        )
        if account_id is not None:
            query = query.where(aws_accounts.c.account_id == account_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        found = []
        for row in rows:
            if row.external_id:
                register_secret(row.external_id)
            found.append(
                AccountAccess(
                    team_id=team_id,
                    account_id=row.account_id,
                    aws_account_id=row.aws_account_id,
                    regions=self._regions,
                    role_arn=row.role_arn,
                    external_id=row.external_id,
                )
            )
        return found


class CombinedDirectory:
    """Connected accounts first; statically configured ones for what is not connected."""

    def __init__(self, *directories: AccountDirectory) -> None:
        self._directories = directories

    async def accounts(self, team_id: UUID, account_id: UUID | None) -> list[AccountAccess]:
        found: dict[UUID, AccountAccess] = {}
        for directory in self._directories:
            for access in await directory.accounts(team_id, account_id):
                found.setdefault(access.account_id, access)
        return list(found.values())


# Service models are large (EC2's takes most of a second to parse): load them once per process.
_LOADER = botocore.loaders.create_loader()


def new_session(**credentials: str) -> boto3.Session:
    """A boto3 session sharing the process-wide model loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, **credentials)


def open_session(access: AccountAccess, endpoint_url: str | None) -> boto3.Session:
    """A session in the customer's account: assume their read-only role with our ExternalId."""
    base = new_session()
    if not access.role_arn:
        return base
    kwargs = {
        "RoleArn": access.role_arn,
        "RoleSessionName": ROLE_SESSION_NAME,
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if access.external_id:
        kwargs["ExternalId"] = access.external_id
    try:
        sts = base.client(
            "sts",
            region_name=access.regions[0] if access.regions else "us-east-1",
            endpoint_url=endpoint_url,
        )
        credentials = sts.assume_role(**kwargs)["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise AccessDenied(
            f"could not assume {access.role_arn} ({type(exc).__name__}); check the role still "
            "exists and trusts CloudAudit with this team's ExternalId"
        ) from None
    register_secret(credentials["SecretAccessKey"])
    register_secret(credentials["SessionToken"])
    return new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
