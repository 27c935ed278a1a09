"""Tables of the ingest schema. Created only by the Alembic migrations beside them.

Every cost row carries the team and CloudAudit's account id (one per team and AWS account):
two teams that connected the same AWS account never share a row.

Importing this module registers every ingest table on `metadata`, the inventory's too (Alembic's
env and the schema test compare against it); table modules import `metadata.py`, never this one.
"""

from cloudaudit.common.db import JSONType, UTCDateTime
from cloudaudit.ingest.adapters import inventory_orm
from cloudaudit.ingest.adapters.metadata import SCHEMA as SCHEMA
from cloudaudit.ingest.adapters.metadata import metadata
from cloudaudit.ingest.adapters.metadata import outbox as outbox
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)

TABLE_MODULES = (inventory_orm,)


def Amount() -> Numeric:
    """Unconstrained numeric: cost reports carry up to 10 decimal places, kept exactly."""
    return Numeric(asdecimal=True)


team_settings = Table(
    "team_settings",
    metadata,
    Column("team_id", Uuid, primary_key=True),
    Column("external_id", String(128), nullable=False, unique=True),
    Column("tag_keys", JSONType, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False),
)

aws_accounts = Table(
    "aws_accounts",
    metadata,
    Column("account_id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    # The provider's own account id, opaque text (AWS: 12 digits; Azure: a GUID; OCI: an OCID).
    Column("aws_account_id", String(255), nullable=False),
    Column("provider", String(32), nullable=False, server_default="aws"),
    Column("account_name", String(200), nullable=False),
    Column("role_arn", String(2048), nullable=True),
    Column("status", String(20), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("last_error_step", String(30), nullable=True),
    Column("connected_by", Uuid, nullable=True),
    Column("connected_at", UTCDateTime, nullable=True),
    Column("last_sync_at", UTCDateTime, nullable=True),
    Column("next_sync_at", UTCDateTime, nullable=True),
    Column("last_synced_day", Date, nullable=True),
    Column("export_bucket", String(255), nullable=True),
    Column("export_prefix", String(1024), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "team_id", "provider", "aws_account_id", name="uq_aws_accounts_team_provider_account"
    ),
    Index("ix_aws_accounts_next_sync_at", "next_sync_at"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("run_id", Uuid, primary_key=True),
    Column(
        "account_id", Uuid, ForeignKey("aws_accounts.account_id", ondelete="CASCADE"), nullable=True
    ),
    Column("team_id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),  # connect, cost_explorer, import
    Column("status", String(20), nullable=False),  # running, succeeded, failed
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("ce_requests", Integer, nullable=False, default=0),
    Column("days", Integer, nullable=False, default=0),
    Column("rows", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("details", JSONType, nullable=False, default=dict),
    Index("ix_sync_runs_account_started", "account_id", "started_at"),
    Index("ix_sync_runs_team_started", "team_id", "started_at"),
)

ce_costs = Table(
    "ce_costs",
    metadata,
    Column(
        "account_id",
        Uuid,
        ForeignKey("aws_accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("grouping", String(160), primary_key=True),
    Column("usage_date", Date, primary_key=True),
    Column("service", String(255), primary_key=True),
    Column("detail", String(512), primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("unblended_cost", Amount(), nullable=False),
    # NULL: the answer did not carry the metric (not available, never a zero).
    Column("blended_cost", Amount(), nullable=True),
    Column("amortized_cost", Amount(), nullable=True),
    Column("net_unblended_cost", Amount(), nullable=True),
    Column("usage_quantity", Amount(), nullable=True),
    Column("estimated", Boolean, nullable=False),
    Column("run_id", Uuid, nullable=False),
)

# Partitioned by month of usage_date (migration 0002 creates the parent, a DEFAULT partition,
# and adapters.cost_store adds monthly partitions before an import needs them).
cost_data = Table(
    "cost_data",
    metadata,
    Column("team_id", Uuid, nullable=False),
    Column("account_id", Uuid, nullable=False),
    Column("import_id", Uuid, nullable=False),
    Column("source", String(12), nullable=False),
    Column("billing_period", Date, nullable=False),
    Column("usage_date", Date, nullable=False),
    Column("usage_start", UTCDateTime, nullable=False),
    Column("usage_end", UTCDateTime, nullable=True),
    Column("payer_account_id", String(255), nullable=True),
    Column("aws_account_id", String(255), nullable=False),
    Column("line_item_type", Text, nullable=True),
    Column("product_code", Text, nullable=True),
    Column("service", Text, nullable=True),
    Column("usage_type", Text, nullable=True),
    Column("operation", Text, nullable=True),
    Column("resource_id", Text, nullable=True),
    Column("usage_amount", Amount(), nullable=True),
    Column("unblended_cost", Amount(), nullable=False),
    Column("blended_cost", Amount(), nullable=True),
    Column("public_on_demand_cost", Amount(), nullable=True),
    Column("net_unblended_cost", Amount(), nullable=True),
    Column("amortized_cost", Amount(), nullable=True),
    Column("region", Text, nullable=True),
    Column("instance_type", Text, nullable=True),
    Column("pricing_unit", Text, nullable=True),
    Column("usage_unit", Text, nullable=True),
    Column("currency", String(8), nullable=False),
    Column("tag_environment", Text, nullable=True),
    Column("tag_project", Text, nullable=True),
    Column("tag_owner", Text, nullable=True),
    Column("tags", JSONType, nullable=True),
    Column("provider", String(32), nullable=False, server_default="aws"),
    Column("charge_category", String(32), nullable=True),
    Column("charge_frequency", String(32), nullable=True),
    Index("ix_cost_data_account_period", "account_id", "billing_period"),
    Index("ix_cost_data_account_date", "account_id", "usage_date"),
    postgresql_partition_by="RANGE (usage_date)",
)

imports = Table(
    "imports",
    metadata,
    Column("import_id", Uuid, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("status", String(20), nullable=False),
    Column("sources", JSONType, nullable=False),
    Column("formats", JSONType, nullable=False),
    Column("rows_loaded", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("rows_other_providers", Integer, nullable=False, default=0),
    Column("problems", JSONType, nullable=False, default=list),
    Column("periods", JSONType, nullable=False, default=list),
    # Written as progress is reported; the last sign of life of the process running the import.
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Index("ix_imports_team_started", "team_id", "started_at"),
    Index("ix_imports_running", "team_id", postgresql_where=text("status = 'running'")),
)

resources = Table(
    "resources",
    metadata,
    Column(
        "account_id",
        Uuid,
        ForeignKey("aws_accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("resource_id", String(1024), primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("aws_account_id", String(255), nullable=False),
    Column("service", Text, nullable=True),
    Column("region", Text, nullable=True),
    Column("instance_type", Text, nullable=True),
    Column("usage_type", Text, nullable=True),
    Column("first_seen", Date, nullable=False),
    Column("last_seen", Date, nullable=False),
    Column("last_day_cost", Amount(), nullable=True),
    Column("tags", JSONType, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_resources_team", "team_id"),
)

# One row per (account, day): where the day's numbers come from, its published revision.
account_days = Table(
    "account_days",
    metadata,
    Column(
        "account_id",
        Uuid,
        ForeignKey("aws_accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("usage_date", Date, primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("source", String(20), nullable=False),
    Column("total_unblended_cost", Amount(), nullable=False),
    Column("is_estimated", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_account_days_team_date", "team_id", "usage_date"),
)

daily_cost_summaries = Table(
    "daily_cost_summaries",
    metadata,
    Column("summary_id", Uuid, primary_key=True),
    Column(
        "account_id",
        Uuid,
        ForeignKey("aws_accounts.account_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("team_id", Uuid, nullable=False),
    Column("aws_account_id", String(255), nullable=False),
    Column("usage_date", Date, nullable=False),
    Column("service", String(255), nullable=False),
    Column("region", String(64), nullable=False),
    Column("unblended_cost", Amount(), nullable=False),
    Column("blended_cost", Amount(), nullable=True),
    Column("amortized_cost", Amount(), nullable=True),
    Column("public_on_demand_cost", Amount(), nullable=True),
    Column("net_unblended_cost", Amount(), nullable=True),
    Column("usage_quantity", Amount(), nullable=True),
    Column("top_usage_types", JSONType, nullable=False, default=list),
    Column("top_resources", JSONType, nullable=False, default=list),
    Column("source", String(20), nullable=False),
    Column("is_estimated", Boolean, nullable=False, server_default=false()),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint(
        "account_id", "usage_date", "service", "region", name="uq_daily_cost_summaries_line"
    ),
    Index("ix_daily_cost_summaries_team_date", "team_id", "usage_date"),
)

# Whole months of daily_cost_summaries, rebuilt with them: a year's spend reads ~12 rows per
# (account, service, region) instead of ~365.
monthly_cost_summaries = Table(
    "monthly_cost_summaries",
    metadata,
    Column(
        "account_id",
        Uuid,
        ForeignKey("aws_accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("month", Date, primary_key=True),
    Column("service", String(255), primary_key=True),
    Column("region", String(64), primary_key=True),
    Column("team_id", Uuid, nullable=False),
    Column("aws_account_id", String(255), nullable=False),
    Column("unblended_cost", Amount(), nullable=False),
    Column("blended_cost", Amount(), nullable=True),
    Column("amortized_cost", Amount(), nullable=True),
    Column("public_on_demand_cost", Amount(), nullable=True),
    Column("net_unblended_cost", Amount(), nullable=True),
    Column("is_estimated", Boolean, nullable=False, server_default=false()),
    Index("ix_monthly_cost_summaries_team_month", "team_id", "month"),
)
