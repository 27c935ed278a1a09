"""Which AWS accounts a team's inventory covers, and credentials to read them (read-only role)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from cloudaudit.common.logging import register_secret
from cloudaudit.ingest.adapters.inventory_settings import InventorySettings

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

    def __init__(self, settings: InventorySettings) -> None:
        raw = settings.inventory_accounts.get_secret_value() if settings.inventory_accounts else "[]"
        entries = json.loads(raw or "[]")
        self._accounts = []
        for entry in entries:
            if entry.get("external_id"):
                register_secret(entry["external_id"])
            self._accounts.append(AccountAccess(
                team_id=UUID(entry["team_id"]), account_id=UUID(entry["account_id"]),
                aws_account_id=str(entry["aws_account_id"]),
                regions=tuple(entry.get("regions") or settings.regions),
                role_arn=entry.get("role_arn"), external_id=entry.get("external_id"),
            ))

    async def accounts(self, team_id: UUID, account_id: UUID | None) -> list[AccountAccess]:
        return [a for a in self._accounts
                if a.team_id == team_id and (account_id is None or a.account_id == account_id)]


def open_session(access: AccountAccess, endpoint_url: str | None) -> boto3.Session:
    """A session in the customer's account: assume their read-only role with our ExternalId."""
    base = boto3.Session()
    if not access.role_arn:
        return base
    kwargs = {"RoleArn": access.role_arn, "RoleSessionName": ROLE_SESSION_NAME,
              "DurationSeconds": ROLE_SESSION_SECONDS}
    if access.external_id:
        kwargs["ExternalId"] = access.external_id
    try:
        sts = base.client("sts", region_name=access.regions[0] if access.regions else "us-east-1",
                          endpoint_url=endpoint_url)
        credentials = sts.assume_role(**kwargs)["Credentials"]
    except (ClientError, BotoCoreError) as exc:
        raise AccessDenied(
            f"could not assume {access.role_arn} ({type(exc).__name__}); check the role still "
            "exists and trusts CloudAudit with this team's ExternalId") from None
    register_secret(credentials["SecretAccessKey"])
    register_secret(credentials["SessionToken"])
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"],
                         aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"])
