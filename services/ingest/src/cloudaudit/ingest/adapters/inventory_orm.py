"""Inventory tables of the ingest schema: the last known facts of every resource, per account."""

from cloudaudit.common.db import JSONType, UTCDateTime
from cloudaudit.ingest.adapters.metadata import metadata
from sqlalchemy import Boolean, Column, Index, String, Table, Uuid

# Keyed by the connection (account_id, one per team) and the resource id: two teams that
# connected the same AWS account keep separate rows.
inventory_resources = Table(
    "inventory_resources",
    metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("resource_id", String(255), primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("aws_account_id", String(12), nullable=False),
    Column("resource_type", String(50), nullable=False),
    Column("region", String(32), nullable=False),
    Column("facts", JSONType, nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("gone_at", UTCDateTime, nullable=True),
    Index("ix_inventory_resources_team_id", "team_id"),
)

inventory_runs = Table(
    "inventory_runs",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("team_id", Uuid, nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("counts", JSONType, nullable=False),
    Column("problems", JSONType, nullable=False),
)
