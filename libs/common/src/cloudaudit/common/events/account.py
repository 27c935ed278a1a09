"""AWS account contracts: connecting by cross-account role, listing, syncing (ingest owns them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from cloudaudit.common.events.base import ActorRequest, Event, Reply, Request
from cloudaudit.common.money import Money
from pydantic import Field

ACCOUNT_CONNECTED = "account.v1.connected"
ACCOUNT_CONNECTION_FAILED = "account.v1.connection_failed"
ACCOUNT_SYNCED = "account.v1.synced"
ACCOUNT_DISCONNECTED = "account.v1.disconnected"
RPC_CONNECT = "ingest.v1.rpc.connect"
RPC_EXTERNAL_ID = "ingest.v1.rpc.external_id"
RPC_ACCOUNTS = "ingest.v1.rpc.accounts"
RPC_SYNC = "ingest.v1.rpc.sync"
RPC_DISCONNECT = "ingest.v1.rpc.disconnect"

AwsAccountId = str  # 12 digits, kept as text (leading zeros are significant)


class AccountStatus(StrEnum):
    CONNECTED = "connected"
    FAILED = "failed"
    SYNCING = "syncing"
    DISCONNECTED = "disconnected"
    IMPORT_ONLY = "import_only"  # known from imported cost files only; no role to sync with


class ConnectStep(StrEnum):
    """The step of connecting an account that failed, shown to the user with its fix."""

    VALIDATE_ARN = "validate_arn"
    ASSUME_ROLE = "assume_role"
    COST_EXPLORER = "cost_explorer"
    PERMISSIONS = "permissions"
    THROTTLED = "throttled"


class AccountConnected(Event):
    account_id: UUID
    aws_account_id: AwsAccountId = Field(pattern=r"^\d{12}$")
    name: str
    connected_by: UUID | None = None


class AccountConnectionFailed(Event):
    aws_account_id: AwsAccountId | None = None
    role_arn: str
    step: ConnectStep
    code: str
    message: str = Field(description="What failed and how to fix it; never contains secrets.")
    requested_by: UUID | None = None


class AccountSynced(Event):
    account_id: UUID
    aws_account_id: AwsAccountId
    source: str = Field(examples=["cost_explorer", "cur"])
    days: int
    rows: int
    ce_requests: int = 0


class ConnectAccountRequest(ActorRequest):
    role_arn: str = Field(max_length=2048)
    name: str | None = Field(default=None, max_length=200)
    export_bucket: str | None = Field(
        default=None,
        max_length=255,
        description="S3 bucket of the account's CUR / Data Exports; its read access is checked.",
    )


class ConnectAccountReply(Reply):
    account_id: UUID | None = None
    aws_account_id: AwsAccountId | None = None
    failed_step: ConnectStep | None = None


class ExternalIdRequest(ActorRequest):
    """The actor's team's ExternalId (owners and admins)."""


class ExternalIdReply(Reply):
    external_id: str | None = None
    principal_arn: str | None = None
    quick_create_url: str | None = None


class AccountsRequest(ActorRequest):
    """The actor's team's accounts."""


class AccountSummary(Request):
    account_id: UUID
    aws_account_id: AwsAccountId
    name: str
    status: AccountStatus
    last_sync_at: datetime | None = None
    last_error: str | None = None
    ce_requests_this_month: int = 0
    ce_cost_this_month: Money = Field(default=0)
    last_error_step: ConnectStep | None = None
    role_arn: str | None = None


class AccountsReply(Reply):
    accounts: list[AccountSummary] = Field(default_factory=list)


class SyncRequest(ActorRequest):
    account_id: UUID | None = Field(default=None, description="None: every account of the team.")
    days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="Pull this many trailing days again (None: from the watermark).",
    )


class SyncReply(Reply):
    started: list[UUID] = Field(default_factory=list)
    skipped: list[UUID] = Field(
        default_factory=list, description="Accounts not synced (import-only, or already syncing)."
    )


class DisconnectAccountRequest(ActorRequest):
    """Stop using an account (owners and admins): no more syncs; its data kept or deleted."""

    account_id: UUID
    delete_data: bool = Field(
        default=False,
        description="Also delete its costs, summaries, resources and (in analytics) anomalies "
        "and recommendations; otherwise they stay readable and the account can be connected again.",
    )


class DisconnectAccountReply(Reply):
    account_id: UUID | None = None
    aws_account_id: AwsAccountId | None = None
    name: str | None = None
    data_deleted: bool = False
    cost_rows_deleted: int = 0


class AccountDisconnected(Event):
    """An account left the team: analytics forgets it too when its data was deleted."""

    account_id: UUID
    aws_account_id: AwsAccountId
    name: str
    data_deleted: bool
    disconnected_by: UUID | None = None
