"""What the ingest repository reads back: frozen rows of the ingest tables (no SQLAlchemy
mappings leave the adapters)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID

R = TypeVar("R")


def row_as(cls: type[R], mapping: Mapping[str, Any]) -> R:
    """A frozen row from a result mapping: the fields the row declares, nothing else."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{name: mapping[name] for name in names if name in mapping})


@dataclass(frozen=True, kw_only=True)
class Account:
    """A team's cloud account (aws_accounts): CloudAudit's id, the provider and its id for the
    account (`aws_account_id` keeps its name: opaque text for other providers), role and sync
    state. Accounts of other providers come from FOCUS imports only (`import_only`)."""

    account_id: UUID
    team_id: UUID
    aws_account_id: str
    account_name: str
    role_arn: str | None
    status: str
    last_error: str | None
    last_error_step: str | None
    connected_by: UUID | None
    connected_at: datetime | None
    last_sync_at: datetime | None
    next_sync_at: datetime | None
    last_synced_day: date | None
    export_bucket: str | None
    export_prefix: str | None
    created_at: datetime
    updated_at: datetime
    provider: str = "aws"  # aws, azure, gcp, oci, or another FOCUS ProviderName lower-cased

    @property
    def has_aws_id(self) -> bool:
        """An AWS account with a real AWS id: v1 subjects and events carry it. Anonymised
        exports (13 digits) and other providers' ids never go into a subject."""
        return (
            self.provider == "aws"
            and len(self.aws_account_id) == 12
            and self.aws_account_id.isdigit()
        )


@dataclass(frozen=True, kw_only=True)
class DueAccount:
    """An account the scheduler claimed for a sync."""

    account_id: UUID
    team_id: UUID


@dataclass(frozen=True, kw_only=True)
class AbandonedImport:
    """An import found `running` whose process is gone, now `interrupted`."""

    import_id: UUID
    team_id: UUID
    heartbeat_at: datetime | None
